"""The consensus driver: runs a message-passing Engine (Solo, Raft, PBFT, TBFT) inside a node.

The engine is a pure state machine (labchain/consensus/engine.py). This driver gives it
events with the wall clock and carries out what it returns:

* ``Send``/``Broadcast`` -> one P2P message type, :class:`ConsensusMsg`, whose payload is the
  engine envelope (``encode_engine_message``); a peer is addressed by the name it gave in its
  ``version`` message (the testnets' ``node0``, ``node1``...);
* ``SetTimer``/``CancelTimer`` -> ``loop.call_later`` handles (re-arming a name replaces it);
* ``Commit`` -> a block appended to the chain through ``labchain.chain.finality.FinalityLog``
  (final at once, certificate stored beside it), then the node's usual mempool update;
* ``Misbehaviour`` and undecodable engine messages -> the peer's misbehaviour score and a
  log line; the node keeps running.

The :class:`NodeApplication` is the engine's ``Application``: ``propose`` builds a block from
the mempool (no proof of work: ``finality.build_block`` asks the chain's ledger model and seals
with the trivial target), and ``check`` decodes a proposed block as the model's block type and
checks that it extends this node's tip and passes the model's ``check_proposal`` (UTXO: the
block's own rules; accounts: also re-executed for its state and receipts roots,
docs/accounts-on-engines.md); a refusal is logged with its reason.

What a committed value is
-------------------------
Solo, PBFT, TBFT: the bytes of a block the proposer built. Raft orders *transactions*: each
committed log entry is a batch of transaction bytes, and every node turns entry ``i`` into
block ``i`` with ``finality.build_block`` (same parent, same commands -> the same block on
every node); a no-op entry of a new leader becomes an empty block. So the log index is the
block height on every engine.

Governed block parameters (issue #12: the new config applies from the next block)
--------------------------------------------------------------------------------
:meth:`ConsensusDriver.governed` reads ``block.block_interval`` (ms) and
``block.block_tx_capacity`` from the governance state after the tip block (node/governance.py),
else the chain file's ``consensus.<type>`` values. After every applied block (an engine commit,
or a block a follower synced) the driver compares them with the values in force and, when they
changed, calls ``engine.reconfigure(BlockParams(tip + 1, ...))`` and carries out its outputs
(a re-armed block timer); so every node switches at the same height. The capacity is kept by
the application too: ``propose`` builds with it, ``check`` refuses a proposal for the next
height that holds more; a Raft block is built from its entry with it, and the commands it
cannot hold go back to the engine (``RaftEngine.requeue``). ``getconsensusstate.block`` shows
the values in force, their first height and config sequence.

Persistence and restart (docs/consensus-nodes.md)
-------------------------------------------------
* Raft: ``current_term``, ``voted_for`` and every log entry go to ``DIR/raft.wal``
  (append-only records, fsync'ed) after each engine event and *before* its messages are sent
  (the paper's stable storage: a restarted node never votes twice in a term nor forgets an
  entry it acknowledged). On start the log is read back, the commit index is the chain's
  height (committed entries are the chain's blocks), and the leader's ``AppendEntries`` bring
  the rest: engine-level catch-up, never the block download.
* Solo: the proposer's engine resumes at the chain's height with the stored blocks as its log
  (to answer ``SoloFetch``); a follower resumes at its height and fetches what it missed.
* A commit at a height the chain already has is ignored if it is the same block
  (``FinalityLog.append``), so no block is ever applied twice.

Byzantine faults and evidence (docs/fault-injection.md)
-------------------------------------------------------
``setfault byzantine=double-vote`` wraps the honest engine in the simulator's
``ByzantineEngine`` (:meth:`ConsensusDriver.set_byzantine`); ``byzantine=""`` unwraps it, the
honest engine's state intact. The TBFT engine keeps an evidence pool (two signed votes of one
validator for different values at one step, height and round): detected, gossiped by peers
(``tbft.evidence``), carried in a certificate, or handed in with ``submitevidence``; each
new entry is logged here ("equivocation evidence against node1 ...") and ``getevidence``
lists the pool with the height of the certificate that recorded each entry. PBFT's
equivocation reports (``Misbehaviour`` with evidence bytes) are listed too, not recorded.

On an engine chain the node does not relay or download blocks over ``inv``/``getblocks``
(anyone could forge a block without work); blocks arrive only as commits of the engine.

Simplifications: a peer's engine identity is the name in its ``version`` message (not yet a
certificate; issue #12's identity layer authenticates it); the validator set is the chain file's
at every height (governed ``CHAIN_CONFIG-NODE_ID_ADD``/``_DELETE`` changes are data only, shown by
``getgovernance``; docs/consensus-nodes.md); a proposal for a height above the next one is
checked against its own rules only, not the capacity in force there; a ``Send`` to a validator with no
open connection is dropped (engines recover from loss); Raft's WAL is never compacted; PBFT
and TBFT keep their state in memory only (a restarted BFT validator rejoins through the
engines' own catch-up).
"""
from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from labchain.chain.finality import FinalityError, FinalityLog, build_block
from labchain.consensus.engine import (
    BlockParams, Broadcast, CancelTimer, Commit, ConsensusError, Misbehaviour, Send, SetTimer,
    decode_engine_message, encode_engine_message,
)
from labchain.consensus.faults import ByzantineEngine
from labchain.consensus.registry import build_engine
from labchain.core.encoding import Record, UInt, VarBytes
from labchain.core.errors import EncodingError, LabchainError
from labchain.ledger.utxo.tx import Transaction
from labchain.node.messages import MAX_MESSAGE_SIZE, MESSAGE_TYPES

