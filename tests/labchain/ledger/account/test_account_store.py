"""AccountStore: blocks persist, reopen at the same root, undo on disk, survive SIGKILL."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from account_writer import block_txs, genesis
from accountkit import CHAIN, ctx, funded_state
from labchain.ledger.account import AccountStore, apply_block
from labchain.ledger.account.errors import BlockContextError, InsufficientBalanceError, StoreError

HERE = Path(__file__).parent


def test_blocks_persist_and_reopen_at_the_same_root(tmp_path, keys):
    path = tmp_path / "acct.db"
    store = AccountStore(path, keys.suite, CHAIN)
    genesis(store, keys)
    results = [store.apply_block(block_txs(keys, h), ctx(keys, h)) for h in (1, 2)]
    root = store.state_root
    txid = block_txs(keys, 2)[3].txid(keys.suite)
    store.close()
    again = AccountStore(path, keys.suite, CHAIN)
    assert again.height == 2 and again.state_root == root == results[-1].state_root
    height, position, receipt = again.receipt(txid)
    assert (height, position) == (2, 3) and receipt == results[1].receipts[3]
    assert again.receipts(1) == list(results[0].receipts)
    again.close()


def test_undo_on_disk_restores_the_previous_block(tmp_path, keys):
    path = tmp_path / "acct.db"
    store = AccountStore(path, keys.suite, CHAIN)
    genesis(store, keys)
    r1 = store.apply_block(block_txs(keys, 1), ctx(keys, 1))
    store.apply_block(block_txs(keys, 2), ctx(keys, 2))
    assert store.undo_block() == 1 and store.state_root == r1.state_root
    assert store.receipts(2) == []
    store.close()
    again = AccountStore(path, keys.suite, CHAIN)
    assert (again.height, again.state_root) == (1, r1.state_root)
    # a different block 2 (a reorg's other branch) now applies
    other = again.apply_block(block_txs(keys, 2)[:3], ctx(keys, 2, proposer=4))
    assert other.state_root == again.state_root
    again.close()


def test_store_refusals(tmp_path, keys):
    path = tmp_path / "acct.db"
    store = AccountStore(path, keys.suite, CHAIN)
    with pytest.raises(BlockContextError, match="there is no applied block to undo"):
        store.undo_block()
    genesis(store, keys)
    with pytest.raises(BlockContextError, match="already has blocks up to height 0"):
        genesis(store, keys)
    with pytest.raises(BlockContextError, match="next block of this account store is height 1, not 3"):
        store.apply_block([], ctx(keys, 3))
    with pytest.raises(InsufficientBalanceError):
        store.apply_block([keys.tx(4, 0, keys[1], 1)], ctx(keys, 1))
    assert store.height == 0 and AccountStore(path, keys.suite, CHAIN).height == 0
    store.close()
    with pytest.raises(StoreError, match="holds chain 'regtest'.*not 'lab'"):
        AccountStore(path, keys.suite, "lab")


def test_a_tampered_database_is_refused_on_open(tmp_path, keys):
    path = tmp_path / "acct.db"
    store = AccountStore(path, keys.suite, CHAIN)
    genesis(store, keys)
    store.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE state SET value = ? WHERE key = (SELECT MIN(key) FROM state)", (b"\x00" * 10,))
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="is corrupted: its state hashes to"):
        AccountStore(path, keys.suite, CHAIN)


def replayed_root(keys, height: int) -> bytes:
    state = funded_state(keys)
    for h in range(1, height + 1):
        apply_block(state, block_txs(keys, h), ctx(keys, h))
    return state.state_root


def run_and_kill(path, suite_name: str, lines: int, delay: float) -> list[list[str]]:
    """Start the writer, wait for ``lines`` committed blocks plus ``delay`` seconds, SIGKILL it."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen([sys.executable, str(HERE / "account_writer.py"), str(path), suite_name],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        printed = []
        while len(printed) < lines:
            line = child.stdout.readline()
            assert line, f"writer ended early: {child.stderr.read()}"
            printed.append(line.split())
        time.sleep(delay)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    return printed


def test_sigkill_while_writing_blocks_leaves_a_block_boundary_with_its_root(tmp_path, keys):
    """Three kills at different moments; the writer resumes from the reopened store each time."""
    path = tmp_path / "acct.db"
    for lines, delay in ((3, 0.0), (1, 0.013), (2, 0.031)):
        printed = run_and_kill(path, keys.suite.name, lines, delay)
        last = int(printed[-1][0])
        store = AccountStore(path, keys.suite, CHAIN)
        assert last <= store.height <= last + 2      # committed blocks kept (one more may have landed)
        assert store.state_root == replayed_root(keys, store.height)
        assert dict(printed)[str(last)] == replayed_root(keys, last).hex()
        assert len(store.receipts(store.height)) == len(block_txs(keys, 1))
        store.close()
