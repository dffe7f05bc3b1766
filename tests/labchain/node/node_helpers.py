"""Small helpers shared by the node tests (imported as ``node_helpers``)."""
from __future__ import annotations

from labchain.node.process import NodeProcess
from polling import wait_until


def peer_names(node: NodeProcess) -> set[str]:
    return {p["name"] for p in node.rpc.getpeerinfo() if p["handshake_done"]}
