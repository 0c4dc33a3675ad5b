#!/usr/bin/env python3
"""Recomputes an onsale pre-queue draw, independently of the Go code (see waitroom.Draw).

usage: draw.py SEED_HEX LANE N   (LANE is "" for the general lane)
prints the queue position of join numbers 1..N, one per line
"""
import hashlib
import hmac
import struct
import sys


def draw(seed: bytes, lane: str, n: int) -> list[int]:
    order = list(range(1, n + 1))
    prefix = b"onsale-lottery\x00" + lane.encode() + b"\x00"
    block, k = b"", 0

    def next_u64() -> int:
        nonlocal block, k
        if not block:
            block = hmac.new(seed, prefix + struct.pack(">Q", k), hashlib.sha256).digest()
            k += 1
        v, block = struct.unpack(">Q", block[:8])[0], block[8:]
        return v

    for i in range(n - 1, 0, -1):
        bound = i + 1
        rem = (1 << 64) % bound
        while True:
            x = next_u64()
            if rem == 0 or x < (1 << 64) - rem:
                j = x % bound
                break
        order[i], order[j] = order[j], order[i]
    return order


if __name__ == "__main__":
    for p in draw(bytes.fromhex(sys.argv[1]), sys.argv[2], int(sys.argv[3])):
        print(p)
