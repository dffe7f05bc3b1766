"""SM2 digital signatures (GB/T 32918.2-2016, GM/T 0003.2-2012), readable Python for labs.

Everything of SM2 a student needs to see is here in plain integers: the curve, point
addition, scalar multiplication, the signer-identity hash ``Z_A`` and the two signature
equations. The chain's *verification* hot path calls OpenSSL instead
(:mod:`labchain.crypto.sm2_openssl`, about 100x faster); both must agree, and the tests check
that they do, against the GM/T 0003.5 example, ``gmssl`` and the ``openssl`` command.

Terminology (names as in GB/T 32918)
------------------------------------
curve sm2p256v1
    y^2 = x^3 + a*x + b over the integers modulo the prime p, with base point G of prime
    order n (GM/T 0006 / GB/T 32918.5; OID 1.2.156.10197.1.301). Same shape as NIST P-256
    (``a = p - 3``), different constants.
private key d, public key P
    An integer d in [1, n-2] (not n-1: the signature divides by 1 + d) and the point P = d*G.
Z_A
    SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A): binds the signer's
    identity ``ID_A`` (ENTL_A is its length in *bits*, 2 bytes) and public key into every
    signature. Without an agreed ID, tools use ``1234567812345678`` (GM/T 0009-2012);
    forgetting Z_A, or hashing it with an empty key, is the classic interoperability bug.
e
    SM3(Z_A || M) as an integer: what is actually signed.
signature (r, s)
    With a nonce k: (x1, y1) = k*G, r = (e + x1) mod n, s = (1 + d)^-1 * (k - r*d) mod n.
    Verification: t = (r + s) mod n, (x1, y1) = s*G + t*P, valid when (e + x1) mod n == r.
    Unlike ECDSA, (r, n - s) is *not* another valid signature of the same message, so SM2
    needs no "low-S" rule (docs/crypto.md shows why); r and s outside [1, n-1] are refused.
deterministic nonce
    ``k`` is derived from d and e with RFC 6979's HMAC-DRBG instantiated with HMAC-SM3, so
    the same key signs the same message the same way (reproducible test blocks) and a bad
    random-number generator cannot leak the key. SM2 itself allows any secret random k;
    other tools' signatures differ from ours and verify all the same.

Wire formats: public keys are 33 bytes SEC1 compressed (``02``/``03`` || x), signatures
64 bytes ``r || s``. :func:`signature_to_der`, :func:`signature_from_der`,
:func:`private_key_to_pem`, :func:`private_key_from_pem`, :func:`public_key_to_pem` and
:func:`public_key_from_pem` convert to what ``openssl`` reads and writes.

Simplifications: this module's arithmetic is textbook affine coordinates on Python
integers, not constant-time (timing can leak the key: fine for a teaching chain whose keys
guard no value). Only signatures: SM2 key exchange (part 3) and encryption (part 4) are not
implemented.
"""
from __future__ import annotations

import functools
import hmac
import secrets
from typing import Optional

from labchain.crypto import asn1
from labchain.crypto.sm3 import sm3
from labchain.errors import EncodingError, InvalidKeyError, LabchainError

# --- the curve (GB/T 32918.5-2017, "recommended curve parameters") -------------------------

P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
G = (0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
     0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0)
#: The default signer ID of GM/T 0009-2012, used by OpenSSL, GmSSL and ChainMaker.
DEFAULT_ID = b"1234567812345678"

SIGNATURE_SIZE = 64
PUBLIC_KEY_SIZE = 33

Point = Optional[tuple[int, int]]   # None is the point at infinity (the group's zero)


class SignatureError(LabchainError, ValueError):
    """A malformed SM2 signature: wrong length, r or s out of range, or bad DER."""


# --- curve arithmetic ---------------------------------------------------------------------

def is_on_curve(point: Point) -> bool:
    if point is None:
        return True
    x, y = point
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def point_add(p1: Point, p2: Point) -> Point:
    """The group law: the line through p1 and p2 (the tangent when equal) meets the curve in
    a third point; the sum is that point reflected in the x axis."""
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % P == 0:
        return None                                        # p + (-p) = 0
    if p1 == p2:
        slope = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P  # tangent
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, P) % P        # chord
    x3 = (slope * slope - x1 - x2) % P
    return x3, (slope * (x1 - x3) - y1) % P


def scalar_mult(k: int, point: Point) -> Point:
    """k * point by double-and-add over the bits of k, most significant first."""
    result = None
    for bit in bin(k)[2:]:
        result = point_add(result, result)
        if bit == "1":
            result = point_add(result, point)
    return result


@functools.lru_cache(maxsize=1)
def _g_doublings() -> tuple[tuple[int, int], ...]:
    """G, 2G, 4G, ... 2^256 G: with them k*G needs only additions (signing twice as fast)."""
    out, point = [], G
    for _ in range(257):
        out.append(point)
        point = point_add(point, point)
    return tuple(out)


