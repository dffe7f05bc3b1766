"""Messages per committed height of PBFT in the simulator, for the O(n^2) figure.

Run: ``python -m labchain.consensus.pbft.figures [n ...] [--heights H] [--seed S]``.
Counts every message the simulator put on the network (pre-prepares, prepares, commits,
checkpoints) from the start until every validator committed ``H`` heights, divided by ``H``.
The fault-free normal case sends, per height, ``(n-1)`` pre-prepares, ``(n-1)^2`` prepares
and ``n(n-1)`` commits, plus ``n(n-1)`` checkpoints every ``checkpoint_period`` heights:
:func:`expected_per_height` is that formula.
"""
from __future__ import annotations

import argparse
import time

from labchain.consensus.pbft.engine import PBFTEngine, keyring
from labchain.consensus.sim import Simulation


class CountingApp:
    def __init__(self, node: str) -> None:
        self.node = node.encode()

    def propose(self, height: int) -> bytes:
        return b"block %d|" % height + self.node

    def check(self, height: int, value: bytes) -> str | None:
        return None


def expected_per_height(n: int, checkpoint_period: int = 10) -> float:
    return (n - 1) + (n - 1) ** 2 + n * (n - 1) + n * (n - 1) / checkpoint_period


def measure(n: int, heights: int = 50, seed: int = 0, checkpoint_period: int = 10) -> dict:
    validators = tuple(f"node{i}" for i in range(n))
    secrets, public = keyring(validators)
    engines = {v: PBFTEngine(v, validators, CountingApp(v), secret=secrets[v], public_keys=public,
                             checkpoint_period=checkpoint_period) for v in validators}
    sim = Simulation(engines, seed=seed, record_messages=False)
    started = time.perf_counter()
    sim.run(stop=lambda s: min(s.heights().values()) >= heights)
    wall = time.perf_counter() - started
    return {"n": n, "heights": heights, "messages": sim.messages_sent,
            "per_height": sim.messages_sent / heights,
            "expected": expected_per_height(n, checkpoint_period),
            "virtual_s_per_height": sim.now / heights, "wall_s": wall}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="*", type=int, default=[4, 7, 16])
    parser.add_argument("--heights", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"{'n':>4} {'msgs/height':>12} {'formula':>9} {'virtual ms/height':>18} {'wall s':>8}")
    for n in args.n:
        r = measure(n, args.heights, args.seed)
        print(f"{n:>4} {r['per_height']:>12.1f} {r['expected']:>9.1f} "
              f"{1000 * r['virtual_s_per_height']:>18.2f} {r['wall_s']:>8.2f}")


if __name__ == "__main__":
    main()
