#!/usr/bin/env bash
# tests/vm/boot.sh KERNEL COMMAND...: boot Debian's kernel KERNEL (6.1, 6.12, or
# a directory tests/vm/kernel.sh unpacked) under qemu, run COMMAND inside as root
# in this directory, print its output, and exit with its exit status.
#
# Inside, / is this machine's root over 9p, read-only, with an overlay on tmpfs
# for writes: /work and the build directory are there as they are here, and
# nothing of the host is written, but for the scratch directory
# $VM_DIR/run/VERSION (COMMAND's output "out", exit status "rc", the kernel's
# log "console.log" and "dmesg"), the VM's one writable share.
#   VM_DIR=build/vm   the packages, kernels and scratch directories
#   VM_ACCEL=tcg      software emulation. kvm: /dev/kvm here is a nested
#                     paravirtual KVM on which Debian's kernels hang after boot
#   VM_TIMEOUT=1800   seconds before the VM is stopped (exit status 124)
#   VM_MEM=4G VM_CPUS=2
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: tests/vm/boot.sh KERNEL COMMAND..." >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
VM_DIR=$(mkdir -p "${VM_DIR:-build/vm}" && cd "${VM_DIR:-build/vm}" && pwd)
KDIR=$1
shift
[ -d "$KDIR" ] || KDIR=$("$HERE/kernel.sh" "$VM_DIR" "$KDIR")
KDIR=$(cd "$KDIR" && pwd)
VER=$(ls "$KDIR/lib/modules")

# The initramfs: static busybox, tests/vm/init, and the modules that reach the
# root (9p over virtio, overlay) and the console, uncompressed, in load order.
initramfs() {
	local tmp m f
	if readelf -l /bin/busybox 2>/dev/null | grep -q INTERP; then
		echo "boot.sh: /bin/busybox is not static: install busybox-static" >&2
		return 1
	fi
	tmp=$(mktemp -d)
	mkdir -p "$tmp"/{bin,dev,proc,sys,modules}
	cp /bin/busybox "$tmp/bin/"
	cp "$HERE/init" "$tmp/init"
	mknod "$tmp/dev/console" c 5 1
	for m in virtio_pci virtio_console 9pnet_virtio 9p overlay; do
		modprobe -d "$KDIR" -S "$VER" --show-depends "$m"
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r f; do
		m=$(basename "$f")
		m=${m%.xz}
		m=${m%.zst}
		case $f in
		*.xz) xz -dc "$f" ;;
		*.zst) zstd -qdc "$f" ;;
		*) cat "$f" ;;
		esac >"$tmp/modules/$m"
		echo "$m" >>"$tmp/modules/order"
	done
	(cd "$tmp" && find . | cpio -o -H newc --quiet) >"$KDIR/initramfs.cpio.tmp"
	rm -rf "$tmp"
	mv "$KDIR/initramfs.cpio.tmp" "$KDIR/initramfs.cpio"
}
if [ ! -e "$KDIR/initramfs.cpio" ] || [ "$HERE/init" -nt "$KDIR/initramfs.cpio" ]; then
	initramfs
fi

SCRATCH=$VM_DIR/run/$VER
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH"
printf '%q ' "$@" >"$SCRATCH/cmd"
printf 'KMODS=%q\nCWD=%q\n' "$KDIR/lib/modules/$VER" "$PWD" >"$SCRATCH/env"

ACCEL=${VM_ACCEL:-tcg}
CPU=max
[ "$ACCEL" = kvm ] && CPU=${VM_CPU:-host}
echo "vm: booting $VER under qemu ($ACCEL)"
start=$(date +%s)
# stdio is the virtio console (hvc0): the guest's progress and COMMAND's
# output. The serial port is the kernel's console, kept in console.log.
timeout -k 10 "${VM_TIMEOUT:-1800}" qemu-system-x86_64 -accel "$ACCEL" -cpu "$CPU" \
	-smp "${VM_CPUS:-2}" -m "${VM_MEM:-4G}" \
	-nodefaults -no-reboot -display none -vga none -monitor none -nic none \
	-kernel "$KDIR/boot/vmlinuz-$VER" -initrd "$KDIR/initramfs.cpio" \
	-append "console=ttyS0 panic=-1 random.trust_cpu=on tko.init=$HERE/guest.sh tko.scratch=$SCRATCH" \
	-serial "file:$SCRATCH/console.log" \
	-device virtio-serial-pci -chardev stdio,id=hvc,signal=on -device virtconsole,chardev=hvc \
	-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
	-virtfs "local,path=$SCRATCH,mount_tag=scratch,security_model=none" \
	</dev/null &
qemu=$!
trap 'kill "$qemu" 2>/dev/null || true' EXIT INT TERM
# Progress until the second stage starts: the kernel's last line every 10 s.
while kill -0 "$qemu" 2>/dev/null && [ ! -e "$SCRATCH/started" ]; do
	sleep 1
	[ -e "$SCRATCH/started" ] && break
	t=$(($(date +%s) - start))
	if [ $((t % 10)) -eq 0 ]; then
		echo "vm: ${t}s: $(tail -n 1 "$SCRATCH/console.log" 2>/dev/null | tr -d '\r' | cut -c1-100)"
	fi
done
[ -e "$SCRATCH/started" ] && echo "vm: first command after $(($(date +%s) - start))s" >"$SCRATCH/boot"
status=0
wait "$qemu" || status=$?
trap - EXIT INT TERM
took=$(($(date +%s) - start))
if [ "$status" -eq 124 ]; then
	echo "vm: stopped after ${VM_TIMEOUT:-1800}s (VM_TIMEOUT)" >&2
	exit 124
fi
if [ ! -s "$SCRATCH/rc" ]; then
	echo "vm: the VM stopped (qemu status $status) before COMMAND ended; the kernel's log:" >&2
	tail -n 20 "$SCRATCH/console.log" | tr -d '\r' >&2
	exit 125
fi
echo "vm: $VER: $(cat "$SCRATCH/boot" 2>/dev/null | sed 's/^vm: //'), ${took}s in all"
exit "$(cat "$SCRATCH/rc")"
