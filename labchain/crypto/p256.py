"""Hashes, keys, signatures and addresses.

Terminology
-----------
hash256
    SHA-256 applied twice (Bitcoin's "double SHA-256"): block and transaction ids.
hash160
    RIPEMD-160 of SHA-256: the 20-byte fingerprint of a public key inside an address.
private key / public key
    A secret integer ``d`` in ``[1, n-1]`` on the NIST P-256 curve and the point ``d*G``,
    written as 33 bytes in SEC1 compressed form.
signature
    ECDSA over SHA-256 of the message, 64 bytes ``r || s``. Signing is deterministic
    (RFC 6979): the nonce ``k`` is derived from the key and the message, so the same message
    signed twice gives the same signature and no random-number bug can leak the key. Lab 02
    shows what happens when ``k`` *is* reused.
address
    ``version byte || hash160(public key)`` plus a 4-byte checksum (first bytes of hash256),
    written in Base58Check. A typo changes the checksum, so it is caught before coins are
    sent to nowhere.

Simplifications versus real chains
----------------------------------
* Bitcoin and Ethereum use the secp256k1 curve; LabChain uses P-256 because pycryptodome (and
  OpenSSL) support it with RFC 6979 signing. The maths lab 02 teaches is identical.
* Keys come from ``PrivateKey.from_seed(phrase, index)`` (HMAC-SHA-512 based), in the spirit of
  BIP 32/39 but not compatible with them: there is no mnemonic word list or extended key.
* Signatures are fixed 64-byte ``r || s`` rather than DER. Like Bitcoin since BIP 146, only the
  "low-S" form is valid, so a third party cannot flip ``s`` and change a transaction's id.

Signing uses pycryptodome. Verification, the hot path of block validation, uses OpenSSL
through the ``cryptography`` package: about five times faster (see README, "Benchmarks").
Public keys (``secret * G``) are computed, and checked to lie on the curve, by a few lines
of Python below (about a millisecond per new key, then cached). Each library is imported on
first use: a node derives its ten account keys when it starts but signs only for
``sendtoaddress`` and verifies only when a transaction arrives, and every node of a testnet
is its own process, so this keeps each one about 10 MiB smaller (``bench/bench_testnet.py``).
The Python scalar multiplication is not constant-time, unlike OpenSSL's: fine for a teaching
chain whose keys guard no value, not for a wallet that holds real money.
"""
from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Callable, Sequence

from labchain.crypto.suite import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, Suite, get_suite, register_suite
from labchain.core.errors import AddressError, InvalidKeyError

if TYPE_CHECKING:  # imported where used: see the module docstring
    import concurrent.futures

    from Crypto.PublicKey import ECC
    from cryptography.hazmat.primitives.asymmetric import ec

#: Order ``n`` of the P-256 base point: private keys and signature values live modulo n.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
#: P-256 (NIST FIPS 186-4, "secp256r1") is y^2 = x^3 - 3x + b over the integers modulo p.
P256_PRIME = 2**256 - 2**224 + 2**192 + 2**96 - 1
P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
#: The base point G.
P256_G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
          0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)
#: Version byte of every LabChain address (Bitcoin mainnet uses 0x00, testnet 0x6F).
ADDRESS_VERSION = 0x30


# --- hashes -------------------------------------------------------------------------------

