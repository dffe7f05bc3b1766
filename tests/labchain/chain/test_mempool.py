"""Mempool: accept/reject with the reason, fee-ordered templates, following reorgs."""
from __future__ import annotations

import pytest

from chainkit import solve
from labchain.block import Block
from labchain.chain import Mempool
from labchain.core.errors import (
    AlreadySpentError,
    BadSignatureError,
    DoubleSpendError,
    DuplicateTransactionError,
    ImmatureCoinbaseError,
    LockTimeError,
    MalformedTransactionError,
    UnknownInputError,
)
from labchain.core.params import COIN
from labchain.ledger.utxo.tx import OutPoint, Transaction, TxIn, TxOut, short


def mined(kit, template: Block) -> Block:
    return Block(solve(template.header, kit.suite), template.transactions)


def test_accepted_transaction_is_listed(kit, chain, mempool):
    tx = kit.pay(chain, 0, to=kit.address(1), amount=COIN, fee=500)
    assert mempool.add(tx) == kit.txid(tx)
    assert kit.txid(tx) in mempool and len(mempool) == 1
    assert mempool.transactions() == [tx]
    assert mempool.get(kit.txid(tx)).fee == 500


def test_the_coin_view_adds_pool_outputs_and_marks_what_the_pool_spends(kit, chain, mempool):
    coin = kit.coins(chain, 0)[0]
    tx = kit.pay([coin], 0, to=kit.address(1), amount=COIN)
    view = mempool.coins()
    assert not [c for c in view.utxos(kit.address(1)) if c.outpoint.txid == kit.txid(tx)]
    mempool.add(tx)
    pending = [c for c in view.utxos(kit.address(1)) if c.outpoint.txid == kit.txid(tx)]
    assert [(c.output.amount, c.height) for c in pending] == [(COIN, chain.height + 1)]
    assert coin.outpoint in view.spent                   # a wallet must not pick it again
    assert view.coin(OutPoint(kit.txid(tx), 0)).output.amount == COIN   # validation sees it too


def test_conflict_with_the_mempool_names_the_other_transaction(kit, chain, mempool):
    coin = kit.coins(chain, 0)[0]
    first = kit.pay([coin], 0, to=kit.address(1), amount=COIN)
    mempool.add(first)
    with pytest.raises(DoubleSpendError, match=f"mempool tx {short(kit.txid(first))} already spends"):
        mempool.add(kit.pay([coin], 0, to=kit.address(2), amount=COIN))
    with pytest.raises(DuplicateTransactionError, match="already in the mempool"):
        mempool.add(first)


def test_rejections_use_the_chain_rules(kit, chain, mempool):
    ghost = Transaction(1, [TxIn(OutPoint(bytes(32), 0))], [TxOut(COIN, kit.address(1))]).sign([kit.keys[0]])
    with pytest.raises(UnknownInputError):
        mempool.add(ghost)
    with pytest.raises(MalformedTransactionError, match="coinbase"):
        mempool.add(Transaction.coinbase(1, [TxOut(COIN, kit.address(0))]))
    with pytest.raises(LockTimeError, match="lock_height 9"):
        mempool.add(kit.pay(chain, 0, to=kit.address(1), amount=COIN, lock_height=9))
    good = kit.pay(chain, 0, to=kit.address(1), amount=COIN)
    forged = Transaction(1, [TxIn(good.inputs[0].prevout, kit.keys[0].sign(b"x"), good.inputs[0].pubkey)],
                         good.outputs)
    with pytest.raises(BadSignatureError):
        mempool.add(forged)
    [block] = kit.extend(chain, 1, to=kit.address(2))
    reward = [c for c in kit.coins(chain, 2) if c.is_coinbase and c.height == 1]
    with pytest.raises(ImmatureCoinbaseError):
        mempool.add(kit.pay(reward, 2, to=kit.address(1), amount=COIN))
    assert len(mempool) == 0


