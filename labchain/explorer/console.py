"""The instructors' class console: every student's testnet at a glance, behind a token.

A *provider* returns ``(statuses, failed)``: ``{student: TestnetStatus}`` (the record of
``labchain.testnet.docker.status``: per node container state, health, RPC URL, height, memory)
and ``{student: error sentence}``. :func:`docker_provider` reads the Docker engine through
``labchain.deploy.classroom.class_status``; :func:`local_provider` describes local testnets
(health = the RPC answers, memory = the node process's resident set from ``/proc``), which is
what the tests and a single-machine workshop use. The console adds what the status record
lacks, read over each node's RPC: peer counts and the tip block's time ("last activity").
Every student becomes an explorer network ``/n/<student>/`` (the links of the console).

The token is compared in constant time (``hmac.compare_digest``); it comes from
``--token``/``LABCHAIN_EXPLORER_TOKEN`` or is generated and printed at start. Simplification:
one shared instructor token, no hub single sign-on; serve it on loopback or behind the hub's
proxy (docs/explorer.md).
"""
from __future__ import annotations

import secrets
import threading
from typing import Any, Callable

from labchain.explorer.data import Network, NodeSource
from labchain.node.rpc import RpcConnectionError, RpcError

Provider = Callable[[], tuple[dict[str, Any], dict[str, str]]]


class Console:
    def __init__(self, provider: Provider, token: str | None = None) -> None:
        self.provider = provider
        self.token = token or secrets.token_urlsafe(18)
        self._networks: dict[str, Network] = {}
        self._urls: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def network(self, student: str) -> Network | None:
        with self._lock:
            return self._networks.get(student)

    def _register(self, student: str, status: Any) -> None:
        urls = tuple(n.rpc for n in status.nodes)
        with self._lock:
            if self._urls.get(student) != urls:
                old = self._networks.pop(student, None)
                if old:
                    old.close()
                self._networks[student] = Network(student, [NodeSource(n.index, n.rpc, f"node{n.index}", timeout=2.0)
                                                            for n in status.nodes])
                self._urls[student] = urls

    def rows(self) -> list[dict]:
        statuses, failed = self.provider()
        rows = []
        for student in sorted(statuses):
            st = statuses[student]
            self._register(student, st)
            net = self._networks[student]
            peers, last, errors = [], None, []
            for node in st.nodes:
                if node.height is None:
                    errors.append(f"node{node.index}: {node.state}")
                    continue
                src = net.sources[[n.index for n in st.nodes].index(node.index)]
                try:
                    peers.append(len(src.call("getpeerinfo")))
                    tip = src.call("getblock", src.call("getbestblockhash"))
                    last = max(last or 0, tip["header"]["timestamp"])
                except (RpcError, RpcConnectionError, OSError) as exc:
                    errors.append(f"node{node.index}: {exc}")
            heights = sorted({n.height for n in st.nodes if n.height is not None})
            rows.append({"student": student, "nodes": len(st.nodes), "healthy": st.healthy,
                         "height": "-" if not heights else str(heights[0]) if len(heights) == 1
                         else f"{heights[0]}..{heights[-1]}",
                         "peers": "/".join(str(p) for p in peers) or "-", "memory": st.memory or None,
                         "last_block": last, "lab_url": st.lab_url, "error": "; ".join(errors)})
        for student in sorted(failed):
            rows.append({"student": student, "nodes": 0, "healthy": 0, "height": "-", "peers": "-",
                         "memory": None, "last_block": None, "lab_url": None, "error": failed[student]})
        return rows


def docker_provider() -> tuple[dict[str, Any], dict[str, str]]:
    """Every student testnet on this Docker engine (labchain class status)."""
    from labchain.deploy.classroom import class_status

    result, statuses = class_status(progress=False)
    return statuses, dict(result.failed)


def local_status(student: str, testnet: Any):
    """A ``TestnetStatus`` for a local testnet (``labchain.testnet.Testnet``)."""
    from labchain.testnet.docker import NodeStatus, TestnetStatus

    nodes = []
    for row in testnet.status():
        up = row.get("height") is not None
        nodes.append(NodeStatus(row["node"], f"{student}-node{row['node']}",
                                "running" if row.get("running") else "exited",
                                "healthy" if up else "unhealthy", row["rpc"], row.get("height"),
                                _rss(row.get("pid")) if up else None))
    return TestnetStatus(student, "local", tuple(nodes), None)


def local_provider(testnets: dict[str, Any]) -> Provider:
    return lambda: ({sid: local_status(sid, net) for sid, net in testnets.items()}, {})


def _rss(pid: int | None) -> int | None:
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
