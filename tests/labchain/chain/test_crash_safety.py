"""Crash safety: a writer killed with SIGKILL at random moments never leaves an inconsistent store.

A forked child process keeps extending, reorganising and invalidating a chain in a SQLite data
dir; the test kills it with SIGKILL after a random delay, reopens the data dir, and checks that
the main chain is intact and that the stored UTXO set and indexes equal a replay of the stored
main-chain blocks (computed here independently of the chain code). 50 kills.
"""
from __future__ import annotations

import os
import random
import signal
import time
import traceback

import pytest

from chainkit import ChainKit
from labchain.core.errors import ValidationError
from labchain.ledger.utxo.tx import OutPoint

KILLS = 50


def write_forever(path, seed: int) -> None:
    """The victim: random blocks with payments, reorganisations and invalidations."""
    kit = ChainKit()
    chain = kit.new_chain(path)
    rng = random.Random(seed)
    maturity = chain.params.coinbase_maturity
    while True:
        roll = rng.random()
        try:
            if roll < 0.15 and chain.height > 2:             # a heavier side branch: reorg
                depth = rng.randint(1, min(4, chain.height))
                parent = chain.main_chain_hashes()[chain.height - depth]
                for _ in range(depth + 1):
                    block = kit.block(chain, parent=parent, to=kit.address(rng.randrange(10)))
                    chain.add_block(block)
                    parent = kit.hash(block)
            elif roll < 0.2 and chain.height > 3:
                chain.invalidate_block(chain.main_chain_hashes()[chain.height - rng.randint(0, 2)])
            else:
                txs = []
                for account in rng.sample(range(10), rng.randint(0, 3)):
                    coins = [c for c in kit.coins(chain, account)
                             if not c.is_coinbase or c.height == 0 or chain.height + 1 - c.height >= maturity]
                    if coins:
                        amount = max(1, coins[0].amount // 2)
                        fee = rng.randrange(100) if coins[0].amount > amount + 100 else 0
                        txs.append(kit.pay(coins[:1], account, to=kit.address(rng.randrange(10)),
                                           amount=amount, fee=fee))
                chain.add_block(kit.block(chain, txs, to=kit.address(rng.randrange(10))))
        except ValidationError:
            pass


def replay(chain) -> dict:
    """UTXO set of the stored main chain, computed without the chain's own code."""
    coins = {}
    for height, block_hash in enumerate(chain.main_chain_hashes()):
        for tx in chain.get_block(block_hash).transactions:
            for txin in tx.inputs:
                assert txin.prevout in coins, f"block {height} spends a coin the replay does not have"
                del coins[txin.prevout]
            for n, out in enumerate(tx.outputs):
                coins[OutPoint(tx.txid_in(chain.suite), n)] = (out.amount, out.address, height, tx.is_coinbase)
    return coins


def assert_consistent(kit, path) -> int:
    chain = kit.new_chain(path)
    try:
        main = chain.tree.main
        assert main[0].hash == chain.genesis_hash
        assert all(main[h].parent is main[h - 1] and main[h].status == "valid" for h in range(1, len(main)))
        assert chain.tree.tip is chain.tree.best_candidate()
        stored = {c.outpoint: (c.amount, c.address, c.height, c.is_coinbase) for c in chain.store.all_coins()}
        assert stored == replay(chain)
        db = chain.store.db
        blocks = [chain.get_block(h) for h in range(len(main))]
        assert db.execute("SELECT COUNT(*) FROM txindex").fetchone()[0] == sum(len(b.transactions) for b in blocks)
        assert db.execute("SELECT COUNT(*) FROM spent").fetchone()[0] == sum(
            len(tx.inputs) for b in blocks for tx in b.transactions)
        assert db.execute("SELECT COUNT(*) FROM undo").fetchone()[0] == len(main)
        return chain.height
    finally:
        chain.close()


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_sigkill_at_random_moments_never_corrupts_the_store(tmp_path):
    kit = ChainKit()
    path = tmp_path / "chain.sqlite"
    rng = random.Random(2026)
    heights = []
    for round_ in range(KILLS):
        pid = os.fork()
        if pid == 0:  # the child: write until killed
            try:
                write_forever(path, seed=round_)
            except BaseException:
                traceback.print_exc()  # shown by pytest when the assertion below fails
            finally:
                os._exit(3)
        time.sleep(rng.uniform(0.02, 0.3))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, \
            f"the writer stopped by itself in round {round_} (status {status}): see captured stderr"
        heights.append(assert_consistent(kit, path))
    assert max(heights) > 20, f"the writer made too little progress to test anything: {heights}"
