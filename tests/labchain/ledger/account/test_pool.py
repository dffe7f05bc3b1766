"""AccountPool: nonce order, gaps held back, replacement by fee bump, template by fee, refusals."""
from __future__ import annotations

import pytest

from accountkit import CHAIN, FUNDS, ctx
from labchain.ledger.account import AccountPool, apply_block
from labchain.ledger.account.errors import (
    BadSignatureError, DuplicateTransactionError, GasLimitError, InsufficientBalanceError, IntrinsicGasError,
    NonceGapError, NonceTooLowError, PoolFullError, ReplacementUnderpricedError, WrongChainError,
)


@pytest.fixture
def pool(keys, state):
    return AccountPool(keys.suite, CHAIN, state)


def test_gap_is_held_back_until_filled(keys, pool):
    pool.add(keys.tx(0, 0, keys[1], 1))
    pool.add(keys.tx(0, 2, keys[1], 1))
    assert [t.nonce for t in pool.pending(keys[0])] == [0]
    assert [t.nonce for t in pool.queued(keys[0])] == [2]
    assert [t.nonce for t in pool.select()] == [0]
    pool.add(keys.tx(0, 1, keys[1], 1))
    assert [t.nonce for t in pool.select()] == [0, 1, 2] and pool.queued(keys[0]) == []


def test_template_orders_by_fee_but_keeps_each_senders_nonce_order(keys, pool, state):
    pool.add(keys.tx(0, 0, keys[4], 1, gas_price=1))
    pool.add(keys.tx(0, 1, keys[4], 1, gas_price=50))
    pool.add(keys.tx(1, 0, keys[4], 1, gas_price=10))
    pool.add(keys.tx(2, 0, keys[4], 1, gas_price=5))
    chosen = pool.select()
    assert [(keys.addresses.index(t.sender(keys.suite)), t.nonce) for t in chosen] == [(1, 0), (2, 0), (0, 0), (0, 1)]
    assert [(keys.addresses.index(t.sender(keys.suite)), t.nonce) for t in pool.select(gas_limit=63_000)] == \
        [(1, 0), (2, 0), (0, 0)]
    assert len(pool.select(max_txs=2)) == 2
    apply_block(state, chosen, ctx(keys, 1))   # the template is a valid block
    assert pool.remove_confirmed() == 4 and len(pool) == 0


def test_replacement_needs_a_ten_percent_higher_gas_price(keys, pool):
    first = keys.tx(0, 0, keys[1], 1, gas_price=100)
    pool.add(first)
    with pytest.raises(ReplacementUnderpricedError, match="must pay at least 110 \\(10% more than 100\\)"):
        pool.add(keys.tx(0, 0, keys[2], 1, gas_price=109))
    txid = pool.add(keys.tx(0, 0, keys[2], 1, gas_price=110))
    assert first.txid(keys.suite) not in pool and txid in pool and len(pool) == 1
    assert pool.select()[0].to == keys[2]


def test_replacement_of_a_price_one_transaction_must_still_pay_more(keys, pool):
    pool.add(keys.tx(0, 0, keys[1], 1, gas_price=1))
    with pytest.raises(ReplacementUnderpricedError, match="at least 2"):
        pool.add(keys.tx(0, 0, keys[2], 1, gas_price=1))


def test_every_refusal_has_its_error(keys, pool, state):
    from labchain.ledger.account import Account
    tx = keys.tx(0, 0, keys[1], 1)
    pool.add(tx)
    with pytest.raises(DuplicateTransactionError, match="already in the pool"):
        pool.add(tx)
    state.set_account(keys[1], Account(3, FUNDS))
    with pytest.raises(NonceTooLowError, match="nonce 2 was already used"):
        pool.add(keys.tx(1, 2, keys[0], 1))
    with pytest.raises(NonceGapError, match="more than 64 ahead of the account's next nonce 3"):
        pool.add(keys.tx(1, 3 + 65, keys[0], 1))
    with pytest.raises(WrongChainError):
        pool.add(keys.tx(2, 0, keys[0], 1, chain_id="lab"))
    with pytest.raises(BadSignatureError):
        pool.add(keys.tx(2, 0, keys[0], 1).with_signature(keys.tx(2, 0, keys[0], 2).signature))
    with pytest.raises(IntrinsicGasError):
        pool.add(keys.tx(2, 0, keys[0], 1, gas_limit=20_999))
    with pytest.raises(GasLimitError):
        pool.add(keys.tx(2, 0, keys[0], 1, gas_limit=31_000_000))
    with pytest.raises(InsufficientBalanceError, match="holds 0"):
        pool.add(keys.tx(4, 0, keys[0], 1))


def test_balance_must_cover_the_senders_earlier_pooled_transactions(keys, pool):
    pool.add(keys.tx(0, 0, keys[1], FUNDS - 21_000 * 2))
    with pytest.raises(InsufficientBalanceError, match=f"on top of {FUNDS - 21_000}"):
        pool.add(keys.tx(0, 1, keys[1], 21_000))
    pool.add(keys.tx(0, 1, keys[1], 0, gas_price=0))


def test_a_full_pool_refuses_new_transactions_but_takes_replacements(keys, state):
    pool = AccountPool(keys.suite, CHAIN, state, max_txs=2)
    pool.add(keys.tx(0, 0, keys[1], 1))
    pool.add(keys.tx(1, 0, keys[1], 1))
    with pytest.raises(PoolFullError, match="maximum of 2 transactions"):
        pool.add(keys.tx(2, 0, keys[1], 1))
    pool.add(keys.tx(1, 0, keys[1], 1, gas_price=2))
    assert len(pool) == 2