if TYPE_CHECKING:
    from labchain.node.node import Node
    from labchain.node.p2p import Peer

log = logging.getLogger("labchain.node.consensus")

FINALITY_FILE = "finality.sqlite"
RAFT_WAL_FILE = "raft.wal"
#: score of a peer per undecodable consensus message or engine-reported misbehaviour
BAD_MESSAGE_SCORE = 20


@dataclass(frozen=True, slots=True)
class ConsensusMsg(Record):
    """P2P message ``consensus``: one engine message in its envelope."""
    payload: bytes
    COMMAND: ClassVar[bytes] = b"consensus"
    ENCODING = (("payload", VarBytes(MAX_MESSAGE_SIZE - 64)),)


MESSAGE_TYPES[ConsensusMsg.COMMAND] = ConsensusMsg   # the node's P2P layer now carries it


class ConsensusStateError(LabchainError):
    """A consensus state file cannot be read back."""


# --- Raft's stable storage -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WalRecord(Record):
    """kind 1: term + vote (``text`` = voted_for, empty for none); 2: entry ``index`` of
    ``term`` with ``text`` = data; 3: truncate the log to ``index`` entries (sentinel included)."""
    kind: int
    index: int
    term: int
    text: bytes
    ENCODING = (("kind", UInt(1)), ("index", UInt(8)), ("term", UInt(8)), ("text", VarBytes(MAX_MESSAGE_SIZE)))


STATE, ENTRY, TRUNCATE = 1, 2, 3


