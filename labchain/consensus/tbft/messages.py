"""TBFT wire messages, what is signed, commit certificates and duplicate-vote evidence.

Terminology
-----------
value hash
    ``suite.hash(value)``: what votes name. An empty value hash is a vote for *nil* (no value).
sign bytes
    ``b"labchain.tbft/" + chain_id + step + height + round + value hash``: the exact bytes a
    validator signs for a vote (:func:`vote_sign_bytes`) or a proposal
    (:func:`proposal_sign_bytes`, which also covers the proof-of-lock round). Domain-separated
    by step, so a prevote signature can never be replayed as a precommit.
commit certificate
    The precommits of more than 2/3 of the voting power for one value at one height and round
    (:class:`CommitCertificate`); carried in ``Commit.certificate`` beside the block so any
    node or light client can check finality with :func:`verify_commit_certificate` and the
    validators' public keys alone (Tendermint's ``LastCommit``; ChainMaker's ``QC``).
evidence
    Two signed votes of one validator, same step, height and round, different value hashes
    (:class:`DuplicateVoteEvidence`, Tendermint's name). Only a Byzantine validator signs both.
    A node that detects one gossips it (:class:`EvidenceMsg`) and records it in the next commit
    certificate it makes (``CommitCertificate.evidence``), where every node checking the
    certificate checks both signatures again (:func:`verify_evidence`).

Simplifications versus Tendermint/ChainMaker: validator ids travel as UTF-8 strings rather
than addresses; no timestamps in votes (Tendermint's BFT time); the certificate lists the
signatures one by one (no BLS aggregation).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from labchain.consensus.engine import ConsensusError, register_messages
from labchain.core.encoding import FixedBytes, ListOf, Nested, Record, UInt, VarBytes

PROPOSE, PREVOTE, PRECOMMIT = 0, 1, 2
STEP_NAMES = {PROPOSE: "propose", PREVOTE: "prevote", PRECOMMIT: "precommit"}
#: longest validator id and signature accepted on the wire
MAX_ID, MAX_SIG = 64, 80
#: largest value (block) a proposal may carry
MAX_VALUE = 4 * 1024 * 1024


class CertificateError(ConsensusError):
    """A commit certificate does not prove what it claims (names the first thing wrong)."""


class EvidenceError(ConsensusError):
    """Duplicate-vote evidence does not prove an equivocation (names why)."""


def _domain(chain_id: str) -> bytes:
    tag = chain_id.encode()
    return b"labchain.tbft/" + len(tag).to_bytes(1, "big") + tag


def vote_sign_bytes(chain_id: str, step: int, height: int, round: int, value_hash: bytes) -> bytes:
    return (_domain(chain_id) + step.to_bytes(1, "big") + height.to_bytes(8, "big")
            + round.to_bytes(4, "big") + value_hash)


def proposal_sign_bytes(chain_id: str, height: int, round: int, pol_round: int, value_hash: bytes) -> bytes:
    return (_domain(chain_id) + PROPOSE.to_bytes(1, "big") + height.to_bytes(8, "big")
            + round.to_bytes(4, "big") + pol_round.to_bytes(4, "big") + value_hash)


@dataclass(frozen=True, slots=True)
class CertVote(Record):
    validator: bytes
    signature: bytes
    ENCODING = (("validator", VarBytes(MAX_ID)), ("signature", VarBytes(MAX_SIG)))


@dataclass(frozen=True, slots=True)
class Proposal(Record):
    """The proposer's value for (height, round). ``pol_round`` is Tendermint's validRound
    plus one (0 = none): the round whose polka justifies re-proposing a locked value;
    ``pol_votes`` are that polka's prevotes (signed by their validators, so the proposer
    cannot forge them), a stand-in for Tendermint's vote gossip."""
    height: int
    round: int
    pol_round: int
    value: bytes
    proposer: bytes
    signature: bytes
    pol_votes: tuple[CertVote, ...] = ()
    COMMAND = b"tbft.proposal"
    ENCODING = (("height", UInt(8)), ("round", UInt(4)), ("pol_round", UInt(4)),
                ("value", VarBytes(MAX_VALUE)), ("proposer", VarBytes(MAX_ID)),
                ("signature", VarBytes(MAX_SIG)), ("pol_votes", ListOf(Nested(CertVote), 10_000)))


