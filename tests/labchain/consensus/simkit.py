"""Helpers for the simulator, fault and TBFT tests: build a checked TBFT simulation.

Import with ``from simkit import ...`` (tests/labchain/consensus/tbft/conftest.py puts this
folder on ``sys.path``). Signatures are off by default in property tests (the protocol logic
does not depend on them and P-256 signing costs ~3 ms); the tests about certificates and
evidence turn them on.
"""
from __future__ import annotations

from labchain.consensus.faults import FaultSchedule
from labchain.consensus.invariants import LivenessChecker, run_checked, standard_checkers
from labchain.consensus.sim import NetworkModel, SimApp, Simulation
from labchain.consensus.tbft import TBFTConfig, build_engines
from labchain.crypto.suite import get_suite

SUITE = get_suite("p256-sha256")
FAST = TBFTConfig.fast(signatures=False)
SIGNED = TBFTConfig.fast()


def tbft_sim(n: int = 4, schedule: FaultSchedule = FaultSchedule(), seed: int = 0, *,
             config: TBFTConfig = FAST, suite=SUITE, weights=None, record: bool = True,
             network: NetworkModel | None = None, bound: float | None = None) -> Simulation:
    """A simulation of ``n`` TBFT validators under ``schedule``, with safety, validity and
    liveness (after the schedule's last fault, within ``config.liveness_bound(n)``) checkers."""
    engines = schedule.wrap(build_engines(n, SimApp, suite, config=config, weights=weights))
    sim = Simulation(engines, seed=seed, record_messages=record,
                     network=network or NetworkModel())
    correct = [v for v in engines if v not in schedule.byzantine_nodes]
    sim.checkers = standard_checkers(correct, SimApp.check, schedule.last_fault_time,
                                     bound if bound is not None else config.liveness_bound(n))
    schedule.apply(sim)
    return sim


def liveness(sim: Simulation) -> LivenessChecker:
    return next(c for c in sim.checkers if isinstance(c, LivenessChecker))


def run_until_live(sim: Simulation, windows: int = 2, limit: float = 200.0):
    """Run until the liveness checker has seen ``windows`` progress windows after the last
    fault (or a violation, returned); ``limit`` virtual seconds at most."""
    checker = liveness(sim)
    return run_checked(sim, limit, stop=lambda s: checker.windows_passed >= windows)
