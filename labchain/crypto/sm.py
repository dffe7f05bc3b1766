"""The ``sm2-sm3`` crypto suite: China's national algorithms as one :class:`Suite`.

Hash SM3 (:mod:`labchain.crypto.sm3`), signatures SM2 with the default signer ID
``1234567812345678`` (:mod:`labchain.crypto.sm2`), the combination ChainMaker calls
``crypto.hash: SM3`` + ``pk_algo: sm2`` and FISCO BCOS builds with ``build_chain.sh -g``.
SM4 (:mod:`labchain.crypto.sm4`) encrypts wallet key files (:mod:`labchain.crypto.keyfile`).

Terminology
-----------
id hash (``hash256``)
    SM3 applied twice, over canonical bytes: transaction ids, block hashes, Merkle nodes.
key fingerprint (``hash160``)
    The first 20 bytes of SM3(public key), inside an address.
address version ``0x3F``
    Base58Check addresses of this suite start with ``S``; P-256 addresses (``0x30``) start
    with ``L``, so an address of one chain is never taken for one of the other.
back-end
    ``"openssl"`` (default when ``libcrypto`` 3 with SM2 loads): verification by OpenSSL,
    ``k*G`` of signing by OpenSSL; ``"python"``: everything in :mod:`labchain.crypto.sm2`.
    Both give identical results (signing is deterministic either way); switch with
    :func:`set_backend`, e.g. to watch the pure-Python arithmetic in a lab.

Simplifications versus real chains: ChainMaker and FISCO BCOS put SM2 keys in X.509
certificates and hash them with SM3 for addresses in their own ways; LabChain keeps its
one Base58Check address layout for both suites. The double SM3 for ids copies Bitcoin's
double SHA-256 shape, not any national-crypto chain.
"""
from __future__ import annotations

import functools
from typing import Sequence

from labchain.crypto import sm2, sm2_openssl
from labchain.crypto.sm3 import sm3
from labchain.crypto.suite import Suite, register_suite
from labchain.errors import InvalidKeyError

ADDRESS_VERSION = 0x3F
BACKENDS = ("openssl", "python")
#: batches at least this large are spread over ``workers`` threads (ctypes drops the GIL)
PARALLEL_VERIFY_MIN = 64


class SM2SM3Suite(Suite):
    """SM3 hashes and SM2 signatures (GB/T 32905, GB/T 32918)."""

    name = "sm2-sm3"
    hash_algorithm = "SM3"
    signature_algorithm = "SM2"
    address_version = ADDRESS_VERSION
    order = sm2.N
    user_id = sm2.DEFAULT_ID

    def hash(self, data: bytes) -> bytes:
        return sm3(data)

    # SM2 divides by 1 + d, so the secret n-1 is not a valid key (GB/T 32918.1, 6.1)
    def check_secret(self, secret: int) -> None:
        sm2.check_secret(secret)

    def generate_secret(self) -> int:
        return sm2.generate_secret()

    def secret_from_seed(self, phrase: str, index: int = 0) -> int:
        secret = super().secret_from_seed(phrase, index)
        sm2.check_secret(secret)   # n-1 has probability 2^-256: refused rather than special-cased
        return secret

    def public_key(self, secret: int) -> bytes:
        return _public_key(secret, _backend)

    def check_public_key(self, data: bytes) -> None:
        if len(data) != self.public_key_size:
            raise InvalidKeyError(f"a public key is {self.public_key_size} bytes (SEC1 compressed), "
                                  f"got {len(data)}", data)
        sm2.decode_point(bytes(data))

    def sign(self, secret: int, message: bytes) -> bytes:
        sm2.check_secret(secret)
        point = sm2.decode_point(self.public_key(secret))
        e = sm2.message_digest(point, message, self.user_id)
        r, s = sm2.sign_digest(secret, e, mult=_mult())
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """True/False; :class:`~labchain.errors.InvalidKeyError` for a key off the curve. A
        signature of the wrong size or with r or s outside [1, n-1] is simply not valid
        (False); :func:`labchain.crypto.sm2.split_signature` tells which rule it breaks."""
        self.check_public_key(public_key)
        try:
            if _backend == "openssl":
                return sm2_openssl.verify(bytes(public_key), message, signature, self.user_id)
            return sm2.verify(public_key, message, signature, self.user_id)
        except sm2.SignatureError:
            return False

    def verify_many(self, checks: Sequence[tuple[bytes, bytes, bytes]], workers: int = 1) -> list[bool]:
        if workers <= 1 or len(checks) < PARALLEL_VERIFY_MIN or _backend != "openssl":
            return super().verify_many(checks)
        chunks = [checks[i::workers] for i in range(workers)]
        results = list(_pool(workers).map(super().verify_many, chunks))
        out = [False] * len(checks)
        for i, chunk_results in enumerate(results):
            out[i::workers] = chunk_results
        return out


_backend = "openssl" if sm2_openssl.AVAILABLE else "python"


def _mult():
    return sm2_openssl.base_mult if _backend == "openssl" else sm2.base_mult


@functools.lru_cache(maxsize=1024)
def _public_key(secret: int, backend: str) -> bytes:
    return sm2.compress(sm2.public_point(secret, _mult()))


@functools.lru_cache(maxsize=None)
def _pool(workers: int):
    import concurrent.futures

    return concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="sm2-verify")


def set_backend(name: str) -> None:
    """Choose ``"openssl"`` or ``"python"`` for SM2 (verification and ``k*G``)."""
    global _backend
    if name not in BACKENDS:
        raise ValueError(f"unknown SM2 back-end {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "openssl" and not sm2_openssl.AVAILABLE:
        raise ValueError(sm2_openssl.UNAVAILABLE_REASON)
    _backend = name


def backend() -> str:
    return _backend


SUITE = register_suite(SM2SM3Suite())