@dataclass(frozen=True, slots=True)
class Prevote(Record):
    height: int
    round: int
    value_hash: bytes       # 32 bytes, or b"" for nil
    validator: bytes
    signature: bytes
    COMMAND = b"tbft.prevote"
    STEP = PREVOTE
    ENCODING = (("height", UInt(8)), ("round", UInt(4)), ("value_hash", VarBytes(32)),
                ("validator", VarBytes(MAX_ID)), ("signature", VarBytes(MAX_SIG)))


@dataclass(frozen=True, slots=True)
class Precommit(Record):
    height: int
    round: int
    value_hash: bytes
    validator: bytes
    signature: bytes
    COMMAND = b"tbft.precommit"
    STEP = PRECOMMIT
    ENCODING = Prevote.ENCODING


Vote = Prevote | Precommit
VOTE_TYPES = {PREVOTE: Prevote, PRECOMMIT: Precommit}


@dataclass(frozen=True, slots=True)
class SyncRequest(Record):
    """"I am at ``height``: send me the decisions from there" (catch-up after a crash)."""
    height: int
    COMMAND = b"tbft.syncreq"
    ENCODING = (("height", UInt(8)),)


@dataclass(frozen=True, slots=True)
class Decision(Record):
    """A committed value with its certificate, for a node that fell behind (block sync)."""
    height: int
    value: bytes
    certificate: bytes
    COMMAND = b"tbft.decision"
    ENCODING = (("height", UInt(8)), ("value", VarBytes(MAX_VALUE)),
                ("certificate", VarBytes(1024 * 1024)))


@dataclass(frozen=True, slots=True)
class DuplicateVoteEvidence(Record):
    """Two signatures of ``validator`` (the offender) for different values at one step,
    height and round: the two signed votes, each checkable with the offender's public key."""
    validator: bytes
    step: int
    height: int
    round: int
    value_hash_a: bytes
    signature_a: bytes
    value_hash_b: bytes
    signature_b: bytes
    ENCODING = (("validator", VarBytes(MAX_ID)), ("step", UInt(1)), ("height", UInt(8)),
                ("round", UInt(4)), ("value_hash_a", VarBytes(32)), ("signature_a", VarBytes(MAX_SIG)),
                ("value_hash_b", VarBytes(32)), ("signature_b", VarBytes(MAX_SIG)))

    @property
    def key(self) -> tuple[bytes, int, int, int]:
        """What makes two pieces of evidence the same offence (de-duplication): who, step,
        height, round (a third value in one round is the same offence)."""
        return (self.validator, self.step, self.height, self.round)

    def describe(self) -> dict:
        """The JSON ``getevidence`` shows."""
        return {"offender": self.validator.decode("utf-8", "replace"), "step": STEP_NAMES.get(self.step, "?"),
                "height": self.height, "round": self.round,
                "votes": [{"value_hash": self.value_hash_a.hex(), "signature": self.signature_a.hex()},
                          {"value_hash": self.value_hash_b.hex(), "signature": self.signature_b.hex()}],
                "hex": self.to_bytes().hex()}


#: evidence entries one commit certificate may carry (more wait for the next height)
MAX_CERT_EVIDENCE = 16


@dataclass(frozen=True, slots=True)
class CommitCertificate(Record):
    """More than 2/3 of the voting power precommitted ``value_hash`` at (height, round).
    ``evidence``: duplicate-vote evidence the deciding node held and had not yet recorded in an
    earlier certificate of its own (how LabChain records equivocation on chain: the certificate
    is stored beside the block and every node checks each entry, docs/consensus-bft.md)."""
    height: int
    round: int
    value_hash: bytes
    votes: tuple[CertVote, ...]
    evidence: tuple[DuplicateVoteEvidence, ...] = ()
    ENCODING = (("height", UInt(8)), ("round", UInt(4)), ("value_hash", FixedBytes(32)),
                ("votes", ListOf(Nested(CertVote), 10_000)),
                ("evidence", ListOf(Nested(DuplicateVoteEvidence), MAX_CERT_EVIDENCE)))


@dataclass(frozen=True, slots=True)
class EvidenceMsg(Record):
    """Gossip of one piece of duplicate-vote evidence: a node that detects an equivocation
    broadcasts it, so validators that received only one of the two votes learn it too."""
    evidence: DuplicateVoteEvidence
    COMMAND = b"tbft.evidence"
    ENCODING = (("evidence", Nested(DuplicateVoteEvidence)),)


register_messages(Proposal, Prevote, Precommit, SyncRequest, Decision, EvidenceMsg)


