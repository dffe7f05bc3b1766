"""A full node: the chain on disk, its mempool, a miner, peers and a JSON-RPC endpoint.

Terminology
-----------
relay
    A node that accepts a new block or transaction announces its hash (``inv``) to every peer
    that has not seen it; a peer that lacks it asks for it (``getdata``) and, once it has
    validated it, announces it further. That is how a block mined on node 0 reaches node 3 of
    a line.
initial block download (IBD)
    On every new connection each side sends ``getblocks`` with its block locator; the other
    answers with the hashes that follow the last block they share (at most 500), which the
    first fetches. When it received the last of a full batch it asks again. A block whose
    parent is unknown (an "orphan") triggers the same request.
mining modes
    ``manual``: blocks only on ``generate``; ``instant``: one block right after each
    transaction submitted *through this node's RPC* (Ganache's instamine; transactions
    arriving from peers do not trigger it, or every node of a testnet would mine a competing
    block); ``interval:N``: a block every N seconds, empty or not.
mock time
    ``setmocktime``/``increasetime`` move the clock the chain uses for new block timestamps
    and the "too far in the future" rule (Bitcoin: ``setmocktime``; Ganache:
    ``evm_increaseTime``).

Threads: everything runs on one asyncio event loop (see ``p2p.py`` for why); proof of work
is solved in a worker thread on a copy of a block header, then the block is added on the loop.

Simplifications versus Bitcoin Core: no orphan-transaction pool (a transaction whose inputs
are unknown is dropped; it comes back with the block that confirms it), no fee filter, no
peer address book; snapshots (``snapshot``/``revert``) live in memory and end with the process.
"""
from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labchain.core import errors
from labchain.block import Block
from labchain.chain import Chain
from labchain.crypto import Address
from labchain.consensus.pow.difficulty import difficulty_of
from labchain.core.encoding import Record
from labchain.node.accounts import Accounts
from labchain.node.consensus import ConsensusDriver, ConsensusMsg
from labchain.node.follow import FinalBlock, FinalSync, GetFinal
from labchain.node.messages import (
    INV_BLOCK,
    INV_TX,
    MAX_BLOCKS_PER_GETBLOCKS,
    PROTOCOL_VERSION,
    BlockMsg,
    GetBlocks,
    GetData,
    Inv,
    InvItem,
    NotFound,
    TxMsg,
    Version,
)
from labchain.node.methods import build_methods
from labchain.node.metrics import NodeMetrics
from labchain.node.p2p import MAX_PEERS, P2PNetwork, Peer
from labchain.node.process import READY_FILE, process_alive
from labchain.node.rpc import Code, RpcError, RpcServer
from labchain.core.params import Params
from labchain.ledger.utxo.tx import Transaction

if TYPE_CHECKING:
    from labchain.consensus.pow.miner import Miner

log = logging.getLogger("labchain.node")

CHAIN_FILE = "chain.sqlite"
WATCHDOG_SECONDS = 0.5
#: A peer that owes us requested blocks/transactions and delivers none of them (nor ``notfound``)
#: for this long is stalling: what it owes is asked of other peers (Bitcoin: the block download
#: timeout and BLOCK_STALLING_TIMEOUT) and it scores :data:`STALL_SCORE`.
REQUEST_TIMEOUT_SECONDS = 5.0
STALL_SCORE = 50                 # two stalls and it is disconnected

#: Misbehaviour points per validation error a peer's block or transaction raised. Errors an
#: honest peer can cause (a race, a reorganisation, a block we invalidated by hand) score 0.
BLOCK_SCORES: dict[type, int] = {
    errors.InvalidAncestorError: 0,
    errors.TimestampError: 10,
    errors.BlockValidationError: 100,    # bad proof of work, target, Merkle root, coinbase, size
    errors.TxValidationError: 100,       # a block that carries an invalid transaction
}
TX_SCORES: dict[type, int] = {
    errors.UnknownInputError: 0, errors.AlreadySpentError: 0, errors.DoubleSpendError: 0,
    errors.DuplicateTransactionError: 0, errors.ImmatureCoinbaseError: 0, errors.LockTimeError: 0,
    errors.TxValidationError: 50,        # bad signature, malformed, amounts...: two strikes
}


