"""The local backend: every node is an OS process on this machine, on loopback ports.

Each node gets ``WORKDIR/nodeI`` as data dir, its own process group, and free ports chosen
by the OS (``--p2p-port 0 --rpc-port 0``, read back from ``ready.json``); a restarted node
asks for the ports it had, so peers redialling its old address find it. Nodes started for a
Python handle carry ``--parent-pid`` and exit when the kernel or test process dies.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from labchain.node.process import NodeProcess, NodeStartError
from labchain.testnet.backend import Backend, NodeEndpoint, NodeSpec, TestnetError


class LocalBackend(Backend):
    name = "local"

    def __init__(self, workdir: Path, owner_pid: int | None = None, stop_at_exit: bool = True) -> None:
        super().__init__(workdir, owner_pid)
        self.stop_at_exit = stop_at_exit
        self.nodes: dict[int, NodeProcess] = {}
        self.ports: dict[int, tuple[int, int]] = {}

    def _node(self, index: int) -> NodeProcess:
        if index not in self.nodes:
            raise TestnetError(f"node {index} was never started by this testnet "
                               f"(nodes: {sorted(self.nodes)})", index)
        return self.nodes[index]

    def start_node(self, spec: NodeSpec, timeout: float = 30.0) -> NodeEndpoint:
        old = self.nodes.get(spec.index)
        if old is not None and old.running:
            raise TestnetError(f"node {spec.index} is already running", spec.index)
        p2p_port, rpc_port = self.ports.get(spec.index, (0, 0))
        args = ["--p2p-port", str(p2p_port), "--rpc-port", str(rpc_port), *spec.node_args()]
        node = NodeProcess(self.workdir / spec.name, args, spec.index,
                           parent_pid=self.owner_pid, stop_at_exit=self.stop_at_exit)
        try:
            node.launch(timeout)
        except NodeStartError:
            if p2p_port == 0:
                raise
            # the old ports were taken meanwhile: take new ones (the testnet re-adds peers)
            node.args = ["--p2p-port", "0", "--rpc-port", "0", *spec.node_args()]
            node.launch(timeout)
        self.nodes[spec.index] = node
        self.ports[spec.index] = (_port(node.p2p_addr), _port(node.rpc_url.rstrip("/")))
        return self.endpoint(spec.index)

    def endpoint(self, index: int) -> NodeEndpoint:
        node = self._node(index)
        return NodeEndpoint(index, node.rpc_url, node.p2p_addr, node.pid, None, str(node.datadir))

    def stop_node(self, index: int, timeout: float = 15.0) -> None:
        self._node(index).stop(timeout)

    def kill_node(self, index: int) -> None:
        self._node(index).kill()

    def is_running(self, index: int) -> bool:
        return index in self.nodes and self.nodes[index].running

    def logs(self, index: int) -> str:
        return self._node(index).log_text()

    def node_indexes(self) -> list[int]:
        return sorted(self.nodes)

    def state(self) -> dict[str, Any]:
        return {"nodes": {str(i): self.endpoint(i).to_json() for i in self.nodes},
                "owner_pid": self.owner_pid}

    @classmethod
    def attach(cls, workdir: Path, state: dict[str, Any]) -> LocalBackend:
        backend = cls(Path(workdir), state.get("owner_pid"), stop_at_exit=False)
        for key, endpoint in state.get("nodes", {}).items():
            index = int(key)
            node = NodeProcess(Path(endpoint["datadir"]), [], index, parent_pid=None, stop_at_exit=False)
            node.pid = endpoint.get("pid")
            node.ready = {"rpc": endpoint["rpc_url"], "p2p": endpoint["p2p_addr"], "pid": node.pid}
            from labchain.node.rpc import RpcClient

            node.rpc = RpcClient(endpoint["rpc_url"], label=f"node{index}")
            backend.nodes[index] = node
            backend.ports[index] = (_port(endpoint["p2p_addr"]), _port(endpoint["rpc_url"].rstrip("/")))
        return backend


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])