def _power(weights: Mapping[str, int] | None, validators: Mapping[str, bytes], who: str) -> int:
    return 1 if weights is None else int(weights.get(who, 0))


def verify_commit_certificate(suite, validators_pubkeys: Mapping[str, bytes], height: int,
                              value_hash: bytes, cert: bytes | CommitCertificate, *,
                              weights: Mapping[str, int] | None = None,
                              chain_id: str = "") -> CommitCertificate:
    """The decoded certificate if it proves ``value_hash`` final at ``height``; otherwise
    :class:`CertificateError` naming the first problem. Needs only the validators' public
    keys (and weights, default 1 each): a light client can run it."""
    if not isinstance(cert, CommitCertificate):
        try:
            cert = CommitCertificate.from_bytes(cert)
        except (ConsensusError, ValueError) as exc:
            raise CertificateError(f"the commit certificate cannot be decoded: {exc}", cert) from None
    if cert.height != height:
        raise CertificateError(f"the certificate is for height {cert.height}, not {height}", cert)
    if cert.value_hash != value_hash:
        raise CertificateError(f"the certificate is for value {cert.value_hash.hex()[:16]}..., not "
                               f"{value_hash.hex()[:16]}...", cert)
    total = sum(_power(weights, validators_pubkeys, v) for v in validators_pubkeys)
    seen: set[str] = set()
    power = 0
    sign_bytes = vote_sign_bytes(chain_id, PRECOMMIT, height, cert.round, value_hash)
    for vote in cert.votes:
        who = vote.validator.decode("utf-8", "replace")
        if who not in validators_pubkeys:
            raise CertificateError(f"the certificate counts a vote of {who!r}, who is not a validator", cert)
        if who in seen:
            raise CertificateError(f"the certificate counts {who}'s vote twice", cert)
        seen.add(who)
        try:
            good = suite.verify(validators_pubkeys[who], sign_bytes, vote.signature)
        except (ConsensusError, ValueError):
            good = False
        if not good:
            raise CertificateError(f"{who}'s precommit signature in the certificate is invalid "
                                   f"(height {height}, round {cert.round})", cert)
        power += _power(weights, validators_pubkeys, who)
    if 3 * power <= 2 * total:
        raise CertificateError(f"the certificate holds {power} of {total} voting power, not more "
                               f"than two thirds", cert)
    for evidence in cert.evidence:
        if evidence.height > height:
            raise CertificateError(f"the certificate of height {height} records evidence of height "
                                   f"{evidence.height}, which was not reached yet", cert)
        try:
            verify_evidence(suite, validators_pubkeys, evidence, chain_id=chain_id)
        except EvidenceError as exc:
            raise CertificateError(f"the certificate records bad evidence: {exc}", cert) from None
    if len({e.key for e in cert.evidence}) != len(cert.evidence):
        raise CertificateError("the certificate records one offence twice", cert)
    return cert


def verify_evidence(suite, validators_pubkeys: Mapping[str, bytes],
                    evidence: bytes | DuplicateVoteEvidence, *, chain_id: str = "") -> DuplicateVoteEvidence:
    """The decoded evidence if both signatures are the validator's and the values differ;
    otherwise :class:`EvidenceError`."""
    if not isinstance(evidence, DuplicateVoteEvidence):
        try:
            evidence = DuplicateVoteEvidence.from_bytes(evidence)
        except (ConsensusError, ValueError) as exc:
            raise EvidenceError(f"the evidence cannot be decoded: {exc}", evidence) from None
    who = evidence.validator.decode("utf-8", "replace")
    if who not in validators_pubkeys:
        raise EvidenceError(f"the evidence accuses {who!r}, who is not a validator", evidence)
    if evidence.step not in VOTE_TYPES:
        raise EvidenceError(f"the evidence names step {evidence.step}, not a prevote or precommit", evidence)
    if evidence.value_hash_a == evidence.value_hash_b:
        raise EvidenceError("both votes of the evidence are for the same value: no equivocation", evidence)
    for value_hash, signature in ((evidence.value_hash_a, evidence.signature_a),
                                  (evidence.value_hash_b, evidence.signature_b)):
        message = vote_sign_bytes(chain_id, evidence.step, evidence.height, evidence.round, value_hash)
        try:
            good = suite.verify(validators_pubkeys[who], message, signature)
        except (ConsensusError, ValueError):
            good = False
        if not good:
            raise EvidenceError(f"a signature in the evidence against {who} is not {who}'s", evidence)
    return evidence
