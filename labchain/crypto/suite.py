"""The crypto suite interface: everything a chain needs from its cryptography, in one object.

A *suite* names one choice of hash function and signature scheme, like ChainMaker's
``crypto.hash: SM3`` plus ``pk_algo: sm2``. A chain configuration picks its suite by name
(``get_suite("p256-sha256")``), and the ledger asks the suite, never a module-level default,
for transaction ids, block hashes, Merkle trees, addresses and signatures.

Terminology
-----------
digest (``hash``)
    The suite's hash function, 32 bytes: SHA-256 or SM3 (GB/T 32905).
id hash (``hash256``)
    The digest applied twice, over canonical bytes: transaction ids, block hashes, Merkle
    nodes (Bitcoin's double SHA-256; the same construction with SM3 on the SM suite).
key fingerprint (``hash160``)
    20 bytes identifying a public key inside an address (Bitcoin: RIPEMD-160 of SHA-256).
secret
    A private key: an integer in ``[1, order - 1]``.
public key
    33 bytes, SEC1 compressed (``02``/``03`` then x), on the suite's curve.
signature
    The wire form is always 64 bytes, ``r || s`` big-endian, fixed size; DER is an
    import/export format for other tools, never what a transaction carries.
address version
    The first byte of every address of the suite; two suites never share one, so an address
    of one chain cannot be mistaken for an address of another (see :func:`suite_for_version`).

Contract for implementers (``labchain/crypto/p256.py`` is the first; the SM suite the second)
-------------------------------------------------------------------------------------------
Subclass :class:`Suite`, set the class attributes, implement the abstract methods, and call
:func:`register_suite` with an instance at import time of your module (and add the module to
``BUILTIN_SUITES`` so ``get_suite`` can import it on first use). ``verify`` answers yes or no
for a well-formed public key and may raise :class:`~labchain.errors.InvalidKeyError` for bytes
that are not a point of the curve; ``verify_many`` never raises for a bad key (it is False).
Suites are stateless and shared: a method must not keep per-call state on ``self``.

Keys: :meth:`Suite.private_key` / :meth:`Suite.key_from_seed` give a key object of the suite
(:class:`KeyPair`; the P-256 suite answers with its teaching ``PrivateKey``). Every key
names its ``suite``, which ``Transaction.sign`` and the wallet use.
"""
from __future__ import annotations

import abc
import hashlib
import hmac
import importlib
import secrets
from dataclasses import dataclass
from typing import ClassVar, Sequence

from labchain.core.errors import InvalidKeyError, UnknownSuiteError

#: Every suite writes public keys and signatures in these fixed sizes (SEC1 compressed; r || s).
PUBLIC_KEY_SIZE = 33
SIGNATURE_SIZE = 64


class Suite(abc.ABC):
    """One hash function plus one signature scheme, with key and address encoding."""

    #: registry key, e.g. ``"p256-sha256"``
    name: ClassVar[str]
    #: the chain configuration's names for the parts (ChainMaker bc.yml: ``crypto.hash``)
    hash_algorithm: ClassVar[str]          # "SHA256" | "SM3"
    signature_algorithm: ClassVar[str]     # "ECDSA_P256" | "SM2"
    #: first byte of every address of this suite; unique among registered suites
    address_version: ClassVar[int]
    #: order n of the curve's base point: secrets are integers in [1, n-1]
    order: ClassVar[int]
    public_key_size: ClassVar[int] = PUBLIC_KEY_SIZE
    signature_size: ClassVar[int] = SIGNATURE_SIZE

    # --- hashes ---------------------------------------------------------------------------

    @abc.abstractmethod
    def hash(self, data: bytes) -> bytes:
        """The suite's 32-byte digest of ``data``."""

    def hash256(self, data: bytes) -> bytes:
        """The digest applied twice: transaction ids, block hashes, Merkle nodes."""
        return self.hash(self.hash(data))

    def hash160(self, data: bytes) -> bytes:
        """The 20-byte fingerprint of a public key inside an address."""
        return self.hash(data)[:20]

    # --- keys and signatures --------------------------------------------------------------

    def secret_from_seed(self, phrase: str, index: int = 0) -> int:
        """The ``index``-th secret of a seed phrase (HMAC-SHA-512 then HMAC-SHA-256, retried
        until it falls in ``[1, n-1]``): the same phrase always gives the same keys."""
        if not isinstance(phrase, str) or not phrase:
            raise InvalidKeyError("a seed phrase must be a non-empty string", phrase)
        if type(index) is not int or index < 0:
            raise InvalidKeyError(f"key index must be a non-negative integer, got {index!r}", index)
        master = hmac.new(b"labchain seed", phrase.encode(), hashlib.sha512).digest()
        counter = 0
        while True:  # retry in the (astronomically rare) case the value is not a valid key
            msg = index.to_bytes(4, "big") + counter.to_bytes(4, "big")
            candidate = int.from_bytes(hmac.new(master, msg, hashlib.sha256).digest(), "big")
            if 1 <= candidate < self.order:
                return candidate
            counter += 1

    def generate_secret(self) -> int:
        """A fresh random secret from the operating system's generator."""
        return secrets.randbelow(self.order - 1) + 1

    def check_secret(self, secret: int) -> None:
        if type(secret) is not int or not 1 <= secret < self.order:
            raise InvalidKeyError("a private key must be an integer between 1 and n-1", None)

    @abc.abstractmethod
    def public_key(self, secret: int) -> bytes:
        """``secret * G`` as 33 bytes, SEC1 compressed."""

    @abc.abstractmethod
    def check_public_key(self, data: bytes) -> None:
        """Raise :class:`~labchain.errors.InvalidKeyError` unless ``data`` is a compressed
        point of the suite's curve."""

    @abc.abstractmethod
    def sign(self, secret: int, message: bytes) -> bytes:
        """The 64-byte ``r || s`` signature of ``message`` (the suite hashes the message)."""

    @abc.abstractmethod
    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this suite's valid signature of ``message`` by the key."""

    def verify_many(self, checks: Sequence[tuple[bytes, bytes, bytes]], workers: int = 1) -> list[bool]:
        """``(public key, message, signature)`` triples -> one True/False each, in order.
        A suite may spread a large batch over ``workers`` processes (P-256 does)."""
        results = []
        for public_key, message, signature in checks:
            try:
                results.append(self.verify(public_key, message, signature))
            except InvalidKeyError:  # not a point on the curve: the signature cannot be valid
                results.append(False)
        return results

    def private_key(self, secret: int):
        """A key object of this suite (``.public_key``, ``.address``, ``.sign``): a
        :class:`KeyPair`; the P-256 suite answers with its teaching :class:`PrivateKey`."""
        return KeyPair(self, secret)

    def key_from_seed(self, phrase: str, index: int = 0):
        """The ``index``-th key of a seed phrase on this suite (see :meth:`secret_from_seed`)."""
        return self.private_key(self.secret_from_seed(phrase, index))

    # --- addresses ------------------------------------------------------------------------

    def address(self, public_key: bytes):
        """The address of a public key: this suite's version byte and its fingerprint."""
        from labchain.crypto.p256 import Address  # the Address record is suite-independent

        return Address(self.address_version, self.hash160(public_key))

    def __repr__(self) -> str:
        return f"<crypto suite {self.name}: {self.hash_algorithm} + {self.signature_algorithm}>"


