"""PBFT wire messages: canonical round trips of every type a real run sends, signatures that
bind every signed field, new-view proof checks, and fuzzing: malformed, stale, wrong-view and
forged messages never raise out of the engine and never make it commit."""
from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pbftkit import make_engines, make_sim, nodes

from labchain.consensus.engine import (
    Broadcast, ConsensusError, Misbehaviour, decode_engine_message, encode_engine_message,
)
from labchain.consensus.pbft import (
    CatchUp, Checkpoint, CommitVote, Fetch, NewView, PrePrepare, Prepare, ViewChange,
)
from labchain.consensus.pbft.messages import MESSAGES


@pytest.fixture(scope="module")
def eventful_run():
    """A run with a view change, a lagging node's catch-up and checkpoints: every type."""
    sim = make_sim(4, seed=21, checkpoint_period=5)
    sim.at(0.1, lambda s: s.crash("node3"))
    sim.at(0.3, lambda s: s.crash("node0"))
    sim.at(0.4, lambda s: s.recover("node3"))
    return sim.run(until=2.0)


def test_every_message_type_round_trips_bytes_and_json(eventful_run):
    seen = {}
    for d in eventful_run.deliveries:
        seen.setdefault(type(d.message), d.message)
    assert set(seen) == set(MESSAGES)
    for cls, message in seen.items():
        assert cls.from_bytes(message.to_bytes()) == message
        assert cls.from_json(message.to_json()) == message
        assert decode_engine_message(encode_engine_message(message)) == message


def test_signature_covers_every_signed_field():
    engine = make_engines(4)["node0"]
    vote = engine._sign(Prepare(3, 7, bytes(range(32)), 0))
    assert engine._verify(vote, 0)
    for changed in (replace(vote, view=4), replace(vote, seq=8), replace(vote, digest=bytes(32)),
                    replace(vote, replica=1)):
        assert not engine._verify(changed, 0)
    assert not engine._verify(vote, 1)                       # another replica's key
    other_chain = make_engines(4, domain=b"otherchain")["node1"]
    assert not other_chain._verify(vote, 0)                  # signatures bind to the domain


def view_changes_for(engines, view=1):
    """Every replica's VIEW-CHANGE to ``view`` after its timer fires."""
    out = {}
    for name, engine in engines.items():
        engine.start(0.0)
        for o in engine.on_timer("pbft.view", 1.0):
            if isinstance(o, Broadcast) and isinstance(o.message, ViewChange):
                out[name] = o.message
    return out


def test_backups_refuse_a_new_view_whose_proof_or_o_set_is_wrong():
    engines = make_engines(4)
    vcs = view_changes_for(engines)
    primary = engines["node1"]                              # primary of view 1
    outs = primary.on_message("node2", vcs["node2"], 1.1) + primary.on_message("node3", vcs["node3"], 1.1)
    new_view = [o.message for o in outs if isinstance(o, Broadcast) and isinstance(o.message, NewView)][0]
    assert len(new_view.view_changes) == 3 and primary.active

    backup = engines["node2"]
    forged_o = primary._sign(replace(new_view, pre_prepares=(
        primary._sign(PrePrepare(1, 1, backup.digest(b"block 1|x"), b"block 1|x", 1)),)))
    short = primary._sign(replace(new_view, view_changes=new_view.view_changes[:2]))
    for bad, reason in ((forged_o, "do not follow"), (short, "distinct view-changes")):
        out = backup.on_message("node1", bad, 1.2)
        assert [o for o in out if isinstance(o, Misbehaviour) and reason in o.reason]
        assert not backup.active and backup.view == 1
    backup.on_message("node1", new_view, 1.3)
    assert backup.active and backup.view == 1


def test_new_view_from_a_replica_that_is_not_the_primary_is_refused():
    engines = make_engines(4)
    vcs = view_changes_for(engines)
    fake = engines["node3"]._sign(NewView(1, tuple(vcs.values())[:3], (), 3))
    out = engines["node2"].on_message("node3", fake, 1.2)
    assert [o for o in out if isinstance(o, Misbehaviour)] and not engines["node2"].active


def test_stale_and_wrong_view_messages_change_nothing(eventful_run):
    engine = eventful_run.engines["node1"]
    before = engine.status()
    old = [d.message for d in eventful_run.deliveries[:400] if d.receiver == "node1"]
    for d_message in old:
        sender = nodes(4)[d_message.replica]
        out = engine.on_message(sender, d_message, eventful_run.now)
        assert not any(type(o).__name__ == "Commit" for o in out)
    assert engine.status()["last_committed"] == before["last_committed"]
    assert engine.status()["view"] == before["view"]


def test_message_naming_another_replica_is_reported():
    engine = make_engines(4)["node1"]
    forged = make_engines(4)["node2"]._sign(Prepare(0, 1, bytes(32), 2))
    out = engine.on_message("node3", forged, 0.0)
    assert len(out) == 1 and isinstance(out[0], Misbehaviour) and "came from replica 3" in out[0].reason
    assert engine.on_message("outsider", forged, 0.0)[0].peer == "outsider"


def test_undecodable_bytes_raise_a_consensus_error_not_a_crash():
    with pytest.raises(ConsensusError):
        decode_engine_message(encode_engine_message(Fetch(1, 0, 0))[:-1])


digests = st.binary(min_size=32, max_size=32)
sigs = st.binary(min_size=64, max_size=64)
small = st.integers(0, 40)
replicas = st.integers(0, 6)
fuzz_messages = st.one_of(
    st.builds(PrePrepare, small, small, digests, st.binary(max_size=40), replicas, sigs),
    st.builds(Prepare, small, small, digests, replicas, sigs),
    st.builds(CommitVote, small, small, digests, replicas, sigs),
    st.builds(Checkpoint, small, digests, replicas, sigs),
    st.builds(ViewChange, small, small, st.just(()), st.just(()), replicas, sigs),
    st.builds(NewView, small, st.just(()), st.just(()), replicas, sigs),
    st.builds(Fetch, small, small, replicas),
    st.builds(CatchUp, st.just(()), st.just(()), st.just(()), replicas),
)


@pytest.fixture(scope="module")
def running_engine():
    sim = make_sim(4, seed=22)
    sim.run(until=0.2)
    return sim


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(message=fuzz_messages, sender=st.sampled_from(nodes(4)), flips=st.lists(st.integers(0, 10_000), max_size=3))
def test_fuzzed_messages_never_raise_or_commit(running_engine, message, sender, flips):
    engine = running_engine.engines["node1"]
    committed = engine.last_executed
    wire = bytearray(encode_engine_message(message))
    for flip in flips:   # mutate the encoded bytes: most no longer decode, some decode differently
        wire[flip % len(wire)] ^= 0x5A
    try:
        decoded = decode_engine_message(bytes(wire))
    except ConsensusError:
        return
    out = engine.on_message(sender, decoded, running_engine.now)   # must not raise
    assert not any(type(o).__name__ == "Commit" for o in out)
    assert engine.last_executed == committed
    engine.status()
