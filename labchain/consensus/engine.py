"""The consensus engine interface: a pure state machine that turns input events into outputs.

Every message-passing engine (Solo, Raft, TBFT, PBFT) implements :class:`Engine`. An engine
never opens a socket, reads a clock or sleeps: the *driver* gives it events (a message from a
peer, a timer that fired, a command to order) together with the current time, and carries out
the outputs it returns (send this message, broadcast that one, call me back in 0.5 s, this value
is committed at height 7). Two drivers exist:

* the node (``labchain/node``): real sockets, the wall clock, real timers;
* the simulator (``labchain/consensus/sim.py``): a seeded virtual clock and a network model,
  so a run of 100 validators is reproducible bit for bit from its seed.

Because the engine is the same object in both, a bug found in the simulator is a bug of the
real node, and a fault schedule can be replayed on either.

Terminology
-----------
node id
    A validator's name, a short string (``"node1"``, ``"org2-consensus"``). The driver maps it
    to a peer connection; the engine only ever names peers by id.
command / value
    What consensus orders. For Raft a command is one client request (a transaction's bytes);
    for a BFT engine a *value* is a proposed block's bytes. The engine treats both as opaque
    bytes and asks the :class:`Application` whether a proposed value is valid.
height
    The position of a committed value: 1, 2, 3... (Raft's log index plays this role).
commit
    The engine's promise that the value at this height is final on every correct node. A
    committed value is never changed or rolled back (no reorg, unlike proof of work).

Contract for implementers
-------------------------
* Subclass :class:`Engine`; declare your messages as frozen :class:`~labchain.core.encoding.Record`
  dataclasses with a unique ``COMMAND`` (prefix it with the engine name: ``b"raft.vote"``) and
  call :func:`register_messages` at import time. The node carries any registered message over
  P2P; :func:`encode_engine_message`/:func:`decode_engine_message` are the only wire format.
* ``start``, ``on_message``, ``on_timer`` and ``submit`` return a list of outputs and must be
  deterministic: same state + same event + same ``now`` -> same outputs and same new state.
  Randomness (Raft's election timeouts) comes from a ``random.Random`` the driver seeds and
  passes to the constructor, never from the global generator.
* A malformed or unexpected message from a peer is ignored or answered, never an exception
  that escapes: a Byzantine peer must not be able to crash a correct node. Return
  :class:`Misbehaviour` to let the driver score and log the peer.
* ``status()`` returns a JSON-able dict for ``getconsensusstate`` (role, term/round, leader...).
* Governed block parameters (``block_interval``, ``block_tx_capacity``: issue #12, "the new config
  applies from the next block") reach an engine as one more input, :meth:`Engine.reconfigure`
  with a :class:`BlockParams` ``(height, block_interval, block_tx_capacity, sequence)``: "from
  height ``height`` on, these values hold". The node's driver calls it right after it applied
  block ``height - 1`` when the governed values differ from those in force (and once at start);
  the simulator may call it at any step. Like an event it returns outputs (a proposer re-arms
  its block timer with the new interval) and is deterministic; an engine that cannot use a
  value raises :class:`ConsensusError` and keeps the values it had. The default implementation
  only remembers the parameters (``block_params``), so an engine written before this input
  keeps working.

Simplifications versus real engines: timers are named and re-arming a name replaces the old
one (ChainMaker's TBFT keeps one timeout per step the same way); no batching of outputs into
one network packet; the driver, not the engine, persists committed values.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from labchain.core.encoding import Record, VarBytes, decode_enveloped
from labchain.core.errors import LabchainError


class ConsensusError(LabchainError):
    """A consensus message or engine configuration is wrong (names what and why)."""


class UnknownEngineMessageError(ConsensusError):
    """A well-formed engine envelope whose command no registered engine declares."""


# --- outputs ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Send:
    """Deliver ``message`` to one peer."""
    to: str
    message: Record


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Deliver ``message`` to every other validator (not to the sender itself)."""
    message: Record


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Call ``on_timer(name, ...)`` after ``delay`` seconds; re-arming a name replaces it."""
    name: str
    delay: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str


@dataclass(frozen=True, slots=True)
class Commit:
    """``value`` is final at ``height``. ``certificate`` is the engine's proof of it (a BFT
    engine's precommit signatures; empty for Solo and Raft), stored beside the block."""
    height: int
    value: bytes
    certificate: bytes = b""


@dataclass(frozen=True, slots=True)
class Misbehaviour:
    """``peer`` sent something a correct node never sends; ``reason`` is one sentence."""
    peer: str
    reason: str
    evidence: bytes = b""


Output = Send | Broadcast | SetTimer | CancelTimer | Commit | Misbehaviour


