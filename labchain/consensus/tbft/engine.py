"""The TBFT engine: Tendermint's consensus algorithm as a pure state machine.

Follows Algorithm 1 of "The latest gossip on BFT consensus" (Buchman, Kwon, Milosevic, 2018),
the algorithm ChainMaker's TBFT implements. Line numbers below refer to that paper.

Terminology
-----------
height, round, step
    A height is decided in one or more rounds; each round has the steps propose -> prevote ->
    precommit. A round that fails (timeout, nil votes) is followed by round + 1 at the same
    height with the next proposer.
quorum / polka
    More than 2/3 of the voting power (``3 * power > 2 * total``; weights from the validator
    list, 1 each unless a weights dict is given). A *polka* is a quorum of prevotes for one
    value in one round.
lock
    Seeing a polka for v in round r (while in prevote), a validator precommits v and locks on
    (v, r): in later rounds it prevotes only v, unless a proposal re-proposes another value
    with a polka from a round >= its lock round (the unlock rule, line 29). The *valid value*
    (the last value with a polka seen) is what a proposer re-proposes (line 16).
f + 1 rule
    Messages of a higher round from more than 1/3 of the power make a validator jump to that
    round (line 55): at least one correct node is there.
proposer
    ``validators[((height - 1) // TBFT_blocks_per_proposer + round) % n]``: round-robin,
    changing every ``blocks_per_proposer`` heights and at every new round.
timeouts
    Round r waits ``base + r * delta`` (ChainMaker: ``TBFT_propose_timeout`` and
    ``TBFT_propose_delta_timeout``; the prevote and precommit pairs take the same form).

Simplifications versus Tendermint/ChainMaker: no gossip of votes between peers (every
validator broadcasts its own; a node that missed a height catches up with :class:`Decision`
messages carrying the commit certificate, answered to any peer seen behind, a stand-in for
block sync; an explicit request is answered every time and a node still behind asks again each
gossip interval, so a validator restarted with a fresh engine catches up, issue #13); no timeout_commit wait after a decision; no write-ahead log (the simulator keeps a
crashed node's memory, a real node would need a WAL); a validator re-broadcasts only its own messages
of the last two rounds every ``gossip_interval`` (no relaying of others' votes); proposer
rotation ignores weights
(Tendermint weights it by voting power); messages for the next height are buffered (bounded),
later ones dropped and recovered by sync; a lying round is bounded by ``max_round_ahead``;
the validator set and weights are the constructor's at every height (a governed consensus-node
change is data only so far, docs/consensus-nodes.md); governed block parameters reach the
engine through the base :meth:`~labchain.consensus.engine.Engine.reconfigure` (only
``block_tx_capacity`` matters, through the application).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from labchain.consensus.engine import (
    Application, BlockParams, Broadcast, Commit, ConsensusError, Engine, Misbehaviour, Output, Send,
    SetTimer,
)
from labchain.consensus.tbft.messages import (
    PRECOMMIT, PREVOTE, PROPOSE, STEP_NAMES, CertificateError, CertVote, CommitCertificate,
    MAX_CERT_EVIDENCE, Decision, DuplicateVoteEvidence, EvidenceError, EvidenceMsg, Precommit,
    Prevote, Proposal, SyncRequest, proposal_sign_bytes, verify_commit_certificate, verify_evidence,
    vote_sign_bytes,
)
from labchain.core.encoding import Record

NIL = b""


@dataclass(frozen=True, slots=True)
class TBFTConfig:
    """Timeouts in seconds. Defaults are scaled for the simulator's millisecond network;
    :meth:`chainmaker` gives ChainMaker's defaults."""
    propose_timeout: float = 3.0            # ChainMaker: TBFT_propose_timeout
    propose_delta_timeout: float = 0.5      # ChainMaker: TBFT_propose_delta_timeout
    prevote_timeout: float = 1.0            # ChainMaker: TBFT_prevote_timeout (fixed in code)
    prevote_delta_timeout: float = 0.5
    precommit_timeout: float = 1.0          # ChainMaker: TBFT_precommit_timeout (fixed in code)
    precommit_delta_timeout: float = 0.5
    blocks_per_proposer: int = 1            # ChainMaker: TBFT_blocks_per_proposer
    chain_id: str = ""                      # ChainMaker: chain_id (domain of every signature)
    #: sign and verify votes; off only for benchmarks (certificates then prove nothing)
    signatures: bool = True
    #: rounds ahead of ours a message may claim before it is ignored (bounds memory)
    max_round_ahead: int = 64
    #: decisions sent per catch-up answer
    sync_batch: int = 16
    #: re-send our messages of the current round every this many seconds while a height is
    #: undecided (0 = the propose timeout): a message lost to a crash or partition is resent
    #: (Tendermint's gossip routines do this continuously)
    gossip_interval: float = 0.0

    def __post_init__(self) -> None:
        if self.blocks_per_proposer < 1:
            raise ConsensusError(f"TBFT_blocks_per_proposer is {self.blocks_per_proposer}, but it "
                                 f"must be at least 1", self)
        for name in ("propose_timeout", "prevote_timeout", "precommit_timeout"):
            if getattr(self, name) <= 0:
                raise ConsensusError(f"TBFT {name} must be positive, got {getattr(self, name)}", self)

    def round_time(self, round: int) -> float:
        """The longest a failing round ``round`` can last (its three timeouts)."""
        return (self.propose_timeout + self.prevote_timeout + self.precommit_timeout
                + round * (self.propose_delta_timeout + self.prevote_delta_timeout
                           + self.precommit_delta_timeout))

    def liveness_bound(self, n: int, slack: float = 1.0) -> float:
        """Virtual seconds within which a correct network of ``n`` decides once the faults
        stop: 2n + 2 failing rounds (Byzantine proposers, and correct ones whose proposal a
        lock refuses until a locked node's turn comes) plus ``slack``."""
        return sum(self.round_time(r) for r in range(2 * n + 2)) + slack

    @classmethod
    def fast(cls, **changes: Any) -> "TBFTConfig":
        """Short timeouts for tests and notebooks (the simulator's links take 1-10 ms)."""
        return cls(**{"propose_timeout": 0.3, "propose_delta_timeout": 0.05, "prevote_timeout": 0.1,
                      "prevote_delta_timeout": 0.05, "precommit_timeout": 0.1,
                      "precommit_delta_timeout": 0.05, **changes})

    @classmethod
    def chainmaker(cls, **changes: Any) -> "TBFTConfig":
        """ChainMaker v2's defaults: propose 30 s + 1 s per round, one block per proposer."""
        return cls(**{"propose_timeout": 30.0, "propose_delta_timeout": 1.0, "prevote_timeout": 30.0,
                      "prevote_delta_timeout": 1.0, "precommit_timeout": 30.0,
                      "precommit_delta_timeout": 1.0, **changes})


