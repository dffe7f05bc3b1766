"""apply_block / undo_block with plain transfers: balances, fees, receipts, refusals, exact undo."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from accountkit import FUNDS, Keys, ctx, funded_state
from labchain.crypto import get_suite
from labchain.ledger.account import (
    Receipt, apply_block, receipt_proof, receipts_root, undo_block, verify_receipt,
)
from labchain.ledger.account.errors import (
    BadSignatureError, GasLimitError, InsufficientBalanceError, NonceGapError, NonceTooLowError, WrongChainError,
)
from labchain.ledger.account.receipts import EventLog


def test_transfer_moves_value_and_pays_the_proposer(keys):
    state = funded_state(keys)
    txs = [keys.tx(0, 0, keys[1], 1000, gas_price=3), keys.tx(0, 1, keys[4], 7, gas_price=2, gas_limit=30_000)]
    receipts, root, rroot, undo = apply_block(state, txs, ctx(keys, 1))
    assert [r.gas_used for r in receipts] == [21_000, 21_000]
    assert [r.cumulative_gas_used for r in receipts] == [21_000, 42_000]
    assert all(r.succeeded for r in receipts) and receipts[0].txid == txs[0].txid(keys.suite)
    assert state.account(keys[0]).nonce == 2
    assert state.balance(keys[0]) == FUNDS - 1007 - 21_000 * 5     # unused gas of tx 2 refunded
    assert state.balance(keys[1]) == FUNDS + 1000 and state.balance(keys[4]) == 7
    assert state.balance(keys[5]) == 21_000 * 5                      # the proposer's fees
    assert root == state.state_root and rroot == receipts_root(keys.suite, receipts)


def test_data_to_an_account_without_code_is_carried_and_charged(keys):
    state = funded_state(keys)
    tx = keys.tx(0, 0, keys[1], 5, gas_limit=30_000, data=b"\x00memo")
    (receipt,), *_ = apply_block(state, [tx], ctx(keys, 1))
    assert receipt.succeeded and receipt.gas_used == 21_000 + 4 + 16 * 4


@pytest.mark.parametrize("make, error, message", [
    (lambda k: k.tx(0, 2, k[1], 1), NonceGapError, "transaction 1 of block 1: .*nonce 2, but .* nonces 1..1 must come first"),
    (lambda k: k.tx(0, 0, k[1], 1), NonceTooLowError, "transaction 1 of block 1: .*already used"),
    (lambda k: k.tx(4, 0, k[1], 1), InsufficientBalanceError, "transaction 1 of block 1: .*holds 0"),
    (lambda k: k.tx(1, 0, k[1], 1, chain_id="main"), WrongChainError, "transaction 1 of block 1: .*'main'"),
    (lambda k: k.tx(1, 0, k[2], 1).with_signature(bytes(64)), BadSignatureError, "transaction 1 of block 1"),
    (lambda k: k.tx(1, 0, k[2], 1, gas_limit=29_990_000), GasLimitError, "only 29979000 of the block's"),
])
def test_a_block_with_a_bad_transaction_is_refused_and_changes_nothing(keys, make, error, message):
    state = funded_state(keys)
    before, mark = dict(state.items()), state.snapshot()
    with pytest.raises(error, match=message):
        apply_block(state, [keys.tx(0, 0, keys[1], 1), make(keys)], ctx(keys, 1))
    assert dict(state.items()) == before and state.snapshot() == mark


def test_undo_restores_the_exact_previous_state(keys):
    state = funded_state(keys)
    snapshots = [(state.state_root, dict(state.items()))]
    undos = []
    for h in range(1, 4):
        txs = [keys.tx(i, h - 1, keys[(i + h) % 6], 10 * h + i) for i in range(4)]
        undos.append(apply_block(state, txs, ctx(keys, h, proposer=h)).undo)
        snapshots.append((state.state_root, dict(state.items())))
    for undo, (root, items) in zip(reversed(undos), reversed(snapshots[:-1])):
        undo_block(state, undo)
        assert state.state_root == root and dict(state.items()) == items


def test_receipts_round_trip_and_prove_membership(keys):
    log = EventLog(keys[1], "Transfer", (bytes(32), b"\x01" * 32), b"\x02data")
    receipts = [Receipt(bytes([n]) * 32, n % 2, 21_000 + n, 21_000 * (n + 1), keys[2] if n else None,
                        (log,) * n, "why" * n, n) for n in range(5)]
    for r in receipts:
        assert Receipt.from_bytes(r.to_bytes()) == r == Receipt.from_json(r.to_json())
    root = receipts_root(keys.suite, receipts)
    for n, r in enumerate(receipts):
        assert verify_receipt(keys.suite, root, r, receipt_proof(keys.suite, receipts, n))
    assert not verify_receipt(keys.suite, root, receipts[1], receipt_proof(keys.suite, receipts, 2))
    assert receipts_root(keys.suite, []) == bytes(32)


TRANSFERS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(0, 10**6),
                               st.integers(1, 5)), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None)
@given(blocks=st.lists(TRANSFERS, min_size=1, max_size=4), which=st.sampled_from(["p256-sha256", "sm2-sm3"]))
def test_random_transfer_blocks_apply_undo_round_trip_and_replay_to_the_same_root(blocks, which):
    keys = KEYS[which]
    state, replica = funded_state(keys), funded_state(keys)
    history = [(state.state_root, dict(state.items()))]
    undos = []
    nonces = [0] * 6
    for h, transfers in enumerate(blocks, start=1):
        txs = []
        for sender, to, value, price in transfers:
            txs.append(keys.tx(sender, nonces[sender], keys[to], value, gas_price=price))
            nonces[sender] += 1
        result = apply_block(state, txs, ctx(keys, h))
        assert apply_block(replica, txs, ctx(keys, h)).state_root == result.state_root == state.state_root
        undos.append(result.undo)
        history.append((state.state_root, dict(state.items())))
    assert sum(state.balance(a) for a in keys.addresses) == 4 * FUNDS   # value and fees only move
    for undo, (root, items) in zip(reversed(undos), reversed(history[:-1])):
        undo_block(state, undo)
        assert state.state_root == root and dict(state.items()) == items


KEYS = {name: Keys(get_suite(name)) for name in ("p256-sha256", "sm2-sm3")}
