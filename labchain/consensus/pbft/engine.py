"""PBFT (Castro & Liskov, OSDI 1999) as a pure :class:`~labchain.consensus.engine.Engine`.

Terminology (the paper's, with FISCO BCOS's names where they differ)
--------------------------------------------------------------------
view ``v``
    A numbered configuration whose *primary* (FISCO BCOS: leader) is ``validators[v % n]``;
    the others are *backups*. FISCO BCOS rotates the leader every ``leader_period`` blocks
    inside one view; here the primary changes only by a view change, as in the paper.
sequence number ``n``
    The height the value is committed at: one value (block) per sequence number.
pre-prepare, prepare, commit
    The normal case. A backup accepts the primary's pre-prepare (v, n, d) and broadcasts a
    prepare; *prepared* = the pre-prepare plus 2f matching prepares from distinct backups; a
    prepared replica broadcasts a commit; *committed-local* = prepared plus 2f+1 matching
    commits. Values are executed (the engine's ``Commit`` output) in sequence order.
checkpoint
    Every ``checkpoint_period`` (K) sequence numbers a replica broadcasts the digest of its
    state (the chained hash of every committed value). 2f+1 matching checkpoints make it
    *stable*: the log at or below it is garbage-collected and the watermarks move to
    ``h = stable`` and ``H = h + watermark_window``; messages outside (h, H] are not logged.
view change
    A replica whose ``request_timeout`` (FISCO BCOS: ``consensus_timeout``) expires without
    progress broadcasts VIEW-CHANGE(v+1) with its stable checkpoint proof (C) and its
    prepared certificates above it (P). The new primary collects 2f+1 and broadcasts
    NEW-VIEW with them (V) and re-issued pre-prepares (O) for every sequence number between
    the highest stable checkpoint in V and the highest prepared one. Backups recompute O from
    V and refuse a new-view whose O differs. A replica that sees f+1 view changes for later
    views joins the smallest of them (the paper's liveness rule); it moves on to v+2 only after
    2f+1 replicas asked for v+1 (else it re-sends its view-change); the timeout doubles per
    unsuccessful view, at most ``2**max_timeout_doublings`` times.
equivocation
    Two signed pre-prepares, prepares or commits of one replica for one (view, sequence
    number) with different digests: reported as ``Misbehaviour`` whose ``evidence`` is both
    encoded messages; only the first is logged.
state transfer (catch-up)
    A replica that learns it is behind (2f+1 checkpoints above its last executed sequence
    number, or f+1 replicas sending messages at least two sequence numbers or a view ahead)
    sends FETCH to one of them; the answer carries committed values with their commit
    certificates (2f+1 signed commits each), the sender's stable checkpoint proof and, if it
    is in a later view, that view's NEW-VIEW. All of it is checked by signatures.

Simplifications versus PBFT and FISCO BCOS
------------------------------------------
* No pipelining: the primary proposes ``n + 1`` after it executed ``n`` (a block's parent
  must be final first), and a backup prepares ``n`` only after it executed ``n - 1``. The
  watermark window still bounds what is logged. So a governed ``block_interval``
  (:meth:`PBFTEngine.reconfigure`, called after ``n`` applied) holds exactly from ``n + 1``.
* The validator set is the constructor's for every view and height (governed consensus-node
  changes are data only so far, docs/consensus-nodes.md).
* Signatures on every message instead of MAC authenticators; no client requests, replies
  or request batching: values come from ``app.propose`` on the primary.
* State transfer copies committed values with their certificates rather than an
  application-state snapshot (the paper's partition tree). The engine keeps every committed
  value and certificate in ``committed``, standing in for the node's block store; only the
  protocol log is garbage-collected.
* A sequence-number gap in a new-view's O set (which ``<= f`` faulty replicas cannot cause,
  because backups prepare in order) ends O instead of being filled with null requests.
* Only validators run the engine; a non-voting follower is not implemented.
* Messages of an older view are dropped when a new view is installed; messages of later
  views (at most ``MAX_FUTURE_VIEWS`` ahead) are kept until that view starts.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from labchain.consensus.engine import (
    Application, BlockParams, Broadcast, ConsensusError, Commit, Engine, Misbehaviour, Output,
    SetTimer, Send, max_faulty, quorum,
)
from labchain.consensus.pbft.messages import (
    CatchUp, Checkpoint, CommitCertificate, CommitVote, CommittedEntry, Fetch, NewView,
    PrePrepare, Prepare, PreparedProof, Signed, ViewChange,
)
from labchain.core.encoding import Record
from labchain.crypto.suite import Suite, get_suite

#: later views whose messages are kept before the view starts
MAX_FUTURE_VIEWS = 8
#: committed entries per CatchUp answer
CATCHUP_BATCH = 64
_SIG_CACHE = 8192
#: what ``byz_invalid`` puts before a value (tests' applications reject such values)
INVALID_PREFIX = b"\x00pbft-invalid\x00"
_TIMER_VIEW = "pbft.view"
_TIMER_PROPOSE = "pbft.propose"
_TIMER_FETCH = "pbft.fetch"


def keyring(validators, suite: str | Suite = "p256-sha256", phrase: str = "labchain pbft"):
    """Deterministic test/simulator keys: ``({node: secret}, {node: public key})``, key ``i``
    of ``phrase`` for validator ``i`` (a real deployment loads each node's own key)."""
    suite = get_suite(suite)
    secrets = {v: suite.secret_from_seed(phrase, i) for i, v in enumerate(validators)}
    return secrets, {v: suite.public_key(s) for v, s in secrets.items()}


@dataclass(slots=True)
class _Slot:
    """Everything logged for one sequence number."""
    pre_prepares: dict[int, PrePrepare] = field(default_factory=dict)          # view -> accepted
    prepares: dict[tuple[int, bytes], dict[int, Prepare]] = field(default_factory=dict)
    commits: dict[tuple[int, bytes], dict[int, CommitVote]] = field(default_factory=dict)
    sent_prepare: set[int] = field(default_factory=set)                      # views
    sent_commit: set[int] = field(default_factory=set)
    prepared: PreparedProof | None = None        # the latest view's prepared certificate

    def size(self) -> int:
        return (len(self.pre_prepares) + sum(map(len, self.prepares.values()))
                + sum(map(len, self.commits.values())))


class PBFTEngine(Engine):
    """One PBFT replica (see the module docstring)."""

    name = "pbft"

    def __init__(self, node_id: str, validators: tuple[str, ...], app: Application, *,
                 secret: int, public_keys: Mapping[str, bytes], suite: str | Suite = "p256-sha256",
                 checkpoint_period: int = 10,      # PBFT: K; FISCO BCOS checkpoints every block
                 watermark_window: int | None = None,  # PBFT: L = H - h; FISCO BCOS: waterMarkLimit
                 request_timeout: float = 1.0,     # FISCO BCOS: consensus_timeout (default 3 s)
                 block_interval: float = 0.0,      # FISCO BCOS: min_seal_time
                 max_timeout_doublings: int = 4,
                 domain: bytes = b"") -> None:     # e.g. the chain id: signatures bind to it
        super().__init__(node_id, validators, app)
        if len(set(self.validators)) != len(self.validators) or not self.validators:
            raise ConsensusError(f"pbft needs distinct validators, got {list(validators)}", validators)
        if node_id not in self.validators:
            raise ConsensusError(f"{node_id!r} is not a validator; pbft has no follower mode yet",
                                 node_id)
        missing = [v for v in self.validators if v not in public_keys]
        if missing:
            raise ConsensusError(f"no public key for validator(s) {', '.join(missing)}", missing)
        if checkpoint_period < 1:
            raise ConsensusError(f"checkpoint_period is {checkpoint_period}, but it must be at least 1",
                                 checkpoint_period)
        window = 2 * checkpoint_period if watermark_window is None else watermark_window
        if window < checkpoint_period:
            raise ConsensusError(f"watermark_window {window} is smaller than checkpoint_period "
                                 f"{checkpoint_period}: no checkpoint could ever become stable", window)
        if not request_timeout > block_interval >= 0:
            raise ConsensusError(f"request_timeout ({request_timeout} s) must exceed block_interval "
                                 f"({block_interval} s), or every height would time out", request_timeout)
        if len(domain) > 255:
            raise ConsensusError("the signature domain is longer than 255 bytes", domain)
        self.suite = get_suite(suite)
        self.secret = secret
        self.keys = {self.validators.index(v): public_keys[v] for v in self.validators}
        if self.suite.public_key(secret) != self.keys[self.validators.index(node_id)]:
            raise ConsensusError(f"the secret key of {node_id} does not match its public key", node_id)
        self.index = self.validators.index(node_id)
        self.n = len(self.validators)
        self.f = max_faulty(self.n)
        self.quorum = quorum(self.n)              # 2f+1 when n = 3f+1
        self.checkpoint_period = checkpoint_period
        self.window = window
        self.request_timeout = request_timeout
        self.block_interval = block_interval
        self.max_timeout_doublings = max_timeout_doublings
        self.domain = domain

        self.view = 0
        self.active = True                 # False between sending VIEW-CHANGE and NEW-VIEW
        self.attempts = 0                  # unsuccessful view changes in a row
        self.last_executed = 0
        self.state = bytes(32)             # chained digest of every executed value
        self.states: dict[int, bytes] = {0: self.state}   # seq -> state, above the stable checkpoint
        self.stable_seq = 0
        self.stable_proof: tuple[Checkpoint, ...] = ()
        self.slots: dict[int, _Slot] = {}
        self.checkpoints: dict[tuple[int, bytes], dict[int, Checkpoint]] = {}
        self.view_changes: dict[int, dict[int, ViewChange]] = {}
        self.new_view_msg: NewView | None = None
        self.sent_new_view: set[int] = set()
        self.future: dict[int, list[tuple[int, Record]]] = {}    # view -> buffered messages
        self.committed: dict[int, tuple[bytes, CommitCertificate]] = {}
        self.ahead_seq: dict[int, int] = {}   # replica -> highest sequence number seen from it
        self.ahead_view: dict[int, int] = {}  # replica -> highest view seen from it
        self.fetching = False
        self._sig_ok: dict[bytes, bool] = {}

    # --- helpers ------------------------------------------------------------------------
    def primary(self, view: int | None = None) -> int:
        return (self.view if view is None else view) % self.n

    def digest(self, value: bytes) -> bytes:
        return self.suite.hash(value)

    def _sign(self, message: Signed):
        return message.signed_by(self.suite, self.secret, self.domain)

    def _verify(self, message: Signed, replica: int) -> bool:
        key = self.keys.get(replica)
        if key is None:
            return False
        payload = message.signing_bytes(self.domain)
        memo = hashlib.sha256(replica.to_bytes(2, "big") + payload + message.signature).digest()  # type: ignore[attr-defined]
        ok = self._sig_ok.get(memo)
        if ok is None:
            try:
                ok = bool(self.suite.verify(key, payload, message.signature))  # type: ignore[attr-defined]
            except Exception:  # a key or signature the suite cannot even parse
                ok = False
            if len(self._sig_ok) >= _SIG_CACHE:
                self._sig_ok.clear()
            self._sig_ok[memo] = ok
        return ok

    def _in_window(self, seq: int) -> bool:
        return self.stable_seq < seq <= self.stable_seq + self.window

    def _slot(self, seq: int) -> _Slot:
        slot = self.slots.get(seq)
        if slot is None:
            slot = self.slots[seq] = _Slot()
        return slot

    def _timeout(self) -> float:
        return self.request_timeout * (2 ** min(self.attempts, self.max_timeout_doublings))

    def log_size(self) -> int:
        """Messages held in the protocol log (what checkpoints garbage-collect)."""
        return (sum(s.size() for s in self.slots.values())
                + sum(map(len, self.checkpoints.values()))
                + sum(map(len, self.view_changes.values()))
                + sum(map(len, self.future.values())))

    # --- Engine interface ---------------------------------------------------------------
    def start(self, now: float) -> list[Output]:
        out: list[Output] = [SetTimer(_TIMER_VIEW, self._timeout())]
        self._maybe_propose(out)
        return out

    def on_timer(self, name: str, now: float) -> list[Output]:
        out: list[Output] = []
        if name == _TIMER_VIEW:
            if self.active:
                self._start_view_change(self.view + 1, out)
            elif len(self.view_changes.get(self.view, {})) >= self.quorum:
                # paper 4.5.2: go on to v+2 only once 2f+1 replicas wanted v+1 and its
                # new-view still did not come (a crashed or faulty new primary)
                self.attempts += 1
                self._start_view_change(self.view + 1, out)
            else:
                # too few replicas want this view (this one may be cut off): stay, and
                # send the view-change again in case it was lost
                own = self.view_changes.get(self.view, {}).get(self.index)
                if own is not None:
                    out.append(Broadcast(own))
                out.append(SetTimer(_TIMER_VIEW, self._timeout()))
        elif name == _TIMER_PROPOSE:
            self._propose(out)
        elif name == _TIMER_FETCH:
            self.fetching = False
        return out

    def on_message(self, sender: str, message: Record, now: float) -> list[Output]:
        out: list[Output] = []
        try:
            peer = self.validators.index(sender)
        except ValueError:
            return [Misbehaviour(sender, f"{sender} is not a validator of this pbft network")]
        if peer == self.index:
            return out
        replica = getattr(message, "replica", None)
        if replica != peer:
            return [Misbehaviour(sender, f"{type(message).__name__} names replica {replica}, "
                                         f"but came from replica {peer}")]
        handler = self._HANDLERS.get(type(message))
        if handler is None:
            return [Misbehaviour(sender, f"{type(message).__name__} is not a pbft message")]
        try:
            handler(self, peer, message, out)
        except (ConsensusError, ValueError, KeyError, IndexError, OverflowError) as exc:
            # a bug triggered by a peer's message must not crash the replica: report it
            out.append(Misbehaviour(sender, f"{type(message).__name__} could not be processed: {exc}"))
        return out

    def status(self) -> dict[str, Any]:
        return {
            "engine": self.name, "node": self.node_id, "view": self.view,
            "primary": self.validators[self.primary()], "view_change": not self.active,
            "last_committed": self.last_executed, "stable_checkpoint": self.stable_seq,
            "watermarks": [self.stable_seq, self.stable_seq + self.window],
            "pending": sorted(s for s in self.slots if s > self.last_executed),
            "log_size": self.log_size(), "f": self.f, "n": self.n,
        }

    # --- governed block parameters --------------------------------------------------------
    def check_block_params(self, params: BlockParams) -> None:
        params.check(self.name, 0.0, strict=False)         # FISCO BCOS min_seal_time may be 0
        if not params.block_interval < self.request_timeout:
            raise ConsensusError(f"pbft: block_interval {params.block_interval} s must stay below "
                                 f"request_timeout ({self.request_timeout} s), or every height would "
                                 "time out", params)

    def reconfigure(self, params: BlockParams, now: float) -> list[Output]:
        """Governed ``block_interval`` from ``params.height`` on: the primary waits that long
        before its next pre-prepare (re-armed now if it changed). The capacity is the
        application's (``app.propose`` builds the block, ``app.check`` refuses a larger one)."""
        self.check_block_params(params)
        changed = params.block_interval != self.block_interval
        self.block_params, self.block_interval = params, params.block_interval
        out: list[Output] = []
        if changed:
            self._maybe_propose(out)
        return out

    # --- normal case --------------------------------------------------------------------
    def _maybe_propose(self, out: list[Output]) -> None:
        if self.active and self.primary() == self.index:
            out.append(SetTimer(_TIMER_PROPOSE, self.block_interval))

    def _propose(self, out: list[Output]) -> None:
        seq = self.last_executed + 1
        if not self.active or self.primary() != self.index or not self._in_window(seq):
            return
        if self.view in self._slot(seq).pre_prepares:
            return
        value = self.app.propose(seq)
        pp = self._sign(PrePrepare(self.view, seq, self.digest(value), value, self.index))
        self._slot(seq).pre_prepares[self.view] = pp
        out.append(Broadcast(pp))
        self._advance(seq, self.view, pp.digest, out)

    def _note_ahead(self, peer: int, seq: int, view: int, out: list[Output]) -> None:
        if seq > self.ahead_seq.get(peer, 0):
            self.ahead_seq[peer] = seq
        if view > self.ahead_view.get(peer, 0):
            self.ahead_view[peer] = view
        seq_ahead = [r for r, s in self.ahead_seq.items() if s >= self.last_executed + 3]
        view_ahead = [r for r, v in self.ahead_view.items() if v > self.view]
        for peers in (seq_ahead, view_ahead):
            if len(peers) > self.f:
                self._fetch(sorted(peers), out)
                return

    def _fetch(self, peers: list[int], out: list[Output]) -> None:
        if self.fetching or not peers:
            return
        self.fetching = True
        target = peers[(self.last_executed + self.view) % len(peers)]
        out.append(Send(self.validators[target], Fetch(self.last_executed + 1, self.view, self.index)))
        out.append(SetTimer(_TIMER_FETCH, self.request_timeout / 2))

    def _buffer_future(self, view: int, peer: int, message: Record) -> bool:
        """Keep a message of a later view for when that view starts; True if it was one."""
        if view > self.view or (view == self.view and not self.active):
            if view <= self.view + MAX_FUTURE_VIEWS:
                queue = self.future.setdefault(view, [])
                if len(queue) < 4 * self.n * (self.window + 2):
                    queue.append((peer, message))
            return True
        return False

    def _on_pre_prepare(self, peer: int, pp: PrePrepare, out: list[Output]) -> None:
        self._note_ahead(peer, pp.seq, pp.view, out)
        if pp.view < self.view or self._buffer_future(pp.view, peer, pp):
            return
        if peer != self.primary(pp.view):
            out.append(Misbehaviour(self.validators[peer], f"pre-prepare for view {pp.view} from a backup"))
            return
        if not self._in_window(pp.seq):
            return
        if not self._verify(pp, peer):
            out.append(Misbehaviour(self.validators[peer], "pre-prepare with a bad signature"))
            return
        if pp.digest != self.digest(pp.value):
            out.append(Misbehaviour(self.validators[peer], f"pre-prepare {pp.seq}: digest does not match its value"))
            return
        self._accept_pre_prepare(pp, out)

    def _accept_pre_prepare(self, pp: PrePrepare, out: list[Output]) -> None:
        slot = self._slot(pp.seq)
        known = slot.pre_prepares.get(pp.view)
        if known is not None:
            if known.digest != pp.digest:
                out.append(Misbehaviour(self.validators[pp.replica],
                                        f"equivocation: two pre-prepares for view {pp.view}, "
                                        f"sequence {pp.seq}", known.to_bytes() + pp.to_bytes()))
            return
        slot.pre_prepares[pp.view] = pp
        self._try_prepare(pp.seq, out)

    def _try_prepare(self, seq: int, out: list[Output]) -> None:
        """Send PREPARE for the current view's pre-prepare at ``seq`` once ``seq - 1`` is
        executed and the application accepts the value."""
        slot = self.slots.get(seq)
        if slot is None or not self.active:
            return
        pp = slot.pre_prepares.get(self.view)
        if pp is None or self.view in slot.sent_prepare or seq > self.last_executed + 1:
            return
        if self.primary() == self.index:   # the primary's pre-prepare stands for its prepare
            self._advance(seq, self.view, pp.digest, out)
            return
        if seq <= self.last_executed:
            if self.committed[seq][1].digest != pp.digest:  # re-issued value differs: refuse
                out.append(Misbehaviour(self.validators[pp.replica],
                                        f"new-view re-issues another value for executed sequence {seq}"))
                return
        else:
            reason = self.app.check(seq, pp.value)
            if reason is not None:
                out.append(Misbehaviour(self.validators[pp.replica],
                                        f"pre-prepare {seq} proposes an invalid value: {reason}"))
                return
        slot.sent_prepare.add(self.view)
        prepare = self._sign(Prepare(self.view, seq, pp.digest, self.index))
        slot.prepares.setdefault((self.view, pp.digest), {})[self.index] = prepare
        out.append(Broadcast(prepare))
        self._advance(seq, self.view, pp.digest, out)

    def _vote_checks(self, peer: int, msg: Prepare | CommitVote, out: list[Output]) -> bool:
        self._note_ahead(peer, msg.seq, msg.view, out)
        if msg.view < self.view or self._buffer_future(msg.view, peer, msg):
            return False
        if not self._in_window(msg.seq):
            return False
        if not self._verify(msg, peer):
            out.append(Misbehaviour(self.validators[peer], f"{type(msg).__name__} with a bad signature"))
            return False
        return True

    def _on_prepare(self, peer: int, msg: Prepare, out: list[Output]) -> None:
        if not self._vote_checks(peer, msg, out):
            return
        if peer == self.primary(msg.view):
            out.append(Misbehaviour(self.validators[peer], "the primary sent a prepare"))
            return
        if self._record_vote(self._slot(msg.seq).prepares, peer, msg, out):
            self._advance(msg.seq, msg.view, msg.digest, out)

    def _on_commit(self, peer: int, msg: CommitVote, out: list[Output]) -> None:
        if not self._vote_checks(peer, msg, out):
            return
        if self._record_vote(self._slot(msg.seq).commits, peer, msg, out):
            self._advance(msg.seq, msg.view, msg.digest, out)

    def _record_vote(self, table: dict, peer: int, msg: Prepare | CommitVote, out: list[Output]) -> bool:
        """Log one vote per replica, view and sequence number; a second vote for another
        digest is equivocation: reported with both signed votes, and not logged."""
        for (view, digest), votes in table.items():
            if view == msg.view and digest != msg.digest and peer in votes:
                out.append(Misbehaviour(self.validators[peer],
                                        f"equivocation: two {type(msg).__name__} votes for view "
                                        f"{msg.view}, sequence {msg.seq}",
                                        votes[peer].to_bytes() + msg.to_bytes()))
                return False
        table.setdefault((msg.view, msg.digest), {})[peer] = msg
        return True

    def _advance(self, seq: int, view: int, digest: bytes, out: list[Output]) -> None:
        """Move (view, seq, digest) through prepared -> committed-local -> executed."""
        slot = self.slots.get(seq)
        if slot is None or view != self.view or not self.active:
            return
        pp = slot.pre_prepares.get(view)
        if pp is None or pp.digest != digest:
            return
        prepares = slot.prepares.get((view, digest), {})
        backups = {r: p for r, p in prepares.items() if r != self.primary(view)}
        if len(backups) < 2 * self.f:
            return
        if view not in slot.sent_commit:
            if self.primary() != self.index and view not in slot.sent_prepare:
                return   # prepared by others, but this replica has not checked the value yet
            chosen = tuple(backups[r] for r in sorted(backups)[:2 * self.f])
            if slot.prepared is None or slot.prepared.pre_prepare.view <= view:
                slot.prepared = PreparedProof(pp, chosen)
            slot.sent_commit.add(view)
            vote = self._sign(CommitVote(view, seq, digest, self.index))
            slot.commits.setdefault((view, digest), {})[self.index] = vote
            out.append(Broadcast(vote))
        commits = slot.commits.get((view, digest), {})
        if len(commits) >= self.quorum and seq == self.last_executed + 1:
            chosen_commits = tuple(commits[r] for r in sorted(commits)[:self.quorum])
            self._execute(seq, pp.value, CommitCertificate(view, seq, digest, chosen_commits), out)

    def _execute(self, seq: int, value: bytes, cert: CommitCertificate, out: list[Output]) -> None:
        self.committed[seq] = (value, cert)
        self.last_executed = seq
        self.state = hashlib.sha256(self.state + cert.digest).digest()
        self.states[seq] = self.state
        out.append(Commit(seq, value, cert.to_bytes()))
        if self.active:   # progress: the timeout starts again from request_timeout
            self.attempts = 0
            out.append(SetTimer(_TIMER_VIEW, self._timeout()))
        if seq % self.checkpoint_period == 0:
            cp = self._sign(Checkpoint(seq, self.state, self.index))
            out.append(Broadcast(cp))
            self._record_checkpoint(cp, out)
        nxt = seq + 1
        if nxt in self.slots:
            slot = self.slots[nxt]
            self._try_prepare(nxt, out)
            pp = slot.pre_prepares.get(self.view)
            if pp is not None and self.last_executed == seq:
                self._advance(nxt, self.view, pp.digest, out)
        if self.last_executed == seq:
            self._maybe_propose(out)

    # --- checkpoints and garbage collection ---------------------------------------------
    def _on_checkpoint(self, peer: int, cp: Checkpoint, out: list[Output]) -> None:
        self._note_ahead(peer, cp.seq, 0, out)
        if cp.seq <= self.stable_seq or cp.seq % self.checkpoint_period:
            return
        if cp.seq > self.stable_seq + 4 * self.window:
            return   # far ahead: _note_ahead decides whether to fetch
        if not self._verify(cp, peer):
            out.append(Misbehaviour(self.validators[peer], "checkpoint with a bad signature"))
            return
        self._record_checkpoint(cp, out)

    def _record_checkpoint(self, cp: Checkpoint, out: list[Output]) -> None:
        for (seq, state), others in self.checkpoints.items():
            if seq == cp.seq and state != cp.state and cp.replica in others:
                return   # one checkpoint per replica and sequence number: keep the first
        votes = self.checkpoints.setdefault((cp.seq, cp.state), {})
        votes[cp.replica] = cp
        if len(votes) < self.quorum:
            return
        if cp.seq > self.last_executed:
            self._fetch(sorted(votes), out)
            return
        if self.states.get(cp.seq) != cp.state:
            return  # 2f+1 others agree on a state this replica does not have: a bug, never adopt
        self._make_stable(cp.seq, tuple(votes[r] for r in sorted(votes)[:self.quorum]), out)

    def _make_stable(self, seq: int, proof: tuple[Checkpoint, ...], out: list[Output]) -> None:
        if seq <= self.stable_seq:
            return
        self.stable_seq = seq
        self.stable_proof = proof
        for s in [s for s in self.slots if s <= seq]:
            del self.slots[s]
        for key in [k for k in self.checkpoints if k[0] <= seq]:
            del self.checkpoints[key]
        for s in [s for s in self.states if s < seq]:
            del self.states[s]
        self._maybe_propose(out)   # the high watermark moved: a stalled primary may go on

    def _check_checkpoint_proof(self, seq: int, proof: tuple[Checkpoint, ...]) -> bytes | None:
        """The state digest that ``proof`` (2f+1 signed checkpoints) certifies at ``seq``."""
        if seq == 0:
            return bytes(32) if not proof else None
        states = {cp.state for cp in proof}
        replicas = {cp.replica for cp in proof}
        if (len(states) != 1 or len(replicas) != len(proof) or len(proof) < self.quorum
                or any(cp.seq != seq for cp in proof)
                or not all(self._verify(cp, cp.replica) for cp in proof)):
            return None
        return proof[0].state

    # --- view change --------------------------------------------------------------------
    def _start_view_change(self, view: int, out: list[Output]) -> None:
        if view < self.view:
            return
        self.view = view
        self.active = False
        prepared = tuple(slot.prepared for s, slot in sorted(self.slots.items())
                         if s > self.stable_seq and slot.prepared is not None)
        vc = self._sign(ViewChange(view, self.stable_seq, self.stable_proof, prepared, self.index))
        self.view_changes.setdefault(view, {})[self.index] = vc
        out.append(Broadcast(vc))
        out.append(SetTimer(_TIMER_VIEW, self._timeout()))
        for old in [v for v in self.future if v < view]:
            del self.future[old]
        self._maybe_new_view(view, out)

    def _check_view_change(self, vc: ViewChange) -> str | None:
        """None if ``vc`` is well-formed and every proof in it verifies, else why not."""
        if not self._verify(vc, vc.replica):
            return "view-change with a bad signature"
        if self._check_checkpoint_proof(vc.stable_seq, vc.checkpoints) is None:
            return f"view-change whose checkpoint proof for {vc.stable_seq} does not verify"
        seqs = set()
        for proof in vc.prepared:
            pp = proof.pre_prepare
            if pp.seq in seqs or not vc.stable_seq < pp.seq <= vc.stable_seq + self.window:
                return f"view-change with a prepared certificate for sequence {pp.seq} out of range"
            seqs.add(pp.seq)
            if pp.view >= vc.new_view or pp.replica != self.primary(pp.view):
                return f"view-change with a prepared certificate of view {pp.view}"
            if pp.digest != self.digest(pp.value) or not self._verify(pp, pp.replica):
                return f"view-change with a forged pre-prepare for sequence {pp.seq}"
            voters = {p.replica for p in proof.prepares}
            if (len(voters) != len(proof.prepares) or len(voters) < 2 * self.f
                    or pp.replica in voters
                    or any((p.view, p.seq, p.digest) != (pp.view, pp.seq, pp.digest)
                           for p in proof.prepares)
                    or not all(self._verify(p, p.replica) for p in proof.prepares)):
                return f"view-change with an invalid prepared certificate for sequence {pp.seq}"
        return None

    def _on_view_change(self, peer: int, vc: ViewChange, out: list[Output]) -> None:
        if vc.new_view < self.view or (vc.new_view == self.view and self.active):
            return
        if vc.new_view > self.view + MAX_FUTURE_VIEWS:
            return
        reason = self._check_view_change(vc)
        if reason is not None:
            out.append(Misbehaviour(self.validators[peer], reason))
            return
        self.view_changes.setdefault(vc.new_view, {})[peer] = vc
        # liveness rule (paper 4.5.2): f+1 replicas want later views -> join the smallest
        later: dict[int, int] = {}
        for v, votes in self.view_changes.items():
            if v > self.view:
                for r in votes:
                    if r != self.index:
                        later[r] = min(later.get(r, v), v)
        if len(later) > self.f:
            self._start_view_change(min(later.values()), out)
            return
        self._maybe_new_view(vc.new_view, out)

    def compute_o(self, view: int, vcs: tuple[ViewChange, ...]) -> tuple[int, list[tuple[int, bytes, bytes]]]:
        """The paper's O set: (min-s, [(seq, digest, value)...]) for sequence numbers above
        the highest stable checkpoint of V, each with the value prepared in the latest view."""
        min_s = max(vc.stable_seq for vc in vcs)
        best: dict[int, PrePrepare] = {}
        for vc in vcs:
            for proof in vc.prepared:
                pp = proof.pre_prepare
                if pp.seq > min_s and (pp.seq not in best or pp.view > best[pp.seq].view):
                    best[pp.seq] = pp
        chosen = []
        seq = min_s + 1
        while seq in best:            # a gap ends O (see the module docstring)
            chosen.append((seq, best[seq].digest, best[seq].value))
            seq += 1
        return min_s, chosen

    def _maybe_new_view(self, view: int, out: list[Output]) -> None:
        if self.primary(view) != self.index or view in self.sent_new_view:
            return
        if view != self.view or self.active:
            return
        votes = self.view_changes.get(view, {})
        if len(votes) < self.quorum:
            return
        chosen = sorted(votes)
        if self.index in votes:   # the new primary's own view change goes in V first
            chosen.remove(self.index)
            chosen.insert(0, self.index)
        vcs = tuple(votes[r] for r in chosen[:self.quorum])
        _, o = self.compute_o(view, vcs)
        pps = tuple(self._sign(PrePrepare(view, s, d, v, self.index)) for s, d, v in o)
        nv = self._sign(NewView(view, vcs, pps, self.index))
        self.sent_new_view.add(view)
        out.append(Broadcast(nv))
        self._install_new_view(nv, out)

    def _check_new_view(self, nv: NewView) -> str | None:
        if not self._verify(nv, nv.replica):
            return "new-view with a bad signature"
        voters = [vc.replica for vc in nv.view_changes]
        if len(set(voters)) != len(voters) or len(voters) < self.quorum:
            return f"new-view {nv.view} does not carry {self.quorum} distinct view-changes"
        for vc in nv.view_changes:
            if vc.new_view != nv.view:
                return f"new-view {nv.view} carries a view-change for view {vc.new_view}"
            reason = self._check_view_change(vc)
            if reason is not None:
                return f"new-view {nv.view} carries a bad view-change: {reason}"
        _, o = self.compute_o(nv.view, nv.view_changes)
        got = [(pp.seq, pp.digest, pp.value) for pp in nv.pre_prepares]
        if got != o:
            return f"new-view {nv.view} re-issues pre-prepares that do not follow from its view-changes"
        for pp in nv.pre_prepares:
            if pp.view != nv.view or pp.replica != nv.replica or not self._verify(pp, pp.replica):
                return f"new-view {nv.view} carries a badly signed pre-prepare"
        return None

    def _on_new_view(self, peer: int, nv: NewView, out: list[Output]) -> None:
        if nv.view < self.view or (nv.view == self.view and self.active):
            return
        if peer != self.primary(nv.view):
            out.append(Misbehaviour(self.validators[peer], f"new-view {nv.view} from a replica that is not its primary"))
            return
        reason = self._check_new_view(nv)
        if reason is not None:
            out.append(Misbehaviour(self.validators[peer], reason))
            return
        self._install_new_view(nv, out)

    def _install_new_view(self, nv: NewView, out: list[Output]) -> None:
        self.view = nv.view
        self.active = True
        self.new_view_msg = nv
        for v in [v for v in self.view_changes if v <= nv.view]:
            del self.view_changes[v]
        for slot in self.slots.values():   # older views' messages are dead now
            for v in [v for v in slot.pre_prepares if v < nv.view]:
                del slot.pre_prepares[v]
            for table in (slot.prepares, slot.commits):
                for key in [k for k in table if k[0] < nv.view]:
                    del table[key]
        out.append(SetTimer(_TIMER_VIEW, self._timeout()))
        best = max(nv.view_changes, key=lambda vc: vc.stable_seq)
        if best.stable_seq > self.last_executed:
            self._fetch(sorted(vc.replica for vc in nv.view_changes if vc.replica != self.index), out)
        elif best.stable_seq > self.stable_seq and self.states.get(best.stable_seq) == best.checkpoints[0].state:
            self._make_stable(best.stable_seq, best.checkpoints, out)
        for pp in nv.pre_prepares:
            if self._in_window(pp.seq):
                self._slot(pp.seq).pre_prepares[nv.view] = pp
        for pp in nv.pre_prepares:
            if self._in_window(pp.seq):
                self._try_prepare(pp.seq, out)
        buffered = self.future.pop(nv.view, [])
        for old in [v for v in self.future if v < nv.view]:
            del self.future[old]
        for peer, message in buffered:
            self._HANDLERS[type(message)](self, peer, message, out)
        self._maybe_propose(out)   # _propose skips a sequence number O already covers

    # --- state transfer -----------------------------------------------------------------
    def _on_fetch(self, peer: int, msg: Fetch, out: list[Output]) -> None:
        entries = []
        seq = max(msg.from_seq, 1)
        while seq <= self.last_executed and len(entries) < CATCHUP_BATCH:
            value, cert = self.committed[seq]
            entries.append(CommittedEntry(value, cert))
            seq += 1
        new_view = (self.new_view_msg,) if (self.new_view_msg is not None and self.active
                                            and self.view > msg.view) else ()
        if entries or new_view:
            out.append(Send(self.validators[peer],
                            CatchUp(tuple(entries), self.stable_proof, new_view, self.index)))

    def _check_certificate(self, seq: int, value: bytes, cert: CommitCertificate) -> bool:
        voters = {c.replica for c in cert.commits}
        return (cert.seq == seq and cert.digest == self.digest(value)
                and len(voters) == len(cert.commits) >= self.quorum
                and all((c.view, c.seq, c.digest) == (cert.view, cert.seq, cert.digest)
                        for c in cert.commits)
                and all(self._verify(c, c.replica) for c in cert.commits))

    def _on_catch_up(self, peer: int, msg: CatchUp, out: list[Output]) -> None:
        self.fetching = False
        applied = 0
        for entry in msg.entries:
            seq = entry.certificate.seq
            if seq <= self.last_executed:
                continue
            if seq != self.last_executed + 1 or not self._check_certificate(seq, entry.value, entry.certificate):
                out.append(Misbehaviour(self.validators[peer], f"catch-up entry {seq} has no valid commit certificate"))
                break
            self._execute(seq, entry.value, entry.certificate, out)
            applied += 1
        if msg.checkpoints:
            seq = msg.checkpoints[0].seq
            state = self._check_checkpoint_proof(seq, msg.checkpoints)
            if state is not None and self.states.get(seq) == state:
                self._make_stable(seq, msg.checkpoints, out)
        for nv in msg.new_view:
            if nv.view > self.view or (nv.view == self.view and not self.active):
                if nv.replica == self.primary(nv.view):
                    reason = self._check_new_view(nv)
                    if reason is None:
                        self._install_new_view(nv, out)
                    else:
                        out.append(Misbehaviour(self.validators[peer], reason))
        if applied == CATCHUP_BATCH:
            self._fetch([peer], out)

    # --- hooks for the Byzantine wrappers of labchain/consensus/faults.py ----------------
    def byz_kind(self, message: Record) -> str | None:
        if isinstance(message, PrePrepare):
            return "proposal"
        if isinstance(message, (Prepare, CommitVote)):
            return "vote"
        return None

    def _value_of(self, message: Prepare | CommitVote) -> bytes | None:
        slot = self.slots.get(message.seq)
        pp = slot.pre_prepares.get(message.view) if slot else None
        if pp is not None and pp.digest == message.digest:
            return pp.value
        entry = self.committed.get(message.seq)
        return entry[0] if entry and entry[1].digest == message.digest else None

    def byz_conflicting(self, message: Record, alternative) -> Record | None:
        """The same pre-prepare/vote for ``alternative(value)``, re-signed."""
        if isinstance(message, PrePrepare):
            value = alternative(message.value)
            return self._sign(replace(message, value=value, digest=self.digest(value)))
        if isinstance(message, (Prepare, CommitVote)):
            value = self._value_of(message)
            if value is None:
                return None
            return self._sign(replace(message, digest=self.digest(alternative(value))))
        return None

    def byz_invalid(self, message: Record) -> Record | None:
        """The same pre-prepare/vote for a value no application accepts as a block: its
        bytes are prefixed with ``INVALID_PREFIX`` (invalid only if the application checks)."""
        return self.byz_conflicting(message, lambda value: INVALID_PREFIX + value)

    def byz_round(self, message: Record, round: int) -> Record | None:
        """The same message claiming view ``round`` (PBFT's round is its view)."""
        if isinstance(message, (PrePrepare, Prepare, CommitVote)) and round != message.view:
            return self._sign(replace(message, view=round))
        return None

    _HANDLERS = {
        PrePrepare: _on_pre_prepare, Prepare: _on_prepare, CommitVote: _on_commit,
        Checkpoint: _on_checkpoint, ViewChange: _on_view_change, NewView: _on_new_view,
        Fetch: _on_fetch, CatchUp: _on_catch_up,
    }
