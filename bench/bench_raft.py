"""Raft throughput and commit latency: LabChain's engine in the simulator, the same engine over
real loopback TCP (3 processes), and PySyncObj (3 processes, loopback) in the same run.

Workload (the same for both real-socket runs): ``COMMANDS`` commands of ``SIZE`` bytes, each
unique, submitted by a client on node 1 (which may be a follower: it forwards), with at most
``WINDOW`` commands in flight (a closed loop: a new command as soon as one commits). Figures:
committed commands per second (first submit to the last commit at the client's node) and the
commit latency of each command (submit to commit on the client's node), p50 and p99.

The **simulator** figures are of a different kind and are printed separately: virtual time
(modelled 1-10 ms latency, no bandwidth limit, no CPU cost), so its latency shows the protocol
(block interval + round trips), not a machine; its "wall" column is how fast the simulator
itself runs the 3 engines in one process, per CPU second. Do not compare it with the socket figures.

The loopback driver here is a minimal asyncio driver for the benchmark (length-prefixed frames
of the engine wire format, ``loop.call_later`` timers); the node's real P2P wiring is the lead's
next step. PySyncObj runs with its defaults plus ``dynamicMembershipChange=False``; it batches
commands per append (its ``appendEntriesUseBatch``). LabChain cuts one block per
``block_interval`` of up to ``block_tx_capacity`` commands (values below).

    .venv/bin/python bench/bench_raft.py [COMMANDS] [SIZE]
"""
from __future__ import annotations

import asyncio
import multiprocessing
import random
import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_note, table  # noqa: E402

from labchain.consensus.engine import (  # noqa: E402
    CancelTimer, Commit, Misbehaviour, Send, SetTimer, Broadcast, decode_engine_message,
    encode_engine_message,
)
from labchain.consensus.raft import RaftConfig, RaftEngine, batch_commands  # noqa: E402
from labchain.consensus.sim import NetworkModel, Simulation  # noqa: E402

COMMANDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
SIZE = int(sys.argv[2]) if len(sys.argv) > 2 else 100
WINDOW = 2_000
NODES = ("n1", "n2", "n3")
# ChainMaker: block_interval / block_tx_capacity; tick as etcd's ticker
REAL_CONFIG = RaftConfig(tick=0.05, election_tick=10, heartbeat_tick=1, block_interval=0.01,
                         block_tx_capacity=2_000, max_append_entries=64)


def command(i: int) -> bytes:
    return f"cmd-{i:09d}-".encode().ljust(SIZE, b"x")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- 1. simulator ---------------------------------------------------------------------------

def simulator(rate: float, config: RaftConfig) -> dict:
    engines = {v: RaftEngine(v, NODES, rng=random.Random(f"bench:{v}"), config=config) for v in NODES}
    sim = Simulation(engines, seed=1, network=NetworkModel(0.001, 0.010), record_messages=False)
    sim.run(until=3.0)                                   # elect a leader first
    submitted: dict[bytes, float] = {}
    start = sim.now
    gap = 1.0 / rate
    for i in range(COMMANDS):
        c = command(i)
        submitted[c] = start + i * gap
        sim.submit("n1", c, at=start + i * gap)
    latencies: list[float] = []
    seen = 0
    finished = [start]
    wall = time.process_time()

    def all_done(s: Simulation) -> bool:
        nonlocal seen
        commits = s.commits["n1"]
        for k in range(seen, len(commits)):
            for c in batch_commands(commits[k].value):
                latencies.append(s.commit_times["n1"][k] - submitted[c])
        seen = len(commits)
        finished[0] = s.now
        return len(latencies) >= COMMANDS
    sim.run(until=start + COMMANDS * gap + 60, stop=all_done)
    wall = time.process_time() - wall
    return {"virtual_s": finished[0] - start, "wall_s": wall, "lat": latencies,
            "messages": sim.messages_sent}


def failover(kills: int, config: RaftConfig) -> list[float]:
    """Virtual seconds from killing the leader to a new leader, ``kills`` times in a row (the
    old leader restarts 2 s later and rejoins as a follower)."""
    engines = {v: RaftEngine(v, NODES, rng=random.Random(f"failover:{v}"), config=config) for v in NODES}
    sim = Simulation(engines, seed=2, record_messages=False)

    def leader(s: Simulation) -> str | None:
        live = [(e.term, n) for n, e in s.engines.items() if e.role == "leader" and n not in s.crashed]
        return max(live)[1] if live else None
    sim.run(until=3.0)
    times = []
    for i in range(kills):
        old = leader(sim)
        sim.crash(old)
        killed = sim.now
        while leader(sim) in (None, old) and sim.step():   # step: run(stop=) would jump to until
            pass
        times.append(sim.now - killed)
        sim.recover(old)
        sim.run(until=sim.now + 2.0)
    return times


