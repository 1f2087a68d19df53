#!/usr/bin/env python3
"""Point-to-point "wire" between two TUN devices living in two network namespaces.

Used by captures/scripts/capture-links.sh to get real LINKTYPE_RAW captures: this kernel
has no ipip/sit/ip6tnl/gre modules, so instead of a kernel tunnel the IP packets that the
kernel routes into tun device A are read here and written unchanged into tun device B (and
back), the way a userspace VPN (OpenVPN, wireguard-go) carries them. Packet bytes are never
built or edited here; tcpdump captures them on the tun interface.

usage: tunrelay.py NETNS_A TUN_A NETNS_B TUN_B READY_FILE
Creates both tun devices (IFF_TUN|IFF_NO_PI), writes READY_FILE, relays until SIGTERM/SIGINT.
"""
import ctypes
import fcntl
import os
import select
import signal
import struct
import sys

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

libc = ctypes.CDLL(None, use_errno=True)


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns %s: %s" % (path, os.strerror(err)))
    finally:
        os.close(fd)


def open_tun(netns, name):
    # The tun device is created in the network namespace of the opening process.
    setns("/var/run/netns/" + netns)
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    ns_a, tun_a, ns_b, tun_b, ready = sys.argv[1:]
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    fa = open_tun(ns_a, tun_a)
    fb = open_tun(ns_b, tun_b)
    libc.setns(home, CLONE_NEWNET)
    os.close(home)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    with open(ready, "w") as f:
        f.write("%d\n" % os.getpid())
    peer = {fa: fb, fb: fa}
    while not stop:
        try:
            r, _, _ = select.select([fa, fb], [], [], 0.5)
        except InterruptedError:
            continue
        for fd in r:
            pkt = os.read(fd, 65536)
            if pkt:
                try:
                    os.write(peer[fd], pkt)
                except OSError:
                    pass  # peer interface down: the packet is lost, as on a wire


if __name__ == "__main__":
    main()