class RaftWal:
    """Append-only stable storage of one Raft engine (term, vote, log)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.term, self.voted_for = 0, None
        self.entries: list[tuple[int, bytes]] = []    # (term, data) of index 1, 2, ...
        good = self._load()
        self.file = open(path, "ab")
        if good < self.file.tell():                  # a torn last record (crash mid-write)
            self.file.truncate(good)
            self.file.seek(good)
        self._saved_state = (self.term, self.voted_for)
        self._saved_log: list[Any] = []

    def _load(self) -> int:
        if not self.path.exists():
            return 0
        data = self.path.read_bytes()
        pos = 0
        while pos + 4 <= len(data):
            length = int.from_bytes(data[pos:pos + 4], "big")
            if pos + 4 + length > len(data):
                break
            try:
                rec = WalRecord.from_bytes(data[pos + 4:pos + 4 + length])
            except EncodingError as exc:
                raise ConsensusStateError(f"{self.path} is damaged at byte {pos}: {exc}", str(self.path)) from None
            if rec.kind == STATE:
                self.term, self.voted_for = rec.term, rec.text.decode() or None
            elif rec.kind == ENTRY:
                del self.entries[rec.index - 1:]
                self.entries.append((rec.term, rec.text))
            elif rec.kind == TRUNCATE:
                del self.entries[max(rec.index - 1, 0):]
            pos += 4 + length
        return pos

    def restore(self, engine: Any, committed: int) -> None:
        """Put the stored state into a fresh RaftEngine; ``committed``: the chain's height."""
        from labchain.consensus.raft import Entry

        engine.term, engine.voted_for = self.term, self.voted_for
        for term, data in self.entries:
            engine._append_local(Entry(term, data))
        engine.commit_index = engine.last_applied = min(committed, engine.last_index)
        self._saved_log = list(engine.log)

    def save(self, engine: Any) -> None:
        """Write what changed since the last call, then fsync (before any message goes out)."""
        out = []
        state = (engine.term, engine.voted_for)
        if state != self._saved_state:
            out.append(WalRecord(STATE, 0, engine.term, (engine.voted_for or "").encode()))
        logs, saved = engine.log, self._saved_log
        common = min(len(logs), len(saved))
        while common > 0 and logs[common - 1] is not saved[common - 1]:
            common -= 1
        if len(saved) > common:
            out.append(WalRecord(TRUNCATE, common, 0, b""))
        for index in range(max(common, 1), len(logs)):
            out.append(WalRecord(ENTRY, index, logs[index].term, logs[index].data))
        if not out:
            return
        blob = b"".join(len(b := r.to_bytes()).to_bytes(4, "big") + b for r in out)
        self.file.write(blob)
        self.file.flush()
        os.fsync(self.file.fileno())
        self._saved_state, self._saved_log = state, list(logs)

    def close(self) -> None:
        self.file.close()


def _file_params(spec) -> BlockParams:
    """The chain file's block parameters (no governance): in force from height 1."""
    return BlockParams(1, spec.block_interval, spec.block_tx_capacity, 0)


# --- the application --------------------------------------------------------------------------

class NodeApplication:
    """The engine's Application: the node's chain and mempool. ``params()`` gives the block
    parameters in force for the block after the tip (the driver's :meth:`ConsensusDriver.governed`;
    without it, the chain file's)."""

    def __init__(self, node: Node, params=None) -> None:
        self.node = node
        self.params = params or self._file_params

    def _file_params(self) -> BlockParams | None:
        spec = getattr(getattr(self.node, "params", None), "consensus", None)
        return _file_params(spec) if spec is not None else None      # None: no capacity to keep

    def propose(self, height: int) -> bytes:
        node = self.node
        params = self.params()
        block, _ = build_block(node.chain, node.mempool.transactions(), node.accounts.reward_address,
                               timestamp=int(node.clock()), capacity=params and params.block_tx_capacity)
        return block.to_bytes()

    def check(self, height: int, value: bytes) -> str | None:
        """None if the proposal at ``height`` may be voted for, else why not (also logged)."""
        reason = self._refusal(height, value)
        if reason is not None:
            log.warning("consensus: proposal at height %d refused: %s", height, reason)
        return reason

    def _refusal(self, height: int, value: bytes) -> str | None:
        chain = self.node.chain
        try:
            block = chain.ledger.block_type.from_bytes(value)
        except (EncodingError, ValueError) as exc:
            return f"the value is not a {chain.ledger.name} block: {exc}"
        if height <= chain.height:
            have = chain.get_block(height)
            same = have.hash_in(chain.suite) == block.hash_in(chain.suite)
            return None if same else f"height {height} is already final with another block"
        if height == chain.height + 1 and block.prev_hash != chain.tip_hash:
            return f"the block at height {height} does not build on this node's tip"
        params = self.params() if height == chain.height + 1 else None
        if params is not None:
            count = len(block.transactions) - (1 if chain.ledger.name == "utxo" else 0)   # UTXO: + coinbase
            if count > params.block_tx_capacity:
                return (f"the block at height {height} holds {count} transactions, more than the "
                        f"block_tx_capacity of {params.block_tx_capacity} in force since height "
                        f"{params.height} (chain config sequence {params.sequence})")
        try:
            if height == chain.height + 1:
                chain.ledger.check_proposal(chain, block)
            else:            # a later height: no state to run it on yet, the block's own rules
                chain.ledger.check_block_syntax(block, chain.params)
        except LabchainError as exc:
            return str(exc)
        return None


