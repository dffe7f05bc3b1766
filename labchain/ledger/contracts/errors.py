"""Errors of the contract VM that reach the caller (student-code failures inside a call never
raise: they end the call with ``CallResult(success=False, ...)``)."""
from __future__ import annotations

from typing import Any

from labchain.core.errors import EncodingError, LabchainError


class ContractCompileError(LabchainError, ValueError):
    """Contract source that does not parse or uses a construct outside the contract language.

    ``.line`` and ``.col`` (1-based) point at the offending construct; ``.obj`` is the source.
    The message is one sentence ending with the position, e.g.
    ``imports are not allowed in contracts (line 3, col 1)``.
    """

    def __init__(self, what: str, line: int | None, col: int | None, obj: Any = None) -> None:
        self.what = what
        self.line = line
        self.col = col
        where = f" (line {line}, col {col})" if line is not None else ""
        super().__init__(f"{what}{where}", obj)


class ContractValueError(EncodingError):
    """A value that is not a contract value (a float, a set, an object) or bytes that are not the
    canonical encoding of one; ``.obj`` is the value or the bytes."""


class ContractCallError(LabchainError, ValueError):
    """A caller-side mistake outside student code: bad gas limit, a context that is not a
    :class:`CallContext`, a depth beyond the limit. (Student-code failures never raise.)"""
