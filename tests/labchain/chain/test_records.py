"""Chain records: canonical round trips of coins and undo data; cached transaction bytes."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labchain.block import Block
from labchain.chain import BlockUndo, Coin
from labchain.crypto import Address, ADDRESS_VERSION
from labchain.core.errors import EncodingError
from labchain.core.params import COIN
from labchain.ledger.utxo.tx import OutPoint, Transaction, TxOut

coins = st.builds(
    Coin,
    st.builds(OutPoint, st.binary(min_size=32, max_size=32), st.integers(0, 2**32 - 1)),
    st.builds(TxOut, st.integers(1, 21_000_000 * COIN),
              st.builds(Address, st.just(ADDRESS_VERSION), st.binary(min_size=20, max_size=20))),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)


@given(st.lists(coins, max_size=5))
def test_undo_data_round_trips_through_bytes_and_json(spent):
    undo = BlockUndo(tuple(spent))
    assert BlockUndo.from_bytes(undo.to_bytes()) == undo
    assert BlockUndo.from_json(undo.to_json()) == undo


def test_coin_flag_byte_is_strict(kit, chain):
    coin = kit.coins(chain, 0)[0]
    raw = bytearray(coin.to_bytes())
    raw[-1] = 2
    with pytest.raises(EncodingError, match="is_coinbase must be 0 or 1"):
        Coin.from_bytes(bytes(raw))


def test_decoded_transactions_keep_their_exact_bytes(kit, chain):
    tx = kit.pay(chain, 0, to=kit.address(1), amount=COIN, memo=b"lab")
    block = kit.block(chain, [tx])
    decoded = Block.from_bytes(block.to_bytes())
    assert decoded == block and decoded.to_bytes() == block.to_bytes()
    assert kit.txid(decoded.transactions[1]) == kit.txid(tx)
    fresh = Transaction(tx.version, tx.inputs, tx.outputs, tx.memo, tx.lock_height)
    assert fresh.to_bytes() == decoded.transactions[1].to_bytes()
