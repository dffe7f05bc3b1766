"""Governance transactions as records and their replay (labchain/identity/onchain.py): the same
records in the same order give the same state; refusals keep the state and say why."""
from __future__ import annotations

import datetime as dt

import pytest

from identitykit import NOW
from labchain.identity.governance import ConfigChange, ConfigUpdate
from labchain.identity.errors import PolicyError
from labchain.identity.members import CERTS_FREEZE, CERTS_UNFREEZE, MemberOp
from labchain.identity.onchain import DATA_PREFIX, GovernanceError, GovernanceState, GovernanceTx
from labchain.identity.policy import endorse

BLOCK = "CHAIN_CONFIG-BLOCK_UPDATE"
LATER = NOW + dt.timedelta(days=1)


def endorsed(consortium, gtx: GovernanceTx, *orgs, name="admin1") -> GovernanceTx:
    message = gtx.signing_bytes()
    return gtx.endorsed(*(endorse(message, consortium.org(o).member(name).key,
                                  consortium.org(o).member(name).certificate) for o in orgs))


def update(sequence=1, interval="500") -> GovernanceTx:
    return GovernanceTx.of(ConfigUpdate("c1", sequence, (ConfigChange(BLOCK, "block.block_interval", interval),)))


def freeze(consortium, member="consensus1", org="org2", kind=CERTS_FREEZE, sequence=1) -> GovernanceTx:
    return GovernanceTx.of(MemberOp(kind, org, consortium.org(org).member(member).certificate.der,
                                    sequence=sequence))


def test_a_governance_record_round_trips_through_transaction_data(consortium):
    gtx = endorsed(consortium, update(), "org1", "org2")
    data = gtx.to_data()
    assert data.startswith(DATA_PREFIX)
    assert GovernanceTx.from_data(data) == gtx
    assert GovernanceTx.from_data(b"a plain transfer's data") is None
    with pytest.raises(GovernanceError, match="malformed governance transaction"):
        GovernanceTx.from_data(DATA_PREFIX + b"\x07garbage")
    with pytest.raises(GovernanceError, match="unknown governance kind 9"):
        GovernanceTx(9, b"").action()


def test_an_endorsed_update_moves_the_sequence_and_an_underendorsed_one_is_recorded_with_its_trace(
        consortium, members):
    state = GovernanceState.genesis("c1", members)
    short = endorsed(consortium, update(), "org1")
    after = state.apply(short, 5, "aa", LATER)
    assert after.config.sequence == 0 and after.config == state.config
    outcome = after.history[-1]
    assert not outcome.accepted and outcome.height == 5
    assert "majority (3) of 4 orgs" in outcome.reason and "missing org2, org3, org4" in outcome.reason
    good = endorsed(consortium, update(), "org1", "org2", "org3")
    after = after.apply(good, 6, "bb", LATER)
    assert after.config.sequence == 1 and after.config.value("block.block_interval") == "500"
    assert after.history[-1].accepted and after.history[-1].sequence == 1
    # the same record again is stale now: rejected, nothing changes
    again = after.apply(good, 7, "cc", LATER)
    assert again.config == after.config and "stale or replayed" in again.history[-1].reason


def test_check_returns_the_traces_of_an_acceptable_record_and_raises_for_a_short_one(consortium, members):
    state = GovernanceState.genesis("c1", members)
    [trace] = state.check(endorsed(consortium, update(), "org1", "org2", "org4"), LATER)
    assert trace.satisfied and trace.counted_orgs == ("org1", "org2", "org4")
    [trace] = state.traces(endorsed(consortium, update(), "org3", name="client1"), LATER)
    assert not trace.satisfied and "wrong role client" in trace.explain()
    with pytest.raises(PolicyError, match="missing"):
        state.check(endorsed(consortium, update(), "org3"), LATER)


