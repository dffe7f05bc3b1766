"""Property tests over random fault schedules (Hypothesis): with at most f = (n-1)//3 faulty
validators (crashed, paused or Byzantine) safety always holds and liveness returns after the
last fault; with f+1 colluding equivocators the simulator finds a safety violation, and its
minimised history is 1-minimal."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from labchain.consensus.engine import max_faulty
from labchain.consensus.faults import BEHAVIOURS, FaultAction, FaultSchedule, schedule_for_student
from labchain.consensus.invariants import minimise, run_checked
from simkit import FAST, run_until_live, tbft_sim

COMMANDS = ["tbft.proposal", "tbft.prevote", "tbft.precommit"]


@st.composite
def schedules(draw):
    n = draw(st.sampled_from([4, 5, 7]))
    nodes = [f"v{i}" for i in range(n)]
    faulty = draw(st.lists(st.sampled_from(nodes), unique=True, max_size=max_faulty(n)))
    actions, byzantine = [], []
    time = st.floats(0.0, 2.0).map(lambda t: round(t, 3))
    for node in faulty:
        kind = draw(st.sampled_from(["crash", "pause", "byzantine"]))
        if kind == "byzantine":
            byzantine.append((node, draw(st.sampled_from(BEHAVIOURS))))
        else:
            start, length = draw(time), draw(st.floats(0.05, 1.5))
            actions += [FaultAction(start, kind, (node,)),
                        FaultAction(round(start + length, 3), "recover" if kind == "crash" else "resume", (node,))]
    for _ in range(draw(st.integers(0, 2))):
        start, length = draw(time), round(draw(st.floats(0.05, 1.5)), 3)
        kind = draw(st.sampled_from(["drop", "delay", "reorder", "partition"]))
        if kind == "partition":
            side = draw(st.lists(st.sampled_from(nodes), unique=True, min_size=1, max_size=n - 1))
            actions += [FaultAction(start, "partition", groups=(tuple(side), tuple(x for x in nodes if x not in side))),
                        FaultAction(start + length, "heal")]
        else:
            delay = {"drop": (), "delay": ("exponential", 0.05), "reorder": (0.05,)}[kind]
            actions.append(FaultAction(start, kind, commands=tuple(draw(st.lists(
                st.sampled_from(COMMANDS), min_size=1, unique=True))),
                probability=draw(st.sampled_from([0.3, 0.7, 1.0])), delay=delay, until=start + length))
    return n, FaultSchedule(tuple(actions), tuple(byzantine))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules(), st.integers(0, 2**16))
def test_at_most_f_faulty_keeps_safety_and_liveness_returns(case, seed):
    n, schedule = case
    sim = tbft_sim(n, schedule, seed=seed)
    violation = run_until_live(sim, limit=schedule.last_fault_time + 3 * FAST.liveness_bound(n))
    assert violation is None, violation.detail
    assert min(sim.heights()[v] for v in sim.engines if v not in schedule.byzantine_nodes) >= 1


def test_student_schedules_keep_safety_and_liveness():
    for student in ("alice", "bob", "chen", "dana"):
        schedule = schedule_for_student(student, 4, seed=1, duration=3.0)
        sim = tbft_sim(4, schedule, seed=1)
        assert run_until_live(sim) is None, student


def _first_violation(n, members, seeds=range(10), until=20.0):
    schedule = FaultSchedule(byzantine=tuple((m, "equivocate") for m in members))
    for seed in seeds:
        violation = run_checked(tbft_sim(n, schedule, seed=seed), until=until)
        if violation is not None:
            return seed, schedule, violation
    return None


def test_f_plus_one_colluding_equivocators_break_safety_within_ten_seeds():
    for n in (4, 7):
        members = [f"v{i}" for i in range(1, max_faulty(n) + 2)]
        found = _first_violation(n, members)
        assert found is not None, f"n={n}: no safety violation found in 10 seeds"
        seed, _, violation = found
        assert violation.kind == "safety" and set(violation.nodes).isdisjoint(members)
        assert violation.history and all(d.height == violation.height for d in violation.history)


def test_f_colluding_equivocators_do_not():
    assert _first_violation(4, ["v1"], seeds=range(3), until=6.0) is None
    assert _first_violation(7, ["v1", "v2"], seeds=range(3), until=6.0) is None


def test_the_minimised_history_is_one_minimal():
    seed, schedule, violation = _first_violation(4, ["v1", "v2"])
    make = lambda: tbft_sim(4, schedule, seed=seed)  # noqa: E731
    result = minimise(make, until=20.0)
    assert result is not None and result.complete
    v = result.violation
    assert (v.kind, v.height) == (violation.kind, violation.height)
    assert len(v.history) < len(violation.history)
    assert "safety violation at height" in result.format()
    for d in v.history[:6]:                       # each reported message is necessary
        sim = make()
        sim.suppress = set(result.suppressed) | {d.key}
        again = run_checked(sim, until=20.0)
        assert again is None or (again.kind, again.height) != (v.kind, v.height) \
            or len(again.history) >= len(v.history)
