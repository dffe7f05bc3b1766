"""Testnet figures: start-up time and memory beside Ganache, block propagation, throughput.

1. Start-up: ``labchain testnet up --nodes 4`` (a fresh process, as a student types it) until
   every node is connected and a block mined by node 0 is seen by all four: wall seconds and
   the node processes' memory. In the same run, a Ganache 7 node (``npm install ganache`` into
   ``bench/.cache``) from its start until ``eth_blockNumber`` answers, and its memory.
   Memory is shown as RSS (what ``ps`` shows; counts shared libraries once per process) and
   PSS (shared pages split between the processes that share them: what the machine spends).
   Each process's RSS is listed under the table (node 0, which mined, also holds the miner).
2. Propagation: a 4-node line; node 0 mines a block, node 3 logs it as its new tip. Times come
   from the nodes' own log timestamps (same clock, ms), so polling does not disturb them.
3. Throughput: N signed transactions sent with ``sendrawtransaction`` to node 0 of a 4-node
   line, then one block mined; transactions per second from the first send until the block
   holding all of them is the tip of all four nodes.

Prints figures; asserts nothing about speed. ``--quick`` uses fewer samples.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _common import machine_note, table  # noqa: E402

from labchain.block import account_key, genesis_block  # noqa: E402
from labchain.core.params import COIN, get_params  # noqa: E402
from labchain.testnet import Testnet  # noqa: E402
from labchain.ledger.utxo.tx import OutPoint, Transaction, TxIn, TxOut  # noqa: E402

CACHE = HERE / ".cache"
GANACHE = CACHE / "node_modules" / ".bin" / "ganache"
REGTEST = get_params("regtest")


# --- memory --------------------------------------------------------------------------------

def rss_kib(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", text).group(1))


def pss_kib(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        return int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))
    except (OSError, AttributeError):
        return rss_kib(pid)


def tree_pids(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        p, pp = map(int, line.split())
        children.setdefault(pp, []).append(p)
    result, todo = [], [pid]
    while todo:
        p = todo.pop()
        result.append(p)
        todo.extend(children.get(p, []))
    return result


# --- 1. start-up ---------------------------------------------------------------------------

def labchain_startup() -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="bench-testnet-"))
    began = time.perf_counter()
    up = subprocess.run([sys.executable, "-m", "labchain.testnet", "up", "--nodes", "4", "--quiet",
                         "--dir", str(workdir / "net")], capture_output=True, text=True)
    if up.returncode:
        raise RuntimeError(f"testnet up failed: {up.stderr}")
    net = Testnet.connect(up.stdout.strip())
    try:
        tip = net.nodes[0].rpc.generate(1)[0]
        net.sync_blocks()
        seconds = time.perf_counter() - began
        assert tip == net.nodes[3].rpc.getbestblockhash()
        pids = [n.endpoint.pid for n in net.nodes]
        per_node = [rss_kib(pid) for pid in pids]
        return {"seconds": seconds, "rss": sum(per_node), "pss": sum(map(pss_kib, pids)),
                "per_process": per_node}
    finally:
        net.down()
        shutil.rmtree(workdir, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ganache_startup() -> dict | None:
    if not GANACHE.exists():
        print(f"(Ganache not installed: `cd {CACHE} && npm install ganache` to compare)")
        return None
    port = free_port()
    began = time.perf_counter()
    proc = subprocess.Popen([str(GANACHE), "--server.host", "127.0.0.1", "--server.port", str(port),
                             "--logging.quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}).encode()
    try:
        while True:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/", body,
                                                 {"Content-Type": "application/json"})
                urllib.request.urlopen(request, timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("ganache exited") from None
                time.sleep(0.01)
        seconds = time.perf_counter() - began
        time.sleep(0.2)
        pids = tree_pids(proc.pid)
        per_process = [rss_kib(pid) for pid in pids]
        return {"seconds": seconds, "rss": sum(per_process), "pss": sum(map(pss_kib, pids)),
                "per_process": per_process}
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


# --- 2. propagation --------------------------------------------------------------------------

LOG_TIME = re.compile(r"^(\S+ \S+) INFO labchain\.node: (mined block|new tip) ([0-9a-f]{64})", re.M)


def log_times(text: str, kind: str) -> dict[str, float]:
    times = {}
    for stamp, what, block_hash in LOG_TIME.findall(text):
        if what == kind and block_hash not in times:
            times[block_hash] = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
    return times


def propagation(net: Testnet, blocks: int) -> list[float]:
    hashes = []
    for _ in range(blocks):
        hashes.append(net.nodes[0].rpc.generate(1)[0])
        net.sync_blocks()
    mined = log_times(net.nodes[0].logs(), "mined block")
    seen = log_times(net.nodes[3].logs(), "new tip")
    return [(seen[h] - mined[h]) * 1000 for h in hashes]


# --- 3. throughput ---------------------------------------------------------------------------

def fan_out(count: int) -> tuple[Transaction, list[Transaction]]:
    """One transaction splitting genesis account 0 into ``count`` coins, and ``count`` payments
    each spending one of them (all signed here, before the clock starts)."""
    key, dest = account_key(REGTEST, 0), account_key(REGTEST, 1).address
    genesis_tx = genesis_block(REGTEST).transactions[0]
    split = Transaction(1, (TxIn(OutPoint(genesis_tx.txid, 0)),),
                        tuple(TxOut(COIN, key.address) for _ in range(count))).sign([key])
    payments = [Transaction(1, (TxIn(OutPoint(split.txid, i)),), (TxOut(COIN - 1000, dest),)).sign([key])
                for i in range(count)]
    return split, payments


def throughput(net: Testnet, count: int) -> dict:
    split, payments = fan_out(count)
    rpc = net.nodes[0].rpc
    rpc.sendrawtransaction(split.to_bytes().hex())
    rpc.generate(1)
    net.sync_blocks()
    began = time.perf_counter()
    for tx in payments:
        rpc.sendrawtransaction(tx.to_bytes().hex())
    accepted = time.perf_counter() - began
    tip = rpc.generate(1)[0]
    net.sync_blocks()
    total = time.perf_counter() - began
    mined = len(rpc.getblock(tip)["transactions"]) - 1
    return {"count": count, "mined": mined, "accept_tps": count / accepted, "end_to_end_tps": mined / total,
            "seconds": total}


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    print(f"machine: {machine_note()}")
    rounds = 1 if quick else 3
    ours = [labchain_startup() for _ in range(rounds)]
    theirs = [g for g in (ganache_startup() for _ in range(rounds)) if g]
    rows = [["LabChain testnet up --nodes 4 + block seen by all",
             statistics.median(r["seconds"] for r in ours),
             statistics.median(r["rss"] for r in ours) / 1024,
             statistics.median(r["pss"] for r in ours) / 1024]]
    if theirs:
        rows.append(["Ganache 7, one node, until eth_blockNumber answers",
                     statistics.median(r["seconds"] for r in theirs),
                     statistics.median(r["rss"] for r in theirs) / 1024,
                     statistics.median(r["pss"] for r in theirs) / 1024])
    print(f"\nStart-up (median of {rounds})")
    print(table(["what", "wall s", "RSS MiB", "PSS MiB"], rows))
    for name, runs in (("LabChain nodes 0-3", ours), ("Ganache processes", theirs)):
        for n, run in enumerate(runs, 1):
            print(f"  {name}, run {n}: RSS MiB " + ", ".join(f"{k / 1024:.1f}" for k in run["per_process"]))

    with Testnet.start(nodes=4, topology="line") as net:
        delays = propagation(net, 10 if quick else 40)
        print(f"\nPropagation on a 4-node line (node 0 mines -> node 3's new tip, {len(delays)} blocks)")
        print(table(["median ms", "p90 ms", "max ms"],
                    [[statistics.median(delays), statistics.quantiles(delays, n=10)[-1], max(delays)]]))
        result = throughput(net, 200 if quick else 1000)
        print(f"\nThroughput on a 4-node line ({result['count']} sendrawtransaction to node 0, one block)")
        print(table(["accepted tx/s", "mined + seen by all, tx/s", "tx in block", "seconds"],
                    [[result["accept_tps"], result["end_to_end_tps"], result["mined"], result["seconds"]]]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