def test_a_member_operation_applies_once_and_its_replay_is_refused(consortium, members):
    state = GovernanceState.genesis("c1", members)
    op = endorsed(consortium, freeze(consortium), "org1")
    frozen = state.apply(op, 3, "aa", LATER)
    cert = consortium.org("org2").member("consensus1").certificate
    assert frozen.members.frozen == (cert.fingerprint,) and frozen.config.sequence == 0
    assert frozen.member_sequence == 1
    thawed = frozen.apply(endorsed(consortium, freeze(consortium, kind=CERTS_UNFREEZE, sequence=2), "org3"),
                          4, "bb", LATER)
    assert thawed.members.frozen == () and thawed.member_sequence == 2
    replay = thawed.apply(op, 5, "cc", LATER)          # the endorsed freeze, sent again after the unfreeze
    assert replay.members.frozen == () and replay.member_sequence == 2
    assert "member sequence 1 but the chain's next is 3: a stale or replayed" in replay.history[-1].reason
    future = thawed.apply(endorsed(consortium, freeze(consortium, sequence=9), "org1"), 5, "dd", LATER)
    assert future.members.frozen == () and "from the future" in future.history[-1].reason


def test_the_same_freeze_proposed_again_after_an_unfreeze_applies(consortium, members):
    """Freeze, unfreeze, freeze the same certificate again: the third is a new proposal (the
    next member sequence), not a replay. Before member sequences every node refused it forever
    as 'already applied' (the record's digest was the same)."""
    state = GovernanceState.genesis("c1", members)
    cert = consortium.org("org2").member("consensus1").certificate
    state = state.apply(endorsed(consortium, freeze(consortium), "org1"), 3, "aa", LATER)
    state = state.apply(endorsed(consortium, freeze(consortium, kind=CERTS_UNFREEZE, sequence=2), "org1"),
                        4, "bb", LATER)
    again = state.apply(endorsed(consortium, freeze(consortium, sequence=3), "org1"), 5, "cc", LATER)
    assert again.history[-1].accepted, again.history[-1].reason
    assert again.members.frozen == (cert.fingerprint,) and again.member_sequence == 3


def test_certificates_are_checked_at_the_block_time_so_every_node_agrees(consortium, members):
    """The block's timestamp, not a node's clock: after the certificates expire the same
    record is refused on every node alike."""
    state = GovernanceState.genesis("c1", members)
    gtx = endorsed(consortium, update(), "org1", "org2", "org3")
    assert state.apply(gtx, 1, "aa", LATER).config.sequence == 1
    late = state.apply(gtx, 1, "aa", NOW + dt.timedelta(days=400))
    assert late.config.sequence == 0 and "expired certificate" in late.history[-1].reason


def test_undecodable_governance_data_is_recorded_as_rejected(members):
    state = GovernanceState.genesis("c1", members).apply(None, 2, "dd", LATER, "malformed governance transaction: x")
    assert state.history[-1].to_json() == {"height": 2, "txid": "dd", "kind": "?", "accepted": False,
                                           "description": "undecodable governance data", "sequence": 0,
                                           "reason": "malformed governance transaction: x"}


def test_a_replayed_member_operation_reads_in_chinese(consortium, members, monkeypatch):
    state = GovernanceState.genesis("c1", members)
    op = endorsed(consortium, freeze(consortium), "org1")
    replay = state.apply(op, 3, "aa", LATER).apply(op, 4, "bb", LATER)
    monkeypatch.setenv("LABCHAIN_LANG", "zh-CN")
    with pytest.raises(GovernanceError) as info:
        state.apply(op, 3, "aa", LATER).check(op, LATER)
    assert "过期或重放" in str(info.value) and "org2" in str(info.value)
    assert not replay.history[-1].accepted


def test_garbled_governance_data_never_breaks_the_replay(consortium, members):
    """What a block may carry after the prefix: random bytes and single-byte mutations of a valid
    record. The replay records each as accepted or rejected and never raises."""
    import random

    rng = random.Random(12)
    state = GovernanceState.genesis("c1", members)
    good = endorsed(consortium, freeze(consortium), "org1").to_data()
    samples = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80))) for _ in range(150)]
    for _ in range(350):
        raw = bytearray(good)
        raw[rng.randrange(len(DATA_PREFIX), len(raw))] = rng.randrange(256)
        samples.append(bytes(raw))
    for i, sample in enumerate(samples):
        data = sample if sample.startswith(DATA_PREFIX) else DATA_PREFIX + sample
        try:
            gtx, error = GovernanceTx.from_data(data), ""
        except GovernanceError as exc:
            gtx, error = None, str(exc)
        after = state.apply(gtx, i + 1, f"{i:x}", LATER, error)
        assert len(after.history) == 1
        assert after.history[0].accepted == (after.members != state.members)
