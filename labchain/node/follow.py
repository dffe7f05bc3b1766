"""Final-block sync for a node that is not a validator of its engine chain (a regulator).

On an engine chain (Solo, Raft, PBFT, TBFT) blocks reach the chain only as the engine's commits,
and the node neither relays nor downloads blocks over ``inv``/``getblocks``. A Raft leader
replicates to the validators only, so a *common* (sync-only) node, ChainMaker's regulator or
observer node, would never get a block. :class:`FinalSync` gives it one:

* every engine-chain node answers :class:`GetFinal` ``(from_height)`` with up to
  :data:`MAX_PER_ANSWER` :class:`FinalBlock` ``(height, block bytes)`` messages of its chain;
* a node that is not among ``consensus.validators`` asks one validator peer every
  :data:`POLL_SECONDS` for the blocks above its tip and appends each one, in order, through
  the same :class:`~labchain.chain.finality.FinalityLog` as an engine commit (a block must
  extend the tip and pass every ledger rule: an account block is re-executed and its state
  root checked). It never votes, proposes or campaigns: its engine gets no messages from it.

Terminology: *final block* a block the validators' engine committed (never reverted); *common
node* ChainMaker's sync-only node type (it holds the chain and serves reads, it takes no part in
consensus).

Simplifications versus ChainMaker's sync module: a follower trusts a validator peer's committed
blocks (Raft carries no commit certificate to check; on a permissioned chain the peer must have
proved a ``consensus`` certificate, on a public chain its ``version`` name must be a validator's);
it polls instead of being pushed new blocks; blocks come one message each.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from labchain.core.encoding import Record, UInt, VarBytes
from labchain.core.errors import EncodingError, LabchainError
from labchain.node.messages import MAX_MESSAGE_SIZE, MESSAGE_TYPES

if TYPE_CHECKING:  # pragma: no cover
    from labchain.node.node import Node
    from labchain.node.p2p import Peer

log = logging.getLogger("labchain.follow")

POLL_SECONDS = 0.25
MAX_PER_ANSWER = 64
BAD_BLOCK_SCORE = 20


@dataclass(frozen=True, slots=True)
class GetFinal(Record):
    """P2P ``getfinal``: send me your final blocks from ``from_height`` on."""
    from_height: int
    COMMAND: ClassVar[bytes] = b"getfinal"
    ENCODING = (("from_height", UInt(8)),)


@dataclass(frozen=True, slots=True)
class FinalBlock(Record):
    """P2P ``finalblock``: the block at ``height`` of the sender's (final) chain."""
    height: int
    block: bytes
    COMMAND: ClassVar[bytes] = b"finalblock"
    ENCODING = (("height", UInt(8)), ("block", VarBytes(MAX_MESSAGE_SIZE - 64)))


MESSAGE_TYPES[GetFinal.COMMAND] = GetFinal
MESSAGE_TYPES[FinalBlock.COMMAND] = FinalBlock


class FinalSync:
    """Serve final blocks (every engine node) and follow them (a non-validator)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        spec = node.params.consensus
        self.validators = tuple(spec.validators)
        self.follows = node.name not in self.validators and spec.type != "solo"  # Solo broadcasts to all
        self._turn = itertools.count()
        self.received = 0

    def start(self) -> asyncio.Task | None:
        if not self.follows:
            return None
        log.info("%s is not a validator of this %s chain: following final blocks from validators",
                 self.node.name, self.node.params.consensus.type)
        return asyncio.get_running_loop().create_task(self._poll())

    def trusted(self, peer: Peer) -> bool:
        if peer.name not in self.validators:
            return False
        identity = getattr(peer, "identity", None)
        return self.node.p2p.auth is None or (identity is not None and identity.role == "consensus")

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            peers = [p for p in self.node.p2p.ready_peers() if self.trusted(p)]
            if peers:
                peer = peers[next(self._turn) % len(peers)]
                await peer.send(GetFinal(self.node.chain.height + 1))

    async def handle(self, peer: Peer, message: Record) -> None:
        if isinstance(message, GetFinal):
            chain = self.node.chain
            top = min(chain.height, message.from_height + MAX_PER_ANSWER - 1)
            for height in range(max(message.from_height, 1), top + 1):
                await peer.send(FinalBlock(height, chain.get_block(height).to_bytes()))
            return
        if not self.follows or not self.trusted(peer):
            return                                   # a validator takes blocks from its engine only
        chain = self.node.chain
        if message.height != chain.height + 1:
            return                                   # a duplicate or an answer to an older request
        try:
            block = chain.ledger.block_type.from_bytes(message.block)
            update = self.node.consensus.finality.append(message.height, block, b"")
        except (LabchainError, EncodingError, ValueError) as exc:
            log.warning("final block %d from %s refused: %s", message.height, peer, exc)
            peer.misbehaving(BAD_BLOCK_SCORE, f"bad final block: {exc}")
            return
        if update is not None:
            self.received += 1
            log.info("followed final block height %d from %s", chain.height, peer)
            await self.node.after_update(update, source=peer)