# --- keys of any suite ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SuitePublicKey:
    """A public key with the suite it belongs to (33 bytes, SEC1 compressed)."""

    suite: Suite
    data: bytes

    @property
    def address(self):
        return self.suite.address(self.data)

    def verify(self, message: bytes, signature: bytes) -> bool:
        return self.suite.verify(self.data, message, signature)

    def hex(self) -> str:
        return self.data.hex()


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A private key of one suite, with the same reading interface as the P-256
    ``PrivateKey`` (``public_key``, ``address``, ``sign``, ``to_hex``). ``repr`` never shows
    the secret."""

    suite: Suite
    secret: int

    def __post_init__(self) -> None:
        self.suite.check_secret(self.secret)

    def __repr__(self) -> str:
        return f"KeyPair({self.suite.name}, address={self.address})"

    @property
    def public_key(self) -> SuitePublicKey:
        return SuitePublicKey(self.suite, self.suite.public_key(self.secret))

    @property
    def address(self):
        return self.suite.address(self.suite.public_key(self.secret))

    def sign(self, message: bytes) -> bytes:
        return self.suite.sign(self.secret, message)

    def to_hex(self) -> str:
        return self.secret.to_bytes(32, "big").hex()


# --- registry -----------------------------------------------------------------------------

#: Suites shipped with LabChain: name -> module that registers it when imported.
BUILTIN_SUITES: dict[str, str] = {
    "p256-sha256": "labchain.crypto.p256",
    "sm2-sm3": "labchain.crypto.sm",
}
DEFAULT_SUITE = "p256-sha256"
_registry: dict[str, Suite] = {}


def register_suite(suite: Suite) -> Suite:
    """Make ``suite`` available by name; its address version must be its own."""
    if not isinstance(suite, Suite):
        raise TypeError(f"register_suite needs a Suite instance, got {suite!r}")
    for other in _registry.values():
        if other.name != suite.name and other.address_version == suite.address_version:
            raise ValueError(f"suite {suite.name!r} uses address version 0x{suite.address_version:02x}, "
                             f"already taken by suite {other.name!r}")
    _registry[suite.name] = suite
    return suite


def _load_builtins() -> None:
    for name, module in BUILTIN_SUITES.items():
        if name not in _registry:
            try:
                importlib.import_module(module)
            except ImportError:  # an optional suite whose module or back-end is missing
                pass


def get_suite(name: str | Suite | None = None) -> Suite:
    """The suite registered as ``name`` (default ``p256-sha256``)."""
    if isinstance(name, Suite):
        return name
    name = DEFAULT_SUITE if name is None else name
    if name not in _registry and name in BUILTIN_SUITES:
        importlib.import_module(BUILTIN_SUITES[name])
    try:
        return _registry[name]
    except (KeyError, TypeError):
        _load_builtins()
        raise UnknownSuiteError(
            f"unknown crypto suite {name!r}; choose one of {', '.join(sorted(_registry))}", name
        ) from None


def suite_names() -> list[str]:
    """Names of every suite that can be loaded here."""
    _load_builtins()
    return sorted(_registry)


def suite_for(hash_algorithm: str, signature_algorithm: str) -> Suite:
    """The suite a chain configuration means by ``crypto: {hash: ..., signature: ...}``."""
    _load_builtins()
    for suite in _registry.values():
        if suite.hash_algorithm == hash_algorithm and suite.signature_algorithm == signature_algorithm:
            return suite
    pairs = ", ".join(f"{s.hash_algorithm}+{s.signature_algorithm}" for s in _registry.values())
    raise UnknownSuiteError(
        f"no crypto suite combines hash {hash_algorithm!r} with signature {signature_algorithm!r}; "
        f"the combinations available are {pairs}", (hash_algorithm, signature_algorithm))


def suite_for_version(version: int) -> Suite | None:
    """The suite whose addresses start with ``version``, or None."""
    _load_builtins()
    return next((s for s in _registry.values() if s.address_version == version), None)
