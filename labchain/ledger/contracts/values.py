"""Canonical encoding of contract values (call arguments in transaction data, storage values,
return values, event data).

Terminology
-----------
contract value
    ``None``, ``bool``, ``int`` (any size up to :data:`~labchain.ledger.contracts.gas.MAX_INT_BITS`),
    ``str``, ``bytes``, ``list`` of values, ``dict`` with ``str``/``int``/``bytes`` keys. Tuples are
    accepted on input and encoded as lists (the contract language has no separate tuple type).

Layout: one tag byte, then the payload; lengths and counts are unsigned LEB128 varints in their
shortest form::

    00 None   01 False   02 True
    03 int >= 0, 04 int < 0: varint n, then n bytes of |value| big-endian, no leading zero byte
    05 str: varint n, n bytes UTF-8        06 bytes: varint n, n bytes
    07 list: varint count, the items       08 dict: varint count, key/value pairs sorted by the
                                              encoded key bytes, no duplicate keys

Decoding is strict (every value has exactly one encoding): non-minimal varints or integers,
``-0``, unsorted or duplicate dict keys, invalid UTF-8, trailing bytes and nesting deeper than
:data:`MAX_DEPTH` all raise :class:`ContractValueError`. Nothing is ever evaluated or unpickled.

Simplifications versus real chains: Ethereum's ABI encodes fixed 32-byte words chosen by a
declared type signature; ChainMaker passes contract parameters as a string->bytes map. Our
self-describing tagged form is closer to CBOR/RLP; there is no schema to check against beyond
the optional annotations of a contract function.
"""
from __future__ import annotations

import hashlib
from typing import Any

from labchain.ledger.contracts.errors import ContractValueError
from labchain.ledger.contracts.gas import MAX_DEPTH, MAX_INT_BITS, MAX_VALUE_BYTES

T_NONE, T_FALSE, T_TRUE, T_POS, T_NEG, T_STR, T_BYTES, T_LIST, T_DICT = range(9)
KEY_TYPES = (str, int, bytes)
_SMALL = 1 << 64
#: tag and one-byte length of short values: _HEAD[tag][n] == bytes((tag, n))
_HEAD = {tag: [bytes((tag, n)) for n in range(0x80)] for tag in (T_POS, T_BYTES)}