def _score(table: dict[type, int], exc: Exception) -> int:
    for cls, points in table.items():
        if isinstance(exc, cls):
            return points
    return 100


class MockableClock:
    """``time.time`` unless ``setmocktime`` froze it; ``increasetime`` moves it forward."""

    def __init__(self) -> None:
        self.mocktime: int | None = None
        self.offset = 0

    def __call__(self) -> float:
        if self.mocktime is not None:
            return self.mocktime
        return time.time() + self.offset

    def set(self, t: int) -> int:
        self.mocktime = t or None
        return int(self())

    def increase(self, seconds: int) -> int:
        if self.mocktime is not None:
            self.mocktime += seconds
        else:
            self.offset += seconds
        return int(self())


@dataclass
class NodeConfig:
    datadir: Path
    params: Params
    p2p_host: str = "127.0.0.1"
    p2p_port: int = 0
    rpc_host: str = "127.0.0.1"
    rpc_port: int = 0
    peers: list[str] = field(default_factory=list)
    mining: str = "manual"          # manual | instant | interval:SECONDS
    node_index: int = 0
    parent_pid: int | None = None   # exit when this process dies
    name: str = ""
    max_peers: int = MAX_PEERS
    identity: Any = None            # a labchain.node.identity.NodeIdentity on permissioned chains


def parse_mining(text: str) -> tuple[str, float]:
    """``"interval:2"`` -> ``("interval", 2.0)``; raises ValueError with a readable message."""
    mode, _, seconds = text.partition(":")
    if mode in ("manual", "instant") and not seconds:
        return mode, 0.0
    if mode == "interval":
        try:
            value = float(seconds)
        except ValueError:
            value = -1.0
        if 0.05 <= value <= 86_400:
            return mode, value
        raise ValueError(f"interval mining needs 0.05 to 86400 seconds, e.g. interval:2, got {text!r}")
    raise ValueError(f"mining mode must be manual, instant or interval:SECONDS, got {text!r}")


