"""A steady transaction load for the real-process consensus tests: a thread that sends
payments to one node over its own RPC connection and records every acknowledged txid."""
from __future__ import annotations

import threading
import time
from collections import Counter

from labchain.node.rpc import RpcClient, RpcConnectionError, RpcError


class Load(threading.Thread):
    """Payments from accounts 0..8 to account 9, round robin, every ``every`` seconds, sent to
    ``url``. ``acked``: txids the node acknowledged (sendtoaddress returned)."""

    def __init__(self, url: str, addresses: list[str], every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.rpc = RpcClient(url, timeout=30.0)
        self.addresses, self.every = addresses, every
        self.acked: list[str] = []
        self.refused = 0
        self.halt = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.halt.is_set():
            sender = self.addresses[i % 9]
            i += 1
            try:
                self.acked.append(self.rpc.sendtoaddress(sender, self.addresses[9], 1000 + i))
            except (RpcError, RpcConnectionError, OSError):
                self.refused += 1                 # not acknowledged: no promise was made
            time.sleep(self.every)

    def stop(self) -> list[str]:
        self.halt.set()
        self.join(60)
        return list(self.acked)


def committed_txids(node, top: int) -> Counter:
    """How often each txid appears in blocks 1..top of ``node``'s chain."""
    seen: Counter = Counter()
    for h in range(1, top + 1):
        block = node.rpc.getblock(h)
        for tx in block["transactions"][1:]:       # the coinbase is not a payment
            seen[tx["txid"]] += 1
    return seen
