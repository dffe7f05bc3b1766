"""PBFT under Byzantine validators (labchain/consensus/faults.py wrappers) and random crash and
partition schedules: with at most f faulty validators safety always holds, and commits resume
after the last fault."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pbftkit import BlockApp, assert_in_order, assert_same_prefix, make_engines, make_sim, nodes

from labchain.consensus.faults import FaultAction, FaultSchedule
from labchain.consensus.invariants import ValidityChecker, run_checked
from labchain.consensus.pbft import PrePrepare

CORRECT = ("node1", "node2", "node3")


def byzantine_sim(behaviour: str, seed: int = 0, node: str = "node0"):
    schedule = FaultSchedule(byzantine=((node, behaviour),))
    correct = [v for v in nodes(4) if v != node]
    engines = schedule.wrap(make_engines(4, request_timeout=0.3))
    sim = make_sim(4, seed=seed, correct=correct, engines=engines)
    sim.checkers.append(ValidityChecker(BlockApp("checker").check, correct))
    return sim, correct


def run_until_replaced(sim, correct, height: int = 20):
    """Run until every correct replica left view 0 and committed ``height`` (or 10 s)."""
    return sim.run(until=10.0, stop=lambda s: all(s.engines[n].view >= 1 and s.heights()[n] >= height
                                                  for n in correct))


def test_equivocating_primary_cannot_split_the_correct_replicas():
    sim, correct = byzantine_sim("double_proposal", seed=1)
    run_until_replaced(sim, correct)
    forged = {d.receiver for d in sim.deliveries
              if d.command == "pbft.preprepare" and d.message.value.endswith(b"|alt")}
    assert forged and forged != set(correct)        # the attack happened: a split
    for node in correct:
        assert sim.engines[node].view >= 1          # the equivocator lost its primaryship
        assert sim.heights()[node] >= 20
        assert_in_order(sim, node)
    assert_same_prefix(sim, correct)


def test_a_backup_reports_two_pre_prepares_for_one_slot():
    engines = make_engines(4)
    primary, backup = engines["node0"], engines["node1"]
    first = [o.message for o in primary.start(0.0) + primary.on_timer("pbft.propose", 0.0)
             if hasattr(o, "message") and isinstance(o.message, PrePrepare)][0]
    second = primary.byz_conflicting(first, lambda v: v + b"|alt")
    out1 = backup.on_message("node0", first, 0.01)
    out2 = backup.on_message("node0", second, 0.02)
    assert any(type(o).__name__ == "Broadcast" for o in out1)         # prepared the first
    reports = [o for o in out2 if type(o).__name__ == "Misbehaviour"]
    assert reports and "equivocation" in reports[0].reason and reports[0].peer == "node0"
    assert first.to_bytes() in reports[0].evidence
    assert not any(type(o).__name__ == "Broadcast" for o in out2)     # no prepare for the second


def test_double_voting_backup_cannot_break_safety():
    sim, correct = byzantine_sim("double_vote", seed=2, node="node2")
    sim.run(until=1.0, stop=lambda s: min(s.heights()[n] for n in correct) >= 20)
    assert min(sim.heights()[n] for n in correct) >= 20
    assert_same_prefix(sim, correct)
    evidence = [(node, m) for node, m in sim.misbehaviour if "equivocation" in m.reason]
    assert evidence and all(m.peer == "node2" and m.evidence for _, m in evidence)
    assert {node for node, _ in evidence} == set(correct)   # every correct replica saw it


def test_primary_proposing_invalid_blocks_is_voted_out():
    sim, correct = byzantine_sim("invalid_vote", seed=3)
    run_until_replaced(sim, correct, 10)
    for node in correct:
        assert sim.engines[node].view >= 1 and sim.heights()[node] >= 10
    assert any("invalid value" in m.reason for _, m in sim.misbehaviour)


def test_primary_lying_about_its_view_is_replaced():
    sim, correct = byzantine_sim("lie_round", seed=4)
    run_until_replaced(sim, correct, 10)
    for node in correct:
        assert sim.engines[node].view >= 1 and sim.heights()[node] >= 10
    assert_same_prefix(sim, correct)


def test_withholding_backup_is_tolerated():
    sim, correct = byzantine_sim("withhold_votes", seed=5, node="node3")
    sim.run(until=0.5, stop=lambda s: min(s.heights()[n] for n in correct) >= 10)
    assert min(sim.heights()[n] for n in correct) >= 10
    assert all(sim.engines[n].view == 0 for n in correct)


# --- random schedules -----------------------------------------------------------------------
HEAL = 2.0


@st.composite
def schedules(draw, n: int):
    """Crashes of at most f validators plus partitions of anyone, all over by ``HEAL``."""
    f = (n - 1) // 3
    validators = nodes(n)
    actions = []
    crashed = draw(st.lists(st.sampled_from(validators), max_size=f, unique=True))
    for node in crashed:
        start = draw(st.floats(0.0, HEAL - 0.2))
        actions.append(FaultAction(start, "crash", (node,)))
        actions.append(FaultAction(draw(st.floats(start + 0.1, HEAL)), "recover", (node,)))
    for _ in range(draw(st.integers(0, 2))):
        start = draw(st.floats(0.0, HEAL - 0.2))
        side = draw(st.lists(st.sampled_from(validators), min_size=1, max_size=n - 1, unique=True))
        rest = [v for v in validators if v not in side]
        actions.append(FaultAction(start, "partition", groups=(tuple(side), tuple(rest))))
        actions.append(FaultAction(draw(st.floats(start + 0.1, HEAL)), "heal"))
    actions.append(FaultAction(HEAL, "heal"))
    return FaultSchedule(tuple(actions))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=schedules(4), seed=st.integers(0, 2**16))
def test_random_crash_and_partition_schedules_keep_safety_and_recover(schedule, seed):
    sim = make_sim(4, seed=seed, request_timeout=0.2, block_interval=0.05)
    schedule.apply(sim)
    sim.run(until=HEAL)
    base = max(sim.heights().values())
    goal = base + 3
    sim.run(until=HEAL + 40.0, stop=lambda s: min(s.heights().values()) >= goal)
    assert min(sim.heights().values()) >= goal, (schedule.dumps(), sim.heights(),
                                                 [e.status() for e in sim.engines.values()])
    for node in nodes(4):
        assert_in_order(sim, node)
    assert_same_prefix(sim, nodes(4))


def test_f_plus_one_colluding_equivocators_break_safety_and_the_checker_finds_it():
    schedule = FaultSchedule(byzantine=(("node0", "equivocate"), ("node1", "equivocate")))
    sim = make_sim(4, seed=6, correct=("node2", "node3"), engines=schedule.wrap(make_engines(4)))
    violation = run_checked(sim, until=2.0)
    assert violation is not None and violation.kind == "safety"   # 3f+1 tolerates f, not f+1
    assert set(violation.nodes) == {"node2", "node3"}
