"""Solo: one proposer orders every value; the other nodes accept what it commits.

Solo is ChainMaker's ``consensus.type: SOLO`` (and Hyperledger Fabric's old solo orderer): the
first validator is the only proposer. Every ``block_interval`` seconds it asks
``app.propose(height)`` for a value, commits it at once (there is nobody to agree with) and
broadcasts :class:`SoloCommit`; a follower commits a ``SoloCommit`` from the proposer when it is
the next height and ``app.check`` accepts it. A follower that missed heights (it was down)
asks the proposer with :class:`SoloFetch` and receives the missing commits again. A governed
``block_interval`` (:meth:`SoloEngine.reconfigure`) re-arms the proposer's timer at once.

Terminology
-----------
proposer
    ``validators[0]``. Nothing replaces it: if it stops, the chain stops (no fault tolerance,
    which is the point of the demo: compare with Raft).
follower
    Any other node (a validator or a sync-only node); it never proposes.

Simplifications versus ChainMaker's Solo: the proposer keeps every committed value in memory
to answer ``SoloFetch`` (a real node reads its block store); the proposer does not sign its
commits (the driver authenticates the link); an empty value is committed like any other (no
"skip empty blocks" switch); ``submit`` is not used, values come from ``app.propose``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from labchain.consensus.engine import (
    Application, BlockParams, Broadcast, Commit, ConsensusError, Engine, Misbehaviour, Output,
    Send, SetTimer, register_messages,
)
from labchain.core.encoding import Record, UInt, VarBytes

#: a fetch answers at most this many heights at once (the follower asks again for the rest)
MAX_FETCH = 256
MAX_VALUE = 4 * 1024 * 1024 - 64


@dataclass(frozen=True, slots=True)
class SoloCommit(Record):
    """The proposer committed ``value`` at ``height``."""
    height: int
    value: bytes
    COMMAND: ClassVar[bytes] = b"solo.commit"
    ENCODING = (("height", UInt(8)), ("value", VarBytes(MAX_VALUE)))


@dataclass(frozen=True, slots=True)
class SoloFetch(Record):
    """A follower asks the proposer for the commits from ``from_height`` on."""
    from_height: int
    COMMAND: ClassVar[bytes] = b"solo.fetch"
    ENCODING = (("from_height", UInt(8)),)


register_messages(SoloCommit, SoloFetch)

BLOCK_TIMER = "solo.block"


class SoloEngine(Engine):
    """One node of a Solo network (the proposer when ``node_id == validators[0]``)."""

    name = "solo"

    def __init__(self, node_id: str, validators: tuple[str, ...], app: Application,
                 block_interval: float = 1.0) -> None:
        super().__init__(node_id, validators, app)
        if not self.validators:
            raise ConsensusError("Solo needs one validator (the proposer), got an empty list",
                                 validators)
        if not block_interval > 0:
            raise ConsensusError(f"block_interval is {block_interval}, but it must be a positive "
                                 "number of seconds", block_interval)
        self.block_interval = block_interval     # ChainMaker: block.block_interval (ms there)
        self.proposer = self.validators[0]
        self.height = 0
        self.log: list[bytes] = []               # proposer only: values by height - 1
        self.refused = 0

    @property
    def is_proposer(self) -> bool:
        return self.node_id == self.proposer

    def start(self, now: float) -> list[Output]:
        if self.is_proposer:
            return [SetTimer(BLOCK_TIMER, self.block_interval)]
        return [Send(self.proposer, SoloFetch(1))]   # a restarted follower asks what it missed

    def on_timer(self, name: str, now: float) -> list[Output]:
        if name != BLOCK_TIMER or not self.is_proposer:
            return []
        outputs: list[Output] = [SetTimer(BLOCK_TIMER, self.block_interval)]
        height = self.height + 1
        value = self.app.propose(height)
        reason = self.app.check(height, value)
        if reason is not None:        # the proposer's own application refused: skip this tick
            self.refused += 1
            return outputs
        self.height = height
        self.log.append(value)
        outputs += [Commit(height, value), Broadcast(SoloCommit(height, value))]
        return outputs

    def on_message(self, sender: str, message: Record, now: float) -> list[Output]:
        if isinstance(message, SoloFetch):
            if not self.is_proposer:
                return []
            start = max(1, message.from_height)
            return [Send(sender, SoloCommit(h, self.log[h - 1]))
                    for h in range(start, min(self.height, start + MAX_FETCH - 1) + 1)]
        if isinstance(message, SoloCommit):
            if sender != self.proposer:
                return [Misbehaviour(sender, f"{sender} sent a Solo commit but only "
                                             f"{self.proposer} proposes")]
            if self.is_proposer or message.height <= self.height:
                return []                        # stale or repeated: already committed
            if message.height > self.height + 1:  # a gap: ask for what is missing
                return [Send(self.proposer, SoloFetch(self.height + 1))]
            reason = self.app.check(message.height, message.value)
            if reason is not None:
                return [Misbehaviour(sender, f"the proposer's value at height {message.height} "
                                             f"was refused: {reason}")]
            self.height = message.height
            return [Commit(message.height, message.value)]
        return []                                 # another engine's message: not ours

    def check_block_params(self, params: BlockParams) -> None:
        params.check(self.name)                   # a positive interval, a capacity >= 1

    def reconfigure(self, params: BlockParams, now: float) -> list[Output]:
        """Governed parameters from ``params.height`` on: the proposer re-arms its block timer
        with the new interval (called right after the block before that height committed, so
        the next block comes ``block_interval`` after it). The capacity is the application's."""
        self.check_block_params(params)
        changed = params.block_interval != self.block_interval
        self.block_params, self.block_interval = params, params.block_interval
        return [SetTimer(BLOCK_TIMER, self.block_interval)] if changed and self.is_proposer else []

    def status(self) -> dict[str, Any]:
        return {"engine": self.name, "role": "proposer" if self.is_proposer else "follower",
                "leader": self.proposer, "commit_index": self.height,
                "last_log_index": self.height, "term": 0, "peers": list(self.validators)}
