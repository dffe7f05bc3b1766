"""A multi-node network a student starts from a notebook or a shell, breaks, and watches heal.

Terminology
-----------
topology
    Which nodes dial which at start: ``line`` (0-1-2-3), ``ring`` (a line plus 3-0) or ``full``
    (everyone with everyone). An edge ``(i, j)`` means node ``i`` dials node ``j``.
partition
    Groups of nodes that cannot reach each other: the nodes drop every connection across
    groups (``disconnectpeer``), then each side mines its own branch. ``heal()`` re-adds the
    topology's edges; the side with less work reorganises onto the other's chain and the
    transactions of its lost blocks go back to its mempool.
``LABCHAIN_TESTNET``
    The path of the testnet's ``testnet.json`` (or that file's JSON text). ``Testnet.connect()``
    reads it to attach a notebook, a grader or the CLI to a running testnet.

The handle talks to nodes over JSON-RPC only, so it works the same on every backend
(``backend.py``); it holds no socket or thread of its own and therefore survives across notebook
cells and kernel interrupts. Nodes started by ``Testnet.start`` exit when the starting process
exits (``atexit``) or dies (the node's ``--parent-pid`` watchdog), so nothing outlives a kernel
or a test; ``labchain testnet up`` starts nodes that live until ``labchain testnet down``.

Like Bitcoin Core's test framework, waits poll RPC (``getpeerinfo``, ``getbestblockhash``,
``getmempool``) and fail with a message that shows every node's state.
"""
from __future__ import annotations

import atexit
import json
import os
import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable

from labchain.core.errors import LabchainError
from labchain.node.rpc import RpcClient, RpcConnectionError, RpcError
from labchain.testnet.backend import (
    Backend,
    NodeEndpoint,
    NodeSpec,
    RpcOnlyBackend,
    TestnetError,
    backend_class,
)

STATE_FILE = "testnet.json"
ENV_VAR = "LABCHAIN_TESTNET"
TOPOLOGIES = ("line", "ring", "full")
POLL_SECONDS = 0.05
_NAME = re.compile(r"^node(\d+)$")


def topology_edges(n: int, topology: str) -> list[tuple[int, int]]:
    """Edges ``(i, j)``, ``j < i``, meaning node i dials node j (so j is started first)."""
    if topology not in TOPOLOGIES:
        raise TestnetError(f"unknown topology {topology!r}; choose one of {', '.join(TOPOLOGIES)}", topology)
    if topology == "full":
        return [(i, j) for i in range(n) for j in range(i)]
    edges = [(i, i - 1) for i in range(1, n)]
    if topology == "ring" and n > 2:
        edges.append((n - 1, 0))
    return edges


class SyncTimeoutError(TestnetError, AssertionError):
    """Nodes did not agree (or connect) in time; the message shows every node's state."""


