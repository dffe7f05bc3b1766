"""Batch signature verification (crypto.verify_many) and its use for a whole block."""
from __future__ import annotations

import pytest

from labchain.crypto import PARALLEL_VERIFY_MIN, PrivateKey, hash256, shutdown_verify_pools, verify_many
from labchain.core.errors import BadSignatureError
from labchain.core.params import COIN
from labchain.ledger.utxo.tx import Transaction, TxIn, TxOut, short


@pytest.fixture
def pools():
    yield
    shutdown_verify_pools()  # no verification process outlives the test


def triples(count: int):
    key = PrivateKey.from_seed("batch", 1)
    out = []
    for i in range(count):
        message = hash256(i.to_bytes(4, "big"))
        out.append((key.public_key.data, message, key.sign(message)))
    return out


def spoil(checks, bad):
    checks = list(checks)
    for i in bad:
        pubkey, message, signature = checks[i]
        checks[i] = (pubkey, hash256(message), signature)
    return checks


@pytest.mark.parametrize("workers", [1, 2])
def test_results_are_in_order_and_find_every_bad_signature(workers, pools):
    checks = spoil(triples(PARALLEL_VERIFY_MIN + 10), bad={3, 200, PARALLEL_VERIFY_MIN + 9})
    checks[7] = (b"\x02" + b"\xff" * 32, checks[7][1], checks[7][2])  # not a curve point
    results = verify_many(checks, workers=workers)
    assert [i for i, ok in enumerate(results) if not ok] == [3, 7, 200, PARALLEL_VERIFY_MIN + 9]


def test_empty_batch(pools):
    assert verify_many([], workers=2) == []


def test_block_validation_with_workers_names_the_bad_input(kit, pools):
    chain = kit.new_chain(verify_workers=2)
    source = kit.coins(chain, 0)[0]
    count = PARALLEL_VERIFY_MIN + 4
    fan_out = Transaction(1, [TxIn(source.outpoint)], [TxOut(COIN, kit.address(0))] * count).sign([kit.keys[0]])
    chain.add_block(kit.block(chain, [fan_out]))
    spends = [Transaction(1, [TxIn(c.outpoint)], [TxOut(COIN, kit.address(1))]).sign([kit.keys[0]])
              for c in kit.coins(chain, 0) if c.outpoint.txid == kit.txid(fan_out)]
    good = spends[count - 2]
    forged = Transaction(1, [TxIn(good.inputs[0].prevout, spends[0].inputs[0].signature, good.inputs[0].pubkey)],
                         good.outputs)
    spends[count - 2] = forged
    with pytest.raises(BadSignatureError, match=f"input 0 of tx {short(kit.txid(forged))}"):
        chain.add_block(kit.block(chain, spends))
    spends[count - 2] = good
    assert chain.add_block(kit.block(chain, spends)).status == "new_tip"
    assert chain.balance(kit.address(1)) == 1000 * COIN + count * COIN
