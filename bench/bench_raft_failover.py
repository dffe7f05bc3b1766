"""Raft leader failover on real node processes (issue #12 s6): SIGKILL the leader of a 3-node
raft-3 testnet KILLS times (default 20) and time until the survivors agree on a new leader
(``Testnet.leader()`` polled every 0.1 s from this process, so the figure includes up to 0.1 s
of polling and the RPC round trips); the killed node is restarted and the testnet settles
before the next kill. Printed: min, p50, p90, max and the configured election timeout range.

    .venv/bin/python bench/bench_raft_failover.py [KILLS]
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_note  # noqa: E402

from labchain.core.config import load_config  # noqa: E402
from labchain.testnet import Testnet  # noqa: E402


def main() -> None:
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    spec = load_config("raft-3").params.consensus
    low = spec.get("election_tick") * spec.get("tick")
    times = []
    with tempfile.TemporaryDirectory(prefix="bench-raft-failover-") as tmp, \
            Testnet.start(nodes=3, topology="full", config="raft-3", dir=Path(tmp) / "net") as tn:
        for _ in range(kills):
            leader = tn.leader(timeout=60)
            tn.kill(leader)
            start = time.monotonic()
            while True:
                new = tn.leader()
                if new is not None and new != leader:
                    break
                time.sleep(0.1)
            times.append(time.monotonic() - start)
            tn.restart(leader)
            time.sleep(1.0)
    times.sort()
    q = statistics.quantiles(times, n=10) if len(times) >= 2 else times * 9
    print(f"Raft 3 nodes, {kills} leader kills; election timeout {low:.1f}-{2 * low:.1f} s")
    print(f"failover s: min {times[0]:.2f}  p50 {statistics.median(times):.2f}  p90 {q[8]:.2f}  "
          f"max {times[-1]:.2f}")
    print(machine_note())


if __name__ == "__main__":
    main()
