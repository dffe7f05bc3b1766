"""The fast SM2 back-end: the system's OpenSSL 3 ``libcrypto`` through ``ctypes``.

Block validation verifies every input's signature, so verification must run at C speed.
Of the candidates measured (docs/crypto.md: ``gmssl`` pure Python, ``tongsuopy``, this
binding) a few dozen lines of ``ctypes`` over the ``libcrypto.so.3`` that Python's own
``hashlib`` and ``ssl`` already load is the fastest and adds no dependency:

* :func:`verify` -- ``EVP_DigestVerify`` with SM3 and the signer ID set by
  ``EVP_PKEY_CTX_set1_id``: OpenSSL computes Z_A and e itself, so it is also an independent
  check of :mod:`labchain.crypto.sm2`. One ``EVP_PKEY`` per public key, parsed once from its
  DER SubjectPublicKeyInfo and cached.
* :func:`base_mult` -- ``k * G`` with ``EC_POINT_mul``, so that deterministic signing
  (the nonce and the signature equation stay in :mod:`labchain.crypto.sm2`) and key
  derivation take microseconds instead of the pure-Python milliseconds.

ctypes releases the GIL during each call, so verifying threads run in parallel. If
``libcrypto`` cannot be loaded or lacks SM2, :data:`AVAILABLE` is False and
:data:`UNAVAILABLE_REASON` says why; the suite then falls back to pure Python.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

from labchain.crypto import asn1, sm2
from labchain.errors import InvalidKeyError

NID_SM2 = 1172   # OpenSSL's obj_mac.h
_c = ctypes.c_void_p


def _load():
    name = ctypes.util.find_library("crypto") or "libcrypto.so.3"
    lib = ctypes.CDLL(name)
    if lib.OpenSSL_version_num() >> 28 < 3:
        raise OSError(f"{name} is older than OpenSSL 3")
    signatures = {
        "OpenSSL_version_num": (ctypes.c_ulong, []),
        "d2i_PUBKEY": (_c, [_c, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]),
        "EVP_PKEY_free": (None, [_c]),
        "EVP_MD_CTX_new": (_c, []),
        "EVP_MD_CTX_free": (None, [_c]),
        "EVP_MD_CTX_set_pkey_ctx": (None, [_c, _c]),
        "EVP_PKEY_CTX_new": (_c, [_c, _c]),
        "EVP_PKEY_CTX_free": (None, [_c]),
        "EVP_PKEY_CTX_set1_id": (ctypes.c_int, [_c, ctypes.c_char_p, ctypes.c_size_t]),
        "EVP_sm3": (_c, []),
        "EVP_DigestVerifyInit": (ctypes.c_int, [_c, _c, _c, _c, _c]),
        "EVP_DigestVerify": (ctypes.c_int, [_c, ctypes.c_char_p, ctypes.c_size_t,
                                            ctypes.c_char_p, ctypes.c_size_t]),
        "ERR_clear_error": (None, []),
        "EC_GROUP_new_by_curve_name": (_c, [ctypes.c_int]),
        "EC_POINT_new": (_c, [_c]),
        "EC_POINT_free": (None, [_c]),
        "EC_POINT_mul": (ctypes.c_int, [_c, _c, _c, _c, _c, _c]),
        "EC_POINT_get_affine_coordinates": (ctypes.c_int, [_c, _c, _c, _c, _c]),
        "BN_new": (_c, []),
        "BN_free": (None, [_c]),
        "BN_bin2bn": (_c, [ctypes.c_char_p, ctypes.c_int, _c]),
        "BN_bn2binpad": (ctypes.c_int, [_c, ctypes.c_char_p, ctypes.c_int]),
    }
    for fn, (restype, argtypes) in signatures.items():
        func = getattr(lib, fn)
        func.restype, func.argtypes = restype, argtypes
    if not lib.EVP_sm3() or not lib.EC_GROUP_new_by_curve_name(NID_SM2):
        raise OSError(f"{name} has no SM2/SM3")
    return lib


try:
    _lib = _load()
    AVAILABLE, UNAVAILABLE_REASON = True, ""
    _SM3 = _lib.EVP_sm3()
    _GROUP = _lib.EC_GROUP_new_by_curve_name(NID_SM2)   # lives as long as the process
except (OSError, AttributeError) as exc:  # no libcrypto 3, or one built without SM2
    _lib, AVAILABLE, UNAVAILABLE_REASON = None, False, f"OpenSSL libcrypto unusable for SM2: {exc}"


class _PublicKey:
    """An ``EVP_PKEY`` for one SM2 public key, freed with this object."""

    __slots__ = ("handle",)

    def __init__(self, sec1: bytes) -> None:
        # OpenSSL decodes the SEC1 point itself (the square root of a compressed point in C:
        # about twice as fast as decoding in Python first) and checks that it is on the curve
        der = asn1.encode_spki(sec1)
        cursor = ctypes.c_char_p(der)
        self.handle = _lib.d2i_PUBKEY(None, ctypes.byref(cursor), len(der))
        if not self.handle:
            _lib.ERR_clear_error()
            sm2.decode_point(sec1)   # raises the precise InvalidKeyError (length, prefix, curve)
            raise InvalidKeyError("OpenSSL refused the SM2 public key", sec1)

    def __del__(self) -> None:
        if self.handle and _lib is not None:
            _lib.EVP_PKEY_free(self.handle)
            self.handle = None


@functools.lru_cache(maxsize=4096)
def _public_key(public_key: bytes) -> _PublicKey:
    if not ((len(public_key) == 33 and public_key[0] in (2, 3))
            or (len(public_key) == 65 and public_key[0] == 4)):
        sm2.decode_point(public_key)  # the same clear error as the pure-Python suite
    return _PublicKey(public_key)


def verify(public_key: bytes, message: bytes, signature: bytes, user_id: bytes = sm2.DEFAULT_ID) -> bool:
    """Same contract as :func:`labchain.crypto.sm2.verify`, computed by OpenSSL."""
    r, s = sm2.split_signature(signature)           # size and range: the same clear errors
    key = _public_key(bytes(public_key))             # InvalidKeyError when not on the curve
    der = asn1.encode_signature(r, s)
    mctx = _lib.EVP_MD_CTX_new()
    pctx = _lib.EVP_PKEY_CTX_new(key.handle, None)
    try:
        if not (mctx and pctx and _lib.EVP_PKEY_CTX_set1_id(pctx, user_id, len(user_id)) > 0):
            raise MemoryError("OpenSSL could not allocate an SM2 verification context")
        _lib.EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
        if _lib.EVP_DigestVerifyInit(mctx, None, _SM3, None, key.handle) != 1:
            raise MemoryError("OpenSSL could not start an SM2 verification")
        return _lib.EVP_DigestVerify(mctx, der, len(der), message, len(message)) == 1
    finally:
        _lib.ERR_clear_error()   # a failed verification leaves an error on this thread's queue
        _lib.EVP_MD_CTX_free(mctx)
        _lib.EVP_PKEY_CTX_free(pctx)


def base_mult(k: int) -> tuple[int, int]:
    """k * G on the SM2 curve by OpenSSL (k in [1, n-1])."""
    scalar = _lib.BN_bin2bn(k.to_bytes(32, "big"), 32, None)
    point = _lib.EC_POINT_new(_GROUP)
    x, y = _lib.BN_new(), _lib.BN_new()
    try:
        if not (scalar and point and x and y
                and _lib.EC_POINT_mul(_GROUP, point, scalar, None, None, None) == 1
                and _lib.EC_POINT_get_affine_coordinates(_GROUP, point, x, y, None) == 1):
            _lib.ERR_clear_error()
            raise MemoryError("OpenSSL could not compute k*G on the SM2 curve")
        bx, by = ctypes.create_string_buffer(32), ctypes.create_string_buffer(32)
        _lib.BN_bn2binpad(x, bx, 32)
        _lib.BN_bn2binpad(y, by, 32)
        return int.from_bytes(bx.raw, "big"), int.from_bytes(by.raw, "big")
    finally:
        _lib.BN_free(scalar)
        _lib.BN_free(x)
        _lib.BN_free(y)
        _lib.EC_POINT_free(point)
