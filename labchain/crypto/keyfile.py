"""Wallet key files encrypted at rest with SM4-GCM, the key derived from a passphrase.

A key file keeps a secret (a private key, a seed phrase: any bytes) on disk so that a
stolen copy is useless without the passphrase, the way FISCO BCOS's ``-g`` chains keep node
keys SM4-encrypted on disk.

Format (one JSON object, UTF-8)::

    {"format": "labchain-keyfile/1", "kdf": "pbkdf2-hmac-sm3", "iterations": 200000,
     "salt": "<16 bytes hex>", "cipher": "sm4-gcm", "nonce": "<12 bytes hex>",
     "label": "<free text>", "ciphertext": "<hex: encrypted secret || 16-byte GCM tag>"}

Decisions (docs/crypto.md)
--------------------------
* **KDF: PBKDF2-HMAC-SM3**, 200,000 iterations, 16-byte random salt, 16-byte key. It keeps
  the file national-crypto only (PBKDF2 with HMAC-SM3 is what GM/T 0091-2020 specifies) and
  runs in OpenSSL through ``hashlib.pbkdf2_hmac("sm3", ...)``: about 0.2 s here, cheap for
  one unlock, 200,000 SM3-HMACs per guess for an attacker. scrypt would resist GPUs better
  but is not a national standard.
* **Cipher: SM4-GCM** (authenticated): a wrong passphrase and a changed byte anywhere (the
  ciphertext, the tag, or any header field, which is authenticated as associated data) both
  fail the tag; the two cannot be told apart, so the error names both.
* Reading never writes. Writing goes to a temporary file in the same directory, flushed and
  renamed over the target, so a crash leaves the old file or the new one, never half of one;
  an existing file is replaced only with ``overwrite=True``. :func:`change_passphrase`
  decrypts first, so a wrong old passphrase changes nothing.

Simplifications: no key stretching beyond PBKDF2, no hardware key store, and the
passphrase and secret are ordinary Python objects in memory (not wiped after use).
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from pathlib import Path

from labchain.crypto import sm4
from labchain.errors import WalletError

FORMAT = "labchain-keyfile/1"
KDF = "pbkdf2-hmac-sm3"
CIPHER = "sm4-gcm"
DEFAULT_ITERATIONS = 200_000
MIN_ITERATIONS = 10_000      # refuse files that make guessing cheap (or an attacker's edit)
MAX_ITERATIONS = 10_000_000  # refuse files that would hang the reader
SALT_SIZE = 16
_HEADER_FIELDS = ("format", "kdf", "iterations", "salt", "cipher", "nonce", "label")


class KeyFileError(WalletError):
    """A key file that cannot be read: not a key file, damaged, or of an unknown kind."""


class WrongPassphraseError(KeyFileError):
    """The passphrase does not open the key file (or the file was altered)."""


def _derive(passphrase: str, salt: bytes, iterations: int) -> bytes:
    if not isinstance(passphrase, str) or not passphrase:
        raise KeyFileError("the passphrase must be a non-empty string", None)
    return hashlib.pbkdf2_hmac("sm3", passphrase.encode(), salt, iterations, sm4.KEY_SIZE)


def _associated_data(header: dict) -> bytes:
    return json.dumps([header[k] for k in _HEADER_FIELDS], separators=(",", ":")).encode()


def encrypt(secret: bytes, passphrase: str, *, label: str = "",
            iterations: int = DEFAULT_ITERATIONS) -> bytes:
    """The key-file bytes holding ``secret`` under ``passphrase``."""
    if not isinstance(secret, (bytes, bytearray)):
        raise KeyFileError("the secret to store must be bytes", secret)
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise KeyFileError(f"iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}", iterations)
    salt, nonce = secrets.token_bytes(SALT_SIZE), secrets.token_bytes(sm4.NONCE_SIZE)
    header = {"format": FORMAT, "kdf": KDF, "iterations": iterations, "salt": salt.hex(),
              "cipher": CIPHER, "nonce": nonce.hex(), "label": str(label)}
    key = _derive(passphrase, salt, iterations)
    sealed = sm4.gcm_encrypt(key, nonce, bytes(secret), _associated_data(header))
    return (json.dumps({**header, "ciphertext": sealed.hex()}, indent=1) + "\n").encode()


def _parse(data: bytes) -> dict:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise KeyFileError("this is not a LabChain key file (not JSON)", None) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise KeyFileError(f"this is not a LabChain key file (expected format {FORMAT!r})", None)
    if doc.get("kdf") != KDF or doc.get("cipher") != CIPHER:
        raise KeyFileError(f"the key file uses kdf {doc.get('kdf')!r} and cipher {doc.get('cipher')!r}; "
                           f"only {KDF} with {CIPHER} is supported", None)
    iterations = doc.get("iterations")
    if type(iterations) is not int or not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise KeyFileError(f"the key file's iteration count {iterations!r} is outside "
                           f"{MIN_ITERATIONS}..{MAX_ITERATIONS}", None)
    try:
        for name, size in (("salt", SALT_SIZE), ("nonce", sm4.NONCE_SIZE)):
            if len(bytes.fromhex(doc[name])) != size:
                raise ValueError
        bytes.fromhex(doc["ciphertext"])
        if not isinstance(doc["label"], str):
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise KeyFileError("the key file is damaged: salt, nonce, label or ciphertext is missing "
                           "or malformed", None) from None
    return doc


def decrypt(data: bytes, passphrase: str) -> bytes:
    """The secret inside key-file bytes; :class:`WrongPassphraseError` if it does not open."""
    doc = _parse(data)
    key = _derive(passphrase, bytes.fromhex(doc["salt"]), doc["iterations"])
    try:
        return sm4.gcm_decrypt(key, bytes.fromhex(doc["nonce"]), bytes.fromhex(doc["ciphertext"]),
                               _associated_data(doc))
    except sm4.SM4Error:
        raise WrongPassphraseError("the passphrase is wrong, or the key file was altered "
                                   "(its SM4-GCM authentication tag does not match)", None) from None


def write_key_file(path: str | os.PathLike, secret: bytes, passphrase: str, *, label: str = "",
                   overwrite: bool = False, iterations: int = DEFAULT_ITERATIONS) -> Path:
    """Encrypt ``secret`` into ``path`` (mode 0600), atomically."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise KeyFileError(f"{path} already exists; pass overwrite=True to replace it", str(path))
    data = encrypt(secret, passphrase, label=label, iterations=iterations)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_key_file(path: str | os.PathLike, passphrase: str) -> bytes:
    """The secret stored in ``path``; the file is only read."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}", str(path)) from None
    return decrypt(data, passphrase)


def change_passphrase(path: str | os.PathLike, old: str, new: str) -> None:
    """Re-encrypt ``path`` under ``new``; with a wrong ``old`` the file stays as it was."""
    doc = _parse(Path(path).read_bytes())
    secret = read_key_file(path, old)
    write_key_file(path, secret, new, label=doc["label"], overwrite=True, iterations=doc["iterations"])
