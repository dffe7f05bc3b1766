"""Raft (Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm", 2014) as a
pure state machine behind :class:`~labchain.consensus.engine.Engine`.

What a node does, in the paper's terms (section numbers of the extended version):

* **Election (5.2).** A follower that hears no leader for a randomised election timeout, drawn
  from ``[election_tick, 2 * election_tick)`` ticks by the driver-seeded ``random.Random`` (etcd's
  ``randomizedElectionTimeout``), becomes a candidate of the next term, votes for itself and
  asks the others with ``RequestVote``. A node grants one vote per term, and only to a candidate
  whose log is at least as up to date as its own (5.4.1: last term, then last index). A
  majority of the validators makes the candidate leader.
* **Replication (5.3).** The leader sends ``AppendEntries`` with the entry before the new ones
  (``prev_log_index/term``); a follower whose log does not contain that entry refuses and says
  where it diverges (``conflict_index/term``); a follower that has a conflicting entry deletes
  it and everything after it, then appends. Empty ``AppendEntries`` every ``heartbeat_tick``
  ticks keep followers from starting elections.
* **Commit (5.3, 5.4.2).** The leader commits index N once a majority stores it *and* the
  entry at N is of the leader's current term (Figure 8: an entry of an older term is committed
  only indirectly, by a newer entry above it). A new leader therefore appends an empty entry
  (a no-op, section 8) at once, so earlier entries commit without waiting for a client.
  Committed entries are emitted in order as ``Commit(height=index, value=entry data)``; a
  committed entry never changes (no reorg).
* **Clients (8).** ``submit`` works on any node. The command is kept in the node's pending set
  until the node sees it committed; a non-leader forwards it to the leader it knows and
  forwards again on a leader change or after ``forward_tick`` ticks, so a command submitted
  during a failover is not lost. The leader cuts one entry every ``block_interval`` seconds
  from up to ``block_tx_capacity`` pending commands (ChainMaker's block cutting) and skips a
  command already in its log, so a command forwarded twice is still committed exactly once.
* **Check quorum (etcd ``CheckQuorum``).** A leader that has not heard from a majority for an
  election timeout steps down, so a leader cut off in a minority stops claiming to lead.

Terminology
-----------
term
    Raft's logical clock: at most one leader per term.
log index / height
    Position in the log, from 1; the index of a committed entry is its block height.
match_index / next_index
    Leader's view of each follower: highest index known replicated there; next index to send.
pending
    Commands this node was given (by a client or a forward) and has not seen committed yet.

Simplifications versus etcd/raft and ChainMaker's Raft (which wraps etcd/raft):

* no log compaction or ``InstallSnapshot``: a follower far behind catches up from the leader's
  log, ``max_append_entries``/``max_append_bytes`` per message (etcd ``MaxSizePerMsg``), one
  message per reply (pipelined), and the whole log stays in memory;
* no PreVote and no leader lease: a node that comes back from a partition with a higher term
  makes the leader step down once (safe, costs one election);
* ``block_interval``/``block_tx_capacity`` change by :meth:`RaftEngine.reconfigure` (governance,
  from the next block); membership is the fixed validator list given to the constructor (no joint consensus or
  ConfChange); a node outside the list never campaigns or votes and the leader does not
  replicate to it;
* persistence is the driver's job: the simulator keeps the engine object across a crash, which
  models a node whose term, vote and log were on disk; a real node must persist them before
  sending (the paper's "stable storage");
* duplicate suppression keys on the SHA-256 of the command bytes (identical bytes = the same
  transaction); the set of digests grows with the log;
* ``app.check`` is not consulted: Raft orders opaque commands; the ledger validates the
  transactions of a committed batch when it applies them.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, replace
from typing import Any

from labchain.consensus.engine import (
    Application, BlockParams, CancelTimer, Commit, ConsensusError, Engine, Misbehaviour, Output,
    Send, SetTimer, majority,
)
from labchain.consensus.raft.messages import (
    MAX_COMMAND, MAX_TERM, AppendEntries, AppendReply, Batch, Entry, Forward, RequestVote,
    VoteReply,
)
from labchain.core.encoding import Record
from labchain.core.errors import EncodingError

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"
ELECTION, HEARTBEAT, BATCH, FORWARD = "raft.election", "raft.heartbeat", "raft.batch", "raft.forward"


@dataclass(frozen=True, slots=True)
class RaftConfig:
    """Timing and sizes. A tick is ``tick`` seconds (etcd's ``Node.Tick`` period)."""
    tick: float = 0.1                  # seconds per tick (etcd: the application's ticker)
    election_tick: int = 10            # etcd/ChainMaker raft: ElectionTick
    heartbeat_tick: int = 1            # etcd/ChainMaker raft: HeartbeatTick
    block_interval: float = 0.5        # ChainMaker: block.block_interval (ms there, seconds here)
    block_tx_capacity: int = 100       # ChainMaker: block.block_tx_capacity
    max_append_entries: int = 64       # entries per AppendEntries while catching up
    max_append_bytes: int = 1024 * 1024  # etcd: MaxSizePerMsg
    forward_tick: int = 10             # a non-leader forwards a pending command again after this
    max_pending: int = 100_000         # ChainMaker: txpool.max_txpool_size
    check_quorum: bool = True          # etcd: CheckQuorum

    def check(self) -> None:
        problems = []
        if not self.tick > 0:
            problems.append(f"tick is {self.tick}, but it must be a positive number of seconds")
        if self.heartbeat_tick < 1:
            problems.append(f"heartbeat_tick is {self.heartbeat_tick}, but it must be at least 1")
        if self.election_tick <= self.heartbeat_tick:
            problems.append(f"election_tick is {self.election_tick}, but it must be larger than "
                            f"heartbeat_tick ({self.heartbeat_tick})")
        if not self.block_interval > 0:
            problems.append(f"block_interval is {self.block_interval}, but it must be positive")
        if self.block_tx_capacity < 1 or self.max_append_entries < 1 or self.max_pending < 1:
            problems.append("block_tx_capacity, max_append_entries and max_pending must be at least 1")
        if problems:
            raise ConsensusError("bad Raft configuration: " + "; ".join(problems), self)

    @property
    def election_timeout_range(self) -> tuple[float, float]:
        """(lowest, highest) election timeout in seconds."""
        return self.election_tick * self.tick, 2 * self.election_tick * self.tick


def command_digest(command: bytes) -> bytes:
    return hashlib.sha256(command).digest()


def batch_commands(value: bytes) -> tuple[bytes, ...]:
    """The commands in a committed value; ``()`` if it is not a batch (a no-op is ``()`` too)."""
    try:
        return Batch.from_bytes(value).commands
    except EncodingError:
        return ()


NOOP = Batch(()).to_bytes()


class RaftEngine(Engine):
    """One Raft node. ``rng`` must be seeded by the driver (it draws election timeouts)."""

    name = "raft"

    def __init__(self, node_id: str, validators: tuple[str, ...], app: Application | None = None,
                 rng: random.Random | None = None, config: RaftConfig | None = None) -> None:
        super().__init__(node_id, validators, app)  # type: ignore[arg-type]
        if not self.validators or len(set(self.validators)) != len(self.validators):
            raise ConsensusError(f"Raft needs a non-empty list of distinct validators, got "
                                 f"{list(validators)}", validators)
        self.config = config or RaftConfig()
        self.config.check()
        self.rng = rng if rng is not None else random.Random(node_id)
        self.voter = node_id in self.validators
        self.peers = tuple(v for v in self.validators if v != node_id)
        # persistent state (Figure 2); log[0] is a sentinel so log[i] is index i
        self.term = 0
        self.voted_for: str | None = None
        self.log: list[Entry] = [Entry(0, b"")]
        # volatile state
        self.role = FOLLOWER
        self.leader: str | None = None
        self.commit_index = 0
        self.last_applied = 0
        self.votes: set[str] = set()
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}
        self.last_heard: dict[str, float] = {}
        self.leader_since = 0.0
        self.elections = 0
        # clients
        self.pending: dict[bytes, tuple[bytes, float]] = {}   # digest -> (command, last forwarded)
        self.in_log: dict[bytes, int] = {}                    # digest -> log index holding it
        self.dropped = 0

    # --- helpers ------------------------------------------------------------------------
    @property
    def last_index(self) -> int:
        return len(self.log) - 1

    def _term_at(self, index: int) -> int:
        return self.log[index].term

    def _last_index_of_term(self, term: int) -> int:
        """The last index whose entry has ``term``, or 0 (terms never decrease along a log)."""
        lo, hi = 0, self.last_index           # invariant: term_at(lo) <= term (term_at(0) = 0)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._term_at(mid) <= term:
                lo = mid
            else:
                hi = mid - 1
        return lo if lo and self._term_at(lo) == term else 0

    def _election_timer(self) -> SetTimer:
        low = self.config.election_tick
        ticks = low + self.rng.random() * low         # uniform in [election_tick, 2*election_tick)
        return SetTimer(ELECTION, ticks * self.config.tick)

    def _heartbeat_timer(self) -> SetTimer:
        return SetTimer(HEARTBEAT, self.config.heartbeat_tick * self.config.tick)

    def _append_local(self, entry: Entry) -> None:
        self.log.append(entry)
        for command in batch_commands(entry.data):
            self.in_log[command_digest(command)] = self.last_index

    def _truncate(self, index: int) -> None:
        """Delete log[index:] (never at or below commit_index)."""
        for entry in self.log[index:]:
            for command in batch_commands(entry.data):
                d = command_digest(command)
                if self.in_log.get(d, 0) >= index:
                    del self.in_log[d]
        del self.log[index:]

    def _become_follower(self, term: int, leader: str | None, now: float) -> list[Output]:
        outputs: list[Output] = []
        if self.role == LEADER:
            outputs += [CancelTimer(HEARTBEAT), CancelTimer(BATCH)]
        if term > self.term:
            self.term, self.voted_for = term, None
        self.role = FOLLOWER
        self.votes = set()
        changed = leader is not None and leader != self.leader
        self.leader = leader
        if self.voter:
            outputs.append(self._election_timer())
        if changed:
            outputs += self._forward_pending(now, force=True)
        return outputs

    # --- events -------------------------------------------------------------------------
    def start(self, now: float) -> list[Output]:
        outputs: list[Output] = [SetTimer(FORWARD, self.config.forward_tick * self.config.tick)]
        if self.voter:
            outputs.append(self._election_timer())
        return outputs

    def on_timer(self, name: str, now: float) -> list[Output]:
        if name == ELECTION:
            if self.role == LEADER or not self.voter:
                return []
            return self._campaign(now)
        if name == HEARTBEAT and self.role == LEADER:
            if self.config.check_quorum and self._lost_quorum(now):
                return self._become_follower(self.term, None, now)
            return [self._heartbeat_timer()] + self._replicate_all(heartbeat=True)
        if name == BATCH and self.role == LEADER:
            return [SetTimer(BATCH, self.config.block_interval)] + self._cut_batch(now)
        if name == FORWARD:
            return [SetTimer(FORWARD, self.config.forward_tick * self.config.tick)] + \
                self._forward_pending(now, force=False)
        return []

    def submit(self, command: bytes, now: float) -> list[Output]:
        if not isinstance(command, (bytes, bytearray)) or len(command) > MAX_COMMAND:
            self.dropped += 1
            return []
        command = bytes(command)
        if not self._add_pending(command, now):
            return []
        if self.role != LEADER and self.leader is not None:
            return [Send(self.leader, Forward((command,)))]
        return []

    def on_message(self, sender: str, message: Record, now: float) -> list[Output]:
        if sender not in self.validators or sender == self.node_id:
            return [Misbehaviour(sender, f"{sender} is not a Raft validator of this network")]
        term = getattr(message, "term", None)
        if term is not None and term >= MAX_TERM:
            return [Misbehaviour(sender, f"{sender} sent term {term}, beyond any reachable term")]
        if isinstance(message, AppendEntries):
            return self._on_append(sender, message, now)
        if isinstance(message, AppendReply):
            return self._on_append_reply(sender, message, now)
        if isinstance(message, RequestVote):
            return self._on_request_vote(sender, message, now)
        if isinstance(message, VoteReply):
            return self._on_vote_reply(sender, message, now)
        if isinstance(message, Forward):
            return self._on_forward(message, now)
        return []                     # another engine's message: not for Raft

    # --- election -----------------------------------------------------------------------
    def _campaign(self, now: float) -> list[Output]:
        self.role, self.term, self.voted_for = CANDIDATE, self.term + 1, self.node_id
        self.leader = None
        self.votes = {self.node_id}
        self.elections += 1
        outputs: list[Output] = [self._election_timer()]
        if len(self.votes) >= majority(len(self.validators)):
            return outputs + self._become_leader(now)
        request = RequestVote(self.term, self.last_index, self._term_at(self.last_index))
        return outputs + [Send(peer, request) for peer in self.peers]

    def _on_request_vote(self, sender: str, msg: RequestVote, now: float) -> list[Output]:
        outputs: list[Output] = []
        if msg.term > self.term:
            outputs += self._become_follower(msg.term, None, now)
        my_last_term = self._term_at(self.last_index)
        up_to_date = (msg.last_log_term, msg.last_log_index) >= (my_last_term, self.last_index)
        grant = (msg.term == self.term and self.voter and self.voted_for in (None, sender)
                 and up_to_date)
        if grant:
            self.voted_for = sender
            outputs.append(self._election_timer())   # granting a vote resets the timer (5.2)
        return outputs + [Send(sender, VoteReply(self.term, int(grant)))]

    def _on_vote_reply(self, sender: str, msg: VoteReply, now: float) -> list[Output]:
        if msg.term > self.term:
            return self._become_follower(msg.term, None, now)
        if self.role != CANDIDATE or msg.term != self.term or msg.granted != 1:
            return []
        self.votes.add(sender)
        if len(self.votes) >= majority(len(self.validators)):
            return self._become_leader(now)
        return []

    def _become_leader(self, now: float) -> list[Output]:
        self.role, self.leader, self.leader_since = LEADER, self.node_id, now
        self.votes = set()
        self.next_index = {p: self.last_index + 1 for p in self.peers}
        self.match_index = {p: 0 for p in self.peers}
        self.last_heard = {p: now for p in self.peers}
        self._append_local(Entry(self.term, NOOP))    # section 8: commit earlier terms' entries
        outputs: list[Output] = [CancelTimer(ELECTION), self._heartbeat_timer(),
                                 SetTimer(BATCH, self.config.block_interval)]
        outputs += self._advance_commit()              # a one-node network commits at once
        return outputs + self._replicate_all(heartbeat=False)

    def _lost_quorum(self, now: float) -> bool:
        timeout = self.config.election_tick * self.config.tick
        if now - self.leader_since < timeout:
            return False
        heard = 1 + sum(1 for p in self.peers if now - self.last_heard.get(p, -1e18) < timeout)
        return heard < majority(len(self.validators))

    # --- replication --------------------------------------------------------------------
    def _append_for(self, peer: str) -> AppendEntries:
        start = max(1, min(self.next_index.get(peer, self.last_index + 1), self.last_index + 1))
        entries: list[Entry] = []
        size = 0
        for entry in self.log[start:start + self.config.max_append_entries]:
            size += len(entry.data) + 16
            if entries and size > self.config.max_append_bytes:
                break
            entries.append(entry)
        prev = start - 1
        if entries:      # optimistic: assume delivery (etcd's replicate state); a refusal resets it
            self.next_index[peer] = start + len(entries)
        return AppendEntries(self.term, prev, self._term_at(prev), tuple(entries),
                             self.commit_index)

    def _replicate_all(self, heartbeat: bool) -> list[Output]:
        outputs: list[Output] = []
        for peer in self.peers:
            if heartbeat or self.next_index[peer] <= self.last_index:
                if heartbeat and self.match_index[peer] < self.next_index[peer] - 1:
                    # unacknowledged optimistic sends: resend from the last acknowledged entry
                    self.next_index[peer] = self.match_index[peer] + 1
                outputs.append(Send(peer, self._append_for(peer)))
        return outputs

    def _cut_batch(self, now: float) -> list[Output]:
        commands = []
        for digest, (command, _) in self.pending.items():
            if digest not in self.in_log:
                commands.append(command)
                if len(commands) >= self.config.block_tx_capacity:
                    break
        if not commands:
            return []
        self._append_local(Entry(self.term, Batch(tuple(commands)).to_bytes()))
        return self._advance_commit() + self._replicate_all(heartbeat=False)

    def _on_append(self, sender: str, msg: AppendEntries, now: float) -> list[Output]:
        if msg.term < self.term:
            return [Send(sender, AppendReply(self.term, 0, 0, 0, 0))]
        if msg.term == self.term and self.role == LEADER:
            return [Misbehaviour(sender, f"{sender} claims to lead term {msg.term}, which this "
                                         "node leads")]
        if msg.term == self.term and self.leader not in (None, sender):
            return [Misbehaviour(sender, f"{sender} and {self.leader} both claim to lead term "
                                         f"{msg.term}")]
        outputs: list[Output] = []
        if msg.term > self.term or self.role != FOLLOWER or self.leader != sender:
            outputs += self._become_follower(msg.term, sender, now)
        elif self.voter:
            outputs.append(self._election_timer())
        terms = [msg.prev_log_term] + [e.term for e in msg.entries] + [msg.term]
        if any(a > b for a, b in zip(terms, terms[1:])):
            return outputs + [Misbehaviour(sender, f"{sender} sent entries whose terms are not "
                                                   f"in order within term {msg.term}")]
        prev = msg.prev_log_index
        if prev > self.last_index:
            return outputs + [Send(sender, AppendReply(self.term, 0, 0, self.last_index + 1, 0))]
        if self._term_at(prev) != msg.prev_log_term:
            if prev <= self.commit_index:
                return outputs + [Misbehaviour(sender, f"{sender} contradicts entry {prev}, "
                                                       "which is committed here")]
            conflict_term = self._term_at(prev)
            first = prev
            while first > self.commit_index + 1 and self._term_at(first - 1) == conflict_term:
                first -= 1
            return outputs + [Send(sender, AppendReply(self.term, 0, 0, first, conflict_term))]
        index = prev
        for entry in msg.entries:
            index += 1
            if index <= self.last_index:
                if self.log[index].term == entry.term:
                    continue
                if index <= self.commit_index:
                    return outputs + [Misbehaviour(sender, f"{sender} would overwrite committed "
                                                           f"entry {index}")]
                self._truncate(index)
            self._append_local(entry)
        match = prev + len(msg.entries)
        if msg.leader_commit > self.commit_index:
            self.commit_index = min(msg.leader_commit, match)
            outputs += self._apply()
        return outputs + [Send(sender, AppendReply(self.term, 1, match, 0, 0))]

    def _on_append_reply(self, sender: str, msg: AppendReply, now: float) -> list[Output]:
        if msg.term > self.term:
            return self._become_follower(msg.term, None, now)
        if self.role != LEADER or msg.term != self.term:
            return []
        self.last_heard[sender] = now
        if msg.success == 1:
            if msg.match_index > self.last_index:
                return [Misbehaviour(sender, f"{sender} acknowledged entry {msg.match_index}, "
                                             "which this leader never sent")]
            if msg.match_index > self.match_index[sender]:
                self.match_index[sender] = msg.match_index
            self.next_index[sender] = max(self.next_index[sender], self.match_index[sender] + 1)
            outputs = self._advance_commit()
            if self.next_index[sender] <= self.last_index:   # catching up: keep the pipe full
                outputs.append(Send(sender, self._append_for(sender)))
            return outputs
        # refused: move next_index back using the follower's hint
        retry = msg.conflict_index
        if msg.conflict_term:
            last_of_term = self._last_index_of_term(msg.conflict_term)
            if last_of_term:
                retry = last_of_term + 1
        retry = min(max(retry, 1), self.last_index + 1)
        # the follower's latest word wins: a refusal below match_index is a reordered old reply
        # or a follower that lost its log; lowering match_index only delays commits (never
        # uncommits), and a later success raises it again
        self.match_index[sender] = min(self.match_index[sender], retry - 1)
        self.next_index[sender] = retry
        return [Send(sender, self._append_for(sender))]

    def _advance_commit(self) -> list[Output]:
        need = majority(len(self.validators))
        for n in range(self.last_index, self.commit_index, -1):
            if self._term_at(n) != self.term:          # Figure 8: only current-term entries
                break
            stored = (1 if self.voter else 0) + sum(1 for p in self.peers if self.match_index[p] >= n)
            if stored >= need:
                self.commit_index = n
                return self._apply()
        return []

    def _apply(self) -> list[Output]:
        outputs: list[Output] = []
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            data = self.log[self.last_applied].data
            for command in batch_commands(data):
                self.pending.pop(command_digest(command), None)
            outputs.append(Commit(self.last_applied, data))
        return outputs

    # --- clients ------------------------------------------------------------------------
    def _add_pending(self, command: bytes, now: float) -> bool:
        digest = command_digest(command)
        if digest in self.pending or (digest in self.in_log and self.in_log[digest] <= self.commit_index):
            return False
        if len(self.pending) >= self.config.max_pending:
            self.dropped += 1
            return False
        self.pending[digest] = (command, now)
        return True

    def _on_forward(self, msg: Forward, now: float) -> list[Output]:
        fresh = [c for c in msg.commands if self._add_pending(c, now)]
        if fresh and self.role != LEADER and self.leader is not None:
            return [Send(self.leader, Forward(tuple(fresh)))]
        return []

    def _forward_pending(self, now: float, force: bool) -> list[Output]:
        """Re-send pending commands to the leader: all on a leader change (``force``), else
        those not forwarded for ``forward_tick`` ticks."""
        if self.role == LEADER or self.leader is None or not self.pending:
            return []
        age = self.config.forward_tick * self.config.tick
        due = [(d, c) for d, (c, sent) in self.pending.items() if force or now - sent >= age]
        outputs: list[Output] = []
        for i in range(0, len(due), 1024):
            chunk = due[i:i + 1024]
            for d, c in chunk:
                self.pending[d] = (c, now)
            outputs.append(Send(self.leader, Forward(tuple(c for _, c in chunk))))
        return outputs

    # --- governed block parameters --------------------------------------------------------
    def check_block_params(self, params: BlockParams) -> None:
        params.check(self.name)

    def reconfigure(self, params: BlockParams, now: float) -> list[Output]:
        """Governed ``block_interval`` and ``block_tx_capacity`` from ``params.height`` on: the
        leader cuts its next entries with them (and re-arms its batch timer if the interval
        changed). An entry cut earlier (pipelined, not yet committed when the block before
        ``params.height`` was applied) keeps its size: the driver builds its block with the
        capacity in force and hands the rest back with :meth:`requeue`."""
        self.check_block_params(params)
        changed = params.block_interval != self.config.block_interval
        self.config = replace(self.config, block_interval=params.block_interval,
                              block_tx_capacity=params.block_tx_capacity)
        self.block_params = params
        return [SetTimer(BATCH, self.config.block_interval)] if changed and self.role == LEADER else []

    def requeue(self, commands: list[bytes], now: float) -> list[Output]:
        """Order ``commands`` again: a committed entry carried them, but the block built from it
        could not (over the capacity in force at its height). Every node calls this for the same
        commands at the same height, so they stay pending everywhere until a later entry holds
        them; a command is still committed to a block exactly once."""
        outputs: list[Output] = []
        fresh = []
        for command in commands:
            digest = command_digest(command)
            if self.in_log.get(digest, self.commit_index + 1) <= self.commit_index:
                del self.in_log[digest]
            if self._add_pending(command, now):
                fresh.append(command)
        if fresh and self.role != LEADER and self.leader is not None:
            outputs.append(Send(self.leader, Forward(tuple(fresh))))
        return outputs

    # --- status -------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        low, high = self.config.election_timeout_range
        peers = []
        for p in self.peers:
            row: dict[str, Any] = {"id": p}
            if self.role == LEADER:
                row.update(match_index=self.match_index[p], next_index=self.next_index[p])
            peers.append(row)
        return {"engine": self.name, "id": self.node_id, "role": self.role, "term": self.term,
                "leader": self.leader, "voted_for": self.voted_for,
                "commit_index": self.commit_index, "last_log_index": self.last_index,
                "last_applied": self.last_applied, "pending": len(self.pending),
                "voter": self.voter, "peers": peers, "elections_started": self.elections,
                "election_timeout": [low, high]}
