"""One failing case per contextual consensus rule: the error TYPE and what its message names.

Every rejected block must leave the chain as it was (tip and UTXO set unchanged).
"""
from __future__ import annotations

import pytest

from labchain.block import Block, BlockHeader
from labchain.consensus.pow.difficulty import target_to_bits
from labchain.core.errors import (
    AlreadySpentError,
    BadSignatureError,
    BadTargetError,
    BlockValidationError,
    CoinbaseError,
    DoubleSpendError,
    DuplicateTransactionError,
    ImmatureCoinbaseError,
    InsufficientInputsError,
    InvalidAncestorError,
    KeyMismatchError,
    LockTimeError,
    FutureBlockError,
    TimestampError,
    UnknownInputError,
)
from labchain.core.params import COIN
from labchain.ledger.utxo.tx import OutPoint, Transaction, TxIn, TxOut, short


def rejected(chain, block, error_type):
    """Add ``block``, expect ``error_type``, and check nothing changed; return the message."""
    tip, coins = chain.tip_hash, chain.store.all_coins()
    with pytest.raises(error_type) as info:
        chain.add_block(block)
    assert chain.tip_hash == tip
    assert chain.store.all_coins() == coins
    return str(info.value)


def test_valid_payment_moves_coins_and_genesis_outputs_are_spendable_at_once(kit, chain):
    tx = kit.pay(chain, 0, to=kit.address(1), amount=5 * COIN, fee=1_000)
    update = chain.add_block(kit.block(chain, [tx]))
    assert update.status == "new_tip"
    assert chain.balance(kit.address(1)) == 1005 * COIN
    assert chain.balance(kit.address(0)) == 995 * COIN - 1_000 + 50 * COIN  # change + coinbase


def test_unknown_input(kit, chain):
    ghost = Transaction(1, [TxIn(OutPoint(bytes(range(32)), 0))], [TxOut(COIN, kit.address(1))])
    tx = ghost.sign([kit.keys[0]])
    message = rejected(chain, kit.block(chain, [tx]), UnknownInputError)
    assert f"input 0 of tx {short(kit.txid(tx))}" in message and "does not exist" in message


def test_unknown_output_index_of_a_known_transaction(kit, chain):
    genesis_coinbase = chain.get_block(0).transactions[0]
    bad = Transaction(1, [TxIn(OutPoint(kit.txid(genesis_coinbase), 99))], [TxOut(COIN, kit.address(1))])
    message = rejected(chain, kit.block(chain, [bad.sign([kit.keys[0]])]), UnknownInputError)
    assert "has no output 99" in message


def test_already_spent_names_the_spender_and_block(kit, chain):
    coin = kit.coins(chain, 0)[0]
    first = kit.pay([coin], 0, to=kit.address(1), amount=COIN)
    chain.add_block(kit.block(chain, [first]))
    second = kit.pay([coin], 0, to=kit.address(2), amount=COIN)
    message = rejected(chain, kit.block(chain, [second]), AlreadySpentError)
    assert f"spends output {coin.outpoint}" in message
    assert f"already spent by tx {short(kit.txid(first))} in block 1" in message


def test_double_spend_inside_one_block(kit, chain):
    coin = kit.coins(chain, 0)[0]
    a = kit.pay([coin], 0, to=kit.address(1), amount=COIN)
    b = kit.pay([coin], 0, to=kit.address(2), amount=COIN)
    message = rejected(chain, kit.block(chain, [a, b]), DoubleSpendError)
    assert str(coin.outpoint) in message


def test_bad_signature(kit, chain):
    good = kit.pay(chain, 0, to=kit.address(1), amount=COIN)
    forged_input = TxIn(good.inputs[0].prevout, kit.keys[0].sign(b"something else"), good.inputs[0].pubkey)
    forged = Transaction(1, [forged_input], good.outputs)
    message = rejected(chain, kit.block(chain, [forged]), BadSignatureError)
    assert f"input 0 of tx {short(kit.txid(forged))}" in message and "does not verify" in message


def test_key_does_not_match_the_address_spent(kit, chain):
    coin = kit.coins(chain, 0)[0]
    thief = Transaction(1, [TxIn(coin.outpoint)], [TxOut(COIN, kit.address(1))]).sign([kit.keys[1]])
    message = rejected(chain, kit.block(chain, [thief]), KeyMismatchError)
    assert f"belongs to {kit.address(0)}" in message


