#!/usr/bin/env python3
"""Builds the golden wg_interface_io buffers field by field from the offset tables of
openbsd-wg-interface.md §1.3-1.5 (amd64, little-endian). Independent of the Rust codec:
tests/ioctl_codec.rs decodes these files and re-encodes them byte for byte."""
import struct, os

AF_INET, AF_INET6 = 2, 24

def iface(flags=0, port=0, rtable=0, public=b"", private=b"", npeers=0):
    b = bytearray(80)
    b[0] = flags
    struct.pack_into("<H", b, 2, port)
    struct.pack_into("<i", b, 4, rtable)
    b[8:8 + len(public)] = public
    b[40:40 + len(private)] = private
    struct.pack_into("<Q", b, 72, npeers)
    return bytes(b)

def sockaddr_in(ip, port):
    b = bytearray(28)
    b[0], b[1] = 16, AF_INET
    struct.pack_into(">H", b, 2, port)
    b[4:8] = bytes(ip)
    return bytes(b)

def sockaddr_in6(ip16, port, scope=0):
    b = bytearray(28)
    b[0], b[1] = 28, AF_INET6
    struct.pack_into(">H", b, 2, port)
    b[8:24] = bytes(ip16)
    struct.pack_into("<I", b, 24, scope)
    return bytes(b)

def peer(flags, public=b"", psk=b"", pka=0, endpoint=b"", tx=0, rx=0, hs=(0, 0), descr=b"", naips=0, version=1):
    b = bytearray(208)
    struct.pack_into("<i", b, 0, flags)
    struct.pack_into("<i", b, 4, version)
    b[8:8 + len(public)] = public
    b[40:40 + len(psk)] = psk
    struct.pack_into("<H", b, 72, pka)
    b[76:76 + len(endpoint)] = endpoint
    struct.pack_into("<Q", b, 104, tx)
    struct.pack_into("<Q", b, 112, rx)
    struct.pack_into("<qq", b, 120, *hs)
    b[136:136 + len(descr)] = descr
    struct.pack_into("<Q", b, 200, naips)
    return bytes(b)

def aip(af, addr, cidr):
    b = bytearray(24)
    b[0] = af
    struct.pack_into("<i", b, 4, cidr)
    b[8:8 + len(addr)] = bytes(addr)
    return bytes(b)

K1 = bytes(range(1, 33))            # interface public
K2 = bytes(range(101, 133))         # interface private
P1 = bytes([0xA0 + i % 16 for i in range(32)])
P2 = bytes([0x10 * (i % 8) + 1 for i in range(32)])
PSK = bytes([0x55] * 32)
V6 = [0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [1]

files = {
    # HAS_PORT|HAS_PUBLIC|HAS_PRIVATE, port 7111, no peers
    "no_peers.bin": iface(0x07, 7111, 0, K1, K2, 0),
    # the unprivileged view: HAS_PORT|HAS_RTABLE only
    "unprivileged.bin": iface(0x0C, 51820, 3),
    # two peers, three aips in all: 80 + 2*208 + 3*24 = 568 bytes (GET form)
    "two_peers.bin": iface(0x07, 7111, 0, K1, K2, 2)
        + peer(0x01 | 0x02 | 0x04 | 0x08, P1, PSK, 25, sockaddr_in([127, 0, 0, 1], 7222),
               tx=15640, rx=22904, hs=(1700000000, 5), naips=2)
        + aip(AF_INET, [192, 168, 5, 2], 32) + aip(AF_INET, [10, 0, 0, 0], 8)
        + peer(0x01 | 0x08, P2, endpoint=sockaddr_in6(V6, 51820, 0), naips=1)
        + aip(AF_INET6, V6, 128),
    # SET form: REPLACE_PEERS, a peer with a description, REPLACE_AIPS and a v6 aip
    "description.bin": iface(0x10, 0, 0, b"", b"", 1)
        + peer(0x01 | 0x10 | 0x80, P1, descr=b"office gateway", naips=1, version=0)
        + aip(AF_INET6, V6, 64),
}
here = os.path.dirname(os.path.abspath(__file__))
for name, data in files.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
    print(name, len(data))
