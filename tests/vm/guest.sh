#!/bin/bash
# The VM's second stage, PID 1 on the host's root (read-only over 9p, writes
# to tmpfs; see tests/vm/init): the mounts a BPF program and the tests need, the
# kernel's own modules at /lib/modules/VERSION, then SCRATCH/cmd as root in the
# directory tests/vm/boot.sh was called from. Its output goes to the console and
# SCRATCH/out, its exit status to SCRATCH/rc; then the VM powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8
mount -t proc proc /proc
SCRATCH=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^tko.scratch=//p')
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
# What udev and systemd link on a booted system: bash's process
# substitution, <(...), reads /dev/fd/N.
ln -sfn /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
# No tmpfs over /tmp: the root's overlay takes writes there already, and a
# clone under /tmp (its build directory, the scratch share mounted at its
# host path) must stay visible.
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
# The host has no /lib/modules of this kernel: the unpacked package's
# (tests/vm/kernel.sh), for modprobe (the kernel's requests too: veth, sch_*).
. "$SCRATCH/env"	# KMODS CWD
mkdir -p "/lib/modules/$(uname -r)"
mount --bind "$KMODS" "/lib/modules/$(uname -r)"
# The device nodes whose modules load when opened (/dev/net/tun...), as
# systemd-tmpfiles makes them at boot; no subshells (a process costs under TCG).
while read -r module node dev; do
	[[ $module != \#* ]] && [ -n "$dev" ] && [ ! -e "/dev/$node" ] || continue
	[[ $node == */* ]] && mkdir -p "/dev/${node%/*}"
	numbers=${dev:1}
	mknod "/dev/$node" "${dev:0:1}" "${numbers%:*}" "${numbers#*:}"
done <"/lib/modules/$(uname -r)/modules.devname"
hostname tko-vm
ip link set lo up

cut -d' ' -f1 /proc/uptime >"$SCRATCH/started"
echo "vm: [$(cut -d' ' -f1 /proc/uptime)s] root over 9p; running: $(head -c 200 "$SCRATCH/cmd")"
cd "$CWD" || echo "vm: no directory $CWD"
bash "$SCRATCH/cmd" </dev/null 2>&1 | tee "$SCRATCH/out"
rc=${PIPESTATUS[0]}
echo "vm: [$(cut -d' ' -f1 /proc/uptime)s] exit status $rc"
dmesg >"$SCRATCH/dmesg"
echo "$rc" >"$SCRATCH/rc"
cd /
umount "$SCRATCH"
sync
echo o >/proc/sysrq-trigger
sleep 10