class TestnetNode:
    """One node of a testnet: ``node.rpc.<method>(...)``, its endpoints and its log."""

    __test__ = False

    def __init__(self, testnet: Testnet, endpoint: NodeEndpoint) -> None:
        self.testnet = testnet
        self.index = endpoint.index
        self.endpoint = endpoint
        self.rpc = RpcClient(endpoint.rpc_url, label=f"node{self.index}")

    @property
    def name(self) -> str:
        return f"node{self.index}"

    @property
    def rpc_url(self) -> str:
        return self.endpoint.rpc_url

    @property
    def p2p_addr(self) -> str:
        return self.endpoint.p2p_addr

    @property
    def running(self) -> bool:
        """Whether the node runs: the backend says so, or (when this process cannot ask the
        backend, e.g. inside a lab container) whether it answers RPC."""
        try:
            return self.testnet.backend.is_running(self.index)
        except LabchainError:
            try:
                RpcClient(self.rpc_url, timeout=2.0).getblockcount()
                return True
            except (RpcConnectionError, RpcError):
                return False

    def logs(self) -> str:
        return self.testnet.backend.logs(self.index)

    # -- link faults on this node (labchain/node/faults.py; in memory: a restart clears them) --
    def set_fault(self, partition: Iterable[str | int] | None = None, delay_ms: float | None = None,
                  drop: float | None = None, seed: int | None = None, byzantine: str | None = None,
                  targets: Iterable[str | int] | None = None) -> dict:
        """``setfault`` on this node: ``partition=["node2", 3]`` (names or indexes) cuts it off
        from those peers, ``delay_ms`` holds what it sends, ``drop`` discards that fraction of
        its consensus messages (seeded), ``byzantine="double-vote"`` (or ``double-propose``,
        ...; ``""`` = honest) makes its engine Byzantine, ``targets`` the peers that get its
        conflicting votes. Given fields replace, the others stay."""
        def names(peers):
            return None if peers is None else [f"node{p}" if type(p) is int else p for p in peers]
        return self.rpc.setfault(names(partition), delay_ms, drop, seed, byzantine, names(targets))

    def evidence(self) -> list[dict]:
        """``getevidence``: the equivocation evidence this node holds (offender, height, round,
        the two signed votes, ``recorded_at``: the certificate height that recorded it)."""
        return self.rpc.getevidence()["evidence"]

    def faults(self) -> dict:
        return self.rpc.getfaults()

    def clear_faults(self) -> dict:
        return self.rpc.clearfaults()

    def wait_for_log(self, pattern: str, timeout: float = 30.0) -> re.Match:
        regex, deadline = re.compile(pattern), time.monotonic() + timeout
        while True:
            match = regex.search(self.logs())
            if match:
                return match
            if time.monotonic() > deadline:
                tail = "\n".join(self.logs().splitlines()[-20:])
                raise SyncTimeoutError(f"{self.name}: no log line matching {pattern!r} after "
                                       f"{timeout:.0f} s; last lines:\n{tail}")
            time.sleep(POLL_SECONDS)

    def __repr__(self) -> str:
        return f"<TestnetNode {self.index} rpc={self.rpc_url} p2p={self.p2p_addr}>"


