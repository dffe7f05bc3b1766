"""TBFT records round-trip, commit certificates verify (and tampered ones fail with a clear
error), duplicate-vote evidence verifies."""
from __future__ import annotations

import dataclasses

import pytest

import labchain.crypto.sm  # noqa: F401  (registers sm2-sm3)
from labchain.consensus.engine import decode_engine_message, encode_engine_message
from labchain.consensus.faults import FaultSchedule
from labchain.consensus.tbft import (
    CertificateError, CommitCertificate, Decision, DuplicateVoteEvidence, EvidenceError,
    Precommit, Prevote, Proposal, SyncRequest, make_keys, verify_commit_certificate,
    verify_evidence,
)
from labchain.consensus.tbft.messages import CertVote
from labchain.crypto.suite import get_suite
from simkit import SIGNED, tbft_sim

RECORDS = [
    Proposal(3, 1, 1, b"block 3 by v1", b"v1", b"\x01" * 64, (CertVote(b"v2", b"\x02" * 64),)),
    Prevote(3, 1, b"\x07" * 32, b"v2", b"\x03" * 64),
    Precommit(3, 1, b"", b"v2", b"\x03" * 64),
    SyncRequest(9),
    Decision(4, b"block 4", b"cert"),
    CommitCertificate(4, 0, b"\x05" * 32, (CertVote(b"v0", b"s" * 64),)),
    DuplicateVoteEvidence(b"v1", 1, 2, 0, b"\x01" * 32, b"a" * 64, b"", b"b" * 64),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_records_round_trip_bytes_and_json(record):
    assert type(record).from_bytes(record.to_bytes()) == record
    assert type(record).from_json(record.to_json()) == record


@pytest.mark.parametrize("record", RECORDS[:5], ids=lambda r: type(r).__name__)
def test_messages_travel_in_the_engine_envelope(record):
    assert decode_engine_message(encode_engine_message(record)) == record


@pytest.fixture(scope="module", params=["p256-sha256", "sm2-sm3"])
def signed_run(request):
    suite = get_suite(request.param)
    sim = tbft_sim(4, seed=5, config=SIGNED, suite=suite)
    sim.run(stop=lambda s: min(s.heights().values()) >= 3)
    _, _, public = make_keys(4, suite)
    return suite, public, sim


def test_every_commit_carries_a_certificate_any_light_client_verifies(signed_run):
    suite, public, sim = signed_run
    for node, commits in sim.commits.items():
        for c in commits:
            cert = verify_commit_certificate(suite, public, c.height, suite.hash(c.value), c.certificate)
            assert 3 * len(cert.votes) > 2 * 4


def _cert(signed_run):
    suite, public, sim = signed_run
    c = sim.commits["v0"][1]
    return suite, public, c, CommitCertificate.from_bytes(c.certificate)


def test_a_tampered_signature_fails_naming_the_validator(signed_run):
    suite, public, c, cert = _cert(signed_run)
    vote = cert.votes[0]
    bad = bytes([vote.signature[0] ^ 1]) + vote.signature[1:]
    tampered = dataclasses.replace(cert, votes=(CertVote(vote.validator, bad),) + cert.votes[1:])
    with pytest.raises(CertificateError, match=f"{vote.validator.decode()}'s precommit signature"):
        verify_commit_certificate(suite, public, c.height, suite.hash(c.value), tampered.to_bytes())


def test_a_certificate_for_another_value_or_height_fails(signed_run):
    suite, public, c, cert = _cert(signed_run)
    with pytest.raises(CertificateError, match="not"):
        verify_commit_certificate(suite, public, c.height, suite.hash(b"other"), c.certificate)
    with pytest.raises(CertificateError, match=f"height {c.height}, not {c.height + 1}"):
        verify_commit_certificate(suite, public, c.height + 1, suite.hash(c.value), c.certificate)
    moved = dataclasses.replace(cert, round=cert.round + 1)   # signatures were for another round
    with pytest.raises(CertificateError, match="signature"):
        verify_commit_certificate(suite, public, c.height, suite.hash(c.value), moved)


def test_too_few_or_repeated_or_foreign_votes_fail(signed_run):
    suite, public, c, cert = _cert(signed_run)
    value_hash = suite.hash(c.value)
    short = dataclasses.replace(cert, votes=cert.votes[:2])
    with pytest.raises(CertificateError, match="2 of 4 voting power, not more than two thirds"):
        verify_commit_certificate(suite, public, c.height, value_hash, short)
    twice = dataclasses.replace(cert, votes=cert.votes[:2] + cert.votes[:1])
    with pytest.raises(CertificateError, match="twice"):
        verify_commit_certificate(suite, public, c.height, value_hash, twice)
    foreign = dataclasses.replace(cert, votes=(CertVote(b"mallory", b"x" * 64),) + cert.votes)
    with pytest.raises(CertificateError, match="'mallory', who is not a validator"):
        verify_commit_certificate(suite, public, c.height, value_hash, foreign)
    with pytest.raises(CertificateError, match="cannot be decoded"):
        verify_commit_certificate(suite, public, c.height, value_hash, b"\x00garbage")


def test_weights_decide_what_a_quorum_is(signed_run):
    suite, public, c, cert = _cert(signed_run)
    two = dataclasses.replace(cert, votes=cert.votes[:2])
    holders = {v.validator.decode() for v in two.votes}
    heavy = {v: (3 if v in holders else 1) for v in public}          # 6 of 8 > 2/3
    verify_commit_certificate(suite, public, c.height, suite.hash(c.value), two, weights=heavy)
    light = {v: (1 if v in holders else 3) for v in public}          # 2 of 8
    with pytest.raises(CertificateError, match="2 of 8"):
        verify_commit_certificate(suite, public, c.height, suite.hash(c.value), two, weights=light)


def test_a_double_voter_is_caught_with_evidence_that_verifies():
    suite = get_suite("p256-sha256")
    sim = tbft_sim(4, FaultSchedule(byzantine=(("v1", "double_vote"),)), seed=2, config=SIGNED)
    sim.run(stop=lambda s: min(s.heights().values()) >= 2)
    _, _, public = make_keys(4, suite)
    found = [(node, m) for node, m in sim.misbehaviour if m.evidence]
    assert found and all(m.peer == "v1" for _, m in found)
    evidence = verify_evidence(suite, public, found[0][1].evidence)
    assert evidence.validator == b"v1" and evidence.value_hash_a != evidence.value_hash_b
    forged = dataclasses.replace(evidence, value_hash_b=evidence.value_hash_a[::-1] or b"\x01" * 32)
    with pytest.raises(EvidenceError, match="not v1's"):
        verify_evidence(suite, public, forged.to_bytes())
    same = dataclasses.replace(evidence, value_hash_b=evidence.value_hash_a,
                               signature_b=evidence.signature_a)
    with pytest.raises(EvidenceError, match="same value"):
        verify_evidence(suite, public, same)
    with pytest.raises(EvidenceError, match="cannot be decoded"):
        verify_evidence(suite, public, b"\x01")