@dataclass(slots=True)
class _Round:
    proposal: Proposal | None = None
    #: (validator, value hash) -> vote: an equivocator's two votes are both kept and each
    #: counts for its own value (two quorums for different values then still need > f
    #: equivocators, the intersection argument), but only once in the step's total
    prevotes: dict[tuple[str, bytes], Prevote] = field(default_factory=dict)
    precommits: dict[tuple[str, bytes], Precommit] = field(default_factory=dict)
    voted: dict[tuple[int, str], bytes] = field(default_factory=dict)   # (step, who) -> first hash
    prevote_power: dict[bytes, int] = field(default_factory=dict)
    precommit_power: dict[bytes, int] = field(default_factory=dict)
    senders: set[str] = field(default_factory=set)
    prevote_total: int = 0
    precommit_total: int = 0
    prevote_timer: bool = False      # line 34 "for the first time"
    precommit_timer: bool = False    # line 47
    polka_seen: bool = False         # line 36


class TBFTEngine(Engine):
    """One validator's TBFT state machine (see the module docstring)."""

    name = "tbft"

    def __init__(self, node_id: str, validators: tuple[str, ...], app: Application, *,
                 suite: Any, secret: int | None, public_keys: Mapping[str, bytes],
                 weights: Mapping[str, int] | None = None, config: TBFTConfig = TBFTConfig()) -> None:
        super().__init__(node_id, validators, app)
        if not self.validators:
            raise ConsensusError("a TBFT network needs at least one validator", validators)
        missing = [v for v in self.validators if v not in public_keys]
        if missing:
            raise ConsensusError(f"no public key for validator(s) {', '.join(missing)}", missing)
        self.suite = suite
        self.secret = secret
        self.public_keys = dict(public_keys)
        self.weights = {v: (1 if weights is None else int(weights.get(v, 0))) for v in self.validators}
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ConsensusError("validator weights must be non-negative with a positive total", weights)
        self.total = sum(self.weights.values())
        self.config = config
        self._ids = {v.encode(): v for v in self.validators}
        self._me = node_id.encode()
        self.height = 1
        self.round = 0
        self.step = PROPOSE
        self.locked_value: bytes | None = None
        self.locked_round = -1
        self.valid_value: bytes | None = None
        self.valid_round = -1
        self.rounds: dict[int, _Round] = {}
        self.values: dict[bytes, bytes] = {}          # value hash -> value (this height)
        self._checked: dict[bytes, str | None] = {}   # value hash -> app.check result
        self.decisions: dict[int, tuple[bytes, bytes]] = {}   # height -> (value, certificate)
        self._future: list[tuple[str, Record]] = []   # messages of height + 1
        self._pending: dict[int, Decision] = {}       # decisions above our height (sync)
        self._synced: set[tuple[str, int]] = set()    # (peer, height) decisions already sent
        self._asked: set[tuple[str, int]] = set()
        self._evidence_count: dict[tuple[str, int, int, int], int] = {}
        #: the evidence pool: every distinct offence seen (detected, gossiped, in a certificate)
        self.evidence: list[DuplicateVoteEvidence] = []
        self.evidence_keys: set[tuple[bytes, int, int, int]] = set()
        #: offence key -> height of the commit certificate that recorded it on chain
        self.recorded: dict[tuple[bytes, int, int, int], int] = {}
        self.rejected_evidence = 0
        self._mine: list[Record] = []                 # what we broadcast at this height

    # --- helpers ------------------------------------------------------------------------
    def proposer(self, height: int, round: int) -> str:
        n = len(self.validators)
        return self.validators[((height - 1) // self.config.blocks_per_proposer + round) % n]

    def timeout(self, step: int, round: int) -> float:
        c = self.config
        base, delta = {PROPOSE: (c.propose_timeout, c.propose_delta_timeout),
                       PREVOTE: (c.prevote_timeout, c.prevote_delta_timeout),
                       PRECOMMIT: (c.precommit_timeout, c.precommit_delta_timeout)}[step]
        return base + round * delta

    def _quorum(self, power: int) -> bool:
        return 3 * power > 2 * self.total

    def _one_third(self, power: int) -> bool:
        return 3 * power > self.total

    def _hash(self, value: bytes) -> bytes:
        return self.suite.hash(value)

    def _sign(self, data: bytes) -> bytes:
        if not self.config.signatures or self.secret is None:
            return b""
        return self.suite.sign(self.secret, data)

    def _verify(self, who: str, data: bytes, signature: bytes) -> bool:
        if not self.config.signatures:
            return True
        try:
            return bool(self.suite.verify(self.public_keys[who], data, signature))
        except (ConsensusError, ValueError):
            return False

    def _valid(self, value_hash: bytes) -> bool:
        if value_hash not in self._checked:
            self._checked[value_hash] = self.app.check(self.height, self.values[value_hash])
        return self._checked[value_hash] is None

    def _r(self, round: int) -> _Round:
        state = self.rounds.get(round)
        if state is None:
            state = self.rounds[round] = _Round()
        return state

    @property
    def is_validator(self) -> bool:
        return self.node_id in self.weights and self.secret is not None

    # --- making messages ----------------------------------------------------------------
    def make_vote(self, step: int, height: int, round: int, value_hash: bytes) -> Prevote | Precommit:
        cls = Prevote if step == PREVOTE else Precommit
        sig = self._sign(vote_sign_bytes(self.config.chain_id, step, height, round, value_hash))
        return cls(height, round, value_hash, self._me, sig)

    def make_proposal(self, height: int, round: int, value: bytes, valid_round: int) -> Proposal:
        pol = valid_round + 1
        value_hash = self._hash(value)
        sig = self._sign(proposal_sign_bytes(self.config.chain_id, height, round, pol, value_hash))
        polka = self.rounds.get(valid_round) if valid_round >= 0 and height == self.height else None
        votes = () if polka is None else tuple(
            CertVote(v.validator, v.signature) for (_, h), v in sorted(polka.prevotes.items())
            if h == value_hash)
        return Proposal(height, round, pol, value, self._me, sig, votes)

    # --- engine interface ---------------------------------------------------------------
    def _gossip_timer(self) -> SetTimer:
        return SetTimer("gossip", self.config.gossip_interval or self.config.propose_timeout)

    def start(self, now: float) -> list[Output]:
        out: list[Output] = [self._gossip_timer()]
        self._start_round(0, out)
        self._progress(out)
        return out

    def check_block_params(self, params: BlockParams) -> None:
        """TBFT times its rounds with its own timeouts (no ``block_interval``); the capacity is
        the application's (``app.propose``, and ``app.check`` refuses a larger block)."""
        params.check(self.name, 0.0, strict=False)

    def status(self) -> dict[str, Any]:
        return {"engine": "tbft", "height": self.height, "round": self.round,
                "step": STEP_NAMES[self.step], "proposer": self.proposer(self.height, self.round),
                "locked_round": self.locked_round, "valid_round": self.valid_round,
                "evidence": len(self.evidence)}

    def on_timer(self, name: str, now: float) -> list[Output]:
        out: list[Output] = []
        if name == "gossip":   # resend what we said in the last rounds of this height
            out.extend(Broadcast(m) for m in self._mine if m.round >= self.round - 1)
            self._asked.clear()  # still behind a peer: ask it again (an answer can be lost)
            out.append(self._gossip_timer())
            return out
        try:
            kind, h, r = name.split("/")
            height, round = int(h), int(r)
        except ValueError:
            return out
        if height != self.height or round != self.round:
            return out
        if kind == "propose" and self.step == PROPOSE:            # line 57
            self._vote(PREVOTE, NIL, out)
        elif kind == "prevote" and self.step == PREVOTE:          # line 61
            self._vote(PRECOMMIT, NIL, out)
        elif kind == "precommit":                                  # line 65
            self._start_round(self.round + 1, out)
        self._progress(out)
        return out

    def on_message(self, sender: str, message: Record, now: float) -> list[Output]:
        out: list[Output] = []
        if sender not in self.weights:
            return [Misbehaviour(sender, f"{sender} is not a validator of this TBFT network")]
        if isinstance(message, SyncRequest):   # asked explicitly: always answered (a peer
            self._answer_sync(sender, message.height, out, asked=True)   # that restarted
            return out                                                     # lost what we sent)
        if isinstance(message, Decision):
            self._on_decision(sender, message, out)
            self._progress(out)
            return out
        if isinstance(message, EvidenceMsg):
            try:
                self.receive_evidence(message.evidence, out)
            except EvidenceError as exc:
                out.append(Misbehaviour(sender, f"{sender} gossiped evidence that proves nothing: {exc}"))
            return out
        if not isinstance(message, (Proposal, Prevote, Precommit)):
            return [Misbehaviour(sender, f"{sender} sent a {type(message).__name__}, not a TBFT message")]
        if message.height < self.height:
            self._answer_sync(sender, message.height, out)
            return out
        if message.height > self.height:
            self._ahead(sender, message, out)
            return out
        self._accept(sender, message, out)
        self._progress(out)
        return out

    # --- accepting messages -------------------------------------------------------------
    def _ahead(self, sender: str, message: Record, out: list[Output]) -> None:
        if message.height == self.height + 1 and len(self._future) < 8 * len(self.validators):
            self._future.append((sender, message))
        # a peer two heights on, in a later round, or precommitting the next height has
        # decided ours: ask it for the decision instead of waiting for our own timeouts
        if (message.height > self.height + 1 or message.round > 0 or isinstance(message, Precommit)) \
                and (sender, self.height) not in self._asked:
            self._asked.add((sender, self.height))
            out.append(Send(sender, SyncRequest(self.height)))

    def _accept(self, sender: str, message: Proposal | Prevote | Precommit, out: list[Output]) -> None:
        if message.round > self.round + self.config.max_round_ahead:
            return
        if isinstance(message, Proposal):
            self._on_proposal(sender, message, out)
        else:
            self._on_vote(sender, message, out)

    def _on_proposal(self, sender: str, p: Proposal, out: list[Output]) -> None:
        expected = self.proposer(p.height, p.round)
        if sender != expected or p.proposer != sender.encode():
            out.append(Misbehaviour(sender, f"{sender} sent a proposal for height {p.height} round "
                                            f"{p.round}, whose proposer is {expected}"))
            return
        if p.pol_round > p.round:
            out.append(Misbehaviour(sender, f"{sender}'s proposal claims a proof-of-lock round "
                                            f"{p.pol_round - 1} not before its round {p.round}"))
            return
        value_hash = self._hash(p.value)
        if not self._verify(sender, proposal_sign_bytes(self.config.chain_id, p.height, p.round,
                                                        p.pol_round, value_hash), p.signature):
            out.append(Misbehaviour(sender, f"{sender}'s proposal for height {p.height} round "
                                            f"{p.round} has an invalid signature"))
            return
        if p.pol_votes and p.pol_round == 0:
            out.append(Misbehaviour(sender, f"{sender}'s proposal carries polka votes but names no "
                                            f"proof-of-lock round"))
            return
        relayed = []
        for cv in p.pol_votes:   # the polka behind a re-proposal, checked before anything is kept
            who = self._ids.get(cv.validator)
            vote = Prevote(p.height, p.pol_round - 1, value_hash, cv.validator, cv.signature)
            if who is None or not self._verify(who, vote_sign_bytes(
                    self.config.chain_id, PREVOTE, p.height, p.pol_round - 1, value_hash), cv.signature):
                out.append(Misbehaviour(sender, f"{sender}'s proposal for height {p.height} round "
                                                f"{p.round} carries a prevote that is not its validator's"))
                return
            relayed.append((who, vote))
        state = self._r(p.round)
        if state.proposal is not None:
            if state.proposal.value != p.value:
                self.values.setdefault(value_hash, p.value)  # a later polka may still name it
                out.append(Misbehaviour(sender, f"{sender} proposed two different values for height "
                                                f"{p.height} round {p.round}"))
            return
        state.proposal = p
        self.values.setdefault(value_hash, p.value)
        state.senders.add(sender)
        for who, vote in relayed:
            self._on_vote(who, vote, out, verified=True)
        self._maybe_skip(p.round, out)

    def _on_vote(self, sender: str, v: Prevote | Precommit, out: list[Output],
                 verified: bool = False) -> None:
        kind = STEP_NAMES[type(v).STEP]
        if v.validator != sender.encode():
            out.append(Misbehaviour(sender, f"{sender} sent a {kind} signed as "
                                            f"{v.validator[:MAX_SHOWN]!r}"))
            return
        if len(v.value_hash) not in (0, 32):
            out.append(Misbehaviour(sender, f"{sender}'s {kind} names a value hash of "
                                            f"{len(v.value_hash)} bytes, not 32 or 0 (nil)"))
            return
        step = type(v).STEP
        # no sign bytes to build when signatures are off (_verify would accept anyway)
        if not verified and self.config.signatures and not self._verify(sender, vote_sign_bytes(
                self.config.chain_id, step, v.height, v.round, v.value_hash), v.signature):
            out.append(Misbehaviour(sender, f"{sender}'s {kind} for height {v.height} round "
                                            f"{v.round} has an invalid signature"))
            return
        state = self._r(v.round)
        votes = state.prevotes if step == PREVOTE else state.precommits
        if (sender, v.value_hash) in votes:
            return
        first = state.voted.get((step, sender))
        if first is not None:
            self._equivocation(sender, step, votes[(sender, first)], v, out)
            if self._evidence_count.get((sender, step, v.height, v.round), 0) > 1:
                return   # a third value: the evidence is made, nothing more to count
        votes[(sender, v.value_hash)] = v
        power = self.weights[sender]
        tally = state.prevote_power if step == PREVOTE else state.precommit_power
        tally[v.value_hash] = tally.get(v.value_hash, 0) + power
        if first is None:
            state.voted[(step, sender)] = v.value_hash
            if step == PREVOTE:
                state.prevote_total += power
            else:
                state.precommit_total += power
        state.senders.add(sender)
        self._maybe_skip(v.round, out)

    def _equivocation(self, sender: str, step: int, a: Prevote | Precommit, b: Prevote | Precommit,
                      out: list[Output]) -> None:
        key = (sender, step, a.height, a.round)
        self._evidence_count[key] = self._evidence_count.get(key, 0) + 1
        if self._evidence_count[key] > 1:
            return
        evidence = DuplicateVoteEvidence(a.validator, step, a.height, a.round, a.value_hash,
                                         a.signature, b.value_hash, b.signature)
        if self._add_evidence(evidence):
            out.append(Broadcast(EvidenceMsg(evidence)))
        out.append(Misbehaviour(sender, f"{sender} signed two different {STEP_NAMES[step]}s at height "
                                        f"{a.height} round {a.round}", evidence.to_bytes()))

    # --- the evidence pool --------------------------------------------------------------
    def _add_evidence(self, evidence: DuplicateVoteEvidence) -> bool:
        """Add to the pool; False if this offence is already there (de-duplication)."""
        if evidence.key in self.evidence_keys:
            return False
        self.evidence_keys.add(evidence.key)
        self.evidence.append(evidence)
        return True

    def receive_evidence(self, evidence: DuplicateVoteEvidence | bytes, out: list[Output]) -> bool:
        """Evidence from a peer or a client: checked (both signatures the offender's, values
        different; :class:`EvidenceError` naming why not), added if new and gossiped on.
        Returns whether it was new."""
        try:
            if self.config.signatures:
                evidence = verify_evidence(self.suite, {v: self.public_keys[v] for v in self.validators},
                                           evidence, chain_id=self.config.chain_id)
            else:
                evidence = _decode_unsigned(evidence, self.validators)
        except EvidenceError:
            self.rejected_evidence += 1
            raise
        if not self._add_evidence(evidence):
            return False
        out.append(Broadcast(EvidenceMsg(evidence)))
        return True

    def _to_record(self) -> tuple[DuplicateVoteEvidence, ...]:
        """Pool entries no certificate of ours recorded yet (marked recorded at this height)."""
        chosen = tuple(e for e in self.evidence if e.key not in self.recorded)[:MAX_CERT_EVIDENCE]
        for e in chosen:
            self.recorded[e.key] = self.height
        return chosen

    def evidence_report(self) -> list[dict[str, Any]]:
        """The pool for ``getevidence``: each offence and the certificate height recording it."""
        return [{**e.describe(), "recorded_at": self.recorded.get(e.key)} for e in self.evidence]

    def _maybe_skip(self, round: int, out: list[Output]) -> None:
        """Line 55: f+1 power seen in a higher round -> go there."""
        if round > self.round:
            state = self.rounds[round]
            if self._one_third(sum(self.weights[s] for s in state.senders)):
                self._start_round(round, out)

    # --- the algorithm ------------------------------------------------------------------
    def _start_round(self, round: int, out: list[Output]) -> None:          # line 11
        self.round = round
        self.step = PROPOSE
        if self.proposer(self.height, round) == self.node_id and self.is_validator:
            if self.valid_value is not None:
                value, vr = self.valid_value, self.valid_round
            else:
                value, vr = self.app.propose(self.height), -1
            proposal = self.make_proposal(self.height, round, value, vr)
            out.append(Broadcast(proposal))
            self._mine.append(proposal)
            self._accept(self.node_id, proposal, out)
        else:
            out.append(SetTimer(f"propose/{self.height}/{round}", self.timeout(PROPOSE, round)))

    def _vote(self, step: int, value_hash: bytes, out: list[Output]) -> None:
        self.step = step
        if not self.is_validator:
            return
        vote = self.make_vote(step, self.height, self.round, value_hash)
        out.append(Broadcast(vote))
        self._mine.append(vote)
        self._on_vote(self.node_id, vote, out)

    def _progress(self, out: list[Output]) -> None:
        """Apply every rule whose condition holds until none does (the 'upon' clauses)."""
        for _ in range(10_000):
            if not self._step_once(out):
                return
        raise ConsensusError("TBFT rules did not settle (an engine bug)", self.status())

    def _step_once(self, out: list[Output]) -> bool:
        h, r = self.height, self.round
        # line 49: a decision in any round
        for rr, state in self.rounds.items():
            for value_hash, power in state.precommit_power.items():
                if value_hash != NIL and self._quorum(power) and value_hash in self.values \
                        and self._valid(value_hash):
                    self._decide(rr, value_hash, out)
                    return True
        state = self._r(r)
        p = state.proposal
        if p is not None and self.step == PROPOSE:
            value_hash = self._hash(p.value)
            vr = p.pol_round - 1
            if vr == -1:                                                   # line 22
                ok = self._valid(value_hash) and (self.locked_round == -1
                                                  or self.locked_value == p.value)
                self._vote(PREVOTE, value_hash if ok else NIL, out)
                return True
            polka = self.rounds.get(vr)
            if vr < r and polka is not None and self._quorum(polka.prevote_power.get(value_hash, 0)):
                ok = self._valid(value_hash) and (self.locked_round <= vr   # line 28
                                                  or self.locked_value == p.value)
                self._vote(PREVOTE, value_hash if ok else NIL, out)
                return True
        if self.step == PREVOTE and not state.prevote_timer and self._quorum(state.prevote_total):
            state.prevote_timer = True                                     # line 34
            out.append(SetTimer(f"prevote/{h}/{r}", self.timeout(PREVOTE, r)))
            return True
        if p is not None and self.step >= PREVOTE and not state.polka_seen:  # line 36
            value_hash = self._hash(p.value)
            if self._quorum(state.prevote_power.get(value_hash, 0)) and self._valid(value_hash):
                state.polka_seen = True
                if self.step == PREVOTE:
                    self.locked_value, self.locked_round = p.value, r
                    self._vote(PRECOMMIT, value_hash, out)
                self.valid_value, self.valid_round = p.value, r
                return True
        if self.step == PREVOTE and self._quorum(state.prevote_power.get(NIL, 0)):  # line 44
            self._vote(PRECOMMIT, NIL, out)
            return True
        if not state.precommit_timer and self._quorum(state.precommit_total):  # line 47
            state.precommit_timer = True
            out.append(SetTimer(f"precommit/{h}/{r}", self.timeout(PRECOMMIT, r)))
            return True
        return False

    def _certificate(self, round: int, value_hash: bytes) -> bytes:
        votes = self.rounds[round].precommits
        chosen = tuple(CertVote(v.validator, v.signature) for (_, h), v in sorted(votes.items())
                       if h == value_hash)
        return CommitCertificate(self.height, round, value_hash, chosen, self._to_record()).to_bytes()

    def _decide(self, round: int, value_hash: bytes, out: list[Output]) -> None:
        self._commit(self.values[value_hash], self._certificate(round, value_hash), out)

    def _commit(self, value: bytes, certificate: bytes, out: list[Output]) -> None:
        height = self.height
        self.decisions[height] = (value, certificate)
        out.append(Commit(height, value, certificate))
        self.height += 1                                                    # line 54
        self.locked_value, self.locked_round = None, -1
        self.valid_value, self.valid_round = None, -1
        self.rounds, self.values, self._checked, self._mine = {}, {}, {}, []
        out.append(self._gossip_timer())
        self._start_round(0, out)
        future, self._future = self._future, []
        for sender, message in future:
            if message.height == self.height:
                self._accept(sender, message, out)
            elif message.height > self.height:
                self._future.append((sender, message))
        pending = self._pending.pop(self.height, None)
        if pending is not None:
            self._on_decision("", pending, out)

    # --- catch-up -----------------------------------------------------------------------
    def _answer_sync(self, peer: str, height: int, out: list[Output], asked: bool = False) -> None:
        """Send ``peer`` our decisions from ``height`` (at most ``sync_batch``). A stale vote
        is answered once per (peer, height), so a burst of late votes is not a burst of
        decisions; an explicit :class:`SyncRequest` is answered every time: a decision sent
        before is not proof the peer still has it (it may have restarted with a fresh engine,
        issue #13, or the message was lost)."""
        for h in range(height, min(self.height, height + self.config.sync_batch)):
            if h not in self.decisions or ((peer, h) in self._synced and not asked):
                continue
            self._synced.add((peer, h))
            value, cert = self.decisions[h]
            out.append(Send(peer, Decision(h, value, cert)))

    def _on_decision(self, sender: str, d: Decision, out: list[Output]) -> None:
        if d.height < self.height:
            return
        if d.height > self.height:
            if len(self._pending) < 4 * self.config.sync_batch:
                self._pending.setdefault(d.height, d)
            return
        value_hash = self._hash(d.value)
        try:
            if self.config.signatures:
                cert = verify_commit_certificate(
                    self.suite, {v: self.public_keys[v] for v in self.validators}, d.height,
                    value_hash, d.certificate, weights=self.weights, chain_id=self.config.chain_id)
            else:
                cert = CommitCertificate.from_bytes(d.certificate)
        except (CertificateError, ConsensusError, ValueError) as exc:
            out.append(Misbehaviour(sender, f"{sender} sent a decision for height {d.height} "
                                            f"with a bad certificate: {exc}"))
            return
        reason = self.app.check(d.height, d.value)
        if reason is not None:
            out.append(Misbehaviour(sender, f"{sender} sent a certified decision for height "
                                            f"{d.height} that the application rejects: {reason}"))
            return
        for evidence in cert.evidence:      # recorded on chain by the certificate we adopt
            self._add_evidence(evidence)
            self.recorded.setdefault(evidence.key, d.height)
        self._commit(d.value, d.certificate, out)

    # --- hooks for labchain.consensus.faults.ByzantineEngine ---------------------------
    def byz_kind(self, message: Record) -> str | None:
        if isinstance(message, Proposal):
            return "proposal"
        if isinstance(message, (Prevote, Precommit)):
            return "vote"
        return None

    def _value_of(self, message: Record) -> bytes | None:
        if isinstance(message, Proposal):
            return message.value
        return self.values.get(message.value_hash) if message.value_hash else None

    def byz_conflicting(self, message: Record, alternative: Callable[[bytes], bytes]) -> Record | None:
        value = self._value_of(message)
        if value is None:
            return None
        alt = alternative(value)
        if isinstance(message, Proposal):
            return self.make_proposal(message.height, message.round, alt, message.pol_round - 1)
        return self.make_vote(type(message).STEP, message.height, message.round, self._hash(alt))

    def byz_invalid(self, message: Record) -> Record | None:
        bad = INVALID_VALUE + message.height.to_bytes(8, "big")
        if isinstance(message, Proposal):
            return self.make_proposal(message.height, message.round, bad, -1)
        return self.make_vote(type(message).STEP, message.height, message.round, self._hash(bad))

    def byz_round(self, message: Record, round: int) -> Record | None:
        if isinstance(message, Proposal):
            return self.make_proposal(message.height, round, message.value, message.pol_round - 1)
        if isinstance(message, (Prevote, Precommit)):
            return self.make_vote(type(message).STEP, message.height, round, message.value_hash)
        return None


MAX_SHOWN = 24


def _decode_unsigned(evidence: DuplicateVoteEvidence | bytes, validators: tuple[str, ...]) -> DuplicateVoteEvidence:
    """Evidence checks without signatures (benchmark networks): names a validator, two values."""
    if not isinstance(evidence, DuplicateVoteEvidence):
        try:
            evidence = DuplicateVoteEvidence.from_bytes(evidence)
        except (ConsensusError, ValueError) as exc:
            raise EvidenceError(f"the evidence cannot be decoded: {exc}", evidence) from None
    if evidence.validator.decode("utf-8", "replace") not in validators or \
            evidence.value_hash_a == evidence.value_hash_b:
        raise EvidenceError("the evidence names no validator or no second value", evidence)
    return evidence
#: the prefix of the value an ``invalid_vote`` Byzantine validator votes for
INVALID_VALUE = b"invalid block "


def make_keys(n: int | tuple[str, ...], suite: Any, seed: str = "tbft") -> tuple[tuple[str, ...], dict[str, int], dict[str, bytes]]:
    """Validator ids ``v0..v{n-1}`` (or the given ids), their secrets from ``seed`` and public keys."""
    ids = tuple(f"v{i}" for i in range(n)) if isinstance(n, int) else tuple(n)
    secrets = {v: suite.secret_from_seed(f"{seed}/{v}", 0) for v in ids}
    return ids, secrets, {v: suite.public_key(d) for v, d in secrets.items()}


def build_engines(n: int | tuple[str, ...], app_for: Callable[[str], Application], suite: Any, *,
                  config: TBFTConfig = TBFTConfig(), weights: Mapping[str, int] | None = None,
                  seed: str = "tbft") -> dict[str, TBFTEngine]:
    """One :class:`TBFTEngine` per validator, keys derived from ``seed``."""
    ids, secrets, public = make_keys(n, suite, seed)
    return {v: TBFTEngine(v, ids, app_for(v), suite=suite, secret=secrets[v], public_keys=public,
                          weights=weights, config=config) for v in ids}