def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hash256(data: bytes) -> bytes:
    """SHA-256(SHA-256(data)): block hashes, transaction ids, checksums."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def _ripemd160_available() -> bool:
    try:
        hashlib.new("ripemd160")
        return True
    except ValueError:  # some OpenSSL 3 builds keep RIPEMD-160 in the "legacy" provider only
        return False


_HASHLIB_RIPEMD160 = _ripemd160_available()


def hash160(data: bytes) -> bytes:
    """RIPEMD-160(SHA-256(data)): the public-key fingerprint inside an address.

    Uses OpenSSL through hashlib when it offers RIPEMD-160 (2.5x faster: once per input in
    block validation), else pycryptodome; both give the same digest."""
    if _HASHLIB_RIPEMD160:
        return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()
    from Crypto.Hash import RIPEMD160

    return RIPEMD160.new(sha256(data)).digest()


# --- keys and signatures ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PrivateKey:
    """A P-256 private key. ``repr`` never shows the secret."""

    secret: int

    def __post_init__(self) -> None:
        if type(self.secret) is not int or not 1 <= self.secret < P256_ORDER:
            raise InvalidKeyError("a private key must be an integer between 1 and n-1", None)

    def __repr__(self) -> str:
        return f"PrivateKey(address={self.address})"

    @classmethod
    def from_seed(cls, phrase: str, index: int = 0) -> PrivateKey:
        """The ``index``-th key of a seed phrase: the same phrase always gives the same keys."""
        return cls(SUITE.secret_from_seed(phrase, index))

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(secrets.randbelow(P256_ORDER - 1) + 1)

    @classmethod
    def from_hex(cls, text: str) -> PrivateKey:
        try:
            raw = bytes.fromhex(text)
        except (ValueError, TypeError):
            raise InvalidKeyError("a private key in hex must be 64 hex digits", None) from None
        if len(raw) != 32:
            raise InvalidKeyError(f"a private key is 32 bytes, got {len(raw)}", None)
        return cls(int.from_bytes(raw, "big"))

    def to_hex(self) -> str:
        return self.secret.to_bytes(32, "big").hex()

    @property
    def public_key(self) -> PublicKey:
        return _public_key_of(self.secret)

    @property
    def address(self) -> Address:
        return self.public_key.address

    @property
    def suite(self) -> Suite:
        """The suite this key signs for: always p256-sha256."""
        return SUITE

    def sign(self, message: bytes) -> bytes:
        """Deterministic (RFC 6979) ECDSA signature of SHA-256(message), low-S, ``r || s``."""
        from Crypto.Hash import SHA256
        from Crypto.Signature import DSS

        signer = DSS.new(_pycryptodome_key(self.secret), "deterministic-rfc6979")
        sig = signer.sign(SHA256.new(message))
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        if s > P256_ORDER // 2:
            s = P256_ORDER - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@functools.lru_cache(maxsize=4096)
def _pycryptodome_key(secret: int) -> ECC.EccKey:
    from Crypto.PublicKey import ECC

    return ECC.construct(curve="P-256", d=secret)


@functools.lru_cache(maxsize=4096)
def _public_key_of(secret: int) -> PublicKey:
    """``secret * G`` in SEC1 compressed form: ``02``/``03`` (parity of y) then x."""
    x, y = _p256_multiply_g(secret)
    return PublicKey(bytes([2 | y & 1]) + x.to_bytes(32, "big"))


# --- P-256 arithmetic in Python (public keys only; see the module docstring) -------------

def _p256_multiply_g(k: int) -> tuple[int, int]:
    """The affine point ``k * G`` for ``1 <= k < n``, by double-and-add.

    Points are kept in Jacobian coordinates ``(X, Y, Z)``, standing for ``(X/Z^2, Y/Z^3)``,
    so that the loop needs no modular inverse; ``Z = 0`` is the point at infinity. For
    ``1 <= k < n`` the running point is never G or -G when G is added, so the addition
    formula needs no special case (it would divide by zero there).
    """
    p, (gx, gy) = P256_PRIME, P256_G
    x, y, z = 1, 1, 0
    for bit in bin(k)[2:]:
        if z:  # double ("dbl-2001-b", for curves with a = -3)
            delta, gamma = z * z % p, y * y % p
            beta, alpha = x * gamma % p, 3 * (x - delta) * (x + delta) % p
            x3 = (alpha * alpha - 8 * beta) % p
            z = ((y + z) ** 2 - gamma - delta) % p
            y = (alpha * (4 * beta - x3) - 8 * gamma * gamma) % p
            x = x3
        if bit == "1":
            if not z:
                x, y, z = gx, gy, 1
                continue
            zz = z * z % p  # add G, whose Z is 1 (fewer products than a general addition)
            h, r = (gx * zz - x) % p, (gy * z * zz - y) % p
            hh = h * h % p
            hhh, v = h * hh % p, x * hh % p
            x3 = (r * r - hhh - 2 * v) % p
            y, z, x = (r * (v - x3) - y * hhh) % p, z * h % p, x3
    zi = pow(z, -1, p)
    return x * zi * zi % p, y * zi * zi * zi % p


def _check_p256_point(data: bytes) -> None:
    """Raise InvalidKeyError unless ``data`` is a point of P-256 in compressed SEC1 form:
    ``02``/``03`` then an x below p for which x^3 - 3x + b has a square root modulo p."""
    if not isinstance(data, bytes) or len(data) != PUBLIC_KEY_SIZE or data[0] not in (2, 3):
        raise InvalidKeyError("a public key must be 33 bytes in compressed SEC1 form", data)
    p, x = P256_PRIME, int.from_bytes(data[1:], "big")
    rhs = (x * x * x - 3 * x + P256_B) % p
    y = pow(rhs, (p + 1) // 4, p)  # the square root, if any (p = 3 mod 4)
    if x >= p or y * y % p != rhs:
        raise InvalidKeyError("those 33 bytes are not a point on the P-256 curve", data)


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A P-256 public key, 33 bytes in SEC1 compressed form."""

    data: bytes

    def __post_init__(self) -> None:
        _check_p256_point(self.data)  # raises InvalidKeyError when not a curve point

    @property
    def address(self) -> Address:
        return Address(ADDRESS_VERSION, hash160(self.data))

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is a valid low-S signature of ``message`` by this key.

        A cryptographic primitive answers yes or no; the transaction rules above it turn a
        ``False`` into a :class:`~labchain.errors.BadSignatureError` that says which input.
        """
        return verify_signature(self.data, message, signature)

    def hex(self) -> str:
        return self.data.hex()


def _split_signature(signature: bytes) -> tuple[int, int] | None:
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        return None
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (1 <= r < P256_ORDER and 1 <= s <= P256_ORDER // 2):
        return None
    return r, s


@functools.cache
def _openssl() -> SimpleNamespace:
    """The parts of ``cryptography`` (OpenSSL) that verification uses, imported on first use."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    return SimpleNamespace(ec=ec, curve=ec.SECP256R1(), ecdsa_sha256=ec.ECDSA(hashes.SHA256()),
                           encode_dss_signature=encode_dss_signature, InvalidSignature=InvalidSignature)