# --- governed block parameters --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BlockParams:
    """Block parameters in force from ``height`` on (ChainMaker: ``block.block_interval`` in
    milliseconds, ``block.block_tx_capacity``; here the interval is in seconds). ``sequence`` is
    the chain config sequence they come from (0: the chain file's ``consensus`` section)."""
    height: int
    block_interval: float
    block_tx_capacity: int
    sequence: int = 0

    def check(self, engine: str, min_interval: float = 0.0, strict: bool = True) -> None:
        """ConsensusError with a sentence unless the values are usable by ``engine``: a
        capacity of at least 1 and an interval above ``min_interval`` (``strict``) or at least it."""
        if type(self.block_tx_capacity) is not int or self.block_tx_capacity < 1:
            raise ConsensusError(f"{engine}: block_tx_capacity is {self.block_tx_capacity!r}, but a block "
                                 "must be able to hold at least 1 transaction", self)
        interval = self.block_interval
        if not isinstance(interval, (int, float)) or interval != interval or (
                interval <= min_interval if strict else interval < min_interval):
            bound = "above" if strict else "at least"
            raise ConsensusError(f"{engine}: block_interval is {interval!r} s, but it must be {bound} "
                                 f"{min_interval} s", self)

    def to_json(self) -> dict[str, Any]:
        return {"from_height": self.height, "block_interval": self.block_interval,
                "block_tx_capacity": self.block_tx_capacity, "config_sequence": self.sequence}


# --- the application the engine orders values for -----------------------------------------

class Application(Protocol):
    """What an engine asks of the chain it serves (the node's chain, or the simulator's)."""

    def propose(self, height: int) -> bytes:
        """A value (block bytes) to propose at ``height``; called on the proposer only."""

    def check(self, height: int, value: bytes) -> str | None:
        """``None`` if ``value`` may be committed at ``height``, else the reason it may not."""


# --- the engine -----------------------------------------------------------------------------

class Engine(abc.ABC):
    """One validator's consensus state machine (see the module docstring)."""

    #: registry key used in chain configs: ``consensus.type``
    name: ClassVar[str]

    def __init__(self, node_id: str, validators: tuple[str, ...], app: Application) -> None:
        # node_id may be outside ``validators``: a "common" (sync) node follows without voting
        self.node_id = node_id
        self.validators = tuple(validators)
        self.app = app

    @abc.abstractmethod
    def start(self, now: float) -> list[Output]:
        """Called once before any other event."""

    @abc.abstractmethod
    def on_message(self, sender: str, message: Record, now: float) -> list[Output]:
        """A message from validator ``sender`` (the driver authenticated the link)."""

    @abc.abstractmethod
    def on_timer(self, name: str, now: float) -> list[Output]:
        """The timer ``name`` set earlier fired."""

    def submit(self, command: bytes, now: float) -> list[Output]:
        """A client command to order (Raft); BFT engines take values from ``app.propose``."""
        return []

    #: the governed block parameters last given to :meth:`reconfigure` (None: the constructor's)
    block_params: BlockParams | None = None

    def check_block_params(self, params: BlockParams) -> None:
        """ConsensusError with a sentence if this engine cannot run with ``params``."""
        params.check(self.name)

    def reconfigure(self, params: BlockParams, now: float) -> list[Output]:
        """From height ``params.height`` on, use ``params`` (see the module docstring). The
        default remembers them (for ``status``); engines that time or cut blocks override it."""
        self.check_block_params(params)
        self.block_params = params
        return []

    @abc.abstractmethod
    def status(self) -> dict[str, Any]:
        """JSON-able state for ``getconsensusstate``."""


# --- engine message registry and wire format -----------------------------------------------

#: COMMAND -> record class, filled by each engine module at import
ENGINE_MESSAGES: dict[bytes, type[Record]] = {}


def register_messages(*classes: type[Record]) -> None:
    for cls in classes:
        command = cls.COMMAND  # type: ignore[attr-defined]
        known = ENGINE_MESSAGES.get(command)
        if known is not None and known is not cls:
            raise ConsensusError(f"engine message {command!r} is declared twice "
                                 f"({known.__name__} and {cls.__name__})", command)
        ENGINE_MESSAGES[command] = cls


@dataclass(frozen=True, slots=True)
class EngineEnvelope(Record):
    command: bytes
    body: bytes
    ENCODING = (("command", VarBytes(32)), ("body", VarBytes(4 * 1024 * 1024)))


def encode_engine_message(message: Record) -> bytes:
    return EngineEnvelope(type(message).COMMAND, message.to_bytes()).to_bytes()  # type: ignore[attr-defined]


def decode_engine_message(data: bytes) -> Record:
    """The engine message in ``data``; raises :class:`ConsensusError` with a sentence."""
    return decode_enveloped(data, EngineEnvelope, ENGINE_MESSAGES, ConsensusError,
                            UnknownEngineMessageError, "consensus message", "consensus message type")


def quorum(n: int) -> int:
    """Votes needed for a BFT quorum among ``n`` equal validators: more than two thirds."""
    return (2 * n) // 3 + 1


def max_faulty(n: int) -> int:
    """f = floor((n - 1) / 3): how many Byzantine validators ``n`` tolerate."""
    return (n - 1) // 3


def majority(n: int) -> int:
    """Raft's majority of ``n`` voters."""
    return n // 2 + 1
