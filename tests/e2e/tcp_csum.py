#!/usr/bin/python3
"""Judge the TCP checksums of the segments of a capture that a filter selects.

  tcp_csum.py CAPTURE FILTER   prints "complete N partial N bad N"

complete: the checksum is right. partial: the checksum field holds the
pseudo-header's sum, as in a segment sent CHECKSUM_PARTIAL (the kernel
leaves the rest to whoever finishes it: a NIC, or nobody on veth, whose
receiver trusts it); a capture on veth shows every segment a local stack
sends that way. Anything else is bad.
"""
import ipaddress
import subprocess
import sys

FIELDS = ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.hdr_len", "tcp.len",
          "tcp.checksum", "tcp.checksum.status"]


def fold(s):
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def pseudo_sum(src, dst, tcp_len):
    s = 0
    for a in (src, dst):
        b = ipaddress.ip_address(a).packed
        s += sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2))
    s += 6 + (tcp_len >> 16) + (tcp_len & 0xffff)
    return fold(s)


def main():
    cap, flt = sys.argv[1], sys.argv[2]
    cmd = ["tshark", "-r", cap, "-o", "tcp.check_checksum:TRUE", "-Y", flt, "-T", "fields",
           "-E", "separator=\t"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    n = {"complete": 0, "partial": 0, "bad": 0}
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        src = v["ip.src"] or v["ipv6.src"]
        dst = v["ip.dst"] or v["ipv6.dst"]
        tcp_len = int(v["tcp.hdr_len"]) + int(v["tcp.len"] or 0)
        if v["tcp.checksum.status"] == "1":
            n["complete"] += 1
        elif int(v["tcp.checksum"], 16) == pseudo_sum(src, dst, tcp_len):
            n["partial"] += 1
        else:
            n["bad"] += 1
    print(" ".join(f"{k} {v}" for k, v in n.items()))


if __name__ == "__main__":
    main()