def test_mined_transaction_is_a_duplicate_and_spent_coin_is_already_spent(kit, chain, mempool):
    coin = kit.coins(chain, 0)[0]
    tx = kit.pay([coin], 0, to=kit.address(1), amount=COIN)
    chain.add_block(kit.block(chain, [tx]))
    with pytest.raises(DuplicateTransactionError, match="already in block 1"):
        mempool.add(tx)
    with pytest.raises(AlreadySpentError, match="in block 1"):
        mempool.add(kit.pay([coin], 0, to=kit.address(3), amount=COIN))


def test_template_orders_by_fee_rate_and_puts_parents_first(kit, chain, mempool):
    low = kit.pay(chain, 1, to=kit.address(9), amount=COIN, fee=100)
    high = kit.pay(chain, 2, to=kit.address(9), amount=COIN, fee=10_000)
    parent = kit.pay(chain, 3, to=kit.address(4), amount=10 * COIN, fee=200)
    # the child spends its parent's unconfirmed output and pays the highest fee rate
    child = kit.pay([_coin_of(kit, parent, 0)], 4, to=kit.address(9), amount=COIN, fee=50_000)
    for tx in (low, high, parent, child):
        mempool.add(tx)
    template = mempool.block_template(kit.address(0), int(kit.clock()))
    order = [kit.txid(tx) for tx in template.transactions[1:]]
    assert order == [kit.txid(high), kit.txid(parent), kit.txid(child), kit.txid(low)]
    fees = 100 + 10_000 + 200 + 50_000
    assert template.transactions[0].outputs[0].amount == chain.params.block_reward(1) + fees
    update = chain.add_block(mined(kit, template))  # the template is a valid block once solved
    assert update.status == "new_tip"
    mempool.update(update)
    assert len(mempool) == 0


def _coin_of(kit, tx, index):
    from labchain.chain import Coin
    return Coin(OutPoint(kit.txid(tx), index), tx.outputs[index], 0, False)


def test_template_respects_the_transaction_limit(kit):
    kit.params = kit.params.with_changes(max_block_txs=3)
    chain = kit.new_chain()
    mempool = Mempool(chain)
    for account in range(4):
        mempool.add(kit.pay(chain, account, to=kit.address(9), amount=COIN, fee=1000 + account))
    template = mempool.block_template(kit.address(0))
    assert len(template.transactions) == 3
    assert template.header.timestamp > chain.median_time_past()


def test_new_block_removes_mined_and_evicts_conflicts_with_descendants(kit, chain, mempool):
    coin = kit.coins(chain, 0)[0]
    ours = kit.pay([coin], 0, to=kit.address(1), amount=5 * COIN)
    descendant = kit.pay([_coin_of(kit, ours, 0)], 1, to=kit.address(2), amount=COIN)
    other = kit.pay(chain, 3, to=kit.address(2), amount=COIN)
    for tx in (ours, descendant, other):
        mempool.add(tx)
    theirs = kit.pay([coin], 0, to=kit.address(8), amount=7 * COIN)  # conflicts with ours
    update = chain.add_block(kit.block(chain, [theirs, other]))
    evicted = mempool.update(update)
    assert {kit.txid(t) for t in evicted} == {kit.txid(ours), kit.txid(descendant)}
    assert len(mempool) == 0


def test_reorg_returns_disconnected_transactions_and_evicts_conflicts(kit, chain, mempool):
    coin = kit.coins(chain, 0)[0]
    paid = kit.pay([coin], 0, to=kit.address(1), amount=2 * COIN)
    also = kit.pay(chain, 5, to=kit.address(1), amount=COIN)
    [a1] = kit.extend(chain, 1, txs=[paid, also])
    pending = kit.pay(chain, 6, to=kit.address(1), amount=COIN)
    mempool.add(pending)
    double = kit.pay([coin], 0, to=kit.address(7), amount=9 * COIN)  # B spends the same coin
    b = [kit.block(chain, [double], parent=chain.genesis_hash, to=kit.address(3))]
    chain.add_block(b[0])
    b.append(kit.block(chain, parent=kit.hash(b[0]), to=kit.address(3)))
    update = chain.add_block(b[1])
    assert update.is_reorg
    evicted = mempool.update(update)
    assert evicted == []
    assert set(kit.txid(t) for t in mempool.transactions()) == {kit.txid(also), kit.txid(pending)}  # paid conflicts
