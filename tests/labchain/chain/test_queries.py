"""Chain queries: blocks by hash/height, transactions with confirmations, coins by address, sync."""
from __future__ import annotations

import pytest

from labchain.core.errors import AddressError, UnknownBlockError, UnknownTransactionError
from labchain.core.params import COIN
from labchain.ledger.utxo.tx import OutPoint


def test_blocks_by_height_hash_and_hex(kit, chain):
    blocks = kit.extend(chain, 3)
    assert chain.get_block(2) == blocks[1]
    assert chain.get_block(kit.hash(blocks[1])) == blocks[1]
    assert chain.get_block(kit.hash(blocks[1]).hex()) == blocks[1]
    assert kit.hash(chain.get_block(0)) == chain.genesis_hash
    with pytest.raises(UnknownBlockError, match="no block at height 4; the chain is 3 blocks high"):
        chain.get_block(4)
    with pytest.raises(UnknownBlockError):
        chain.get_block(-1)


def test_block_info_describes_the_tree(kit, chain):
    [main] = kit.extend(chain, 1)
    [side] = kit.extend(chain, 1, parent=chain.genesis_hash, to=kit.address(4))
    info = chain.block_info(kit.hash(main))
    assert (info.height, info.status, info.in_main_chain, info.tx_count) == (1, "valid", True, 1)
    assert info.chainwork == chain.block_info(chain.genesis_hash).chainwork * 2
    side_info = chain.block_info(kit.hash(side))
    assert (side_info.status, side_info.in_main_chain) == ("candidate", False)
    assert info.to_json()["hash"] == kit.hash(main).hex()


def test_transaction_lookup_counts_confirmations(kit, chain):
    tx = kit.pay(chain, 0, to=kit.address(1), amount=COIN)
    [block] = kit.extend(chain, 1, txs=[tx])
    kit.extend(chain, 4)
    info = chain.get_transaction(kit.txid(tx))
    assert (info.tx, info.block_hash, info.height, info.confirmations, info.position) == (tx, kit.hash(block), 1, 5, 1)
    assert chain.get_transaction(kit.txid(tx).hex()).tx == tx
    assert chain.has_transaction(kit.txid(tx)) and not chain.has_transaction(bytes(32))
    with pytest.raises(UnknownTransactionError, match="no transaction 00"):
        chain.get_transaction(bytes(32))
    with pytest.raises(UnknownTransactionError, match="is not a transaction id"):
        chain.get_transaction("not-hex")


def test_coins_and_balance_by_address(kit, chain):
    tx = kit.pay(chain, 0, to=kit.address(1), amount=2 * COIN, fee=1000)
    kit.extend(chain, 1, txs=[tx], to=kit.address(2))
    coins = chain.utxos(str(kit.address(1)))
    assert sorted(c.amount for c in coins) == [2 * COIN, 1000 * COIN]
    assert chain.balance(kit.address(1)) == 1002 * COIN
    assert chain.balance(kit.address(2)) == 1050 * COIN
    assert chain.utxo(OutPoint(kit.txid(tx), 0)).output.address == kit.address(1)
    assert chain.utxo(tx.inputs[0].prevout) is None
    with pytest.raises(AddressError):
        chain.balance("not-an-address")


def test_locator_and_hashes_after_serve_initial_block_download(kit, chain):
    kit.extend(chain, 30)
    locator = chain.locator()
    assert locator[:10] == [kit.hash(chain.get_block(h)) for h in range(30, 20, -1)]
    assert locator[-1] == chain.genesis_hash and len(locator) < 20
    behind = kit.new_chain()
    for h in range(1, 8):
        behind.add_block(chain.get_block(h))
    hashes = chain.hashes_after(behind.locator(), limit=5)
    assert hashes == [kit.hash(chain.get_block(h)) for h in range(8, 13)]
    assert chain.hashes_after([bytes(32)], limit=2) == [kit.hash(chain.get_block(h)) for h in (1, 2)]


def test_median_time_past_and_next_bits_on_regtest(kit, chain):
    blocks = kit.extend(chain, 11)
    times = sorted(b.header.timestamp for b in blocks)
    assert chain.median_time_past() == times[5]
    assert chain.next_bits() == chain.params.initial_bits  # regtest: no retargeting