class Testnet:
    """A running testnet: ``Testnet.start(...)`` or ``Testnet.connect()``."""

    __test__ = False

    def __init__(self, backend: Backend, params: str, topology: str, edges: list[tuple[int, int]],
                 dir: Path, mining: str = "manual", owned: bool = True) -> None:
        self.backend = backend
        self.params = params
        self.topology = topology
        self.edges = edges
        self.dir = Path(dir)
        self.mining = mining
        self.owned = owned
        self.nodes: list[TestnetNode] = []
        self.groups: dict[int, int] | None = None  # node -> group while partitioned

    # -- creation ----------------------------------------------------------------------------
    @classmethod
    def start(cls, nodes: int = 4, topology: str = "line", params: str = "regtest",
              backend: str = "local", dir: str | os.PathLike | None = None, mining: str = "manual",
              owner_pid: int | None | str = "self", timeout: float = 60.0,
              progress: Any = None, config: str | os.PathLike | None = None,
              **backend_options: Any) -> Testnet:
        """Start ``nodes`` nodes, connect them, and wait until every node answers and is connected.

        ``owner_pid``: nodes exit when that process dies (default: this process; None: never,
        for ``labchain testnet up``). ``progress``: optional callable ``(i, n)`` for a progress bar.
        ``backend_options`` go to the backend's constructor (e.g. ``student="s001"`` for docker).
        ``config``: a chain configuration, preset name or YAML path (labchain.core.config); it
        replaces ``params`` and is checked before any node starts.
        """
        if config is not None:
            from labchain.core.config import PRESET_DIR, load_config, resolve

            chain_config = load_config(config)  # a bad file raises ConfigError here, naming the key
            path = resolve(config)
            params = str(config) if path.parent == PRESET_DIR else str(path.resolve())
            spec = chain_config.params.consensus
            if spec is not None:   # an engine addresses validators directly: every node dials every node
                topology = "full"
                missing = [v for v in spec.validators if v not in {f"node{i}" for i in range(nodes)}]
                if missing:
                    raise TestnetError(f"{config} names validator(s) {', '.join(missing)}, but a testnet "
                                       f"of {nodes} nodes has node0..node{nodes - 1}; start "
                                       f"{len(spec.validators)} nodes", missing)
        if not 1 <= nodes <= 64:
            raise TestnetError(f"a testnet has 1 to 64 nodes, not {nodes}", nodes)
        edges = topology_edges(nodes, topology)
        workdir = Path(dir).resolve() if dir else Path(tempfile.mkdtemp(prefix="labchain-testnet-"))
        workdir.mkdir(parents=True, exist_ok=True)
        existing = workdir / STATE_FILE
        if existing.exists():
            try:
                running = cls.connect(str(existing))
                if any(n.running for n in running.nodes):
                    raise TestnetError(f"a testnet is already running in {workdir}; stop it with "
                                       f"`labchain testnet down --dir {workdir}` or choose another dir")
            except (ValueError, OSError, KeyError):
                pass
        chosen = config if config is not None else params
        from labchain.core.params import NETWORKS

        if str(chosen) not in NETWORKS:  # a consortium: certificates first (testnet/consortium.py)
            from labchain.testnet.consortium import needs_certificates, prepare

            if needs_certificates(chosen):
                chain_file, nodes = prepare(chosen, workdir)
                params, edges = str(chain_file), topology_edges(nodes, topology)
        owner = os.getpid() if owner_pid == "self" else owner_pid
        # Stop the nodes when THIS process exits only if it is the owner; with another owner
        # (`make lab` passes its shell's pid to `labchain testnet up`) the nodes outlive us
        # and their --parent-pid watchdog ends them when that owner dies.
        owned_here = owner == os.getpid()
        if backend == "local":
            backend_options.setdefault("stop_at_exit", owned_here)
        impl = backend_class(backend)(workdir, owner, **backend_options)
        net = cls(impl, params, topology, edges, workdir, mining, owned=owned_here)
        if net.owned:
            atexit.register(net._down_at_exit)
        try:
            net._start_all(nodes, timeout, progress)
        except BaseException:
            net.down()
            raise
        return net

    def _start_all(self, count: int, timeout: float, progress: Any) -> None:
        """Start every node at once (no peers yet), then dial the topology's edges over RPC.

        Starting in parallel rather than one after the other (each dialling the ones before)
        makes ``up`` take about one node's start-up time instead of ``count`` of them.
        """
        done = 0
        counting = threading.Lock()  # start_one runs in pool threads

        def start_one(index: int) -> NodeEndpoint:
            nonlocal done
            endpoint = self.backend.start_node(NodeSpec(index, self.params, [], self.mining), timeout)
            with counting:
                done += 1
                if progress:
                    progress(done, count)
            return endpoint

        with ThreadPoolExecutor(max_workers=min(count, 8)) as pool:
            futures = [pool.submit(start_one, i) for i in range(count)]
            endpoints = [f.result() for f in futures]  # re-raises the first start failure
        self.nodes = [TestnetNode(self, e) for e in endpoints]
        self.save()
        for i, j in self.edges:
            self.nodes[i].rpc.addpeer(self.nodes[j].p2p_addr)
        self.wait_connected(timeout)

    def spec(self, index: int) -> NodeSpec:
        """How to run node ``index``: its outbound peers are the topology's (same group only)."""
        peers = []
        for i, j in self.edges:
            if i == index and j < len(self.nodes) and self._same_group(i, j):
                peers.append(self.nodes[j].p2p_addr)
        return NodeSpec(index, self.params, peers, self.mining)

    @classmethod
    def connect(cls, value: str | os.PathLike | None = None) -> Testnet:
        """Attach to a running testnet: ``value`` is a ``testnet.json`` path, its directory, or its
        JSON text; by default the ``LABCHAIN_TESTNET`` environment variable."""
        if value is None:
            value = os.environ.get(ENV_VAR)
            if not value:
                raise TestnetError(f"no testnet to connect to: {ENV_VAR} is not set. Start one with "
                                   "`labchain testnet up` (or `make lab`), or use Testnet.start()")
        text = str(value).strip()
        if text.startswith("{"):
            state = json.loads(text)
        else:
            path = Path(text)
            if path.is_dir():
                path = path / STATE_FILE
            try:
                state = json.loads(path.read_text())
            except OSError:
                raise TestnetError(f"no testnet state at {path}: is the testnet up?", str(path)) from None
        if "backend_state" not in state:  # endpoints only, e.g. the docker backend's lab container
            return cls._rpc_only(state)
        workdir = Path(state["dir"])
        impl = backend_class(state["backend"]).attach(workdir, state["backend_state"])
        net = cls(impl, state["params"], state["topology"], [tuple(e) for e in state["edges"]],
                  workdir, state.get("mining", "manual"), owned=False)
        net.groups = {int(k): v for k, v in state["groups"].items()} if state.get("groups") else None
        net.nodes = [TestnetNode(net, NodeEndpoint.from_json(e)) for e in state["nodes"]]
        return net

    @classmethod
    def _rpc_only(cls, state: dict[str, Any]) -> Testnet:
        endpoints = {}
        for n, node in enumerate(state.get("nodes", [])):
            index = int(node.get("index", n))
            endpoints[index] = NodeEndpoint(index, node.get("rpc") or node["rpc_url"],
                                            node.get("p2p") or node.get("p2p_addr", ""))
        impl = RpcOnlyBackend(Path(state.get("dir", ".")), endpoints, state.get("backend", ""))
        count = len(endpoints)
        net = cls(impl, state.get("params", "regtest"), state.get("topology", "line"),
                  topology_edges(count, state.get("topology", "line")), impl.workdir, owned=False)
        net.nodes = [TestnetNode(net, endpoints[i]) for i in sorted(endpoints)]
        return net

    # -- state file ----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend.name, "params": self.params, "topology": self.topology,
            "mining": self.mining, "dir": str(self.dir), "edges": [list(e) for e in self.edges],
            "groups": self.groups, "nodes": [n.endpoint.to_json() for n in self.nodes],
            "backend_state": self.backend.state(),
        }

    def save(self) -> None:
        tmp = self.dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1))
        os.replace(tmp, self.dir / STATE_FILE)

    @property
    def env_value(self) -> str:
        """What to put in ``LABCHAIN_TESTNET`` for notebooks and graders."""
        return str(self.dir / STATE_FILE)

    # -- waiting -------------------------------------------------------------------------------
    def running_indexes(self) -> list[int]:
        return [n.index for n in self.nodes if n.running]

    def _same_group(self, i: int, j: int) -> bool:
        return self.groups is None or self.groups.get(i) == self.groups.get(j)

    def expected_neighbours(self, index: int) -> set[int]:
        running = set(self.running_indexes())
        out = set()
        for i, j in self.edges:
            for a, b in ((i, j), (j, i)):
                if a == index and b in running and self._same_group(a, b):
                    out.add(b)
        return out

    def connected_neighbours(self, index: int) -> set[int]:
        out = set()
        for peer in self.nodes[index].rpc.getpeerinfo():
            match = _NAME.match(peer.get("name") or "")
            if match and peer.get("handshake_done"):
                out.add(int(match.group(1)))
        return out

    def wait_connected(self, timeout: float = 60.0) -> None:
        """Wait until every running node is connected to its topology neighbours."""
        def missing() -> dict[int, set[int]]:
            gaps = {}
            for i in self.running_indexes():
                lack = self.expected_neighbours(i) - self.connected_neighbours(i)
                if lack:
                    gaps[i] = lack
            return gaps

        self._wait(lambda: not missing(), timeout,
                   lambda: "nodes not yet connected to their neighbours: " +
                   ", ".join(f"node{i} lacks {sorted(v)}" for i, v in missing().items()))

    def sync_blocks(self, nodes: Iterable[int] | None = None, timeout: float = 60.0) -> str:
        """Wait until the nodes (default: all running) have the same tip; that tip's hash."""
        indexes = list(nodes) if nodes is not None else self.running_indexes()
        tips: dict[int, Any] = {}

        def agree() -> bool:
            tips.clear()
            for i in indexes:
                tips[i] = self.nodes[i].rpc.getbestblockhash()
            return len(set(tips.values())) == 1

        self._wait(agree, timeout, lambda: "tips differ: " + self._describe(indexes))
        return next(iter(tips.values()))

    def sync_mempools(self, nodes: Iterable[int] | None = None, timeout: float = 60.0) -> list[str]:
        """Wait until the nodes' mempools hold the same transactions; those txids."""
        indexes = list(nodes) if nodes is not None else self.running_indexes()
        pools: dict[int, frozenset] = {}

        def agree() -> bool:
            pools.clear()
            for i in indexes:
                pools[i] = frozenset(self.nodes[i].rpc.getmempool())
            return len(set(pools.values())) == 1

        self._wait(agree, timeout, lambda: "mempools differ: " + ", ".join(
            f"node{i}: {len(p)} tx" for i, p in pools.items()))
        return sorted(next(iter(pools.values())))

    def _wait(self, done, timeout: float, describe) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if done():
                    return
            except RpcConnectionError:
                pass  # a node restarting: try again
            if time.monotonic() > deadline:
                raise SyncTimeoutError(f"after {timeout:.0f} s, {describe()}")
            time.sleep(POLL_SECONDS)

    def _describe(self, indexes: Iterable[int]) -> str:
        parts = []
        for i in indexes:
            try:
                rpc = self.nodes[i].rpc
                parts.append(f"node{i} height {rpc.getblockcount()} tip {rpc.getbestblockhash()[:12]}")
            except (RpcConnectionError, RpcError) as exc:
                parts.append(f"node{i} unreachable ({exc})")
        return "; ".join(parts)

    # -- breaking and healing ------------------------------------------------------------------
    def partition(self, *groups: Iterable[int], timeout: float = 30.0) -> list[int]:
        """Split the network: ``partition([0, 1], [2, 3])``. Unlisted nodes form one more group.

        Returns the nodes that are not running (cut off from nothing now; restarted, they
        dial only their own group), so callers can warn about them."""
        group_of: dict[int, int] = {}
        for g, members in enumerate(groups):
            for i in members:
                self._check_index(i)
                if i in group_of:
                    raise TestnetError(f"node {i} is in two groups", i)
                group_of[i] = g
        for n in self.nodes:
            group_of.setdefault(n.index, len(groups))
        self.groups = group_of
        self.save()
        running = self.running_indexes()
        for i in running:  # first stop every redial across groups, then cut what is left
            for j in range(len(self.nodes)):
                if group_of[j] != group_of[i]:
                    self._disconnect(i, self.nodes[j].p2p_addr)

        def cut() -> bool:
            clean = True
            for i in self.running_indexes():
                for peer in self.nodes[i].rpc.getpeerinfo():
                    match = _NAME.match(peer.get("name") or "")
                    if match and group_of.get(int(match.group(1)), -1) != group_of[i]:
                        self._disconnect(i, peer["id"])
                        clean = False
            return clean

        self._wait(cut, timeout, lambda: "connections across the partition remain")
        return [n.index for n in self.nodes if n.index not in running]

    def _disconnect(self, index: int, who: Any) -> None:
        try:
            self.nodes[index].rpc.disconnectpeer(who)
        except RpcError:
            pass  # not connected: nothing to cut

    def heal(self, timeout: float = 60.0) -> None:
        """End a partition: every node dials its topology peers again; waits until connected."""
        self.groups = None
        self.save()
        running = set(self.running_indexes())
        for i, j in self.edges:
            if i in running and j in running:
                self.nodes[i].rpc.addpeer(self.nodes[j].p2p_addr)
        self.wait_connected(timeout)

    @property
    def governance(self):
        """Org admins' governance transactions on a consortium testnet (testnet/consortium.py)."""
        from labchain.testnet.consortium import Governance

        return Governance(self)

    def consensus_states(self) -> dict[int, dict]:
        """``getconsensusstate`` of every running node that answers, by node index."""
        states = {}
        for i in self.running_indexes():
            try:
                states[i] = self.nodes[i].rpc.getconsensusstate()
            except (RpcConnectionError, RpcError, OSError):
                continue
        return states

    def leader(self, timeout: float = 0.0) -> int | None:
        """The index of the node that leads (Raft leader, Solo proposer, BFT primary/proposer)
        as most running nodes see it; None if they do not agree on a running node. With
        ``timeout``, wait up to that long for one."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.consensus_states()
            votes: dict[str, int] = {}
            for st in states.values():
                who = st.get("leader") or st.get("primary") or st.get("proposer")   # Raft, PBFT, TBFT
                if who:
                    votes[who] = votes.get(who, 0) + 1
            for name, count in votes.items():
                match = _NAME.match(name)
                index = int(match.group(1)) if match else None
                if index in states and count * 2 > len(states) and \
                        states[index].get("role") in {"leader", "proposer", "primary", None}:
                    return index
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)

    def kill(self, index: int) -> bool:
        """SIGKILL node ``index`` (a crash): its data dir stays as the crash left it.
        False if it was not running (nothing was killed)."""
        self._check_index(index)
        was_running = self.backend.is_running(index)
        if was_running:
            self.backend.kill_node(index)
        return was_running

    def stop_node(self, index: int) -> None:
        self._check_index(index)
        self.backend.stop_node(index)

    def restart(self, index: int, timeout: float = 60.0, wait_connected: bool = True) -> TestnetNode:
        """Start node ``index`` again on its data dir (stopping it first if it runs)."""
        self._check_index(index)
        if self.backend.is_running(index):
            self.backend.stop_node(index)
        old_addr = self.nodes[index].p2p_addr
        endpoint = self.backend.start_node(self.spec(index), timeout)
        self.nodes[index] = TestnetNode(self, endpoint)
        self.save()
        if endpoint.p2p_addr != old_addr:  # new port: tell the nodes that used to dial it
            for i, j in self.edges:
                if j == index and self.backend.is_running(i) and self._same_group(i, j):
                    self.nodes[i].rpc.addpeer(endpoint.p2p_addr)
        if wait_connected:
            self.wait_connected(timeout)
        return self.nodes[index]

    def _check_index(self, index: int) -> None:
        if not (type(index) is int and 0 <= index < len(self.nodes)):
            raise TestnetError(f"there is no node {index!r}; this testnet has nodes 0..{len(self.nodes) - 1}", index)

    # -- reporting -----------------------------------------------------------------------------
    def status(self) -> list[dict[str, Any]]:
        rows = []
        for n in self.nodes:
            row: dict[str, Any] = {"node": n.index, "running": n.running, "rpc": n.rpc_url,
                                   "p2p": n.p2p_addr, "pid": n.endpoint.pid,
                                   "container": n.endpoint.container}
            if row["running"]:
                try:
                    row["height"] = n.rpc.getblockcount()
                    row["tip"] = n.rpc.getbestblockhash()
                    row["peers"] = len(n.rpc.getpeerinfo())
                    row["mempool"] = len(n.rpc.getmempool())
                except (RpcConnectionError, RpcError) as exc:
                    row["error"] = str(exc)
            if self.groups is not None:
                row["group"] = self.groups.get(n.index)
            rows.append(row)
        return rows

    def table(self) -> str:
        """The node table the CLI prints."""
        head = f"{'node':<6}{'state':<9}{'height':>7} {'peers':>5}  {'rpc':<28}{'p2p':<22}tip"
        lines = [head]
        for row in self.status():
            state = "up" if row["running"] else "down"
            lines.append(f"node{row['node']:<2}{state:<9}{row.get('height', '-')!s:>7} "
                         f"{row.get('peers', '-')!s:>5}  {row['rpc']:<28}{row['p2p']:<22}"
                         f"{str(row.get('tip', ''))[:16]}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<Testnet {len(self.nodes)} nodes, {self.topology}, {self.params}, "
                f"backend {self.backend.name}, {ENV_VAR}={self.env_value}>")

    def _repr_html_(self) -> str:
        from html import escape

        return f"<pre>{escape(repr(self))}\n{escape(self.table())}</pre>"

    # -- stopping ------------------------------------------------------------------------------
    def down(self) -> int:
        """Stop every node (and whatever the backend holds); the number that were running."""
        if self.owned:
            atexit.unregister(self._down_at_exit)  # nothing left to stop at exit; frees the handle
        running = sum(1 for i in self.backend.node_indexes() if self.backend.is_running(i))
        self.backend.down()
        for n in self.nodes:
            n.rpc.close()
        try:
            (self.dir / STATE_FILE).unlink(missing_ok=True)
        except OSError:
            pass
        return running

    def _down_at_exit(self) -> None:
        try:
            if any(self.backend.is_running(i) for i in self.backend.node_indexes()):
                self.down()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass

    def __enter__(self) -> Testnet:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.down()
