"""Account ledger figures (issue #11 section 1): the state tree and block application.

    .venv/bin/python bench/bench_account.py [--accounts 10000] [--txs 1000]

Prints, per crypto suite: building the tree of N accounts at once (a store reopening) and one
at a time, proof depth, applying a block of plain transfers (signature checks included) in
memory and through the SQLite store (one transaction per block), and undoing it.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import labchain.crypto.sm  # noqa: F401
from labchain.crypto import get_suite
from labchain.ledger.account import (
    AccountAddress, AccountStore, BlockContext, WorldState, account_key, credit, sign_tx, undo_block,
)
from labchain.ledger.account.state import Account


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--txs", type=int, default=1_000)
    opts = parser.parse_args()
    for name in ("p256-sha256", "sm2-sm3"):
        suite = get_suite(name)
        addresses = [AccountAddress(suite.address_version | 0x80, suite.hash160(i.to_bytes(8, "big")))
                     for i in range(opts.accounts)]
        items = [(account_key(a), Account(0, 10**12).to_bytes()) for a in addresses]
        t_load, _ = timed(lambda: WorldState(suite).load(items))
        state = WorldState(suite)
        t_inc, _ = timed(lambda: [state.set(k, v) or state.state_root for k, v in items])
        depth = statistics.mean(len(state.get_proof(k).siblings) for k, _ in items[:200])
        print(f"{name}: {opts.accounts} accounts: tree built at once {t_load * 1e3:.0f} ms, one by one (root after each) "
              f"{t_inc / opts.accounts * 1e6:.1f} us/key; mean proof depth {depth:.1f}")
        senders = [suite.secret_from_seed("bench", i) for i in range(50)]
        funded = [AccountAddress.of(suite, suite.public_key(d)) for d in senders]
        txs = [sign_tx(suite, senders[i % 50], chain_id="bench", nonce=i // 50, to=addresses[i], value=1)
               for i in range(opts.txs)]
        for a in funded:
            credit(state, a, 10**15)
        ctx = BlockContext(1, 0, addresses[0], "bench")
        from labchain.ledger.account import apply_block
        t_apply, result = timed(lambda: apply_block(state, txs, ctx))
        t_undo, _ = timed(lambda: undo_block(state, result.undo))
        with tempfile.TemporaryDirectory() as tmp:
            store = AccountStore(Path(tmp) / "a.db", suite, "bench")
            store.genesis({a: 10**15 for a in funded + addresses})
            t_store, _ = timed(lambda: store.apply_block(txs, ctx))
            store.close()
            t_open, _ = timed(lambda: AccountStore(Path(tmp) / "a.db", suite, "bench").close())
        print(f"{name}: block of {opts.txs} transfers: apply {t_apply * 1e3:.0f} ms in memory "
              f"({opts.txs / t_apply:.0f} tx/s), {t_store * 1e3:.0f} ms through SQLite, undo "
              f"{t_undo * 1e3:.0f} ms; reopen a store of {opts.accounts + 50} accounts {t_open * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