@functools.lru_cache(maxsize=8192)
def _openssl_public_key(data: bytes) -> ec.EllipticCurvePublicKey:
    if not isinstance(data, bytes) or len(data) != PUBLIC_KEY_SIZE or data[0] not in (2, 3):
        raise InvalidKeyError("a public key must be 33 bytes in compressed SEC1 form", data)
    ossl = _openssl()
    try:
        return ossl.ec.EllipticCurvePublicKey.from_encoded_point(ossl.curve, data)
    except ValueError:
        raise InvalidKeyError("those 33 bytes are not a point on the P-256 curve", data) from None


def _verify_openssl(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    rs = _split_signature(signature)
    if rs is None:
        return False
    ossl = _openssl()
    try:
        _openssl_public_key(pubkey).verify(ossl.encode_dss_signature(*rs), message, ossl.ecdsa_sha256)
        return True
    except ossl.InvalidSignature:
        return False


def _verify_pycryptodome(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    if _split_signature(signature) is None:
        return False
    from Crypto.Hash import SHA256
    from Crypto.PublicKey import ECC
    from Crypto.Signature import DSS

    key = ECC.import_key(pubkey, curve_name="P-256")
    try:
        DSS.new(key, "fips-186-3").verify(SHA256.new(message), signature)
        return True
    except ValueError:
        return False


#: Interchangeable verification back-ends; ``bench/bench_validation.py`` measures both.
VERIFY_BACKENDS: dict[str, Callable[[bytes, bytes, bytes], bool]] = {
    "openssl": _verify_openssl,
    "pycryptodome": _verify_pycryptodome,
}
_verify_backend = _verify_openssl


def set_verify_backend(name: str) -> None:
    """Choose the signature-verification back-end (``openssl`` or ``pycryptodome``)."""
    global _verify_backend
    if name not in VERIFY_BACKENDS:
        raise ValueError(f"unknown verify backend {name!r}; choose one of {sorted(VERIFY_BACKENDS)}")
    _verify_backend = VERIFY_BACKENDS[name]


def verify_signature(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    return _verify_backend(pubkey, message, signature)


# --- batch verification -----------------------------------------------------------------

#: Below this many signatures a batch is verified in this process: handing work to other
#: processes costs more than it saves (measured in bench/, see docs/chain.md).
PARALLEL_VERIFY_MIN = 256

_pools: dict[int, concurrent.futures.ProcessPoolExecutor] = {}


def _backend_name() -> str:
    return next(name for name, fn in VERIFY_BACKENDS.items() if fn is _verify_backend)


def _verify_chunk(backend: str, checks: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    verify = VERIFY_BACKENDS[backend]
    results = []
    for pubkey, message, signature in checks:
        try:
            results.append(verify(pubkey, message, signature))
        except InvalidKeyError:  # not a point on the curve: the signature cannot be valid
            results.append(False)
    return results


def verify_many(checks: Sequence[tuple[bytes, bytes, bytes]], workers: int = 1) -> list[bool]:
    """Verify ``(pubkey, message, signature)`` triples; one True/False per triple, in order.

    With ``workers > 1`` and at least ``PARALLEL_VERIFY_MIN`` checks, the batch is split in
    ``workers`` equal parts: this process verifies the first and a pool of ``workers - 1``
    processes (started once, on first use, and kept) the others, so every core works on
    one block. Processes rather than threads because the GIL serialises most of a verify.
    """
    checks = list(checks)
    backend = _backend_name()
    if workers <= 1 or len(checks) < PARALLEL_VERIFY_MIN:
        return _verify_chunk(backend, checks)
    size = -(-len(checks) // workers)
    chunks = [checks[i:i + size] for i in range(0, len(checks), size)]
    pool = _pools.get(workers)
    if pool is None:
        import concurrent.futures
        import multiprocessing

        context = multiprocessing.get_context("forkserver")  # safe in threaded programs (nodes)
        pool = _pools[workers] = concurrent.futures.ProcessPoolExecutor(workers - 1, mp_context=context)
    futures = [pool.submit(_verify_chunk, backend, chunk) for chunk in chunks[1:]]
    results = _verify_chunk(backend, chunks[0])
    for future in futures:
        results.extend(future.result())
    return results


def shutdown_verify_pools() -> None:
    """Stop the verification processes (they also stop when this process exits)."""
    for pool in _pools.values():
        pool.shutdown(cancel_futures=True)
    _pools.clear()


# --- Base58Check addresses ----------------------------------------------------------------

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(B58_ALPHABET)}


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, rem = divmod(n, 58)
        out.append(B58_ALPHABET[rem])
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    n = 0
    for pos, char in enumerate(text):
        if char not in _B58_INDEX:
            hint = " (Base58 leaves out 0, O, I and l because they look alike)" if char in "0OIl" else ""
            raise AddressError(f"invalid character {char!r} at position {pos}{hint}", text)
        n = n * 58 + _B58_INDEX[char]
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    leading_ones = len(text) - len(text.lstrip("1"))
    return b"\0" * leading_ones + body


@dataclass(frozen=True, slots=True)
class Address:
    """Where coins are sent: a version byte and the hash160 of a public key."""

    version: int
    pubkey_hash: bytes

    def __post_init__(self) -> None:
        if type(self.version) is not int or not 0 <= self.version <= 255:
            raise AddressError(f"address version must be a byte, got {self.version!r}", self.version)
        if not isinstance(self.pubkey_hash, bytes) or len(self.pubkey_hash) != 20:
            raise AddressError("an address holds a 20-byte public key hash", self.pubkey_hash)

    def __str__(self) -> str:
        payload = bytes([self.version]) + self.pubkey_hash
        return b58encode(payload + hash256(payload)[:4])

    def __repr__(self) -> str:
        return f"Address({str(self)!r})"

    @classmethod
    def from_string(cls, text: str) -> Address:
        """Parse Base58Check text; every way it can be wrong has its own message."""
        if isinstance(text, Address):
            return text
        if not isinstance(text, str) or not text:
            raise AddressError(f"an address must be a non-empty string, got {text!r}", text)
        raw = b58decode(text.strip())
        if len(raw) != 25:
            raise AddressError(
                f"address {text!r} decodes to {len(raw)} bytes, expected 25 "
                "(1 version + 20 hash + 4 checksum): characters are missing or extra", text
            )
        payload, checksum = raw[:21], raw[21:]
        if hash256(payload)[:4] != checksum:
            raise AddressError(
                f"address {text!r} has a bad checksum: it was probably mistyped", text
            )
        if payload[0] != ADDRESS_VERSION:  # any registered suite's version parses; a chain
            from labchain.crypto.suite import suite_for_version, suite_names  # checks its own

            if suite_for_version(payload[0]) is None:
                versions = "/".join(f"0x{get_suite(n).address_version:02x}" for n in suite_names())
                raise AddressError(
                    f"address {text!r} has version byte 0x{payload[0]:02x}, not LabChain's "
                    f"{versions}: it belongs to another network", text
                )
        return cls(payload[0], payload[1:])

    def check_suite(self, suite: Suite) -> Address:
        """This address, if it belongs to ``suite``; else AddressError naming both suites."""
        if self.version != suite.address_version:
            from labchain.crypto.suite import suite_for_version

            other = suite_for_version(self.version)
            raise AddressError(
                f"address {str(self)!r} is an address of the {other.name if other else 'unknown'} crypto suite "
                f"(version byte 0x{self.version:02x}), but this chain uses {suite.name} "
                f"(0x{suite.address_version:02x}): coins cannot move between chains of different suites",
                str(self))
        return self

    def to_bytes(self) -> bytes:
        return bytes([self.version]) + self.pubkey_hash

    @classmethod
    def from_bytes(cls, raw: bytes) -> Address:
        if len(raw) != 21:
            raise AddressError(f"a binary address is 21 bytes, got {len(raw)}", raw)
        return cls(raw[0], raw[1:])


# --- the suite object (labchain/crypto/suite.py) ----------------------------------------

class P256Suite(Suite):
    """SHA-256 and ECDSA on P-256: the functions above as one :class:`Suite`."""

    name = "p256-sha256"
    hash_algorithm = "SHA256"
    signature_algorithm = "ECDSA_P256"
    address_version = ADDRESS_VERSION
    order = P256_ORDER

    def hash(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def hash256(self, data: bytes) -> bytes:
        return hash256(data)

    def hash160(self, data: bytes) -> bytes:
        return hash160(data)

    def public_key(self, secret: int) -> bytes:
        return _public_key_of(secret).data

    def check_public_key(self, data: bytes) -> None:
        _check_p256_point(data)

    def sign(self, secret: int, message: bytes) -> bytes:
        return PrivateKey(secret).sign(message)

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        return verify_signature(public_key, message, signature)

    def verify_many(self, checks: Sequence[tuple[bytes, bytes, bytes]], workers: int = 1) -> list[bool]:
        return verify_many(checks, workers)

    def private_key(self, secret: int):
        # the teaching PrivateKey for this suite itself; experiments subclassing it get a KeyPair
        return PrivateKey(secret) if type(self) is P256Suite else super().private_key(secret)


SUITE = register_suite(P256Suite())