# --- the driver -------------------------------------------------------------------------------

class ConsensusDriver:
    """Runs ``params.consensus``'s engine for ``node`` (one per node, on its event loop)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.spec = node.params.consensus
        self.app = NodeApplication(node, self.governed)
        #: the block parameters the engine runs with (governed, from block ``height`` on)
        self.block_params = _file_params(self.spec)
        self.params_refused: dict[str, Any] | None = None   # governed values the engine refused
        self._params_height = -1                              # chain height they were synced at
        seed = int.from_bytes(os.urandom(8), "big")   # election timeouts differ per run and node
        self.engine = build_engine(self.spec, node.name, self.app, rng=random.Random(seed),
                                   suite=node.params.crypto, seed=node.params.account_seed,
                                   chain_id=node.params.name)
        self.honest = self.engine                     # self.engine may be a Byzantine wrapper
        self._logged_evidence = 0
        #: PBFT (and other engines without a pool): evidence bytes -> (offender, reason)
        self.reported: dict[bytes, tuple[str, str]] = {}
        self.finality = FinalityLog(node.chain, node.config.datadir / FINALITY_FILE)
        self.wal = RaftWal(node.config.datadir / RAFT_WAL_FILE) if self.spec.type == "raft" else None
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.bad_messages = 0
        self.commit_failures = 0
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._raft_reward = None

    # -- life cycle --------------------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._worker = self.loop.create_task(self._apply_commits())
        self._restore()
        self.node.update_listeners.append(self._after_update)   # blocks a follower appends too
        self._run(self._sync_params(time.time(), force=True) + self.engine.start(time.time()))
        log.info("consensus %s started as %s (validators %s, height %d)", self.spec.type,
                 self.node.name, ", ".join(self.spec.validators), self.node.chain.height)

    def _restore(self) -> None:
        chain, engine = self.node.chain, self.engine
        if self.wal is not None:
            self.wal.restore(engine, chain.height)
        elif self.spec.type == "solo":
            engine.height = chain.height
            if engine.is_proposer:
                engine.log = [chain.get_block(h).to_bytes() for h in range(1, chain.height + 1)]

    async def stop(self) -> None:
        for handle in self.timers.values():
            handle.cancel()
        self.timers.clear()
        if self._worker:
            self._worker.cancel()
        if self.wal:
            self.wal.close()
        self.finality.close()

    # -- events in ---------------------------------------------------------------------------
    def on_peer_message(self, peer: Peer, message: ConsensusMsg) -> None:
        try:
            engine_message = decode_engine_message(message.payload)
        except ConsensusError as exc:
            self.bad_messages += 1
            log.warning("bad consensus message from %s: %s", peer, exc)
            peer.misbehaving(BAD_MESSAGE_SCORE, f"bad consensus message: {exc}")
            return
        if not peer.name:
            return
        self._run(self.engine.on_message(peer.name, engine_message, time.time()))

    def submit_transaction(self, tx: Transaction) -> None:
        """A transaction this node accepted (from a client or relayed by a peer): Raft orders
        it (the engine drops a command it already holds, so a transaction submitted on every
        node is still one entry); the other engines take transactions from the proposer's
        mempool (relayed there by ``inv``)."""
        if self.spec.type == "raft":
            self._run(self.engine.submit(tx.to_bytes(), time.time()))

    def _fire(self, name: str) -> None:
        self.timers.pop(name, None)
        self._run(self.engine.on_timer(name, time.time()))

    # -- outputs -----------------------------------------------------------------------------
    def _run(self, outputs: list) -> None:
        if self.wal is not None:
            self.wal.save(self.engine)           # stable storage before any message leaves
        extra: list = []
        for out in outputs:                      # commits reach the chain before any message
            if isinstance(out, Commit):          # leaves (a Solo proposer killed right after
                extra += self._commit(out)       # its broadcast must not lose the block)
        extra += self._sync_params(time.time())  # governed values: from the block after the tip
        if extra:                                # (after the engine's own, so a re-armed timer wins)
            outputs = [*outputs, *extra]
        for out in outputs:
            if isinstance(out, (Send, Broadcast)):
                self._send(out)
            elif isinstance(out, SetTimer):
                old = self.timers.pop(out.name, None)
                if old:
                    old.cancel()
                self.timers[out.name] = self.loop.call_later(max(out.delay, 0.0), self._fire, out.name)
            elif isinstance(out, CancelTimer):
                old = self.timers.pop(out.name, None)
                if old:
                    old.cancel()
            elif isinstance(out, Misbehaviour):
                log.warning("consensus: %s misbehaves: %s", out.peer, out.reason)
                if out.evidence and not hasattr(self.honest, "evidence"):
                    self.reported.setdefault(out.evidence, (out.peer, out.reason))
                for peer in self._peers(out.peer):
                    peer.misbehaving(BAD_MESSAGE_SCORE, out.reason)
        self._log_evidence()

    def _log_evidence(self) -> None:
        pool = getattr(self.honest, "evidence", ())
        for evidence in pool[self._logged_evidence:]:
            log.warning("consensus: equivocation evidence against %s: two %ss at height %d round %d "
                        "(pool %d)", evidence.validator.decode("utf-8", "replace"),
                        evidence.describe()["step"], evidence.height, evidence.round, len(pool))
        self._logged_evidence = len(pool)

    # -- Byzantine faults and evidence ---------------------------------------------------------
    def set_byzantine(self, behaviour: str, targets: list[str] | None = None) -> None:
        """Make this node's engine Byzantine (a BEHAVIOURS name) or honest again ("")."""
        current = self.engine.behaviour if isinstance(self.engine, ByzantineEngine) else ""
        if behaviour == current and (not behaviour or self.engine.targets == (
                frozenset(targets) if targets else None)):
            return
        self.engine = (ByzantineEngine(self.honest, behaviour, targets=targets or None)
                       if behaviour else self.honest)
        log.warning("consensus: this node is now %s", f"Byzantine ({behaviour}"
                    + (f" towards {', '.join(targets)})" if targets else ")") if behaviour else "honest")

    def evidence_report(self) -> dict[str, Any]:
        """``getevidence``: the engine's pool (TBFT) or the equivocations reported (PBFT)."""
        if hasattr(self.honest, "evidence_report"):
            items = self.honest.evidence_report()
        else:
            items = [{"offender": who, "reason": reason, "hex": data.hex(), "recorded_at": None}
                     for data, (who, reason) in self.reported.items()]
        return {"engine": self.spec.type, "evidence": items,
                "rejected": getattr(self.honest, "rejected_evidence", 0)}

    def submit_evidence(self, text: Any) -> dict[str, Any]:
        """``submitevidence``: hex evidence checked by the engine (ConsensusError says why not)."""
        if not hasattr(self.honest, "receive_evidence"):
            raise ConsensusError(f"the {self.spec.type} engine keeps no evidence pool (TBFT does)", text)
        try:
            data = bytes.fromhex(text) if isinstance(text, str) else None
        except ValueError:
            data = None
        if data is None:
            raise ConsensusError(f"evidence is the hex of a DuplicateVoteEvidence record, got "
                                 f"{text!r:.40}", text)
        out: list = []
        new = self.honest.receive_evidence(data, out)
        self._run(out)
        from labchain.consensus.tbft import DuplicateVoteEvidence

        return {"new": new, "evidence": DuplicateVoteEvidence.from_bytes(data).describe(),
                "pool": len(self.honest.evidence)}

    def _peers(self, name: str | None = None) -> list[Peer]:
        return [p for p in self.node.p2p.ready_peers()
                if p.name and p.name != self.node.name and (name is None or p.name == name)]

    def _send(self, out: Send | Broadcast) -> None:
        message = ConsensusMsg(encode_engine_message(out.message))
        targets = self._peers(out.to if isinstance(out, Send) else None)
        for peer in targets[:1] if isinstance(out, Send) else targets:
            task = self.loop.create_task(peer.send(message))
            self.node._background.add(task)
            task.add_done_callback(self.node._background.discard)

    def _commit(self, commit: Commit) -> list:
        """Apply a commit to the chain now; the mempool update and relay follow in order.
        Returns the engine outputs this caused (Raft: commands handed back by ``requeue``)."""
        overflow: list[bytes] = []
        try:
            update = self._apply(commit, overflow)
        except (LabchainError, ValueError) as exc:
            self.commit_failures += 1
            log.error("consensus: committed value at height %d cannot be applied: %s",
                      commit.height, exc)
            return []
        if update is not None:
            log.info("final block %s height %d (%s)", update.connected[-1].hash_in(self.node.suite).hex()[:16]
                     if update.connected else "?", self.node.chain.height, self.spec.type)
            self._queue.put_nowait(update)
        if overflow and update is not None and hasattr(self.honest, "requeue"):
            log.info("raft entry %d: %d command(s) over the block_tx_capacity in force, ordered again",
                     commit.height, len(overflow))
            return self.honest.requeue(overflow, time.time())
        return []

    # -- governed block parameters (issue #12: the new config applies from the next block) ----
    def governed(self) -> BlockParams:
        """The block parameters in force for the block after the tip: the chain config's
        ``block.block_interval`` (ms) and ``block.block_tx_capacity`` as governance left them
        after the tip block, else the chain file's ``consensus`` section."""
        chain, gov = self.node.chain, self.node.governance
        if gov is None or not gov.supported:
            return _file_params(self.spec)
        state = gov.refresh()
        interval, capacity = self.spec.block_interval, self.spec.block_tx_capacity
        since, sequence = 1, 0
        for key in ("block.block_interval", "block.block_tx_capacity"):
            found = state.value_since(key)
            text = state.config.value(key)
            if found is None or text is None:
                continue
            try:
                number = int(text)
            except ValueError:                    # never accepted (onchain.VALUE_RULES)
                continue
            if key == "block.block_interval":
                interval = number / 1000.0
            else:
                capacity = number
            if found[0] > since:
                since, sequence = found
        return BlockParams(since, interval, capacity, sequence)

    def check_params(self, changes: dict[str, str]) -> None:
        """ConsensusError with a sentence if this node's engine could not run with the block
        values ``changes`` would set (``sendgovernance`` and ``checkgovernance`` ask first)."""
        current = self.governed()
        interval, capacity = current.block_interval, current.block_tx_capacity
        try:
            if "block.block_interval" in changes:
                interval = int(changes["block.block_interval"]) / 1000.0
            if "block.block_tx_capacity" in changes:
                capacity = int(changes["block.block_tx_capacity"])
        except ValueError:
            return                                # the value rules say why (onchain.check_values)
        limit = self.node.params.max_block_txs
        if capacity > limit:
            raise ConsensusError(f"block_tx_capacity {capacity} is over this chain's block rule of "
                                 f"{limit} transactions (block.max_block_txs)", capacity)
        self.honest.check_block_params(BlockParams(current.height, interval, capacity, current.sequence))

    def _sync_params(self, now: float, force: bool = False) -> list:
        """Give the engine the governed block parameters when they changed (after a block was
        applied: they hold from the next height on every node alike). An engine that refuses
        them keeps its values; the refusal is logged and shown in ``getconsensusstate``."""
        height = self.node.chain.height
        if height == self._params_height and not force:
            return []
        self._params_height = height
        try:
            params = self.governed()
        except (LabchainError, ValueError) as exc:   # never break the commit path
            log.error("consensus: governed block parameters unreadable at height %d: %s", height, exc)
            return []
        old = self.block_params
        if not force and (params.block_interval, params.block_tx_capacity) == (
                old.block_interval, old.block_tx_capacity):
            return []
        refused = self.params_refused
        if refused and not force and refused["values"] == [params.block_interval, params.block_tx_capacity]:
            return []
        try:
            outputs = self.honest.reconfigure(params, now)
        except ConsensusError as exc:
            self.params_refused = {"values": [params.block_interval, params.block_tx_capacity],
                                   "config_sequence": params.sequence, "reason": str(exc)}
            log.error("consensus: governed block parameters from height %d (config sequence %d) "
                      "refused by the engine, keeping the previous ones: %s", params.height,
                      params.sequence, exc)
            return []
        self.block_params, self.params_refused = params, None
        if not force or params.sequence:
            log.info("consensus: from height %d block_interval %.3f s, block_tx_capacity %d "
                     "(chain config sequence %d)", params.height, params.block_interval,
                     params.block_tx_capacity, params.sequence)
        return list(outputs)

    async def _after_update(self, update) -> None:
        """A chain change outside the engine's commits (a follower's final-block sync)."""
        if self.loop is not None and self.node.chain.height != self._params_height:
            self._run([])

    async def _apply_commits(self) -> None:
        """After each applied commit, in order: the node's mempool update and relay."""
        while True:
            update = await self._queue.get()
            await self.node.after_update(update)

    def _apply(self, commit: Commit, overflow: list[bytes] | None = None):
        chain = self.node.chain
        if self.spec.type == "raft":
            if commit.height <= chain.height:
                return None                           # already a block here (restart, re-emit)
            from labchain.consensus.raft import batch_commands

            capacity = self.governed().block_tx_capacity if commit.height == chain.height + 1 else None
            txs = []
            for command in batch_commands(commit.value):
                try:
                    tx = chain.ledger.tx_type.from_bytes(command)        # the ledger model's tx
                except (EncodingError, ValueError):
                    continue                          # not a transaction: left out everywhere
                if capacity is not None and len(txs) >= capacity:
                    if overflow is not None:          # an entry cut before the capacity changed:
                        overflow.append(command)      # the rest is ordered again (requeue)
                    continue
                txs.append(tx)
            block, dropped = build_block(chain, txs, self._reward_address(), capacity=capacity)
            if dropped:
                log.info("raft entry %d: %d command(s) left out (invalid or over capacity)",
                         commit.height, dropped)
        else:
            block = chain.ledger.block_type.from_bytes(commit.value)
        return self.finality.append(commit.height, block, commit.certificate)

    def _reward_address(self):
        """Raft blocks are built by every node alike: the coinbase pays the first account."""
        if self._raft_reward is None:
            from labchain.node.accounts import Accounts

            self._raft_reward = Accounts(self.node.params, 0).reward_address
        return self._raft_reward

    # -- views -------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        body = dict(self.engine.status())
        body.setdefault("height", self.node.chain.height)     # the engine's own height wins
        body.update(type=self.spec.type, node=self.node.name, chain_height=self.node.chain.height,
                    validators=list(self.spec.validators), block=self.block_params.to_json(),
                    block_params_refused=self.params_refused, bad_messages=self.bad_messages,
                    commit_failures=self.commit_failures,
                    connected=sorted(p.name for p in self._peers()))
        executions = getattr(self.node.chain.ledger, "executions", None)   # the account model's counts
        if executions is not None:
            body["executions"] = dict(executions)
        return body


__all__ = ["ConsensusDriver", "ConsensusMsg", "FinalityError", "NodeApplication", "RaftWal"]