def test_outputs_exceeding_inputs(kit, chain):
    coin = kit.coins(chain, 0)[0]
    greedy = Transaction(1, [TxIn(coin.outpoint)], [TxOut(coin.amount + 1, kit.address(1))]).sign([kit.keys[0]])
    message = rejected(chain, kit.block(chain, [greedy]), InsufficientInputsError)
    assert f"spends {coin.amount} base units but its outputs add up to {coin.amount + 1}" in message


def test_immature_coinbase_spend(kit, chain):
    [block] = kit.extend(chain, 1, to=kit.address(3))
    reward = [c for c in kit.coins(chain, 3) if c.is_coinbase and c.height == 1]
    spend = kit.pay(reward, 3, to=kit.address(4), amount=COIN)
    message = rejected(chain, kit.block(chain, [spend]), ImmatureCoinbaseError)
    assert f"coinbase output of block 1 that matures after {chain.params.coinbase_maturity} blocks" in message
    kit.extend(chain, chain.params.coinbase_maturity - 1)   # the next block (height 11) is exactly mature
    assert chain.add_block(kit.block(chain, [spend])).status == "new_tip"


def test_duplicate_transaction_already_in_chain(kit, chain):
    tx = kit.pay(chain, 0, to=kit.address(1), amount=COIN)
    chain.add_block(kit.block(chain, [tx]))
    message = rejected(chain, kit.block(chain, [tx]), DuplicateTransactionError)
    assert f"tx {short(kit.txid(tx))} is already in block 1" in message


def test_lock_height_not_reached(kit, chain):
    tx = kit.pay(chain, 0, to=kit.address(1), amount=COIN, lock_height=5)
    message = rejected(chain, kit.block(chain, [tx]), LockTimeError)
    assert "lock_height 5" in message and "height 1" in message
    kit.extend(chain, 4)
    assert chain.add_block(kit.block(chain, [tx])).status == "new_tip"  # height 5


def test_wrong_bits(kit, chain):
    harder = target_to_bits(1 << 250)
    message = rejected(chain, kit.block(chain, bits=harder), BadTargetError)
    assert f"0x{harder:08x}" in message and f"require 0x{chain.next_bits():08x}" in message


def test_timestamp_not_after_median_time_past(kit, chain):
    kit.extend(chain, 11)
    mtp = chain.median_time_past()
    message = rejected(chain, kit.block(chain, timestamp=mtp), TimestampError)
    assert f"timestamp {mtp}, not after the median time" in message


def test_timestamp_too_far_in_the_future(kit, chain):
    too_late = int(kit.clock()) + chain.params.max_future_block_time + 1
    message = rejected(chain, kit.block(chain, timestamp=too_late), FutureBlockError)
    assert "ahead of this node's clock" in message
    kit.clock.advance(2)  # time passes: the same block becomes acceptable
    assert chain.add_block(kit.block(chain, timestamp=too_late)).status == "new_tip"


def test_coinbase_paying_more_than_reward_plus_fees(kit, chain):
    tx = kit.pay(chain, 0, to=kit.address(1), amount=COIN, fee=700)
    reward = chain.params.block_reward(1)
    assert chain.add_block(kit.block(chain, [tx], reward=reward + 700)).status == "new_tip"
    tx2 = kit.pay(chain, 1, to=kit.address(2), amount=COIN, fee=700)
    message = rejected(chain, kit.block(chain, [tx2], reward=reward + 701), CoinbaseError)
    assert f"pays {reward + 701} base units, more than the reward {reward} plus fees 700" in message


def test_coinbase_lock_height_must_be_the_block_height(kit, chain):
    coinbase = Transaction.coinbase(7, [TxOut(COIN, kit.address(0))])
    message = rejected(chain, kit.block(chain, coinbase=coinbase), CoinbaseError)
    assert "lock_height 7; it must be the block's height 1" in message


def test_block_on_an_invalid_block_is_rejected(kit, chain):
    bad = kit.block(chain, reward=chain.params.block_reward(1) + 1)
    rejected(chain, bad, CoinbaseError)
    assert chain.block_info(kit.hash(bad)).status == "invalid"
    child = kit.block(chain, parent=kit.hash(bad))
    message = rejected(chain, child, InvalidAncestorError)
    assert f"builds on block {short(kit.hash(bad))}, which is invalid" in message
    again = rejected(chain, bad, BlockValidationError)
    assert "already known to be invalid" in again


def test_contextual_errors_do_not_break_later_valid_blocks(kit, chain):
    rejected(chain, kit.block(chain, bits=target_to_bits(1 << 250)), BadTargetError)
    assert chain.add_block(kit.block(chain)).status == "new_tip"
    assert chain.height == 1
