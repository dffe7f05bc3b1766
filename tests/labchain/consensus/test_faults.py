"""Fault schedules are data (JSON round trip, clear errors), per-student schedules differ and
stay within f, and each Byzantine wrapper rewrites the engine's outputs as documented."""
from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings, strategies as st

from labchain.consensus.engine import Broadcast, Send, max_faulty
from labchain.consensus.faults import (
    BEHAVIOURS, ByzantineEngine, Collusion, FaultAction, FaultError, FaultSchedule, LinkRule,
    sample_delay, schedule_for_student,
)
from labchain.consensus.sim import SimApp
from labchain.consensus.tbft import Precommit, Prevote, Proposal, build_engines
from simkit import FAST, SUITE

NODES = st.lists(st.sampled_from(["v0", "v1", "v2", "v3"]), unique=True, min_size=1, max_size=3).map(tuple)
T = st.floats(0, 100, allow_nan=False).map(lambda t: round(t, 3))
ACTIONS = st.one_of(
    st.builds(FaultAction, T, st.sampled_from(["crash", "recover", "pause", "resume"]), NODES),
    st.builds(lambda at: FaultAction(at, "heal"), T),
    st.builds(lambda at: FaultAction(at, "partition", groups=(("v0", "v1"), ("v2", "v3"))), T),
    st.builds(lambda at, c, p, d: FaultAction(at, "delay", commands=c, probability=p, delay=d, until=at + 1),
              T, st.lists(st.sampled_from(["tbft.prevote", "pbft.prepare"]), unique=True).map(tuple),
              st.sampled_from([0.5, 1.0]),
              st.sampled_from([("fixed", 0.1), ("uniform", 0.0, 0.2), ("exponential", 0.05)])),
    st.builds(lambda at: FaultAction(at, "drop", commands=("tbft.precommit",), probability=0.5), T),
    st.builds(lambda at: FaultAction(at, "reorder", delay=(0.02,), until=at + 2), T),
)


@settings(max_examples=60)
@given(st.lists(ACTIONS, max_size=6), st.lists(st.tuples(st.sampled_from(["v1", "v2"]),
                                                         st.sampled_from(BEHAVIOURS)),
                                               unique_by=lambda x: x[0], max_size=2))
def test_a_schedule_survives_json_unchanged(actions, byzantine):
    schedule = FaultSchedule(tuple(actions), tuple(byzantine))
    text = schedule.dumps()
    assert FaultSchedule.from_json(text) == schedule
    assert FaultSchedule.from_json(json.loads(text)) == schedule


@pytest.mark.parametrize("bad, message", [
    ({"at": 1, "action": "explode"}, "unknown action"),
    ({"at": -1, "action": "heal"}, "non-negative"),
    ({"at": 1, "action": "crash"}, "name the node"),
    ({"at": 1, "action": "partition", "groups": [["v0"]]}, "two groups"),
    ({"at": 1, "action": "delay", "delay": ["gaussian", 1]}, "delay must be"),
    ({"at": 1, "action": "delay", "delay": ["fixed", -1]}, "non-negative"),
    ({"at": 1, "action": "drop", "probability": 2}, "probability"),
    ({"at": 5, "action": "drop", "until": 1}, "before the start"),
    ({"at": 1, "action": "heal", "colour": "red"}, "unknown key"),
])
def test_a_bad_action_is_refused_naming_the_problem(bad, message):
    with pytest.raises(FaultError, match=message):
        FaultSchedule.from_json({"actions": [bad]})


def test_bad_schedules_are_refused():
    with pytest.raises(FaultError, match="must be JSON"):
        FaultSchedule.from_json("{nope")
    with pytest.raises(FaultError, match="'lazy' of v1 is unknown"):
        FaultSchedule.from_json({"byzantine": {"v1": "lazy"}})


def test_delay_distributions_and_link_rules():
    rng = random.Random(1)
    assert sample_delay(("fixed", 0.25), rng) == 0.25
    assert all(0.1 <= sample_delay(("uniform", 0.1, 0.2), rng) <= 0.2 for _ in range(50))
    assert sample_delay(("exponential", 0.05), rng) >= 0
    vote = Prevote(1, 0, b"", b"v1", b"")
    assert LinkRule("drop", frozenset({"tbft.prevote"})).apply("v1", "v2", vote, rng) is None
    assert LinkRule("drop", frozenset({"tbft.precommit"})).apply("v1", "v2", vote, rng) == 0.0
    assert LinkRule("drop", senders=frozenset({"v3"})).apply("v1", "v2", vote, rng) == 0.0
    assert LinkRule("delay", delay=("fixed", 0.3)).apply("v1", "v2", vote, rng) == 0.3


def test_student_schedules_differ_repeat_and_stay_within_f():
    for n in (4, 7, 10):
        seen = set()
        for student in ("s01", "s02", "s03", "s04", "s05"):
            schedule = schedule_for_student(student, n, seed=2026)
            assert schedule == schedule_for_student(student, n, seed=2026)
            seen.add(schedule.dumps())
            hit = {node for a in schedule.actions if a.action in ("crash", "pause") for node in a.nodes}
            assert len(hit | schedule.byzantine_nodes) <= max_faulty(n)
            assert schedule.last_fault_time <= 60.0 * 0.75
        assert len(seen) == 5
    assert schedule_for_student("s01", 4, seed=1) != schedule_for_student("s01", 4, seed=2)


def wrapped(behaviour, node="v0"):
    engines = build_engines(4, SimApp, SUITE, config=FAST)
    collusion = Collusion(frozenset({node}), tuple(sorted(engines)))
    return ByzantineEngine(engines[node], behaviour, collusion)


def test_withholding_drops_votes_and_double_voting_sends_two():
    proposer_outputs = wrapped("withhold_votes").start(0.0)           # v0 proposes at height 1
    messages = [o.message for o in proposer_outputs if isinstance(o, (Broadcast, Send))]
    assert any(isinstance(m, Proposal) for m in messages)
    assert not any(isinstance(m, (Prevote, Precommit)) for m in messages)
    double = [o.message for o in wrapped("double_vote").start(0.0) if isinstance(o, Broadcast)]
    prevotes = [m for m in double if isinstance(m, Prevote)]
    assert len(prevotes) == 2 and prevotes[0].value_hash != prevotes[1].value_hash
    assert len({m.value for m in double if isinstance(m, Proposal)}) == 2


def test_equivocation_splits_the_correct_peers_and_lies_change_the_round():
    out = wrapped("equivocate").start(0.0)
    sends = [o for o in out if isinstance(o, Send) and isinstance(o.message, Proposal)]
    by_peer = {o.to: o.message.value for o in sends}
    assert by_peer["v1"] == b"block 1 by v0"
    assert by_peer["v2"] == by_peer["v3"] == b"block 1 by v0|alt"   # the second half of v1..v3
    lies = [o.message for o in wrapped("lie_round").start(0.0) if isinstance(o, Broadcast)]
    assert lies and all(m.round == 7 for m in lies)
    invalid = [o.message for o in wrapped("invalid_vote").start(0.0) if isinstance(o, Broadcast)]
    assert SimApp.check(1, next(m for m in invalid if isinstance(m, Proposal)).value) is not None
    with pytest.raises(FaultError, match="unknown"):
        wrapped("teleport")
