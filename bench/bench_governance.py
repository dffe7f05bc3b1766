"""Governance on chain (issue #12): `Testnet.start(config="consortium-4org-raft")` to the first
block on all 5 nodes, and the time from `sendgovernance` (a config update endorsed by 3 org
admins) until every node, the regulator included, reports the new config sequence.

    .venv/bin/python bench/bench_governance.py [UPDATES]     (default 8)
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time

from labchain.testnet import Testnet


def until(predicate, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise SystemExit("timed out")
        time.sleep(0.02)


def main(updates: int) -> None:
    t0 = time.perf_counter()
    tn = Testnet.start(config="consortium-4org-raft", dir=tempfile.mkdtemp(prefix="bench-governance-"), timeout=120)
    try:
        until(lambda: min(n.rpc.getblockcount() for n in tn.nodes) >= 1)
        print(f"consortium-4org-raft up + first block on all 5 nodes: {time.perf_counter() - t0:.1f} s")
        g = tn.governance
        latencies = []
        for i in range(updates):
            gtx = g.endorse(g.propose_config([("CHAIN_CONFIG-BLOCK_UPDATE", "block.block_tx_capacity",
                                               str(100 + i))]), ["org1", "org2", "org3"])
            sequence = gtx.action().sequence
            t = time.perf_counter()
            g.send(gtx)
            until(lambda: all(n.rpc.getgovernance()["sequence"] == sequence for n in tn.nodes))
            latencies.append(time.perf_counter() - t)
        print(f"sendgovernance -> new sequence on all 5 nodes, {updates} updates (s): "
              + ", ".join(f"{x:.2f}" for x in latencies) + f"; median {statistics.median(latencies):.2f}")
    finally:
        tn.down()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