# --- 2. LabChain Raft over loopback TCP -----------------------------------------------------

class LoopbackDriver:
    """Runs one RaftEngine on asyncio: TCP links to the peers, real timers, the wall clock."""

    def __init__(self, node: str, ports: dict[str, int], client: bool) -> None:
        self.node, self.ports, self.client = node, ports, client
        self.engine = RaftEngine(node, NODES, rng=random.Random(node), config=REAL_CONFIG)
        self.writers: dict[str, asyncio.StreamWriter] = {}
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.applied = 0
        self.sent_at: dict[bytes, float] = {}
        self.latencies: list[float] = []
        self.done = asyncio.Event()

    def apply(self, outputs: list) -> None:
        loop = asyncio.get_running_loop()
        for out in outputs:
            if isinstance(out, Send):
                self.send(out.to, out.message)
            elif isinstance(out, Broadcast):
                for peer in NODES:
                    if peer != self.node:
                        self.send(peer, out.message)
            elif isinstance(out, SetTimer):
                old = self.timers.pop(out.name, None)
                if old:
                    old.cancel()
                self.timers[out.name] = loop.call_later(out.delay, self.fire, out.name)
            elif isinstance(out, CancelTimer):
                old = self.timers.pop(out.name, None)
                if old:
                    old.cancel()
            elif isinstance(out, Commit):
                now = time.perf_counter()
                for c in batch_commands(out.value):
                    self.applied += 1
                    if self.client and c in self.sent_at:
                        self.latencies.append(now - self.sent_at.pop(c))
                if self.applied >= COMMANDS:
                    self.done.set()
            elif isinstance(out, Misbehaviour):
                print(f"{self.node}: misbehaviour {out}", file=sys.stderr)

    def send(self, peer: str, message) -> None:
        writer = self.writers.get(peer)
        if writer is not None and not writer.is_closing():
            wire = encode_engine_message(message)
            writer.write(struct.pack(">I", len(wire)) + wire)

    def fire(self, name: str) -> None:
        self.timers.pop(name, None)
        self.apply(self.engine.on_timer(name, time.monotonic()))

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sender = (await reader.readexactly(8)).rstrip(b"\0").decode()
        try:
            while True:
                (length,) = struct.unpack(">I", await reader.readexactly(4))
                message = decode_engine_message(await reader.readexactly(length))
                self.apply(self.engine.on_message(sender, message, time.monotonic()))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    async def connect(self, peer: str) -> None:
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.ports[peer])
                writer.transport.set_write_buffer_limits(high=64 * 1024 * 1024)
                writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                writer.write(self.node.encode().ljust(8, b"\0"))
                self.writers[peer] = writer
                return
            except OSError:
                await asyncio.sleep(0.05)

    async def run_client(self) -> tuple[float, float]:
        while self.engine.leader is None:
            await asyncio.sleep(0.01)
        began = time.perf_counter()
        sent = 0
        while sent < COMMANDS:
            while sent < COMMANDS and len(self.sent_at) < WINDOW:
                c = command(sent)
                self.sent_at[c] = time.perf_counter()
                self.apply(self.engine.submit(c, time.monotonic()))
                sent += 1
            await asyncio.sleep(0.001)
        await self.done.wait()
        return began, time.perf_counter()

    async def main(self) -> dict:
        server = await asyncio.start_server(self.serve, "127.0.0.1", self.ports[self.node])
        await asyncio.gather(*(self.connect(p) for p in NODES if p != self.node))
        self.apply(self.engine.start(time.monotonic()))
        result: dict = {}
        if self.client:
            began, ended = await self.run_client()
            result = {"elapsed": ended - began, "lat": self.latencies}
        await asyncio.wait_for(self.done.wait(), timeout=600)
        await asyncio.sleep(1.0)           # let the others finish before the links close
        server.close()
        return result


def labchain_node(node: str, ports: dict[str, int], queue) -> None:
    result = asyncio.run(LoopbackDriver(node, ports, client=node == "n1").main())
    if result:
        queue.put(result)


