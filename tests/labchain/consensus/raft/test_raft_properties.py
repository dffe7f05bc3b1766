"""Hypothesis over random crash / recover / partition / heal schedules and seeds: safety at
every step (SafetyChecker + RaftChecker: same value per height, gap-free heights, one leader per
term), and after the last fault heals, liveness: every command a live node accepted is
committed exactly once on every node, and all logs are equal."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings, strategies as st

from raftkit import Load, all_caught_up, assert_converged, make_sim, names

EXAMPLES = int(os.environ.get("RAFT_SCHEDULE_EXAMPLES", "10" if os.environ.get("CI") else "25"))

fault = st.tuples(
    st.floats(min_value=0.5, max_value=8.0, allow_nan=False),
    st.sampled_from(["crash", "recover", "partition", "heal"]),
    st.integers(min_value=0, max_value=2 ** 16),
)


def apply_fault(kind: str, pick: int, nodes: tuple[str, ...]):
    def act(sim):
        if kind == "crash":
            sim.crash(nodes[pick % len(nodes)])
        elif kind == "recover":
            sim.recover(nodes[pick % len(nodes)])
        elif kind == "partition":     # pick's bits choose each node's side
            side = {n for i, n in enumerate(nodes) if pick >> i & 1}
            sim.partition(side, set(nodes) - side)
        else:
            sim.heal()
    return act


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.sampled_from([3, 5]), seed=st.integers(0, 2 ** 32 - 1),
       faults=st.lists(fault, max_size=8))
def test_random_fault_schedules_keep_safety_and_converge_after_heal(n, seed, faults):
    nodes = names(n)
    sim, _ = make_sim(n, seed=seed)
    load = Load(sim, seed=seed)
    load.steady(start=0.3, stop=9.0, rate=40)
    for time, kind, pick in faults:
        sim.at(time, apply_fault(kind, pick, nodes))

    def stabilise(s):
        s.heal()
        for node in nodes:
            s.recover(node)
    sim.at(9.5, stabilise)
    sim.run(until=9.5)
    sim.run(until=60.0, stop=lambda s: s.now > 12.0 and all_caught_up(s)
            and not any(e.pending for e in s.engines.values()))
    assert all_caught_up(sim), {v: sim.engines[v].status() for v in nodes}
    commands = assert_converged(sim)
    # a crash keeps the node's state (its disk), so nothing accepted is ever lost
    assert sorted(commands) == sorted(load.accepted)
