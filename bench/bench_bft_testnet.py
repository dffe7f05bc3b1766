"""Commit latency and transactions/s of Raft, TBFT and PBFT on real local node processes.

    .venv/bin/python bench/bench_bft_testnet.py [--paced 40] [--rate 4] [--burst 600] [--configs raft-3,tbft-4,pbft-4]

For each chain preset (raft-3: 3 nodes; tbft-4, pbft-4: 4 validators, f = 1) a testnet of real
processes on loopback (``Testnet.start``, full mesh) runs two workloads, both payments made by
``sendtoaddress`` on node 0 from 9 of its deterministic accounts (round robin) to the 10th:

* **paced**: ``--paced`` payments at ``--rate`` per second (a light load, so each waits for the
  next block, not for a queue). Figure: commit latency of each payment = from just before its
  ``sendtoaddress`` call to the first poll that finds it in a block on *every* node; p50, p99.
* **burst**: ``--burst`` payments sent back to back by one client thread per node, each on its
  own RPC connection and with its own senders (so no two nodes spend the same coins). Figures:
  the send rate alone (RPC + signing + mempool admission, all nodes together), and payments/s
  = burst / (last payment in a block on every node - first send). When the two are close, the
  clients (``sendtoaddress`` signs on the node, in Python), not consensus, set the pace.

A watcher thread polls every node's ``getblockcount`` and reads each new block once, so the
latency includes up to one polling round (a few ms per node; printed). Block intervals are the
presets' (raft-3: 0.2 s; tbft-4, pbft-4: 0.5 s), so the latency is dominated by the wait for the
next block, as on ChainMaker (``block_interval``) and FISCO BCOS (``min_seal_time``). Numbers
depend on the machine and its load (printed); this script asserts nothing.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_note, table  # noqa: E402

from labchain.node.rpc import RpcClient, RpcConnectionError, RpcError  # noqa: E402
from labchain.testnet import Testnet  # noqa: E402

NODES = {"raft-3": 3, "tbft-4": 4, "pbft-4": 4}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Watcher(threading.Thread):
    """Records, per txid, when it was first seen in a block on every node."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__(daemon=True)
        self.rpcs = [RpcClient(u, timeout=60.0) for u in urls]
        self.read = [r.getblockcount() for r in self.rpcs]   # blocks before the run: ignored
        self.seen: list[dict[str, float]] = [{} for _ in urls]
        self.halt = threading.Event()
        self.rounds, self.round_seconds = 0, 0.0

    def run(self) -> None:
        while not self.halt.is_set():
            began = time.perf_counter()
            for i, rpc in enumerate(self.rpcs):
                try:
                    top = rpc.getblockcount()
                    while self.read[i] < top:
                        self.read[i] += 1
                        now = time.perf_counter()
                        for tx in rpc.getblock(self.read[i])["transactions"][1:]:
                            self.seen[i].setdefault(tx["txid"], now)
                except (RpcError, RpcConnectionError, OSError):
                    continue
            self.rounds += 1
            self.round_seconds += time.perf_counter() - began
            time.sleep(0.01)

    def everywhere(self, txid: str) -> float | None:
        times = [s.get(txid) for s in self.seen]
        return None if any(t is None for t in times) else max(times)

    def wait_all(self, txids: list[str], timeout: float = 300.0) -> list[float]:
        deadline = time.monotonic() + timeout
        while True:
            times = [self.everywhere(t) for t in txids]
            if all(t is not None for t in times):
                return times
            if time.monotonic() > deadline:
                missing = sum(t is None for t in times)
                raise RuntimeError(f"{missing} of {len(txids)} payments not on every node after {timeout:.0f} s")
            time.sleep(0.05)


def run(config: str, args: argparse.Namespace) -> dict:
    nodes = NODES[config]
    with tempfile.TemporaryDirectory(prefix="bench-bft-tn-") as d, \
            Testnet.start(nodes=nodes, topology="full", config=config, dir=f"{d}/net", timeout=180) as tn:
        deadline = time.monotonic() + 180
        ready = 1 if config.startswith("raft") else 2   # Raft cuts blocks only for commands (and a new leader's no-op)
        while min(n.rpc.getblockcount() for n in tn.nodes) < ready:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{config}: no block committed in 180 s")
            time.sleep(0.1)
        rpc = tn.nodes[0].rpc
        addresses = [a["address"] for a in rpc.listaccounts()]
        watcher = Watcher([n.rpc_url for n in tn.nodes])
        watcher.start()
        counter = iter(range(1, 10**9))

        def pay() -> tuple[str, float]:
            i = next(counter)
            sent = time.perf_counter()
            return rpc.sendtoaddress(addresses[i % 9], addresses[9], 1000 + i), sent

        paced = []
        for _ in range(args.paced):
            paced.append(pay())
            time.sleep(1.0 / args.rate)
        seen = watcher.wait_all([t for t, _ in paced])
        latencies = [s - sent for (_, sent), s in zip(paced, seen)]

        burst: list[str] = []
        lock = threading.Lock()

        def client(k: int) -> None:      # node k's own RPC connection and its own senders
            own = RpcClient(tn.nodes[k].rpc_url, timeout=60.0)
            senders = [a for i, a in enumerate(addresses[:9]) if i % nodes == k]
            for j in range(k, args.burst, nodes):
                txid = own.sendtoaddress(senders[j // nodes % len(senders)], addresses[9], 5000 + j)
                with lock:
                    burst.append(txid)

        clients = [threading.Thread(target=client, args=(k,)) for k in range(nodes)]
        first = time.perf_counter()
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        sent_for = time.perf_counter() - first
        last = max(watcher.wait_all(burst))
        watcher.halt.set()
        watcher.join(10)
        height = rpc.getblockcount()
    poll = watcher.round_seconds / max(watcher.rounds, 1)
    return {"config": config, "nodes": nodes, "p50": percentile(latencies, 0.5) * 1000,
            "p99": percentile(latencies, 0.99) * 1000, "send": args.burst / sent_for,
            "tps": args.burst / (last - first), "height": height, "poll": poll * 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paced", type=int, default=40, help="payments of the latency run (default 40)")
    ap.add_argument("--rate", type=float, default=4.0, help="their rate per second (default 4)")
    ap.add_argument("--burst", type=int, default=600, help="payments of the throughput run (default 600)")
    ap.add_argument("--configs", default="raft-3,tbft-4,pbft-4", help="chain presets to run")
    args = ap.parse_args()
    rows = []
    for config in args.configs.split(","):
        r = run(config, args)
        rows.append([r["config"], r["nodes"], r["p50"], r["p99"], r["send"], r["tps"], r["poll"], r["height"]])
        print(f"{config}: done", flush=True)
    print(f"\nReal local nodes, payments via sendtoaddress; latency of {args.paced} paced at "
          f"{args.rate:g}/s on node 0, throughput of a burst of {args.burst} (one client per node); "
          f"{machine_note()}")
    print(table(["chain", "nodes", "latency p50 ms", "p99 ms", "sent/s", "committed tx/s",
                 "poll round ms", "height"], rows))


if __name__ == "__main__":
    main()
