"""Consortium testnet figures (issue #12 section 6): `labchain testnet up --config consortium-4org`
to the first block on every node, the handshake's auth cost, and RSS per node.

    .venv/bin/python bench/bench_consortium.py [--runs 3]

Each run: `labchain testnet up` (certificates generated, 5 node processes, 4 authenticated
links), then node0 mines one block and the run waits until all 5 nodes hold it; RSS of each node
process from /proc. Also: the CPU time of one link authentication (verify a member certificate
and its signature) in-process.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run() -> tuple[float, float, list[int]]:
    from labchain.testnet import Testnet

    folder = Path(tempfile.mkdtemp(prefix="bench-consortium-"))
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "labchain.testnet", "up", "--config", "consortium-4org",
                    "--dir", str(folder)], check=True, capture_output=True)
    up = time.monotonic() - start
    try:
        net = Testnet.connect(str(folder))
        net.nodes[0].rpc.generate(1)
        net.sync_blocks()
        first = time.monotonic() - start
        rss = []
        for node in net.nodes:
            pid = json.loads((folder / f"node{node.index}" / "ready.json").read_text())["pid"]
            line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS"))
            rss.append(int(line.split()[1]) // 1024)
    finally:
        subprocess.run([sys.executable, "-m", "labchain.testnet", "down", "--dir", str(folder)], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
    return up, first, rss


def auth_cost(n: int = 200) -> float:
    from labchain.identity import MemberStore
    from labchain.identity.cryptogen import generate
    from labchain.node.identity import LinkAuth, NodeCredential, auth_message

    c = generate({"suite": "p256-sha256", "orgs": [{"name": "org", "count": 2, "nodes": {"consensus": 1}}]})
    store = MemberStore.create("permissioned-cert", "p256-sha256", c.trust_roots)
    member = c.org("org2").member("consensus1")
    auth = LinkAuth(store, NodeCredential(member.key, member.certificate), "bench", b"\0" * 32)
    nonce = b"\1" * 32
    signature = member.key.sign(auth_message(nonce, "bench", b"\0" * 32))
    start = time.process_time()
    for _ in range(n):
        auth.check(member.certificate.der, signature, nonce)
    return (time.process_time() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ups, firsts = [], []
    for _ in range(args.runs):
        up, first, rss = one_run()
        ups.append(up)
        firsts.append(first)
        print(f"up {up:.1f} s, first block on all 5 nodes {first:.1f} s, RSS MiB per node {rss}")
    print(f"median of {args.runs}: up {statistics.median(ups):.1f} s, first block {statistics.median(firsts):.1f} s")
    print(f"one link authentication (certificate + signature, P-256): {auth_cost() * 1e3:.2f} ms CPU")


if __name__ == "__main__":
    main()
