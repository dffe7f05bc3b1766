"""The one interface every testnet backend implements (local processes, Docker containers).

A backend knows how to run, stop, kill and read the logs of *one node at a time*; everything
else (topology, waiting for connections, partitions, syncing) lives in ``testnet.py`` and
talks to the nodes over JSON-RPC only, so it works the same on every backend.

Implementing a backend
----------------------
Subclass :class:`Backend`, set ``name``, implement the abstract methods, and register the class
in :data:`BACKENDS` (``"module:Class"``). A node is always the ``labchain node`` command line
(see docs/ARCHITECTURE.md, "Node command line") with the arguments :meth:`NodeSpec.node_args`
builds; the backend adds where it runs (data dir, ports, ``--parent-pid`` or container
options). ``start_node`` returns only once the node answers RPC; a node that fails to start
raises :class:`~labchain.node.process.NodeStartError` carrying the end of its log.

``Testnet.start`` calls ``start_node`` for all nodes at once from a thread pool (different
indexes), then connects them with ``addpeer``; implementations must allow that. Restarting a
node (``start_node`` with an index started before) must reuse its data dir and, when
possible, its ports, so peers that keep redialling the old address find it again.
"""
from __future__ import annotations

import abc
import importlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from labchain.core.errors import LabchainError

#: backend name -> "module:Class"
BACKENDS = {
    "local": "labchain.testnet.local:LocalBackend",
    "docker": "labchain.testnet.docker:DockerBackend",
}


class TestnetError(LabchainError):
    """A testnet operation that cannot be done (unknown node, no running testnet...)."""

    __test__ = False  # not a pytest test class despite the name


@dataclass
class NodeSpec:
    """What to run: the same for every backend."""

    index: int
    params: str = "regtest"
    peers: list[str] = field(default_factory=list)   # P2P addresses as the nodes see each other
    mining: str = "manual"

    @property
    def name(self) -> str:
        return f"node{self.index}"

    def node_args(self) -> list[str]:
        """``labchain node`` arguments except data dir, hosts, ports and parent pid."""
        args = ["--params", self.params, "--mining", self.mining,
                "--node-index", str(self.index), "--name", self.name]
        for peer in self.peers:
            args += ["--peer", peer]
        return args


@dataclass
class NodeEndpoint:
    """Where a started node is."""

    index: int
    rpc_url: str                 # reachable from this machine (notebooks, the CLI)
    p2p_addr: str                # reachable from the other nodes (what their --peer gets)
    pid: int | None = None       # local backend: the process id
    container: str | None = None  # docker backend: the container name or id
    datadir: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> NodeEndpoint:
        return cls(**{k: obj.get(k) for k in cls.__dataclass_fields__})


class Backend(abc.ABC):
    """Runs the nodes of one testnet. ``workdir`` holds everything the backend writes."""

    name: ClassVar[str] = ""

    def __init__(self, workdir: Path, owner_pid: int | None = None) -> None:
        """``owner_pid``: nodes stop by themselves when that process dies (None: they do not)."""
        self.workdir = Path(workdir)
        self.owner_pid = owner_pid

    @abc.abstractmethod
    def start_node(self, spec: NodeSpec, timeout: float = 30.0) -> NodeEndpoint:
        """Start (or restart) node ``spec.index``; return once it answers RPC."""

    @abc.abstractmethod
    def stop_node(self, index: int, timeout: float = 15.0) -> None:
        """Stop it cleanly (SIGTERM, ``docker stop``); kill it if it does not stop in time."""

    @abc.abstractmethod
    def kill_node(self, index: int) -> None:
        """Kill it at once (SIGKILL, ``docker kill``), as a crash would."""

    @abc.abstractmethod
    def is_running(self, index: int) -> bool: ...

    @abc.abstractmethod
    def logs(self, index: int) -> str:
        """The node's log (``node.log``) so far."""

    def down(self) -> None:
        """Stop every node and free what the backend holds (networks, containers)."""
        for index in self.node_indexes():
            self.stop_node(index)

    @abc.abstractmethod
    def node_indexes(self) -> list[int]:
        """Indexes of the nodes this backend has started (running or not)."""

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """JSON-able state saved in ``testnet.json``, enough for :meth:`attach`."""

    @classmethod
    @abc.abstractmethod
    def attach(cls, workdir: Path, state: dict[str, Any]) -> Backend:
        """A backend object controlling nodes another process started."""


def backend_class(name: str) -> type[Backend]:
    """The Backend class registered under ``name``."""
    if name not in BACKENDS:
        raise TestnetError(f"unknown testnet backend {name!r}; choose one of {', '.join(BACKENDS)}", name)
    module_name, _, class_name = BACKENDS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise TestnetError(f"the {name} backend is not available: {exc}", name) from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise TestnetError(f"the {name} backend is not available yet ({module_name} has no "
                           f"{class_name})", name)
    return cls


class RpcOnlyBackend(Backend):
    """Nodes this process can reach by RPC but not control (e.g. inside a student's container,
    where ``LABCHAIN_TESTNET`` lists only endpoints). Start/stop/kill raise a clear error."""

    name = "rpc-only"

    def __init__(self, workdir: Path, endpoints: dict[int, NodeEndpoint], origin: str = "") -> None:
        super().__init__(workdir, None)
        self.endpoints = endpoints
        self.origin = origin

    def _refuse(self, what: str) -> TestnetError:
        where = f" (backend {self.origin})" if self.origin else ""
        return TestnetError(f"cannot {what} from here: this testnet was started elsewhere{where}; "
                            "use the `labchain testnet`/`labchain class` commands where it was started")

    def start_node(self, spec: NodeSpec, timeout: float = 30.0) -> NodeEndpoint:
        raise self._refuse("start a node")

    def stop_node(self, index: int, timeout: float = 15.0) -> None:
        raise self._refuse("stop a node")

    def kill_node(self, index: int) -> None:
        raise self._refuse("kill a node")

    def is_running(self, index: int) -> bool:
        from labchain.node.rpc import RpcClient, RpcConnectionError

        try:
            RpcClient(self.endpoints[index].rpc_url, timeout=2.0).getblockcount()
            return True
        except (RpcConnectionError, LabchainError, KeyError):
            return False

    def logs(self, index: int) -> str:
        raise self._refuse("read node logs")

    def down(self) -> None:
        raise self._refuse("stop the testnet")

    def node_indexes(self) -> list[int]:
        return sorted(self.endpoints)

    def state(self) -> dict[str, Any]:
        return {"origin": self.origin}

    @classmethod
    def attach(cls, workdir: Path, state: dict[str, Any]) -> RpcOnlyBackend:
        return cls(workdir, {}, state.get("origin", ""))