# --- 3. PySyncObj over loopback -------------------------------------------------------------

def pysyncobj_node(index: int, ports: list[int], queue) -> None:
    from pysyncobj import SyncObj, SyncObjConf, replicated

    class Store(SyncObj):
        def __init__(self, me: str, partners: list[str]) -> None:
            super().__init__(me, partners, conf=SyncObjConf(dynamicMembershipChange=False))
            self.applied = 0

        @replicated
        def put(self, data: bytes) -> int:
            self.applied += 1
            return self.applied

    addrs = [f"127.0.0.1:{p}" for p in ports]
    store = Store(addrs[index], [a for i, a in enumerate(addrs) if i != index])
    if index == 0:
        while store._getLeader() is None:
            time.sleep(0.01)
        sent_at: dict[int, float] = {}
        latencies: list[float] = []

        def callback(i: int):
            def done(result, error) -> None:
                latencies.append(time.perf_counter() - sent_at.pop(i))
            return done
        began = time.perf_counter()
        sent = 0
        while len(latencies) < COMMANDS:
            while sent < COMMANDS and len(sent_at) < WINDOW:
                sent_at[sent] = time.perf_counter()
                store.put(command(sent), callback=callback(sent))
                sent += 1
            time.sleep(0.001)
        queue.put({"elapsed": time.perf_counter() - began, "lat": latencies})
    deadline = time.time() + 600
    while store.applied < COMMANDS and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(1.0)
    store.destroy()


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def three_processes(target, args_for) -> dict:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args_for(i), queue)) for i in range(3)]
    for p in procs:
        p.start()
    result = queue.get(timeout=900)
    for p in procs:
        p.join(timeout=60)
    return result


def main() -> None:
    print(f"Raft: {COMMANDS:,} commands of {SIZE} bytes, 3 nodes; {machine_note()}")
    rows = []
    for rate in (2_000, 20_000):
        r = simulator(rate, REAL_CONFIG)
        lat = r["lat"]
        rows.append([f"simulator, offered {rate:,}/s", COMMANDS / r["virtual_s"],
                     percentile(lat, 0.5) * 1e3, percentile(lat, 0.99) * 1e3,
                     f"simulating took {r['wall_s']:.1f} CPU s ({COMMANDS / r['wall_s']:,.0f} cmd/CPU s)"])
    times = sorted(failover(20, REAL_CONFIG))
    low, high = REAL_CONFIG.election_timeout_range
    print(f"leader failover in the simulator, 20 kills: min {times[0]:.2f} s, p50 "
          f"{percentile(times, 0.5):.2f} s, max {times[-1]:.2f} s (election timeout "
          f"{low:.1f}-{high:.1f} s, heartbeat {REAL_CONFIG.heartbeat_tick * REAL_CONFIG.tick:.2f} s)")
    ports = free_ports(3)
    lc = three_processes(labchain_node, lambda i: (NODES[i], dict(zip(NODES, ports))))
    rows.append(["LabChain Raft, loopback TCP, 3 processes", COMMANDS / lc["elapsed"],
                 percentile(lc["lat"], 0.5) * 1e3, percentile(lc["lat"], 0.99) * 1e3,
                 f"window {WINDOW}"])
    try:
        import pysyncobj  # noqa: F401
    except ImportError:
        rows.append(["PySyncObj", None, None, None, "not installed (pip install pysyncobj)"])
    else:
        ports = free_ports(3)
        ps = three_processes(pysyncobj_node, lambda i: (i, ports))
        rows.append([f"PySyncObj {pysyncobj.__version__ if hasattr(pysyncobj, '__version__') else ''}"
                     ", loopback TCP, 3 processes".replace(" ,", ","),
                     COMMANDS / ps["elapsed"], percentile(ps["lat"], 0.5) * 1e3,
                     percentile(ps["lat"], 0.99) * 1e3, f"window {WINDOW}"])
    print(table(["run", "committed cmd/s", "p50 ms", "p99 ms", "note"], rows))
    print(f"LabChain config: block_interval {REAL_CONFIG.block_interval} s, block_tx_capacity "
          f"{REAL_CONFIG.block_tx_capacity}, tick {REAL_CONFIG.tick} s, election_tick "
          f"{REAL_CONFIG.election_tick}, heartbeat_tick {REAL_CONFIG.heartbeat_tick}")
    print("simulator rows are virtual time (modelled 1-10 ms links, no CPU cost): not a real network")


if __name__ == "__main__":
    main()
