"""The consensus simulator's speed: TBFT with n = 4, 16, 64, 100 validators.

For each n, one simulation (seed 1, 1-10 ms modelled links, no faults, messages not recorded)
runs until every validator committed ``HEIGHTS`` heights; printed: wall and CPU time, simulated
messages per CPU second (wall time inflates when other work shares the cores), messages per height (the ~2n^2 all-to-all votes) and virtual
commit latency per height. Large n cost O(n^2) messages per height, so heights are reduced
for n >= 64 (HEIGHTS/10 and HEIGHTS/20; the table says how many were run) unless ``--full``.

Signatures: with ``signatures=True`` every vote is signed with P-256 (LabChain's signing goes
through pycryptodome's deterministic ECDSA, ~3 ms) and verified by every receiver
(``cryptography``, ~0.2 ms); that dominates the cost, so the signed rows run fewer heights
and small n only. The unsigned rows measure the protocol and the simulator alone.

    .venv/bin/python bench/bench_sim.py [HEIGHTS] [SIGNED_HEIGHTS] [--full] [--n=N ...]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_note, table  # noqa: E402

from labchain.consensus.sim import SimApp, Simulation  # noqa: E402
from labchain.consensus.tbft import TBFTConfig, build_engines  # noqa: E402
from labchain.crypto.suite import get_suite  # noqa: E402

SUITE = get_suite("p256-sha256")


def run(n: int, heights: int, signatures: bool) -> list[object]:
    engines = build_engines(n, SimApp, SUITE, config=TBFTConfig.fast(signatures=signatures))
    sim = Simulation(engines, seed=1, record_messages=False)
    logs = list(sim.commits.values())
    start, cpu = time.perf_counter(), time.process_time()
    sim.run(stop=lambda s: all(len(c) >= heights for c in logs), max_events=10**10)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    done = min(sim.heights().values())
    latency = sim.commit_times["v0"][done - 1] / done
    return [n, "yes" if signatures else "no", done, wall, cpu, sim.messages_sent / cpu,
            sim.messages_sent / done, latency * 1000]


def main(argv: list[str]) -> None:
    full = "--full" in argv          # n=64 and n=100 also run all HEIGHTS (minutes)
    only = {int(a[4:]) for a in argv if a.startswith("--n=")}   # --n=100: that n only
    argv = [a for a in argv if a != "--full" and not a.startswith("--n=")]
    heights = int(argv[0]) if argv else 1000
    signed = int(argv[1]) if len(argv) > 1 else 20
    big = (heights, heights) if full else (max(1, heights // 10), max(1, heights // 20))
    plan = [(4, heights, False), (16, heights, False), (64, big[0], False),
            (100, big[1], False), (4, signed, True), (16, max(1, signed // 4), True)]
    rows = []
    for n, h, sig in plan:
        if only and n not in only:
            continue
        rows.append(run(n, h, sig))
        print(f"  n={n} signatures={sig}: {rows[-1][3]:.1f} s", file=sys.stderr, flush=True)
    print(f"TBFT in the simulator ({machine_note()})")
    print(table(["n", "signed", "heights", "wall s", "CPU s", "messages/CPU s", "messages/height",
                 "latency ms (virtual)"], rows))


if __name__ == "__main__":
    main(sys.argv[1:])
