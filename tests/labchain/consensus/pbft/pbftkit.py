"""PBFT test kit (``from pbftkit import make_sim``): a block-like application, engines with
deterministic keys, and a simulator wired with the engine-independent safety checker (labchain/consensus/invariants.py)."""
from __future__ import annotations

from labchain.consensus.invariants import SafetyChecker
from labchain.consensus.pbft import PBFTEngine, keyring
from labchain.consensus.sim import Simulation


class BlockApp:
    """Values look like blocks: ``block <height>|<proposer>``; any other value is refused."""

    def __init__(self, node: str) -> None:
        self.node = node

    def propose(self, height: int) -> bytes:
        return b"block %d|%s" % (height, self.node.encode())

    def check(self, height: int, value: bytes) -> str | None:
        if value.startswith(b"block %d|" % height):
            return None
        return f"{value[:30]!r} is not a block of height {height}"


def nodes(n: int) -> tuple[str, ...]:
    return tuple(f"node{i}" for i in range(n))


def make_engines(n: int, suite: str = "p256-sha256", **kw) -> dict[str, PBFTEngine]:
    validators = nodes(n)
    secrets, public = keyring(validators, suite)
    kw.setdefault("request_timeout", 0.5)
    return {v: PBFTEngine(v, validators, BlockApp(v), secret=secrets[v], public_keys=public,
                          suite=suite, **kw) for v in validators}


def make_sim(n: int, seed: int = 0, correct=None, engines=None, **kw) -> Simulation:
    engines = engines if engines is not None else make_engines(n, **kw)
    sim = Simulation(engines, seed=seed)
    sim.checkers.append(SafetyChecker(correct))
    return sim


def assert_in_order(sim: Simulation, node: str) -> None:
    """``node`` committed heights 1, 2, 3... each once, in that order."""
    heights = [c.height for c in sim.commits[node]]
    assert heights == list(range(1, len(heights) + 1)), (node, heights[:20])


def assert_same_prefix(sim: Simulation, nodes_) -> None:
    """Every pair of nodes agrees on every height both committed."""
    logs = [[c.value for c in sim.commits[n]] for n in nodes_]
    for log in logs:
        shortest = min(len(log), len(logs[0]))
        assert log[:shortest] == logs[0][:shortest]
