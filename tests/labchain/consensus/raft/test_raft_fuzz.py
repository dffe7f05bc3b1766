"""Fuzzing the Raft engine: random bytes on the wire, and random well-typed but wrong messages
(any term, index, vote, entry) from validators, delivered into a running 3-node network.
Nothing may escape the engine as an exception (the simulator re-raises anything an engine or
the wire encoding throws), and afterwards the network must still commit a new command on every
node (liveness kept). ``RAFT_FUZZ_EXAMPLES=10000`` runs the issue's 10,000 examples (~minutes);
the default is lighter, and lighter again under ``CI``."""
from __future__ import annotations

import copy
import os

from hypothesis import HealthCheck, given, settings, strategies as st

from labchain.consensus.engine import ConsensusError, EngineEnvelope, decode_engine_message
from labchain.consensus.raft import (
    AppendEntries, AppendReply, Batch, Entry, Forward, RaftEngine, RequestVote, VoteReply,
    batch_commands, command_digest,
)
from labchain.consensus.raft.messages import MESSAGES
from labchain.core.encoding import Record
from raftkit import Load, make_sim, names

EXAMPLES = int(os.environ.get("RAFT_FUZZ_EXAMPLES", "100" if os.environ.get("CI") else "200"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

u64 = st.one_of(st.integers(0, 12), st.integers(0, 2 ** 64 - 1))
u8 = st.integers(0, 255)
command = st.binary(max_size=24)
entry_data = st.one_of(st.binary(max_size=40),
                       st.lists(command, max_size=3).map(lambda c: Batch(tuple(c)).to_bytes()))
entry = st.builds(Entry, u64, entry_data)
message = st.one_of(
    st.builds(RequestVote, u64, u64, u64),
    st.builds(VoteReply, u64, u8),
    st.builds(AppendEntries, u64, u64, u64, st.lists(entry, max_size=4).map(tuple), u64),
    st.builds(AppendReply, u64, u8, u64, u64, u64),
    st.builds(Forward, st.lists(command, max_size=3).map(tuple)),
)
NODES = names(3)
injection = st.tuples(st.sampled_from(NODES), st.sampled_from(NODES), message)


def _warm_network():
    sim, _ = make_sim(3, seed=77)
    sim.checkers.clear()             # forged messages may break safety: Raft trusts its peers
    load = Load(sim, seed=77)
    load.steady(start=0.2, stop=2.5, rate=100)
    sim.run(until=3.0)
    assert sim.commits["n1"], "the warm-up network committed nothing"
    return sim


WARM = _warm_network()


@SETTINGS
@given(st.lists(injection, min_size=1, max_size=8))
def test_wrong_messages_from_validators_never_raise_and_liveness_is_kept(injections):
    sim = copy.deepcopy(WARM)
    for i, (sender, receiver, msg) in enumerate(injections):
        if sender != receiver:
            sim.inject(sender, receiver, msg, at=sim.now + 0.001 * i)
    probe = b"probe-after-fuzz"
    sim.submit("n2", probe, at=sim.now + 0.01 * len(injections))

    digest = command_digest(probe)

    def committed_everywhere(s):      # cheap test per event; the commit log is checked below
        return all(s.engines[v].in_log.get(digest, 10 ** 18) <= s.engines[v].last_applied
                   for v in NODES)
    sim.run(until=sim.now + 60.0, stop=committed_everywhere)
    for v in NODES:
        assert any(probe in batch_commands(c.value) for c in sim.commits[v][-20:]), \
            {v: sim.engines[v].status() for v in NODES}


@SETTINGS
@given(st.binary(max_size=200), st.sampled_from([m.COMMAND for m in MESSAGES] + [b"raft.nope"]))
def test_random_bytes_decode_to_a_record_or_a_consensus_error_and_never_crash_the_engine(body, command):
    engine = copy.deepcopy(WARM.engines["n1"])
    for wire in (body, EngineEnvelope(command, body).to_bytes()):
        try:
            msg = decode_engine_message(wire)
        except ConsensusError:
            continue
        assert isinstance(msg, Record)
        outputs = engine.on_message("n2", msg, WARM.now + 0.01)
        assert isinstance(outputs, list)


def test_messages_from_outsiders_and_impossible_terms_are_misbehaviour_not_errors():
    engine = RaftEngine("n1", NODES)
    engine.start(0.0)
    out = engine.on_message("mallory", RequestVote(1, 0, 0), 0.1)
    assert [type(o).__name__ for o in out] == ["Misbehaviour"] and "not a Raft validator" in out[0].reason
    out = engine.on_message("n2", AppendEntries(2 ** 64 - 1, 0, 0, (), 0), 0.1)
    assert [type(o).__name__ for o in out] == ["Misbehaviour"] and engine.term == 0
    out = engine.on_message("n2", AppendEntries(3, 0, 0, (Entry(5, b""),), 0), 0.1)
    assert any(type(o).__name__ == "Misbehaviour" for o in out) and engine.last_index == 0