class Node:
    """One node; :meth:`run` serves until ``stop`` (RPC), SIGTERM or the parent's death."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.params = config.params
        self.suite = self.params.crypto  # ids in inventories, logs and RPC are this suite's
        self.name = config.name or f"node{config.node_index}"
        self.clock = MockableClock()
        config.datadir.mkdir(parents=True, exist_ok=True)
        self.chain = Chain(self.params, path=config.datadir / CHAIN_FILE, clock=self.clock)
        self.mempool = self.chain.ledger.new_pool(self.chain)  # the ledger model's pool
        self.block_msg, self.tx_msg = BlockMsg, TxMsg  # a ledger model's module may replace them
        self._miner: Miner | None = None
        self.accounts = Accounts(self.params, config.node_index)
        # an engine chain (solo, raft, pbft, tbft): blocks come only from the engine's commits
        self.consensus = ConsensusDriver(self) if self.params.consensus is not None else None
        self.final_sync = FinalSync(self) if self.consensus is not None else None  # node/follow.py
        self.update_listeners: list = []  # async callables(update) after each chain change
        self.governance = None            # node/governance.py, on permissioned chains
        self.mining_mode, self.mining_seconds = parse_mining(config.mining)
        self.p2p = P2PNetwork(self, config.p2p_host, config.p2p_port, config.max_peers)
        methods = build_methods(self)
        if self.chain.ledger.rpc_module:  # the ledger model's methods (e.g. node/account_methods.py)
            importlib.import_module(self.chain.ledger.rpc_module).register(methods, self)
        self.rpc = RpcServer(methods, config.rpc_host, config.rpc_port)
        self.metrics = NodeMetrics(self)  # counted here, served at GET /metrics by the RPC server
        self.rpc.metrics = self.p2p.metrics = self.metrics
        if config.identity is not None:  # permissioned chain: authenticated links (node/identity.py)
            config.identity.attach(self)
        self.snapshots: dict[int, tuple[bytes, list[Transaction]]] = {}
        self._next_snapshot = 1
        self._stopping: asyncio.Event | None = None
        self._stop_reason = ""
        self._mining_lock: asyncio.Lock | None = None
        self._abort_solve = threading.Event()
        self._interval_task: asyncio.Task | None = None
        self._rejected: set[bytes] = set()      # txids of invalid transactions, not fetched again
        self._requested: set[bytes] = set()     # block hashes asked for and not yet received
        self._background: set[asyncio.Task] = set()  # held so the loop does not drop them

    @property
    def miner(self) -> Miner:
        """The proof-of-work searcher, made on first use: ``labchain.miner`` holds a 3.5 MiB
        lookup table that a node which never mines (most nodes of a testnet) does not need."""
        if self._miner is None:
            from labchain.consensus.pow.miner import Miner

            self._miner = Miner(self.params)
        return self._miner

    # -- life cycle ---------------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._mining_lock = asyncio.Lock()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, f"signal {sig.name}")
        await self.p2p.start()
        await self.rpc.start()
        for address in self.config.peers:
            self.p2p.add_peer(address)
        if self.consensus:
            await self.consensus.start()
        follow = self.final_sync.start() if self.final_sync else None  # a non-validator follows
        self._write_ready()
        log.info("%s ready: network %s, height %d, tip %s", self.name, self.params.name,
                 self.chain.height, self.chain.tip_hash.hex())
        self.set_mining(self.mining_mode, self.mining_seconds)
        watchdog = loop.create_task(self._watch_parent()) if self.config.parent_pid else None
        request_watch = loop.create_task(self._watch_requests())
        await self._stopping.wait()
        log.info("stopping: %s", self._stop_reason)
        self._abort_solve.set()
        for task in (watchdog, request_watch, self._interval_task, follow):
            if task:
                task.cancel()
        await self.rpc.stop()
        await self.p2p.stop()
        if self.consensus:
            await self.consensus.stop()
        self.chain.close()
        (self.config.datadir / READY_FILE).unlink(missing_ok=True)
        log.info("stopped")

    def request_stop(self, reason: str = "stop requested") -> None:
        self._stop_reason = reason
        if self._stopping is not None:
            self._stopping.set()

    def _write_ready(self) -> None:
        info = {
            "pid": os.getpid(),
            "name": self.name,
            "network": self.params.name,
            "genesis": self.chain.genesis_hash.hex(),
            "p2p": f"{self.config.p2p_host}:{self.p2p.port}",
            "rpc": self.rpc.url,
        }
        tmp = self.config.datadir / (READY_FILE + ".tmp")
        tmp.write_text(json.dumps(info))
        os.replace(tmp, self.config.datadir / READY_FILE)  # atomic: pollers never see half a file

    async def _watch_parent(self) -> None:
        pid = self.config.parent_pid
        while True:
            await asyncio.sleep(WATCHDOG_SECONDS)
            if not process_alive(pid):
                self.request_stop(f"parent process {pid} is gone")
                return

    # -- P2P handler (see p2p.MessageHandler) ---------------------------------------------------
    def version_message(self, peer: Peer) -> Version:
        return Version(PROTOCOL_VERSION, self.params.name.encode(), self.chain.genesis_hash,
                       self.chain.height, self.p2p.nonce, self.p2p.port, self.name.encode()[:64])

    def check_version(self, peer: Peer, version: Version) -> str | None:
        network = version.network.decode("utf-8", "replace")
        if network != self.params.name:
            return f"network mismatch: peer is on {network!r}, this node on {self.params.name!r}"
        if version.genesis_hash != self.chain.genesis_hash:
            return (f"genesis mismatch: peer's genesis is {version.genesis_hash.hex()[:16]}..., "
                    f"ours is {self.chain.genesis_hash.hex()[:16]}...")
        return None

    async def peer_ready(self, peer: Peer) -> None:
        if self.consensus is None:  # an engine chain never downloads blocks (labchain/node/consensus.py)
            await self._ask_blocks(peer)
        txids = [tx.txid_in(self.suite) for tx in self.mempool.transactions()]
        if txids:
            await self._announce_to(peer, INV_TX, txids)

    def peer_closed(self, peer: Peer) -> None:
        blocks, txids = self._take_owed(peer)  # let another peer deliver what this one owed us
        if (blocks or txids) and self._stopping is not None and not self._stopping.is_set():
            task = asyncio.get_running_loop().create_task(self._ask_others(blocks, txids, peer))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def handle(self, peer: Peer, message: Record) -> None:
        if isinstance(message, Inv):
            await self._on_inv(peer, message)
        elif isinstance(message, GetData):
            await self._on_getdata(peer, message)
        elif isinstance(message, GetBlocks):
            hashes = self.chain.hashes_after(list(message.locator), MAX_BLOCKS_PER_GETBLOCKS)
            if hashes:
                await peer.send(Inv(tuple(InvItem(INV_BLOCK, h) for h in hashes)))
        elif isinstance(message, ConsensusMsg):
            if self.consensus is None:
                peer.misbehaving(10, "sent a consensus message to a proof-of-work node")
            else:
                self.consensus.on_peer_message(peer, message)
        elif isinstance(message, BlockMsg):
            if self.consensus is not None:  # final blocks come from the engine, not from relay
                log.info("ignored block from %s: blocks of a %s chain come from consensus",
                         peer, self.params.consensus.type)
                return
            await self._on_block(peer, message.block)
        elif isinstance(message, TxMsg):
            await self._on_tx(peer, message.tx)
        elif isinstance(message, (GetFinal, FinalBlock)) and self.final_sync is not None:
            await self.final_sync.handle(peer, message)
        elif isinstance(message, NotFound):  # it has not got them after all: ask the others
            owed = {item.hash for item in message.items if item.hash in peer.requested}
            for h in owed:
                self._delivered(peer, h)
            blocks = owed & self._requested
            self._requested -= blocks
            if owed:
                await self._ask_others(blocks, owed - blocks, peer)

    async def _on_inv(self, peer: Peer, inv: Inv) -> None:
        wanted: list[InvItem] = []
        blocks = [i.hash for i in inv.items if i.kind == INV_BLOCK]
        if len(peer.offered) > 100_000:
            peer.offered.clear()
        for item in inv.items:
            peer.known.add(item.hash)
            peer.offered.add(item.hash)
            if item.hash in self._rejected or (item.kind == INV_BLOCK and self.consensus is not None):
                continue
            if item.kind == INV_BLOCK and not self._has_block(item.hash) and item.hash not in self._requested:
                wanted.append(item)
                self._requested.add(item.hash)
            elif item.kind == INV_TX and not self._has_tx(item.hash):
                wanted.append(item)
            elif item.kind not in (INV_TX, INV_BLOCK):
                peer.misbehaving(10, f"inv item of unknown kind {item.kind}")
        if len(blocks) >= MAX_BLOCKS_PER_GETBLOCKS:
            peer.sync_last = blocks[-1]  # a full batch: ask for more once that one arrives
            if self._has_block(blocks[-1]):
                await self._ask_blocks(peer, only_if_progress=True)
        if wanted:
            await self._request(peer, wanted)

    async def _request(self, peer: Peer, items: list[InvItem]) -> None:
        """Send ``getdata`` for ``items`` and start the clock on what ``peer`` now owes us."""
        if not peer.requested:
            peer.waiting_since = time.monotonic()
        peer.requested.update(item.hash for item in items)
        await peer.send(GetData(tuple(items)))

    def _delivered(self, peer: Peer, h: bytes) -> None:
        """``peer`` sent ``h`` (or said it has not got it): it is not stalling."""
        if h in peer.requested:
            peer.requested.discard(h)
            peer.waiting_since = time.monotonic()

    async def _watch_requests(self) -> None:
        """Once a second: a peer that delivered nothing it owes for REQUEST_TIMEOUT_SECONDS is
        stalling; score it and ask the others. After a pause of the whole process (a loaded
        machine) nobody is judged: deliveries may be waiting unread in the sockets."""
        last = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            paused, last = now - last > 2.0, now
            for peer in self.p2p.ready_peers():
                if not peer.requested:
                    continue
                if paused:
                    peer.waiting_since = max(peer.waiting_since, now - 1.0)
                elif now - peer.waiting_since > REQUEST_TIMEOUT_SECONDS:
                    blocks, txids = self._take_owed(peer)
                    peer.misbehaving(STALL_SCORE, f"stalling: delivered none of {len(blocks) + len(txids)} "
                                     f"requested block(s)/transaction(s) in {REQUEST_TIMEOUT_SECONDS:.0f} s")
                    await self._ask_others(blocks, txids, peer)

    def _take_owed(self, peer: Peer) -> tuple[set[bytes], set[bytes]]:
        """Forget what ``peer`` owes us: (block hashes, txids), so others may deliver them."""
        owed, peer.requested = peer.requested, set()
        blocks = owed & self._requested
        self._requested -= blocks
        return blocks, owed - blocks

    async def _ask_others(self, blocks: set[bytes], txids: set[bytes], staller: Peer) -> None:
        """Request what ``staller`` owed us from other peers that announced it; if no other peer
        announced a missing block, ask every other peer which blocks follow ours."""
        others = [p for p in self.p2p.ready_peers() if p is not staller]
        wanted = [(INV_BLOCK, h) for h in blocks if not self._has_block(h) and h not in self._requested]
        wanted += [(INV_TX, h) for h in txids if not self._has_tx(h)]
        per_peer: dict[int, list[InvItem]] = {}
        unplaced = False
        for kind, h in wanted:
            source = next((p for p in others if h in p.offered), None)
            if source is None:
                unplaced = unplaced or kind == INV_BLOCK
                continue
            if kind == INV_BLOCK:
                self._requested.add(h)
            per_peer.setdefault(source.id, []).append(InvItem(kind, h))
        for p in others:
            if p.id in per_peer:
                await self._request(p, per_peer[p.id])
        if unplaced:
            for p in others:
                await self._ask_blocks(p)

    async def _on_getdata(self, peer: Peer, getdata: GetData) -> None:
        missing = []
        for item in getdata.items:
            if item.kind == INV_BLOCK:
                try:
                    await peer.send(self.block_msg(self.chain.get_block(item.hash)))
                except errors.UnknownBlockError:
                    missing.append(item)
            else:
                entry = self.mempool.get(item.hash) if item.kind == INV_TX else None
                if entry is None:
                    missing.append(item)
                else:
                    await peer.send(self.tx_msg(entry.tx))
            if peer.closed:
                return
        if missing:
            await peer.send(NotFound(tuple(missing)))

    async def _on_block(self, peer: Peer, block: Block) -> None:
        h = block.hash_in(self.suite)
        peer.known.add(h)
        self._requested.discard(h)
        self._delivered(peer, h)
        try:
            update = self.chain.add_block(block)
        except errors.ValidationError as exc:
            # Nothing is remembered here: a peer can send an honest header with a tampered
            # body (bad Merkle root, too many transactions, no coinbase), and the hash names the
            # header only. Blocks whose failure the hash does commit to (a body that matches
            # its Merkle root but breaks a rule) the chain itself keeps as "invalid".
            log.warning("rejected block %s from %s: %s", h.hex()[:16], peer, exc)
            self.metrics.block_rejected(exc)
            settled = getattr(exc, "update", None)  # a reorg that failed half-way moved the tip
            if settled is not None and settled.tip_changed:
                await self.after_update(settled, source=peer)
            peer.misbehaving(_score(BLOCK_SCORES, exc), f"invalid block: {exc}")
            return
        self.metrics.block_accepted(update.status)
        if update.status == "orphan":
            log.info("block %s from %s has an unknown parent: asking for the missing blocks",
                     h.hex()[:16], peer)
            await self._ask_blocks(peer)
        elif update.status != "duplicate":
            await self.after_update(update, source=peer)
        if peer.sync_last == h:
            peer.sync_last = None
            await self._ask_blocks(peer, only_if_progress=True)

    async def _ask_blocks(self, peer: Peer, only_if_progress: bool = False) -> None:
        """Send ``getblocks`` with our locator; ``only_if_progress``: not if our tip is the same
        as at the last request to this peer (the answer would be the same: no endless loop)."""
        if only_if_progress and peer.asked_at_tip == self.chain.tip_hash:
            return
        peer.asked_at_tip = self.chain.tip_hash
        await peer.send(GetBlocks(tuple(self.chain.locator())))

    async def _on_tx(self, peer: Peer, tx: Transaction) -> None:
        peer.known.add(tx.txid_in(self.suite))
        self._delivered(peer, tx.txid_in(self.suite))
        try:
            self.mempool.add(tx)
        except errors.TxValidationError as exc:
            points = _score(TX_SCORES, exc)
            if points:
                self._remember_rejected(tx.txid_in(self.suite))
            log.info("rejected transaction %s from %s: %s", tx.txid_in(self.suite).hex()[:16], peer, exc)
            self.metrics.tx_rejected(exc)
            peer.misbehaving(points, f"invalid transaction: {exc}")
            return
        log.info("accepted transaction %s from %s", tx.txid_in(self.suite).hex()[:16], peer)
        self.metrics.tx_accepted("peer")
        await self.announce(INV_TX, [tx.txid_in(self.suite)], exclude=peer)
        if self.consensus is not None:
            self.consensus.submit_transaction(tx)  # relayed: ordered even if its first node dies

    def _remember_rejected(self, h: bytes) -> None:
        if len(self._rejected) > 100_000:  # bounded memory; forgetting only costs a re-check
            self._rejected.clear()
        self._rejected.add(h)

    def _has_block(self, block_hash: bytes) -> bool:
        try:
            self.chain.block_info(block_hash)
            return True
        except errors.UnknownBlockError:
            return False

    def _has_tx(self, txid: bytes) -> bool:
        return txid in self.mempool or txid in self._rejected or self.chain.has_transaction(txid)

    # -- relay ------------------------------------------------------------------------------
    async def after_update(self, update, source: Peer | None = None) -> None:
        """Bring the mempool up to date after a chain change and tell peers about it."""
        self.metrics.chain_updated(update)
        if update.tip_changed:
            self.mempool.update(update)
            self._abort_solve.set()  # any block being mined builds on an old tip
        if update.status == "new_tip" or update.connected:
            tip = self.chain.tip_hash
            log.info("new tip %s height %d%s", tip.hex(), self.chain.height,
                     f" (reorganisation: {len(update.disconnected)} block(s) disconnected)"
                     if update.disconnected else "")
            if self.consensus is None:
                await self.announce(INV_BLOCK, [b.hash_in(self.suite) for b in update.connected] or [tip], exclude=source)
        if update.disconnected:  # transactions of the losing branch are back: tell everyone
            await self.announce(INV_TX, [tx.txid_in(self.suite) for tx in self.mempool.transactions()])
        for listener in self.update_listeners:  # e.g. governance replay (node/governance.py)
            await listener(update)

    async def announce(self, kind: int, hashes: list[bytes], exclude: Peer | None = None) -> None:
        for peer in self.p2p.ready_peers():
            if peer is not exclude:
                await self._announce_to(peer, kind, hashes)

    async def _announce_to(self, peer: Peer, kind: int, hashes: list[bytes]) -> None:
        fresh = [h for h in hashes if h not in peer.known]
        if len(peer.known) > 100_000:
            peer.known.clear()
        peer.known.update(fresh)
        if fresh:
            await peer.send(Inv(tuple(InvItem(kind, h) for h in fresh)))

    # -- operations used by RPC methods ------------------------------------------------------
    async def submit_transaction(self, tx: Transaction) -> bytes:
        """Add a transaction from RPC to the mempool, relay it, and mine it in instant mode."""
        try:
            txid = self.mempool.add(tx)
        except errors.TxValidationError as exc:
            self.metrics.tx_rejected(exc)
            raise
        self.metrics.tx_accepted("rpc")
        log.info("accepted transaction %s from RPC", txid.hex()[:16])
        await self.announce(INV_TX, [txid])
        if self.consensus is not None:
            self.consensus.submit_transaction(tx)
        elif self.mining_mode == "instant":
            await self.mine_blocks(1, self.accounts.reward_address)
        return txid

    async def mine_blocks(self, n: int, address: Address) -> list[bytes]:
        """Mine ``n`` blocks on the current tip; the new blocks' hashes."""
        if self.consensus is not None:
            raise RpcError(Code.MISC_ERROR, f"this chain is sealed by {self.params.consensus.type} consensus: "
                           "blocks cannot be mined, they are committed every block_interval")
        hashes = []
        async with self._mining_lock:
            while len(hashes) < n:
                block = await self._mine_one(address)
                if block is not None:
                    hashes.append(block.hash_in(self.suite))
                if self._stopping.is_set():
                    raise RpcError(Code.MISC_ERROR, "the node is stopping")
        return hashes

    async def _mine_one(self, address: Address) -> Block | None:
        timestamp: int | None = None  # the template's: the clock, past the median time past
        miner = self.miner  # made here, on the loop's thread, not in the executor's
        while True:
            template = self.mempool.block_template(address, timestamp)
            self._abort_solve = stop = threading.Event()
            header = await asyncio.get_running_loop().run_in_executor(
                None, lambda: miner.solve(template.header, workers=1, stop=stop))
            if header is None or template.header.prev_hash != self.chain.tip_hash:
                return None  # aborted or the tip moved while solving: build on the new tip
            block = template.with_header(header)
            if not self._has_block(block.hash_in(self.suite)):
                break
            # the very same block exists already (e.g. it was invalidated): change its time
            timestamp = header.timestamp + 1
        update = self.chain.add_block(block)
        self.metrics.block_accepted(update.status)
        log.info("mined block %s height %d with %d transaction(s)", block.hash_in(self.suite).hex(),
                 self.chain.height, len(block.transactions))
        await self.after_update(update)
        return block

    def set_mining(self, mode: str, seconds: float = 0.0) -> dict:
        if self._interval_task:
            self._interval_task.cancel()
            self._interval_task = None
        self.mining_mode, self.mining_seconds = mode, seconds if mode == "interval" else 0.0
        if mode == "interval":
            self._interval_task = asyncio.get_running_loop().create_task(self._mine_every(seconds))
        log.info("mining mode: %s%s", mode, f" every {seconds} s" if mode == "interval" else "")
        return {"mode": mode, "seconds": self.mining_seconds}

    async def _mine_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await self.mine_blocks(1, self.accounts.reward_address)
            except Exception:  # noqa: BLE001 - keep the schedule running, the log says why
                log.exception("interval mining failed")

    def take_snapshot(self) -> int:
        snap_id = self._next_snapshot
        self._next_snapshot += 1
        self.snapshots[snap_id] = (self.chain.tip_hash, list(self.mempool.transactions()))
        return snap_id

    async def revert(self, snap_id: int) -> bool:
        if self.consensus is not None:
            raise RpcError(Code.MISC_ERROR, "committed blocks are final on this chain: revert is refused")
        if snap_id not in self.snapshots:
            known = ", ".join(map(str, sorted(self.snapshots))) or "none"
            raise RpcError(Code.INVALID_PARAMETER, f"there is no snapshot {snap_id} (snapshots taken "
                           f"and not yet reverted: {known}); a snapshot can be reverted only once")
        tip, pool = self.snapshots[snap_id]
        for later in [s for s in self.snapshots if s >= snap_id]:  # as Ganache's evm_revert
            del self.snapshots[later]
        async with self._mining_lock:
            self._abort_solve.set()
            update = self.chain.rewind_to(tip)
            self.mempool = self.chain.ledger.new_pool(self.chain)  # exactly the snapshot's mempool, not the reorg's
            for tx in pool:
                try:
                    self.mempool.add(tx)
                except errors.TxValidationError as exc:
                    log.info("snapshot transaction %s no longer valid: %s", tx.txid_in(self.suite).hex()[:16], exc)
        log.info("reverted to snapshot %d: tip %s height %d (%d block(s) forgotten)", snap_id,
                 tip.hex(), self.chain.height, len(update.disconnected))
        return True

    # -- read-only views ----------------------------------------------------------------------
    def difficulty(self) -> float:
        return difficulty_of(self.chain.tip_header.bits, self.params.pow_limit_bits)


def run_node(config: NodeConfig) -> int:
    """Run a node in this process until it stops; the exit code."""
    node = Node(config)
    asyncio.run(node.run())
    return 0
