"""Fork choice by cumulative work, reorganisations with exact UTXO rollback, orphans."""
from __future__ import annotations

import pytest

from labchain.consensus.pow.difficulty import target_to_bits
from labchain.core.errors import CoinbaseError, UnknownInputError, UnknownTransactionError
from labchain.core.params import COIN, get_params
from labchain.ledger.utxo.tx import OutPoint, Transaction, TxIn, TxOut

from chainkit import ChainKit


def replayed_coins(kit, blocks):
    """The UTXO set a fresh chain reaches by connecting ``blocks`` in order."""
    fresh = kit.new_chain()
    for block in blocks:
        fresh.add_block(block)
    return fresh.store.all_coins()


def main_blocks(chain):
    return [chain.get_block(h) for h in range(1, chain.height + 1)]


def payments_branch(kit, chain, count, parent=None, first_account=0):
    """``count`` blocks from ``parent``, each paying from a different funded account."""
    blocks = []
    for i in range(count):
        account = (first_account + i) % len(kit.keys)
        coin = kit.coins(chain, account)[-1] if parent is None else None
        txs = [kit.pay([coin], account, to=kit.address((account + 1) % 10), amount=COIN)] if coin else []
        block = kit.block(chain, txs, parent=parent)
        chain.add_block(block)
        parent = kit.hash(block)
        blocks.append(block)
    return blocks


def test_longer_branch_of_equal_difficulty_reorganises_and_rolls_utxos_back(kit, chain):
    a = payments_branch(kit, chain, 2)
    coins_after_a = chain.store.all_coins()
    b1 = kit.block(chain, parent=chain.genesis_hash, to=kit.address(5))
    assert chain.add_block(b1).status == "side_branch"
    b2 = kit.block(chain, parent=kit.hash(b1), to=kit.address(5))
    assert chain.add_block(b2).status == "side_branch"  # equal work: the first seen stays
    assert chain.store.all_coins() == coins_after_a
    b3 = kit.block(chain, parent=kit.hash(b2), to=kit.address(5))
    update = chain.add_block(b3)
    assert update.status == "new_tip"
    assert [kit.hash(b) for b in update.disconnected] == [kit.hash(a[1]), kit.hash(a[0])]
    assert [kit.hash(b) for b in update.connected] == [kit.hash(b1), kit.hash(b2), kit.hash(b3)]
    assert chain.store.all_coins() == replayed_coins(kit, [b1, b2, b3])
    assert chain.balance(kit.address(0)) == 1000 * COIN  # the payment of branch A is undone


def test_reorg_deeper_than_ten_blocks_and_back(kit, chain):
    a = payments_branch(kit, chain, 12)
    b = []
    parent = chain.genesis_hash
    for _ in range(13):
        block = kit.block(chain, parent=parent, to=kit.address(9))
        b.append(block)
        update = chain.add_block(block)
        parent = kit.hash(block)
    assert update.status == "new_tip"
    assert len(update.disconnected) == 12 and len(update.connected) == 13
    assert chain.tip_hash == kit.hash(b[-1]) and chain.height == 13
    assert chain.store.all_coins() == replayed_coins(kit, b)
    assert all(not chain.block_info(kit.hash(x)).in_main_chain for x in a)
    # branch A comes back with two more blocks: its payments are connected again
    a_more = kit.extend(chain, 2, parent=kit.hash(a[-1]))
    assert chain.tip_hash == kit.hash(a_more[-1])
    assert chain.store.all_coins() == replayed_coins(kit, a + a_more)
    with pytest.raises(UnknownTransactionError):
        chain.get_transaction(kit.txid(b[0].transactions[0]))
    assert chain.get_transaction(kit.txid(a[0].transactions[1])).confirmations == 14


