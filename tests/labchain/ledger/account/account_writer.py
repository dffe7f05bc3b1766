"""Child process of the SIGKILL test: writes account blocks to a store until killed.

``python account_writer.py PATH SUITE`` prints ``height root`` after each committed block.
:func:`block_txs` is deterministic, so the test replays the same blocks in memory.
"""
from __future__ import annotations

import sys

import labchain.crypto.sm  # noqa: F401
from labchain.crypto import get_suite
from labchain.ledger.account import AccountStore

from accountkit import CHAIN, FUNDS, Keys, ctx

SENDERS = 4
PER_SENDER = 6


_SIGNED: dict = {}


def block_txs(keys: Keys, height: int) -> list:
    """Block ``height``: every sender pays each of 6 accounts, nonces continuing (signed once
    per process: the test replays the same blocks several times)."""
    key = (keys.suite.name, tuple(keys.secrets), height)
    if key not in _SIGNED:
        _SIGNED[key] = _sign(keys, height)
    return _SIGNED[key]


def _sign(keys: Keys, height: int) -> list:
    return [keys.tx(s, (height - 1) * PER_SENDER + n, keys[(s + n + height) % 6], 1 + height * 7 + n,
                    gas_price=1 + (height + s) % 3)
            for s in range(SENDERS) for n in range(PER_SENDER)]


def genesis(store: AccountStore, keys: Keys) -> None:
    store.genesis({keys[i]: FUNDS for i in range(SENDERS)})


def main(path: str, suite_name: str) -> None:
    keys = Keys(get_suite(suite_name))
    store = AccountStore(path, keys.suite, CHAIN)
    if store.height < 0:
        genesis(store, keys)
    height = store.height
    while True:
        height += 1
        store.apply_block(block_txs(keys, height), ctx(keys, height))
        print(height, store.state_root.hex(), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
