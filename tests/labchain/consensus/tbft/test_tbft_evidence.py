"""Equivocation evidence in the simulator, the twin of the real-process run in
tests/labchain/node/test_node_byzantine.py (the same schedule: node1 double-votes): every
correct validator ends with evidence naming node1 (also those that got only one of its two
votes: the evidence gossip), one entry per offence, recorded in commit certificates that verify;
a certificate carrying forged evidence is refused, and forged gossip is reported, not pooled."""
from __future__ import annotations

import dataclasses

import pytest

from labchain.consensus.engine import Misbehaviour
from labchain.consensus.faults import ByzantineEngine, FaultSchedule
from labchain.consensus.tbft import (
    CertificateError, CommitCertificate, EvidenceMsg, make_keys, verify_commit_certificate,
)
from simkit import SIGNED, SUITE, tbft_sim

IDS = ("node0", "node1", "node2", "node3")
SCHEDULE = FaultSchedule.from_json('{"byzantine": {"node1": "double_vote"}}')
HONEST = ("node0", "node2", "node3")


def _run(targets=None):
    sim = tbft_sim(IDS, SCHEDULE, seed=3, config=SIGNED, bound=60.0)
    if targets is not None:                       # the real test's --targets node3
        sim.engines["node1"].targets = frozenset(targets)
    sim.run(stop=lambda s: min(s.heights()[v] for v in HONEST) >= 4)
    return sim


@pytest.fixture(scope="module")
def towards_node3():
    return _run(targets=["node3"])


def test_every_correct_validator_holds_evidence_against_the_double_voter(towards_node3):
    sim = towards_node3
    assert isinstance(sim.engines["node1"], ByzantineEngine)
    for v in HONEST:
        pool = sim.engines[v].evidence
        assert pool and {e.validator for e in pool} == {b"node1"}
        assert len({e.key for e in pool}) == len(pool)               # de-duplicated
    direct = [(node, m) for node, m in sim.misbehaviour if m.evidence]
    assert direct and {node for node, _ in direct} == {"node3"}     # only node3 saw both votes


def test_certificates_record_the_evidence_and_verify(towards_node3):
    sim = towards_node3
    _, _, public = make_keys(IDS, SUITE)
    recorded = set()
    for v in HONEST:
        for c in sim.commits[v]:
            cert = verify_commit_certificate(SUITE, public, c.height, SUITE.hash(c.value), c.certificate)
            recorded.update(e.key for e in cert.evidence)
    assert recorded and all(key[0] == b"node1" for key in recorded)
    heights = {c.height: c.value for v in HONEST for c in sim.commits[v]}
    for v in HONEST:                                                 # no fork
        assert all(heights[c.height] == c.value for c in sim.commits[v])


def test_a_certificate_with_forged_evidence_is_refused(towards_node3):
    sim = towards_node3
    _, _, public = make_keys(IDS, SUITE)
    commit = next(c for c in sim.commits["node3"] if CommitCertificate.from_bytes(c.certificate).evidence)
    cert = CommitCertificate.from_bytes(commit.certificate)
    bad = dataclasses.replace(cert.evidence[0], signature_a=cert.evidence[0].signature_b)
    forged = dataclasses.replace(cert, evidence=(bad,) + cert.evidence[1:])
    with pytest.raises(CertificateError, match="records bad evidence: a signature in the evidence "
                                               "against node1 is not node1's"):
        verify_commit_certificate(SUITE, public, commit.height, SUITE.hash(commit.value), forged.to_bytes())
    twice = dataclasses.replace(cert, evidence=(cert.evidence[0], cert.evidence[0]))
    with pytest.raises(CertificateError, match="one offence twice"):
        verify_commit_certificate(SUITE, public, commit.height, SUITE.hash(commit.value), twice.to_bytes())


def test_forged_gossip_is_reported_with_the_reason_and_not_pooled(towards_node3):
    engine = towards_node3.engines["node0"]
    genuine = engine.evidence[0]
    framed = dataclasses.replace(genuine, validator=b"node2")
    pool, rejected = len(engine.evidence), engine.rejected_evidence
    out = engine.on_message("node3", EvidenceMsg(framed), 100.0)
    assert [type(o) for o in out] == [Misbehaviour] and out[0].peer == "node3"
    assert "proves nothing" in out[0].reason and "not node2's" in out[0].reason
    assert (len(engine.evidence), engine.rejected_evidence) == (pool, rejected + 1)
    assert engine.on_message("node3", EvidenceMsg(genuine), 100.0) == []   # known: no re-gossip


def test_the_same_schedule_reproduces_the_same_evidence_from_its_seed():
    first, second = _run(), _run()
    assert [e.to_bytes() for e in first.engines["node2"].evidence] == \
        [e.to_bytes() for e in second.engines["node2"].evidence]
    assert first.engines["node2"].evidence
