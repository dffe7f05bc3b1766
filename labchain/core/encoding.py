"""Canonical byte encoding and JSON form of chain records, declared once per record type.

Terminology
-----------
codec
    An object that knows how to write one kind of value as bytes, read it back, and convert
    it to and from JSON (``UInt(4)``, ``FixedBytes(32)``, ``VarBytes()``, ``ListOf(...)``).
record
    A frozen dataclass that lists its fields with their codecs in ``ENCODING``. The class
    gets ``to_bytes``/``from_bytes``/``to_json``/``from_json`` from :class:`Record`, all
    derived from that single declaration, so the byte form that is hashed and signed and the
    JSON form shown in notebooks and sent over RPC can never drift apart.

The byte layout follows Bitcoin's conventions: integers are little-endian, variable-length
data is prefixed with a CompactSize length (``VarInt``).

Decoding is strict: truncated input, trailing bytes, over-long lists, non-canonical
CompactSize lengths, wrong JSON types and unknown JSON keys all raise
:class:`~labchain.errors.EncodingError` with a message naming the field. Nothing here ever
evaluates or unpickles its input, so it is safe on data from the network.

Simplifications versus real chains: no script language (an output is locked to an address,
see ``tx.py``), no witness serialization.
"""
from __future__ import annotations

import struct
from typing import Any, ClassVar, Self

from labchain.core.errors import EncodingError

#: Bitcoin's MAX_SIZE for any CompactSize-prefixed item (32 MiB); our records are far smaller.
MAX_VARBYTES = 32 * 1024 * 1024


class Reader:
    """A cursor over bytes being decoded; every read checks that enough bytes remain."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise EncodingError(f"expected bytes to decode, got {type(data).__name__}", data)
        self.data = bytes(data)
        self.pos = 0

    def take(self, n: int, what: str = "data") -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise EncodingError(
                f"truncated {what}: needed {n} bytes at offset {self.pos}, "
                f"only {len(self.data) - self.pos} left"
            )
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def expect_end(self, what: str) -> None:
        if self.pos != len(self.data):
            raise EncodingError(
                f"{len(self.data) - self.pos} unexpected trailing bytes after {what}"
            )


class Codec:
    """How one kind of value is written as bytes and as JSON. Subclasses override all four."""

    def write(self, out: bytearray, value: Any, field: str) -> None:
        raise NotImplementedError

    def read(self, reader: Reader, field: str) -> Any:
        raise NotImplementedError

    def to_json(self, value: Any) -> Any:
        return value

    def from_json(self, value: Any, field: str) -> Any:
        return value


def _require_int(value: Any, field: str) -> int:
    if type(value) is not int:  # bool is an int subclass: reject it explicitly
        raise EncodingError(f"{field} must be an integer, got {type(value).__name__}", value)
    return value


class UInt(Codec):
    """Unsigned little-endian integer of 1, 2, 4 or 8 bytes."""

    _FORMATS = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}

    def __init__(self, size: int) -> None:
        self.size = size
        self.struct = struct.Struct(self._FORMATS[size])
        self.max = (1 << (8 * size)) - 1

    def check(self, value: Any, field: str) -> int:
        value = _require_int(value, field)
        if not 0 <= value <= self.max:
            raise EncodingError(f"{field} = {value} is outside 0..{self.max}", value)
        return value

    def write(self, out: bytearray, value: int, field: str) -> None:
        out += self.struct.pack(self.check(value, field))

    def read(self, reader: Reader, field: str) -> int:
        return self.struct.unpack(reader.take(self.size, field))[0]

    def from_json(self, value: Any, field: str) -> int:
        return self.check(value, field)


class VarInt(Codec):
    """Bitcoin's CompactSize: 1, 3, 5 or 9 bytes; only the shortest form is accepted."""

    _u64 = UInt(8)  # one shared range checker: building a UInt per call showed in profiles

    def write(self, out: bytearray, value: int, field: str) -> None:
        value = self._u64.check(value, field)
        if value < 0xFD:
            out.append(value)
        elif value <= 0xFFFF:
            out += b"\xfd" + struct.pack("<H", value)
        elif value <= 0xFFFFFFFF:
            out += b"\xfe" + struct.pack("<I", value)
        else:
            out += b"\xff" + struct.pack("<Q", value)

    def read(self, reader: Reader, field: str) -> int:
        first = reader.take(1, field)[0]
        if first < 0xFD:
            return first
        size, minimum = {0xFD: (2, 0xFD), 0xFE: (4, 0x10000), 0xFF: (8, 0x100000000)}[first]
        value = int.from_bytes(reader.take(size, field), "little")
        if value < minimum:
            raise EncodingError(f"non-canonical length encoding in {field}", value)
        return value

    def from_json(self, value: Any, field: str) -> int:
        return self._u64.check(value, field)


