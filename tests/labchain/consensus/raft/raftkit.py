"""Helpers for the Raft simulator tests: building a seeded network, a steady client load, and
the Raft-specific checkers run after every simulator event (import: ``from raftkit import ...``).

``SafetyChecker`` (labchain.consensus.invariants) checks that no two nodes commit different
values at one height; :class:`RaftChecker` adds what is Raft's own: every node commits heights
1, 2, 3... with no gap or repeat, never past its own log, at most one leader per term
(Election Safety), and it records every leadership change with its virtual time.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from labchain.consensus.invariants import SafetyChecker
from labchain.consensus.raft import LEADER, RaftConfig, RaftEngine, batch_commands
from labchain.consensus.sim import NetworkModel, Simulation

CONFIG = RaftConfig(tick=0.05, election_tick=10, heartbeat_tick=1, block_interval=0.1,
                    block_tx_capacity=50, forward_tick=10)


def names(n: int) -> tuple[str, ...]:
    return tuple(f"n{i}" for i in range(1, n + 1))


class RaftChecker:
    def __init__(self) -> None:
        self.leaders: dict[int, str] = {}                 # term -> its leader
        self.changes: list[tuple[float, str, int]] = []   # (time, new leader, term)
        self._seen: dict[str, int] = {}
        self._current: tuple[str, int] | None = None

    def __call__(self, sim: Simulation) -> None:
        for node, commits in sim.commits.items():
            start = self._seen.get(node, 0)
            for i, c in enumerate(commits[start:], start + 1):
                assert c.height == i, f"{node} committed height {c.height} as its commit number {i}"
            self._seen[node] = len(commits)
            engine = sim.engines[node]
            assert engine.commit_index <= engine.last_index, f"{node} committed past its log"
            if engine.role == LEADER:
                first = self.leaders.setdefault(engine.term, node)
                assert first == node, f"{first} and {node} both lead term {engine.term}"
        best = self.current_leader(sim)
        if best is not None and best != self._current:
            self._current = best
            self.changes.append((sim.now, best[0], best[1]))

    @staticmethod
    def current_leader(sim: Simulation) -> tuple[str, int] | None:
        live = [(e.term, n) for n, e in sim.engines.items()
                if e.role == LEADER and n not in sim.crashed]
        if not live:
            return None
        term, node = max(live)
        return node, term


def make_sim(n: int, seed: int, config: RaftConfig = CONFIG,
             network: NetworkModel | None = None) -> tuple[Simulation, RaftChecker]:
    validators = names(n)
    engines = {v: RaftEngine(v, validators, rng=random.Random(f"{seed}:{v}"), config=config)
               for v in validators}
    sim = Simulation(engines, seed=seed, network=network or NetworkModel(), record_messages=False)
    checker = RaftChecker()
    sim.checkers += [SafetyChecker(), checker]
    return sim, checker


@dataclass
class Load:
    """Unique commands submitted at random nodes; ``accepted`` are those a live node took."""
    sim: Simulation
    seed: int
    accepted: list[bytes] = field(default_factory=list)
    refused: list[bytes] = field(default_factory=list)
    count: int = 0

    def steady(self, start: float, stop: float, rate: float, size: int = 64) -> None:
        rng = random.Random(self.seed * 7919 + int(start * 1000))
        nodes = sorted(self.sim.engines)
        t = start
        while t < stop:
            self.count += 1
            command = f"cmd-{self.count:06d}-".encode().ljust(size, b".")
            self.sim.at(t, self._submitter(rng.choice(nodes), command))
            t += rng.expovariate(rate)

    def _submitter(self, node: str, command: bytes):
        def act(sim: Simulation) -> None:
            if node in sim.crashed:
                self.refused.append(command)   # the client's node is down: never acknowledged
            else:
                self.accepted.append(command)
                sim.submit(node, command)
        return act


def loaded_network(n: int, seed: int, stop: float, start: float = 0.5, rate: float = 150,
                   warm_up: float = 3.0):
    """A seeded network under a steady load from ``start`` to ``stop``, run to ``warm_up``:
    (sim, checker, load, the leader then)."""
    sim, checker = make_sim(n, seed=seed)
    load = Load(sim, seed=seed)
    load.steady(start=start, stop=stop, rate=rate)
    sim.run(until=warm_up)
    return sim, checker, load, checker.current_leader(sim)[0]


def committed_commands(sim: Simulation, node: str) -> list[bytes]:
    return [cmd for c in sim.commits[node] for cmd in batch_commands(c.value)]


def assert_converged(sim: Simulation, nodes=None) -> list[bytes]:
    """Every node in ``nodes`` has the same commits; no command twice. Returns the commands."""
    nodes = sorted(nodes or sim.engines)
    first = [(c.height, c.value) for c in sim.commits[nodes[0]]]
    for node in nodes[1:]:
        assert [(c.height, c.value) for c in sim.commits[node]] == first, f"{node} differs from {nodes[0]}"
    commands = committed_commands(sim, nodes[0])
    assert len(commands) == len(set(commands)), "a command was committed twice"
    return commands


def all_caught_up(sim: Simulation, nodes=None) -> bool:
    nodes = list(nodes or sim.engines)
    heights = [sim.engines[n].last_applied for n in nodes]
    leader = RaftChecker.current_leader(sim)
    return leader is not None and len(set(heights)) == 1 and \
        heights[0] == sim.engines[leader[0]].last_index
