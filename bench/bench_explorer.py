"""The explorer's figures: server-side render time of the overview on a 10,000-block chain,
and the memory of the explorer process.

Set-up (not timed): one regtest node (``Testnet.start(nodes=1)``; halving every 210,000 blocks
instead of 150, so a coinbase still pays at height 10,000) mines 100 blocks, then up to
10,000 (``generate``, instant on regtest). The explorer runs as its own process
(``labchain explorer --rpc URL --port 0``), as a student would start it.

Timed, from the ``Server-Timing`` header the explorer sets on every page (``rpc`` = reading the
node over JSON-RPC in its thread pool, ``render`` = the Jinja2 templates), median and p90 of
``REQUESTS`` requests, at 100 and at 10,000 blocks: the overview (``/n/local/``: every node's
state, the 12 newest blocks, the fork tree's last 10 main blocks), a block page, and the
address page (which scans the last 100 blocks: ``HISTORY_BLOCKS``). Wall time of the whole
request on loopback is printed beside. Memory: the explorer's resident set (VmRSS) after
start, after the overview requests, and after 2,000 distinct block pages (the block cache
holds at most 4,096 blocks).

    .venv/bin/python bench/bench_explorer.py [--blocks 10000] [--requests 50]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_note, table  # noqa: E402

from labchain.testnet import Testnet  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def timed_get(url: str) -> tuple[float, float, float]:
    """(rpc ms, render ms, wall ms) of one GET."""
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        response.read()
        header = response.headers["Server-Timing"]
    wall = (time.perf_counter() - start) * 1e3
    parts = dict(re.findall(r"(\w+);dur=([\d.]+)", header))
    return float(parts["rpc"]), float(parts["render"]), wall


def measure(url: str, n: int) -> list[object]:
    runs = [timed_get(url) for _ in range(n)]
    out: list[object] = []
    for i in range(3):
        values = sorted(r[i] for r in runs)
        out += [statistics.median(values), values[int(0.9 * (len(values) - 1))]]
    return out


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--blocks", type=int, default=10_000)
    args.add_argument("--requests", type=int, default=50)
    opts = args.parse_args()
    print(machine_note())
    workdir = Path(tempfile.mkdtemp(prefix="bench-explorer-"))
    config = workdir / "regtest-long.yml"  # regtest halves every 150 blocks: no reward left by 10,000
    config.write_text((ROOT / "labchain/core/chains/regtest.yml").read_text()
                      .replace("halving_interval: 150 ", "halving_interval: 210000 ", 1))
    with Testnet.start(nodes=1, config=config, dir=workdir / "net") as net:
        rpc = net.nodes[0].rpc
        address = rpc.listaccounts()[1]["address"]
        proc = subprocess.Popen([sys.executable, "-m", "labchain.cli", "explorer", "--rpc", net.nodes[0].rpc_url,
                                 "--port", "0"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            line = proc.stdout.readline()
            base = re.search(r"(http://\S+?)/?$", line.strip()).group(1)
            memory = [("after start", rss(proc.pid))]
            rows = []
            for target in (100, opts.blocks):
                while rpc.getblockcount() < target:
                    rpc.generate(min(10_000, target - rpc.getblockcount()))
                rpc.sendtoaddress(0, address, 1000)
                rpc.generate(1)
                height = rpc.getblockcount()
                for name, path in (("overview", "/n/local/"), ("block", f"/n/local/block/{height // 2}"),
                                   ("address", f"/n/local/address/{address}")):
                    timed_get(base + path)  # warm
                    rows.append([name, height] + measure(base + path, opts.requests))
                memory.append((f"after the requests at {height} blocks", rss(proc.pid)))
            t0 = time.perf_counter()
            for h in range(1, 2001):
                urllib.request.urlopen(f"{base}/n/local/block/{h}", timeout=60).read()
            pages = time.perf_counter() - t0
            memory.append(("after 2,000 distinct block pages", rss(proc.pid)))
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"\nServer-side time per page, ms (median / p90 of {opts.requests} requests; one node):")
    print(table(["page", "blocks", "rpc med", "rpc p90", "render med", "render p90", "wall med", "wall p90"], rows))
    print(f"\n2,000 block pages one after the other: {pages:.1f} s ({2000 / pages:.0f} pages/s)")
    print("\nExplorer process memory (VmRSS):")
    print(table(["when", "MiB"], [[w, m / 2**20] for w, m in memory]))


if __name__ == "__main__":
    main()