def base_mult(k: int) -> Point:
    """k * G (the same as ``scalar_mult(k, G)``, from a precomputed table of 2^i * G)."""
    result, table = None, _g_doublings()
    for i in range(k.bit_length()):
        if k >> i & 1:
            result = point_add(result, table[i])
    return result


# --- keys ---------------------------------------------------------------------------------

def check_secret(d: int) -> None:
    if type(d) is not int or not 1 <= d <= N - 2:
        raise InvalidKeyError("an SM2 private key must be an integer between 1 and n-2", None)


def public_point(d: int, mult=base_mult) -> tuple[int, int]:
    """The public key P = d*G of the private key d (``mult``: a k*G function, e.g. OpenSSL's)."""
    check_secret(d)
    return mult(d)


def compress(point: tuple[int, int]) -> bytes:
    """SEC1 compressed form: 02 (y even) or 03 (y odd), then x as 32 bytes."""
    x, y = point
    return bytes([2 + (y & 1)]) + x.to_bytes(32, "big")


def uncompressed(point: tuple[int, int]) -> bytes:
    """SEC1 uncompressed form 04 || x || y (what DER keys and Z_A use)."""
    return b"\x04" + point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")


@functools.lru_cache(maxsize=4096)
def decode_point(data: bytes) -> tuple[int, int]:
    """A public key's point from 33 (compressed) or 65 (uncompressed) SEC1 bytes; checks that
    it lies on the curve. p = 3 (mod 4), so the square root is a power: y = c^((p+1)/4)."""
    data = bytes(data)
    if len(data) == 33 and data[0] in (2, 3):
        x = int.from_bytes(data[1:], "big")
        if x >= P:
            raise InvalidKeyError("the public key's x coordinate is not below the field prime", data)
        c = (x * x * x + A * x + B) % P
        y = pow(c, (P + 1) // 4, P)
        if y * y % P != c:
            raise InvalidKeyError("the public key is not a point on the SM2 curve (no y for this x)", data)
        if y & 1 != data[0] & 1:
            y = P - y
        point = (x, y)
    elif len(data) == 65 and data[0] == 4:
        point = (int.from_bytes(data[1:33], "big"), int.from_bytes(data[33:], "big"))
        if not is_on_curve(point):
            raise InvalidKeyError("the public key is not a point on the SM2 curve", data)
    else:
        raise InvalidKeyError("an SM2 public key is 33 bytes starting 02/03 (compressed) "
                              f"or 65 bytes starting 04, got {len(data)} bytes", data)
    return point


# --- Z_A and the signature equations ------------------------------------------------------

def _int32(value: int) -> bytes:
    return value.to_bytes(32, "big")


def z_a(public_key: tuple[int, int], user_id: bytes = DEFAULT_ID) -> bytes:
    """Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A)."""
    if len(user_id) * 8 > 0xFFFF:
        raise InvalidKeyError("an SM2 signer ID is at most 8191 bytes", user_id)
    entl = (len(user_id) * 8).to_bytes(2, "big")
    return sm3(entl + user_id + _int32(A) + _int32(B) + _int32(G[0]) + _int32(G[1])
               + _int32(public_key[0]) + _int32(public_key[1]))


def message_digest(public_key: tuple[int, int], message: bytes, user_id: bytes = DEFAULT_ID) -> int:
    """e = SM3(Z_A || M) as an integer."""
    return int.from_bytes(sm3(z_a(public_key, user_id) + message), "big")


def deterministic_nonce(d: int, e: int, extra: bytes = b""):
    """RFC 6979 section 3.2 with HMAC-SM3: candidate nonces k, all in [1, n-1], derived from
    the private key and the digest (a generator: the signer takes the next on a retry)."""
    def mac(key: bytes, data: bytes) -> bytes:
        return hmac.new(key, data, "sm3").digest()

    x, h = _int32(d), _int32(e % N)
    v, key = b"\x01" * 32, b"\x00" * 32
    key = mac(key, v + b"\x00" + x + h + extra)
    v = mac(key, v)
    key = mac(key, v + b"\x01" + x + h + extra)
    v = mac(key, v)
    while True:
        v = mac(key, v)
        k = int.from_bytes(v, "big")
        if 1 <= k < N:
            yield k
        key = mac(key, v + b"\x00")
        v = mac(key, v)


def sign_digest(d: int, e: int, k: int | None = None, mult=base_mult) -> tuple[int, int]:
    """(r, s) for the digest e with private key d. ``k`` given: use exactly that nonce (the
    GM/T 0003.5 worked example does); else the deterministic nonce of d and e. ``mult``
    computes k*G (this module's Python, or OpenSSL's in the chain)."""
    check_secret(d)
    nonces = iter([k]) if k is not None else deterministic_nonce(d, e)
    for k in nonces:
        if not 1 <= k < N:
            raise InvalidKeyError("the nonce k must be between 1 and n-1", k)
        x1, _ = mult(k)
        r = (e + x1) % N
        if r == 0 or r + k == N:
            continue
        s = pow(1 + d, -1, N) * (k - r * d) % N
        if s != 0:
            return r, s
    raise SignatureError("the given nonce k gives r = 0, r + k = n or s = 0; SM2 needs another k", k)


def sign(d: int, message: bytes, user_id: bytes = DEFAULT_ID, k: int | None = None,
         mult=base_mult) -> bytes:
    """The 64-byte ``r || s`` SM2 signature of ``message`` by private key d."""
    e = message_digest(public_point(d, mult), message, user_id)
    r, s = sign_digest(d, e, k, mult)
    return _int32(r) + _int32(s)


def split_signature(signature: bytes) -> tuple[int, int]:
    """(r, s) from 64 bytes ``r || s``; both must lie in [1, n-1]."""
    if len(signature) != SIGNATURE_SIZE:
        raise SignatureError(f"an SM2 signature is {SIGNATURE_SIZE} bytes (r || s), "
                             f"got {len(signature)}", signature)
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    check_range(r, s)
    return r, s


def check_range(r: int, s: int) -> None:
    for name, value in (("r", r), ("s", s)):
        if not 1 <= value < N:
            raise SignatureError(f"the signature's {name} is {'zero' if value == 0 else 'not below n'}; "
                                 "SM2 needs 1 <= r, s <= n-1", (r, s))


def verify_digest(point: tuple[int, int], e: int, r: int, s: int) -> bool:
    check_range(r, s)
    t = (r + s) % N
    if t == 0:
        return False
    sum_point = point_add(base_mult(s), scalar_mult(t, point))
    if sum_point is None:
        return False
    return (e + sum_point[0]) % N == r


def verify(public_key: bytes, message: bytes, signature: bytes, user_id: bytes = DEFAULT_ID) -> bool:
    """True when ``signature`` (64 bytes r || s) is the SM2 signature of ``message`` by the
    key. Raises :class:`SignatureError` for a malformed signature (wrong size, r or s
    out of range) and :class:`InvalidKeyError` for a key that is not on the curve."""
    r, s = split_signature(signature)
    point = decode_point(public_key)
    return verify_digest(point, message_digest(point, message, user_id), r, s)


# --- DER and PEM, to talk to openssl ------------------------------------------------------

def signature_to_der(signature: bytes) -> bytes:
    """64 bytes r || s -> DER SEQUENCE { r INTEGER, s INTEGER } (what openssl writes)."""
    return asn1.encode_signature(*split_signature(signature))


def signature_from_der(der: bytes) -> bytes:
    """DER SEQUENCE { r, s } -> the canonical 64 bytes r || s; strict DER only."""
    try:
        r, s = asn1.decode_signature(bytes(der))
    except EncodingError as exc:
        raise SignatureError(exc.message, der) from None
    check_range(r, s)
    return _int32(r) + _int32(s)


def private_key_to_pem(d: int) -> str:
    """PKCS #8 PEM (``-----BEGIN PRIVATE KEY-----``), as ``openssl genpkey -algorithm SM2``."""
    der = asn1.encode_pkcs8(_int32(d), uncompressed(public_point(d)))
    return asn1.pem_encode("PRIVATE KEY", der)


def private_key_from_pem(text: str | bytes) -> int:
    """d from a PKCS #8 ``PRIVATE KEY`` or SEC1 ``EC PRIVATE KEY`` PEM block of an SM2 key."""
    label, der = asn1.pem_decode(text)
    if label == "PRIVATE KEY":
        d = asn1.decode_pkcs8(der)
    elif label == "EC PRIVATE KEY":
        d = asn1.decode_sec1_private(der)
    else:
        raise EncodingError(f"expected a PRIVATE KEY or EC PRIVATE KEY PEM block, got {label!r}", text)
    check_secret(d)
    return d


def public_key_to_pem(public_key: bytes) -> str:
    """SubjectPublicKeyInfo PEM (``-----BEGIN PUBLIC KEY-----``) of a 33- or 65-byte key."""
    return asn1.pem_encode("PUBLIC KEY", asn1.encode_spki(uncompressed(decode_point(public_key))))


def public_key_from_pem(text: str | bytes) -> bytes:
    """The 33-byte compressed key of an SM2 ``PUBLIC KEY`` PEM block (checked on the curve)."""
    label, der = asn1.pem_decode(text)
    if label != "PUBLIC KEY":
        raise EncodingError(f"expected a PUBLIC KEY PEM block, got {label!r}", text)
    return compress(decode_point(asn1.decode_spki(der)))


def generate_secret() -> int:
    return secrets.randbelow(N - 2) + 1

