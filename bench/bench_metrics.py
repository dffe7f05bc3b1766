"""Metrics figures (issue #17 §4): the cost of a node's Prometheus ``/metrics`` endpoint.

1. Scrape time: ``GET /metrics`` on each node of a 4-node testnet, N times: median and p90 ms,
   and the size of the text.
2. Its cost to block propagation: on a 4-node line, node 0 mines blocks one by one and the delay
   until node 3's new tip is taken from the nodes' own log timestamps (as ``bench_testnet``),
   first with nobody scraping, then with a scraper hitting every node's ``/metrics`` every
   second (what Prometheus with ``scrape_interval: 1s`` does), in the same run, alternating.

Prints figures; asserts nothing about speed. ``--quick`` uses fewer samples.
"""
from __future__ import annotations

import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import machine_note, table  # noqa: E402
from bench_testnet import propagation  # noqa: E402

from labchain.testnet import Testnet  # noqa: E402


def metrics_url(node) -> str:
    return node.rpc_url.rstrip("/") + "/metrics"


def scrape(url: str) -> tuple[float, int]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as response:
        size = len(response.read())
    return (time.perf_counter() - start) * 1000, size


class Scraper(threading.Thread):
    """Scrapes every URL once per ``interval`` seconds until stopped."""

    def __init__(self, urls: list[str], interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.urls, self.interval, self.stopped, self.count = urls, interval, threading.Event(), 0

    def run(self) -> None:
        while not self.stopped.is_set():
            for url in self.urls:
                scrape(url)
                self.count += 1
            self.stopped.wait(self.interval)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    samples, blocks, rounds = (20, 10, 1) if quick else (100, 20, 3)
    print(f"machine: {machine_note()}")
    with Testnet.start(nodes=4, topology="line") as net:
        net.nodes[0].rpc.generate(5)
        net.sync_blocks()
        rows = []
        for node in net.nodes:
            times, size = [], 0
            for _ in range(samples):
                ms, size = scrape(metrics_url(node))
                times.append(ms)
            rows.append([node.name, statistics.median(times), statistics.quantiles(times, n=10)[-1], size])
        print(f"\n/metrics scrape time ({samples} scrapes per node)")
        print(table(["node", "median ms", "p90 ms", "bytes"], rows))

        quiet, scraped = [], []
        for _ in range(rounds):
            quiet += propagation(net, blocks)
            scraper = Scraper([metrics_url(n) for n in net.nodes], 1.0)
            scraper.start()
            try:
                scraped += propagation(net, blocks)
            finally:
                scraper.stopped.set()
                scraper.join()
        print(f"\nBlock propagation node 0 -> node 3 on a 4-node line ({len(quiet)} blocks each, "
              "alternating rounds)")
        print(table(["scraping", "median ms", "p90 ms", "max ms"], [
            ["none", statistics.median(quiet), statistics.quantiles(quiet, n=10)[-1], max(quiet)],
            ["every node each 1 s", statistics.median(scraped), statistics.quantiles(scraped, n=10)[-1],
             max(scraped)]]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
