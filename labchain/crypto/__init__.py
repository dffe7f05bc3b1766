"""Cryptography of LabChain: pluggable suites behind one interface, plus the default suite's API.

``labchain.crypto.suite`` defines :class:`Suite` (hash, keys, signatures, batch verify, address
encoding) and the registry (``get_suite("p256-sha256")``, ``register_suite``). Each suite lives
in its own module: ``labchain.crypto.p256`` (SHA-256 + ECDSA P-256, the default).

This package re-exports the default suite's names that labs, tests and the ledger have always
imported from ``labchain.crypto`` (the teaching API, see docs/ARCHITECTURE.md):
``sha256, hash256, hash160, PrivateKey, PublicKey, Address`` and the rest listed in ``__all__``.
``hash`` is the default suite's 32-byte digest (SHA-256).
"""
from labchain.crypto.p256 import (
    ADDRESS_VERSION,
    B58_ALPHABET,
    P256_B,
    P256_G,
    P256_ORDER,
    P256_PRIME,
    PARALLEL_VERIFY_MIN,
    VERIFY_BACKENDS,
    Address,
    P256Suite,
    PrivateKey,
    PublicKey,
    b58decode,
    b58encode,
    hash160,
    hash256,
    set_verify_backend,
    sha256,
    shutdown_verify_pools,
    verify_many,
    verify_signature,
)
from labchain.crypto.suite import (
    PUBLIC_KEY_SIZE,
    SIGNATURE_SIZE,
    Suite,
    get_suite,
    register_suite,
    suite_for,
    suite_for_version,
    suite_names,
)

hash = sha256  # noqa: A001 - the default suite's digest, as ``labchain.crypto.hash``

__all__ = [
    "ADDRESS_VERSION", "B58_ALPHABET", "P256_B", "P256_G", "P256_ORDER", "P256_PRIME",
    "PARALLEL_VERIFY_MIN", "PUBLIC_KEY_SIZE", "SIGNATURE_SIZE", "VERIFY_BACKENDS",
    "Address", "P256Suite", "PrivateKey", "PublicKey", "Suite",
    "b58decode", "b58encode", "get_suite", "hash", "hash160", "hash256", "register_suite",
    "set_verify_backend", "sha256", "shutdown_verify_pools", "suite_for", "suite_for_version",
    "suite_names", "verify_many", "verify_signature",
]