_VARINT = VarInt()  # the length prefix of every VarBytes and ListOf


def _hex_to_bytes(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise EncodingError(f"{field} must be a hex string, got {type(value).__name__}", value)
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise EncodingError(f"{field} is not valid hex: {value[:20]!r}", value) from None


class FixedBytes(Codec):
    """Exactly ``size`` bytes (a hash, a compressed public key); lower-case hex in JSON."""

    def __init__(self, size: int) -> None:
        self.size = size

    def check(self, value: Any, field: str) -> bytes:
        if not isinstance(value, bytes) or len(value) != self.size:
            got = len(value) if isinstance(value, bytes) else type(value).__name__
            raise EncodingError(f"{field} must be {self.size} bytes, got {got}", value)
        return value

    def write(self, out: bytearray, value: bytes, field: str) -> None:
        out += self.check(value, field)

    def read(self, reader: Reader, field: str) -> bytes:
        return reader.take(self.size, field)

    def to_json(self, value: bytes) -> str:
        return value.hex()

    def from_json(self, value: Any, field: str) -> bytes:
        return self.check(_hex_to_bytes(value, field), field)


class VarBytes(Codec):
    """Length-prefixed bytes of at most ``max_len``; lower-case hex in JSON."""

    def __init__(self, max_len: int = MAX_VARBYTES) -> None:
        self.max_len = max_len

    def check(self, value: Any, field: str) -> bytes:
        if not isinstance(value, bytes):
            raise EncodingError(f"{field} must be bytes, got {type(value).__name__}", value)
        if len(value) > self.max_len:
            raise EncodingError(f"{field} is {len(value)} bytes, more than {self.max_len}", value)
        return value

    def write(self, out: bytearray, value: bytes, field: str) -> None:
        self.check(value, field)
        _VARINT.write(out, len(value), field)
        out += value

    def read(self, reader: Reader, field: str) -> bytes:
        n = _VARINT.read(reader, field)
        if n > self.max_len:
            raise EncodingError(f"{field} claims {n} bytes, more than {self.max_len}", n)
        return reader.take(n, field)

    def to_json(self, value: bytes) -> str:
        return value.hex()

    def from_json(self, value: Any, field: str) -> bytes:
        return self.check(_hex_to_bytes(value, field), field)


class ListOf(Codec):
    """A CompactSize count followed by that many items; a JSON array. Stored as a tuple."""

    def __init__(self, item: Codec, max_items: int = 1_000_000) -> None:
        self.item = item
        self.max_items = max_items

    def write(self, out: bytearray, value: tuple, field: str) -> None:
        if not isinstance(value, (tuple, list)):
            raise EncodingError(f"{field} must be a sequence, got {type(value).__name__}", value)
        _VARINT.write(out, len(value), field)
        for i, item in enumerate(value):
            self.item.write(out, item, f"{field}[{i}]")

    def read(self, reader: Reader, field: str) -> tuple:
        n = _VARINT.read(reader, field)
        if n > self.max_items:
            raise EncodingError(f"{field} claims {n} items, more than {self.max_items}", n)
        return tuple(self.item.read(reader, f"{field}[{i}]") for i in range(n))

    def to_json(self, value: tuple) -> list:
        return [self.item.to_json(v) for v in value]

    def from_json(self, value: Any, field: str) -> tuple:
        if not isinstance(value, list):
            raise EncodingError(f"{field} must be a JSON array, got {type(value).__name__}", value)
        if len(value) > self.max_items:
            raise EncodingError(f"{field} has {len(value)} items, more than {self.max_items}", value)
        return tuple(self.item.from_json(v, f"{field}[{i}]") for i, v in enumerate(value))


class Nested(Codec):
    """A record inside a record (an input inside a transaction)."""

    def __init__(self, record_type: type[Record]) -> None:
        self.record_type = record_type

    def write(self, out: bytearray, value: Record, field: str) -> None:
        if not isinstance(value, self.record_type):
            raise EncodingError(
                f"{field} must be a {self.record_type.__name__}, got {type(value).__name__}", value
            )
        value.write(out)

    def read(self, reader: Reader, field: str) -> Record:
        return self.record_type.read(reader, field)

    def to_json(self, value: Record) -> dict:
        return value.to_json()

    def from_json(self, value: Any, field: str) -> Record:
        return self.record_type.from_json(value, field)


class Record:
    """Mixin for frozen dataclasses whose encoding is declared in ``ENCODING``.

    ``ENCODING`` is a tuple of ``(field_name, codec)`` in wire order. Subclasses may override
    :meth:`json_extras` to add derived, read-only values (a txid, a block hash) to the JSON
    form; :meth:`from_json` accepts those keys only if they match the decoded record.
    """

    __slots__ = ()
    ENCODING: ClassVar[tuple[tuple[str, Codec], ...]] = ()

    # -- bytes ---------------------------------------------------------------------------
    def write(self, out: bytearray) -> None:
        for name, codec in self.ENCODING:
            codec.write(out, getattr(self, name), f"{type(self).__name__}.{name}")

    def to_bytes(self) -> bytes:
        out = bytearray()
        self.write(out)
        return bytes(out)

    @classmethod
    def read(cls, reader: Reader, where: str | None = None) -> Self:
        where = where or cls.__name__  # the path in error messages: Transaction.inputs[0]...
        values = {name: codec.read(reader, f"{where}.{name}") for name, codec in cls.ENCODING}
        return cls._build(values)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        reader = Reader(data)
        record = cls.read(reader)
        reader.expect_end(cls.__name__)
        return record

    # -- JSON ----------------------------------------------------------------------------
    def json_extras(self) -> dict[str, Any]:
        return {}

    def to_json(self) -> dict[str, Any]:
        body = {name: codec.to_json(getattr(self, name)) for name, codec in self.ENCODING}
        body.update(self.json_extras())
        return body

    @classmethod
    def from_json(cls, obj: Any, where: str | None = None) -> Self:
        where = where or cls.__name__
        if not isinstance(obj, dict):
            raise EncodingError(f"{where} must be a JSON object, got {type(obj).__name__}", obj)
        names = [name for name, _ in cls.ENCODING]
        missing = [n for n in names if n not in obj]
        if missing:
            raise EncodingError(f"{where} is missing field(s): {', '.join(missing)}", obj)
        values = {n: c.from_json(obj[n], f"{where}.{n}") for n, c in cls.ENCODING}
        record = cls._build(values)
        extras = record.json_extras()
        unknown = [k for k in obj if k not in values and k not in extras]
        if unknown:
            raise EncodingError(f"{where} has unknown field(s): {', '.join(unknown)}", obj)
        for key, expected in extras.items():
            if key in obj and obj[key] != expected:
                raise EncodingError(f"{where}.{key} does not match the record's contents", obj)
        return record

    @classmethod
    def _build(cls, values: dict[str, Any]) -> Self:
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, EncodingError):
                raise
            raise EncodingError(f"invalid {cls.__name__}: {exc}", values) from exc


def decode_enveloped(data: bytes, envelope: type, registry: dict, error: type, unknown: type,
                     what: str, kind: str) -> Record:
    """The record inside ``envelope``-encoded ``data`` (a ``command`` + ``body`` record),
    looked up by command in ``registry``: the one decoder of the P2P and consensus messages.

    Raises ``error`` ("undecodable <what>: ..." or "malformed <command> message: ...") or
    ``unknown`` ("unknown <kind> 'x'"), each with a sentence and the offending bytes.
    """
    try:
        outer = envelope.from_bytes(data)
    except EncodingError as exc:
        raise error(f"undecodable {what}: {exc}", data[:64]) from None
    cls = registry.get(outer.command)
    shown = outer.command.decode("ascii", "replace")
    if cls is None:
        raise unknown(f"unknown {kind} {shown!r}", outer.command)
    try:
        return cls.from_bytes(outer.body)
    except (EncodingError, ValueError, OverflowError) as exc:  # ValueError: a record's own checks
        raise error(f"malformed {shown} message: {exc}", outer.body[:64]) from None
