"""Small helpers shared by the node tests (imported as ``node_helpers``)."""
from __future__ import annotations

import time

from labchain.node.process import NodeProcess


def wait_until(predicate, timeout: float = 30.0, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value (which is returned)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def peer_names(node: NodeProcess) -> set[str]:
    return {p["name"] for p in node.rpc.getpeerinfo() if p["handshake_done"]}
