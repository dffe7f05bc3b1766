"""The invariant checkers on hand-made commit logs: each catches its violation with the
height, the nodes and the history of that height, and stays quiet otherwise."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from labchain.consensus.engine import Commit
from labchain.consensus.invariants import (
    InvariantViolation, LivenessChecker, SafetyChecker, ValidityChecker, format_deliveries,
)
from labchain.consensus.sim import Delivery, SimApp


def fake(commits, now=1.0, deliveries=(), crashed=()):
    sim = SimpleNamespace(commits={n: [Commit(h, v) for h, v in c] for n, c in commits.items()},
                          now=now, deliveries=list(deliveries), crashed=set(crashed), paused=set())
    sim.heights = lambda: {n: (c[-1].height if c else 0) for n, c in sim.commits.items()}
    return sim


def test_safety_names_the_height_the_nodes_and_the_history():
    history = [Delivery(0.1, 0.2, "a", "b", "tbft.prevote", False, 2, 0),
               Delivery(0.1, 0.2, "a", "c", "tbft.prevote", True, 2, 0),       # dropped: not history
               Delivery(0.1, 0.2, "a", "b", "tbft.prevote", False, 1, 0)]      # other height
    sim = fake({"a": [(1, b"x"), (2, b"y")], "b": [(1, b"x"), (2, b"z")]}, deliveries=history)
    with pytest.raises(InvariantViolation, match="safety violated at height 2") as exc:
        SafetyChecker()(sim)
    v = exc.value.obj
    assert v.nodes == ("a", "b") and v.history == history[:1]
    assert "a -> b  tbft.prevote h=2 r=0" in format_deliveries(v.history)


def test_safety_ignores_byzantine_nodes_and_agreeing_logs():
    SafetyChecker(correct=["a", "b"])(fake({"a": [(1, b"x")], "b": [(1, b"x")], "evil": [(1, b"q")]}))
    checker = SafetyChecker()
    sim = fake({"a": [(1, b"x")], "b": []})
    checker(sim)
    sim.commits["b"].append(Commit(1, b"other"))     # checked incrementally, still caught
    with pytest.raises(InvariantViolation):
        checker(sim)


def test_validity_uses_the_application_check():
    ValidityChecker(SimApp.check)(fake({"a": [(1, b"block 1 by a")]}))
    with pytest.raises(InvariantViolation, match="invalid value"):
        ValidityChecker(SimApp.check)(fake({"a": [(1, b"invalid block")]}))


def test_liveness_waits_for_stabilisation_then_demands_progress_within_the_bound():
    checker = LivenessChecker(stable_after=5.0, bound=2.0)
    sim = fake({"a": [(1, b"x")], "b": [(1, b"x")], "c": []}, now=1.0, crashed={"c"})
    checker(sim)                                  # before stabilisation: nothing is demanded
    sim.now = 5.0
    checker(sim)                                  # window opens at height 1
    sim.commits["a"].append(Commit(2, b"y"))
    sim.commits["b"].append(Commit(2, b"y"))
    sim.now = 6.0
    checker(sim)                                  # a and b passed; crashed c is excused
    assert checker.windows_passed == 1
    sim.now = 8.5
    with pytest.raises(InvariantViolation, match="a, b did not commit past height 2 within 2.0 s"):
        checker(sim)
