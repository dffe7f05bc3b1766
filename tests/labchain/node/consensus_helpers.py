"""Polling helpers for the real-process consensus tests (generous deadlines: 2 shared cores)."""
from __future__ import annotations

import time

from labchain.node.rpc import RpcConnectionError, RpcError

DEADLINE = 90.0


def wait_for(predicate, what: str, timeout: float = DEADLINE, every: float = 0.2):
    """Poll ``predicate`` until it returns a truthy value (returned); AssertionError naming
    ``what`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < end:
        try:
            value = predicate()
            if value:
                return value
        except (RpcConnectionError, RpcError, OSError) as exc:
            last_error = exc
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}"
                         + (f" (last error: {last_error})" if last_error else ""))


def heights(tn, indexes) -> list[int]:
    return [tn.nodes[i].rpc.getblockcount() for i in indexes]


def hashes_by_height(node, top: int) -> list[str]:
    return [node.rpc.getblock(h)["header"]["hash"] for h in range(0, top + 1)]


def wait_all_at_least(tn, indexes, height: int, timeout: float = DEADLINE) -> None:
    wait_for(lambda: min(heights(tn, indexes)) >= height,
             f"nodes {list(indexes)} to reach height {height}", timeout)


def assert_same_chain(tn, indexes, top: int) -> list[str]:
    """Every node in ``indexes`` has the same block hash at every height 0..top."""
    chains = {i: hashes_by_height(tn.nodes[i], top) for i in indexes}
    first = chains[indexes[0]]
    for i, chain in chains.items():
        assert chain == first, f"node {i} differs from node {indexes[0]} below height {top}"
    return first
