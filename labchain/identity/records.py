"""The one codec the identity records need beyond :mod:`labchain.core.encoding`: UTF-8 text.

Org ids, roles, resource names and policy rules are short strings. :class:`Text` writes them
as length-prefixed UTF-8 bytes (like ``VarBytes``) and as plain JSON strings; invalid UTF-8
on the wire is an :class:`~labchain.core.errors.EncodingError` naming the field.
"""
from __future__ import annotations

from typing import Any

from labchain.core.encoding import Reader, VarBytes
from labchain.core.errors import EncodingError


class Text(VarBytes):
    """Length-prefixed UTF-8 text of at most ``max_len`` bytes; a JSON string."""

    def __init__(self, max_len: int = 256) -> None:
        super().__init__(max_len)

    def _text(self, value: Any, field: str) -> str:
        if not isinstance(value, str):
            raise EncodingError(f"{field} must be text, got {type(value).__name__}", value)
        if len(value.encode()) > self.max_len:
            raise EncodingError(f"{field} is longer than {self.max_len} bytes", value)
        return value

    def write(self, out: bytearray, value: str, field: str) -> None:
        super().write(out, self._text(value, field).encode(), field)

    def read(self, reader: Reader, field: str) -> str:
        raw = super().read(reader, field)
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise EncodingError(f"{field} is not valid UTF-8 text", raw) from None

    def to_json(self, value: str) -> str:
        return value

    def from_json(self, value: Any, field: str) -> str:
        return self._text(value, field)