def test_tip_is_the_branch_with_most_work_not_the_highest():
    params = get_params("regtest").with_changes(
        name="regtest", no_retargeting=False, retarget_interval=4, block_time=100,
        initial_bits=target_to_bits(1 << 250))
    kit = ChainKit(params)
    chain = kit.new_chain()
    genesis = chain.get_block(0)
    t0 = genesis.header.timestamp
    # branch A: four fast blocks; the fourth must be 4x harder (retarget, clamped)
    fast = [kit.extend(chain, 1, timestamp=t0 + i)[0] for i in (1, 2, 3)]
    assert chain.next_bits() == target_to_bits((1 << 250) // 4)
    hard = kit.extend(chain, 1)[0]
    assert hard.header.bits == target_to_bits((1 << 250) // 4)
    # branch B: six slow blocks at the initial difficulty; higher but less work
    parent, t = chain.genesis_hash, t0
    for _ in range(6):
        t += 101
        block = kit.block(chain, parent=parent, timestamp=t)
        chain.add_block(block)
        parent = kit.hash(block)
    b_tip = chain.block_info(parent)
    a_tip = chain.block_info(kit.hash(hard))
    assert b_tip.height > a_tip.height and a_tip.chainwork > b_tip.chainwork
    assert chain.tip_hash == kit.hash(hard)
    assert len(fast) == 3


def test_invalid_block_in_new_branch_returns_to_the_best_valid_chain(kit, chain):
    a = kit.extend(chain, 3, to=kit.address(1))
    coins = chain.store.all_coins()
    b = kit.extend(chain, 3, parent=chain.genesis_hash, to=kit.address(2))
    ghost = Transaction(1, [TxIn(OutPoint(bytes(32), 7))], [TxOut(COIN, kit.address(3))]).sign([kit.keys[0]])
    bad = kit.block(chain, [ghost], parent=kit.hash(b[-1]))
    with pytest.raises(UnknownInputError) as info:
        chain.add_block(bad)
    assert info.value.update.status == "unchanged"
    assert chain.tip_hash == kit.hash(a[-1])
    assert chain.store.all_coins() == coins
    assert chain.block_info(kit.hash(bad)).status == "invalid"
    assert chain.block_info(kit.hash(b[-1])).status == "valid"  # it was connected during the attempt
    # a valid extension of branch B still wins later
    good = kit.extend(chain, 2, parent=kit.hash(b[-1]))
    assert chain.tip_hash == kit.hash(good[-1])


def test_descendants_of_an_invalid_block_are_invalid_too(kit, chain):
    kit.extend(chain, 1)
    side = kit.extend(chain, 1, parent=chain.genesis_hash, to=kit.address(5))  # equal work: side branch
    bad = kit.block(chain, parent=kit.hash(side[0]), reward=51 * COIN)
    child = kit.block(chain, parent=bad)
    assert chain.add_block(child).status == "orphan"
    with pytest.raises(CoinbaseError):
        chain.add_block(bad)
    assert chain.block_info(kit.hash(bad)).status == "invalid"
    assert chain.height == 1 and chain.tip_hash != kit.hash(side[0])
    assert kit.hash(child) not in chain.orphans  # the orphan's parent turned out invalid: dropped


def test_orphans_wait_for_their_parent_then_connect(kit, chain):
    chain_b = kit.new_chain()
    blocks = kit.extend(chain_b, 3)
    assert chain.add_block(blocks[2]).status == "orphan"
    assert chain.add_block(blocks[1]).status == "orphan"
    assert chain.add_block(blocks[2]).status == "duplicate"
    assert chain.missing_parents() == [kit.hash(blocks[0])]
    update = chain.add_block(blocks[0])
    assert update.status == "new_tip"
    assert [kit.hash(b) for b in update.connected] == [kit.hash(b) for b in blocks]
    assert chain.orphans == {} and chain.missing_parents() == []


def test_orphan_pool_is_bounded_oldest_dropped(kit):
    source = kit.new_chain()
    blocks = kit.extend(source, 6)
    chain = kit.new_chain(max_orphans=3)
    for block in blocks[1:]:
        assert chain.add_block(block).status == "orphan"
    assert list(chain.orphans) == [kit.hash(b) for b in blocks[3:]]
    update = chain.add_block(blocks[0])
    assert chain.height == 1 and len(update.connected) == 1  # blocks[1] was dropped


def test_invalid_orphan_is_dropped_when_its_parent_arrives(kit):
    source = kit.new_chain()
    [b1] = kit.extend(source, 1)
    bad = kit.block(source, reward=60 * COIN)
    chain = kit.new_chain()
    assert chain.add_block(bad).status == "orphan"
    assert chain.add_block(b1).status == "new_tip"
    assert chain.tip_hash == kit.hash(b1) and chain.orphans == {}


def test_a_block_spending_its_own_new_coin_rolls_back_exactly(kit, chain):
    """A parent and its child in one block: the child's coin needs no undo record, and a reorg
    that disconnects the block restores exactly the UTXO set from before it."""
    from labchain.chain import Coin

    before = chain.store.all_coins()
    parent = kit.pay(chain, 0, to=kit.address(4), amount=10 * COIN, fee=200)
    born = Coin(OutPoint(kit.txid(parent), 0), parent.outputs[0], 1, False)
    child = kit.pay([born], 4, to=kit.address(9), amount=COIN, fee=300)
    [block] = kit.extend(chain, 1, txs=[parent, child])
    assert chain.utxo(OutPoint(kit.txid(parent), 0)) is None          # spent inside the block
    undo = chain.store.undo(kit.hash(block))
    assert [c.outpoint.txid for c in undo.spent] == [parent.inputs[0].prevout.txid]
    genesis = chain.genesis_hash
    rival = [kit.block(chain, parent=genesis)]
    rival.append(kit.block(chain, parent=rival[0]))
    for b in rival:
        chain.add_block(b)
    assert chain.tip_hash == kit.hash(rival[-1])
    assert chain.store.all_coins() == replayed_coins(kit, rival)
    assert set(before) <= set(chain.store.all_coins())           # every old coin is back