def _varint(out: bytearray, n: int) -> None:
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _encode(out: bytearray, v: Any, depth: int) -> None:
    t = type(v)
    if t is bytes or t is bytearray:
        out.append(T_BYTES)
        n = len(v)
        if n < 0x80:
            out.append(n)
        else:
            _varint(out, n)
        out += v
    elif t is int:
        if v.bit_length() > MAX_INT_BITS:
            raise ContractValueError(
                f"an integer of {v.bit_length()} bits is larger than the {MAX_INT_BITS}-bit limit of contract values", v)
        mag = -v if v < 0 else v
        body = mag.to_bytes((mag.bit_length() + 7) // 8, "big")
        out.append(T_NEG if v < 0 else T_POS)
        out.append(len(body)) if len(body) < 0x80 else _varint(out, len(body))
        out += body
    elif t is str:
        body = v.encode("utf-8", "strict") if v.isascii() else _utf8(v)
        out.append(T_STR)
        out.append(len(body)) if len(body) < 0x80 else _varint(out, len(body))
        out += body
    elif v is None:
        out.append(T_NONE)
    elif t is bool:
        out.append(T_TRUE if v else T_FALSE)
    elif t is list or t is tuple:
        if depth >= MAX_DEPTH:
            raise ContractValueError(f"a contract value may nest at most {MAX_DEPTH} lists/dicts deep", None)
        out.append(T_LIST)
        _varint(out, len(v))
        for item in v:
            _encode(out, item, depth + 1)
        if len(out) > MAX_VALUE_BYTES:
            raise ContractValueError(f"an encoded contract value may be at most {MAX_VALUE_BYTES} bytes", None)
    elif t is dict:
        if depth >= MAX_DEPTH:
            raise ContractValueError(f"a contract value may nest at most {MAX_DEPTH} lists/dicts deep", None)
        pairs = []
        for k, item in v.items():
            if type(k) not in KEY_TYPES:
                raise ContractValueError(
                    f"dict keys of contract values must be str, int or bytes, not {type(k).__name__}", k)
            kb = bytearray()
            _encode(kb, k, depth + 1)
            pairs.append((bytes(kb), item))
        pairs.sort(key=lambda p: p[0])
        out.append(T_DICT)
        _varint(out, len(pairs))
        for kb, item in pairs:
            out += kb
            _encode(out, item, depth + 1)
        if len(out) > MAX_VALUE_BYTES:
            raise ContractValueError(f"an encoded contract value may be at most {MAX_VALUE_BYTES} bytes", None)
    else:
        raise ContractValueError(
            f"{type(v).__name__} is not a contract value (allowed: None, bool, int, str, bytes, list, dict)", v)


def _utf8(s: str) -> bytes:
    try:
        return s.encode("utf-8", "strict")
    except UnicodeEncodeError:
        raise ContractValueError("a string with a lone surrogate character is not a contract value", s) from None


def encode_value(v: Any) -> bytes:
    """The canonical bytes of contract value ``v``; raises :class:`ContractValueError` naming
    the first thing that is not a contract value."""
    t = type(v)
    if t is bytes:                        # fast paths (storage keys, addresses, amounts): the same bytes
        if len(v) < 0x80:
            return _HEAD[T_BYTES][len(v)] + v
    elif t is int:
        if 0 <= v < _SMALL:
            body = v.to_bytes((v.bit_length() + 7) >> 3, "big")
            return _HEAD[T_POS][len(body)] + body
    out = bytearray()
    _encode(out, v, 0)
    if len(out) > MAX_VALUE_BYTES:
        raise ContractValueError(f"an encoded contract value may be at most {MAX_VALUE_BYTES} bytes", None)
    return bytes(out)


def fixed_dict_encoder(keys: Any) -> Any:
    """``encode_value`` for dicts that have exactly the str ``keys`` (event data): the same bytes,
    with the keys' encodings and their canonical order worked out once instead of per value."""
    order = sorted((encode_value(k), k) for k in dict.fromkeys(keys))
    head = bytearray([T_DICT])
    _varint(head, len(order))
    head = bytes(head)

    def encode(d: dict) -> bytes:
        out = bytearray(head)
        for kb, k in order:
            out += kb
            _encode(out, d[k], 1)
        if len(out) > MAX_VALUE_BYTES:
            raise ContractValueError(f"an encoded contract value may be at most {MAX_VALUE_BYTES} bytes", None)
        return bytes(out)
    return encode


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def fail(self, what: str) -> ContractValueError:
        return ContractValueError(f"bad contract value encoding at byte {self.pos}: {what}", self.data)

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("the data ends too early")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        n = shift = 0
        while True:
            b = self.byte()
            if shift > 63:
                raise self.fail("a length varint is too long")
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if b == 0 and shift > 7:
                    raise self.fail("a length varint is not in its shortest form")
                return n

    def take(self, n: int) -> bytes:
        if n > len(self.data) - self.pos:
            raise self.fail(f"a length of {n} runs past the end of the data")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return bytes(chunk)


def _decode(r: _Reader, depth: int) -> Any:
    tag = r.byte()
    if tag == T_NONE:
        return None
    if tag == T_FALSE:
        return False
    if tag == T_TRUE:
        return True
    if tag in (T_POS, T_NEG):
        n = r.varint()
        if n * 8 > MAX_INT_BITS + 7:
            raise r.fail(f"an integer of {n} bytes is larger than the {MAX_INT_BITS}-bit limit")
        body = r.take(n)
        if n and body[0] == 0:
            raise r.fail("an integer has a leading zero byte")
        if tag == T_NEG and n == 0:
            raise r.fail("negative zero")
        mag = int.from_bytes(body, "big")
        if mag.bit_length() > MAX_INT_BITS:
            raise r.fail(f"an integer is larger than the {MAX_INT_BITS}-bit limit")
        return -mag if tag == T_NEG else mag
    if tag == T_STR:
        body = r.take(r.varint())
        try:
            return body.decode("utf-8", "strict")
        except UnicodeDecodeError:
            raise r.fail("a string is not valid UTF-8") from None
    if tag == T_BYTES:
        return r.take(r.varint())
    if tag in (T_LIST, T_DICT):
        if depth >= MAX_DEPTH:
            raise r.fail(f"values nest more than {MAX_DEPTH} lists/dicts deep")
        count = r.varint()
        if count > len(r.data) - r.pos:
            raise r.fail(f"a count of {count} items is more than the bytes left")
        if tag == T_LIST:
            return [_decode(r, depth + 1) for _ in range(count)]
        out: dict = {}
        prev = None
        for _ in range(count):
            start = r.pos
            key = _decode(r, depth + 1)
            kb = r.data[start:r.pos]
            if type(key) not in KEY_TYPES:
                raise r.fail(f"a dict key is a {type(key).__name__}, not str, int or bytes")
            if prev is not None and kb <= prev:
                raise r.fail("dict keys are not in strictly increasing order of their encoding")
            prev = kb
            out[key] = _decode(r, depth + 1)
        return out
    raise r.fail(f"unknown tag 0x{tag:02x}")


def decode_value(data: bytes) -> Any:
    """The contract value whose canonical encoding is ``data`` (strict; see the module docstring)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ContractValueError(f"decode_value needs bytes, not {type(data).__name__}", data)
    if type(data) is bytes and len(data) >= 2 and len(data) == data[1] + 2 and data[1] < 0x80:
        tag = data[0]                     # fast paths of encode_value's, valid only in the canonical form
        if tag == T_BYTES:
            return data[2:]
        if tag == T_POS and data[1] <= 8 and (data[1] == 0 or data[2]):
            return int.from_bytes(data[2:], "big")
    r = _Reader(bytes(data))
    value = _decode(r, 0)
    if r.pos != len(r.data):
        raise r.fail(f"{len(r.data) - r.pos} trailing byte(s) after the value")
    return value


def event_topic(value: Any) -> bytes:
    """The 32-byte topic an indexed event field with this value gets: SHA-256 of its encoding
    (Ethereum stores an indexed value of a dynamic type as its keccak256 the same way)."""
    return hashlib.sha256(encode_value(value)).digest()


def event_signature(name: str) -> bytes:
    """Topic 0 of every event of this name (Ethereum: keccak256 of the event signature)."""
    return hashlib.sha256(b"event:" + name.encode("utf-8")).digest()
