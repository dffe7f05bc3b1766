"""SM4, China's national block cipher (GB/T 32907-2016, ISO/IEC 18033-3:2010/Amd 1:2021).

A 128-bit block cipher with a 128-bit key (the national counterpart of AES-128). Two
implementations:

* :func:`gcm_encrypt` / :func:`gcm_decrypt` -- what LabChain uses (wallet key files at rest,
  :mod:`labchain.crypto.keyfile`): SM4 in Galois/Counter Mode (authenticated encryption, as in
  RFC 8998's TLS_SM4_GCM_SM3) by OpenSSL through the ``cryptography`` package.
* :func:`encrypt_block` / :func:`decrypt_block` -- the standard written out for labs: the
  S-box ``tau``, the linear maps ``L``/``L'``, the key schedule with FK and CK, and the 32
  rounds of the unbalanced Feistel structure.

Terminology (names as in GB/T 32907)
------------------------------------
word
    32 bits; a block is four words X0..X3.
round function F
    X(i+4) = X(i) xor T(X(i+1) xor X(i+2) xor X(i+3) xor rk(i)), 32 rounds; the output
    is the last four words in reverse order R = (X35, X34, X33, X32).
T = L(tau(.))
    tau applies the S-box to each byte; L(B) = B xor B<<<2 xor B<<<10 xor B<<<18 xor B<<<24.
key schedule
    K(0..3) = MK xor FK; rk(i) = K(i+4) = K(i) xor T'(K(i+1) xor K(i+2) xor K(i+3) xor CK(i)),
    with T' = L'(tau(.)), L'(B) = B xor B<<<13 xor B<<<23.
decryption
    The same rounds with the round keys in reverse order.

Simplifications: the readable version is one block at a time, no mode of operation, and
not constant-time (table look-ups leak through caches); the chain never uses it.
"""
from __future__ import annotations

from labchain.errors import LabchainError

BLOCK_SIZE = 16
KEY_SIZE = 16
NONCE_SIZE = 12   # GCM's recommended IV length
TAG_SIZE = 16

SBOX = bytes.fromhex(
    "d690e9fecce13db716b614c228fb2c052b679a762abe04c3aa44132649860699"
    "9c4250f491ef987a33540b43edcfac62e4b31ca9c908e89580df94fa758f3fa6"
    "4707a7fcf37317ba83593c19e6854fa8686b81b27164da8bf8eb0f4b70569d35"
    "1e240e5e6358d1a225227c3b01217887d40046579fd327524c3602e7a0c4c89e"
    "eabf8ad240c738b5a3f7f2cef96115a1e0ae5da49b341a55ad933230f58cb1e3"
    "1df6e22e8266ca60c02923ab0d534e6fd5db3745defd8e2f03ff6a726d6c5b51"
    "8d1baf92bbddbc7f11d95c411f105ad80ac13188a5cd7bbd2d74d012b8e5b4b0"
    "8969974a0c96777e65b9f109c56ec68418f07dec3adc4d2079ee5f3ed7cb3948")
FK = (0xA3B1BAC6, 0x56AA3350, 0x677D9197, 0xB27022DC)
#: CK(i) has bytes (4i + j) * 7 mod 256 for j = 0..3
CK = tuple(int.from_bytes(bytes((4 * i + j) * 7 % 256 for j in range(4)), "big") for i in range(32))
_MASK = 0xFFFFFFFF


class SM4Error(LabchainError, ValueError):
    """Wrong key or block size, or ciphertext that fails authentication."""


def rotl(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & _MASK


def tau(a: int) -> int:
    """The S-box applied to each of the four bytes of a word."""
    return int.from_bytes(bytes(SBOX[b] for b in a.to_bytes(4, "big")), "big")


def L(b: int) -> int:
    return b ^ rotl(b, 2) ^ rotl(b, 10) ^ rotl(b, 18) ^ rotl(b, 24)


def L_prime(b: int) -> int:
    return b ^ rotl(b, 13) ^ rotl(b, 23)


def _words(data: bytes, size: int, what: str) -> list[int]:
    if len(data) != size:
        raise SM4Error(f"an SM4 {what} is {size} bytes, got {len(data)}", data)
    return [int.from_bytes(data[i:i + 4], "big") for i in range(0, size, 4)]


def round_keys(key: bytes) -> list[int]:
    """The 32 round keys rk(0..31) of a 16-byte key."""
    k = [w ^ f for w, f in zip(_words(key, KEY_SIZE, "key"), FK)]
    for i in range(32):
        k.append(k[i] ^ L_prime(tau(k[i + 1] ^ k[i + 2] ^ k[i + 3] ^ CK[i])))
    return k[4:]


def _crypt(rk: list[int], block: bytes) -> bytes:
    x = _words(block, BLOCK_SIZE, "block")
    for i in range(32):
        x.append(x[i] ^ L(tau(x[i + 1] ^ x[i + 2] ^ x[i + 3] ^ rk[i])))
    return b"".join(w.to_bytes(4, "big") for w in reversed(x[-4:]))


def encrypt_block(key: bytes, block: bytes) -> bytes:
    """One 16-byte block under a 16-byte key, exactly as GB/T 32907 writes it (slow)."""
    return _crypt(round_keys(key), block)


def decrypt_block(key: bytes, block: bytes) -> bytes:
    return _crypt(round_keys(key)[::-1], block)


# --- the fast path: OpenSSL through ``cryptography`` --------------------------------------

def gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, associated_data: bytes = b"") -> bytes:
    """SM4-GCM: ciphertext || 16-byte tag. ``associated_data`` is authenticated, not encrypted.
    Never reuse a (key, nonce) pair."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    _words(key, KEY_SIZE, "key")
    if len(nonce) != NONCE_SIZE:
        raise SM4Error(f"an SM4-GCM nonce is {NONCE_SIZE} bytes here, got {len(nonce)}", nonce)
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(associated_data)
    return encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag


def gcm_decrypt(key: bytes, nonce: bytes, sealed: bytes, associated_data: bytes = b"") -> bytes:
    """The plaintext of :func:`gcm_encrypt`'s output; :class:`SM4Error` if anything (key,
    nonce, ciphertext, tag or associated data) differs from what was encrypted."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    _words(key, KEY_SIZE, "key")
    if len(nonce) != NONCE_SIZE or len(sealed) < TAG_SIZE:
        raise SM4Error("SM4-GCM data is too short to hold an authentication tag", sealed)
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, sealed[-TAG_SIZE:])).decryptor()
    decryptor.authenticate_additional_data(associated_data)
    try:
        return decryptor.update(sealed[:-TAG_SIZE]) + decryptor.finalize()
    except InvalidTag:
        raise SM4Error("SM4-GCM authentication failed: wrong key, or the data was altered", sealed) from None


def ecb_encrypt_block(key: bytes, block: bytes) -> bytes:
    """One block by OpenSSL (for cross-checks and the 1,000,000-iteration vector)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()
