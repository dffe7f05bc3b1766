"""SM3, China's national hash function (GB/T 32905-2016, ISO/IEC 10118-3:2018).

Two implementations with one answer:

* :func:`sm3` -- the chain's hash: OpenSSL's SM3 through ``hashlib.new("sm3")`` (hundreds
  of MB/s; see docs/crypto.md for the figure against ``openssl speed``).
* :func:`sm3_readable` -- the standard written out in Python for lab work: padding, message
  expansion and the 64-round compression function, each a small function named as in the
  standard. About 10,000 times slower; never used by the chain.

Terminology (names as in GB/T 32905)
------------------------------------
block
    The message is padded (a 1 bit, zeros, the bit length as 64 bits) to a multiple of
    512 bits and processed 512-bit block by block, as in SHA-256 (a Merkle-Damgard hash).
V
    The chaining value, eight 32-bit words A..H; ``IV`` is its starting value.
message expansion
    A block's 16 words W0..W15 are expanded to W0..W67 with the permutation P1, and
    W'j = Wj xor Wj+4 for j < 64.
compression function CF
    64 rounds with the boolean functions FF/GG (xor for rounds 0-15, majority/choice after),
    the round constant Tj rotated by j, and the permutation P0.

Simplifications: none in the algorithm. The readable version works on ``bytes`` in memory
(no streaming) and is not constant-time; the fast one is OpenSSL's.
"""
from __future__ import annotations

import hashlib

DIGEST_SIZE = 32
BLOCK_SIZE = 64

IV = (0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600,
      0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E)
_MASK = 0xFFFFFFFF


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest of ``data`` (OpenSSL)."""
    return hashlib.new("sm3", data).digest()


def new(data: bytes = b""):
    """A ``hashlib``-style SM3 object (``update``/``digest``/``copy``), for HMAC and PBKDF2."""
    return hashlib.new("sm3", data)


# --- the readable version -----------------------------------------------------------------

def rotl(x: int, n: int) -> int:
    """Rotate a 32-bit word left by ``n`` bits (the standard's ``<<<``)."""
    n %= 32
    return ((x << n) | (x >> (32 - n))) & _MASK


def P0(x: int) -> int:
    return x ^ rotl(x, 9) ^ rotl(x, 17)


def P1(x: int) -> int:
    return x ^ rotl(x, 15) ^ rotl(x, 23)


def T(j: int) -> int:
    return 0x79CC4519 if j < 16 else 0x7A879D8A


def FF(j: int, x: int, y: int, z: int) -> int:
    return x ^ y ^ z if j < 16 else (x & y) | (x & z) | (y & z)


def GG(j: int, x: int, y: int, z: int) -> int:
    return x ^ y ^ z if j < 16 else (x & y) | (~x & z)


def pad(message: bytes) -> bytes:
    """Append a 1 bit, k zero bits and the 64-bit message length, to a multiple of 512 bits."""
    length = len(message) * 8
    padded = message + b"\x80"
    padded += b"\x00" * ((56 - len(padded)) % 64)
    return padded + length.to_bytes(8, "big")


def expand(block: bytes) -> tuple[list[int], list[int]]:
    """Message expansion of one 64-byte block: the 68 words W and the 64 words W'."""
    w = [int.from_bytes(block[4 * i:4 * i + 4], "big") for i in range(16)]
    for j in range(16, 68):
        w.append(P1(w[j - 16] ^ w[j - 9] ^ rotl(w[j - 3], 15)) ^ rotl(w[j - 13], 7) ^ w[j - 6])
    w_prime = [w[j] ^ w[j + 4] for j in range(64)]
    return w, w_prime


def compress(v: tuple[int, ...], block: bytes) -> tuple[int, ...]:
    """CF(V, B): 64 rounds over one block, then V xor the result."""
    w, w_prime = expand(block)
    a, b, c, d, e, f, g, h = v
    for j in range(64):
        ss1 = rotl((rotl(a, 12) + e + rotl(T(j), j)) & _MASK, 7)
        ss2 = ss1 ^ rotl(a, 12)
        tt1 = (FF(j, a, b, c) + d + ss2 + w_prime[j]) & _MASK
        tt2 = (GG(j, e, f, g) + h + ss1 + w[j]) & _MASK
        d, c, b, a = c, rotl(b, 9), a, tt1
        h, g, f, e = g, rotl(f, 19), e, P0(tt2)
    return tuple(x ^ y for x, y in zip((a, b, c, d, e, f, g, h), v))


def sm3_readable(message: bytes) -> bytes:
    """SM3 exactly as GB/T 32905 writes it (slow; for labs). Equals :func:`sm3`."""
    padded = pad(bytes(message))
    v = IV
    for i in range(0, len(padded), BLOCK_SIZE):
        v = compress(v, padded[i:i + BLOCK_SIZE])
    return b"".join(x.to_bytes(4, "big") for x in v)
