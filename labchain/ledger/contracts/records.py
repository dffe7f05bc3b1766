"""The data the VM exchanges with the ledger: the :class:`Host` it runs against, the
:class:`CallContext` of a call, the :class:`Event` logs and :class:`CallResult` it returns, and
the :class:`Step` records of a trace."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from labchain.ledger.contracts.values import decode_value, encode_value

if TYPE_CHECKING:
    from labchain.ledger.contracts.compiler import Program


class Host(Protocol):
    """What the VM needs from the ledger (``labchain.ledger.account`` implements it; tests use
    :class:`~labchain.ledger.contracts.memory_host.MemoryHost`). Writes go straight to the
    host; the VM takes :meth:`snapshot` at the entry of a call and :meth:`revert_to` it when
    the call fails."""

    def storage_get(self, contract: bytes, key: bytes) -> bytes | None: ...
    def storage_set(self, contract: bytes, key: bytes, value: bytes | None) -> None: ...
    def balance(self, address: bytes) -> int: ...
    def transfer(self, src: bytes, dst: bytes, amount: int) -> None: ...   # raises on shortfall
    def code(self, address: bytes) -> "Program | None": ...
    def create(self, creator: bytes, program: "Program") -> bytes: ...    # the new contract's address
    def snapshot(self) -> int: ...
    def revert_to(self, snapshot: int) -> None: ...


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who calls what: ``sender`` is the immediate caller (Solidity ``msg.sender``), ``origin``
    the transaction's signer (``tx.origin``), ``contract`` the called contract's address,
    ``value`` base units sent with the call (``msg.value``, already credited by the ledger),
    ``depth`` the cross-contract call depth (0 for a transaction)."""

    sender: bytes
    origin: bytes
    contract: bytes
    value: int
    block_height: int
    block_timestamp: int
    chain_id: str
    depth: int = 0


@dataclass(frozen=True, slots=True)
class Event:
    """One log entry: ``topics[0]`` is :func:`event_signature` of ``name``, then one 32-byte
    :func:`event_topic` per ``Indexed`` field in declaration order; ``data`` is the
    :func:`encode_value` of ``{field: value}`` for all fields (Ethereum: LOG with topics and
    ABI-encoded data). Canonical bytes: :meth:`to_bytes`."""

    contract: bytes
    name: str
    topics: tuple[bytes, ...]
    data: bytes

    @property
    def fields(self) -> dict:
        """The decoded field values."""
        return decode_value(self.data)

    def to_bytes(self) -> bytes:
        return encode_value([self.contract, self.name, list(self.topics), self.data])

    @classmethod
    def from_bytes(cls, data: bytes) -> "Event":
        from labchain.ledger.contracts.errors import ContractValueError
        v = decode_value(data)
        if (type(v) is not list or len(v) != 4 or type(v[0]) is not bytes or type(v[1]) is not str
                or type(v[2]) is not list or any(type(t) is not bytes for t in v[2]) or type(v[3]) is not bytes):
            raise ContractValueError("these bytes encode a contract value but not an event", data)
        return cls(v[0], v[1], tuple(v[2]), v[3])


@dataclass(frozen=True, slots=True)
class CallResult:
    """The outcome of a call. On failure ``events`` is empty, every effect was reverted,
    ``revert_reason`` says which rule failed and ``revert_line`` where (None when the failure
    was not at a source line, e.g. an unknown function)."""

    success: bool
    gas_used: int
    return_value: object
    events: tuple[Event, ...]
    revert_reason: str | None
    revert_line: int | None


@dataclass(frozen=True, slots=True)
class Step:
    """One statement about to run (or, for ``op`` "returned"/"reverted", the end of the call).

    ``gas_used`` is the gas used before this statement; ``locals`` a copy of the current frame's
    variables; ``storage_diff`` every storage slot changed so far in this call, as
    ``label -> (before, after)`` with decoded values (label ``name[key]`` for the called contract,
    ``0xab12...:name[key]`` for another); ``depth`` the frame depth (1 = the called function,
    +1 per internal or cross-contract call); ``events`` the events emitted so far."""

    line: int
    op: str
    gas_used: int
    locals: dict
    storage_diff: dict
    depth: int
    events: tuple[Event, ...]
    function: str = ""
    contract: bytes = b""
    revert_reason: str | None = field(default=None)
