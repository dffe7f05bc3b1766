"""Block structure and the syntax rules a block must meet before any chain context."""
import pytest

from labchain.block import (
    HEADER_SIZE,
    Block,
    BlockHeader,
    account_key,
    check_block_syntax,
    genesis_block,
    target_to_bits,
)
from labchain.crypto import PrivateKey
from labchain.core.errors import (
    AmountError,
    BlockSizeError,
    CoinbaseError,
    DoubleSpendError,
    DuplicateTransactionError,
    MerkleRootError,
    ProofOfWorkError,
)
from labchain.merkle import merkle_root
from labchain.core.params import LAB, MAIN, REGTEST
from labchain.ledger.utxo.tx import OutPoint, Transaction, TxIn, TxOut

MINER, ALICE = PrivateKey.from_seed("block tests", 0), PrivateKey.from_seed("block tests", 1)
GENESIS = genesis_block(REGTEST)


def coinbase(height=1, amount=50):
    return Transaction.coinbase(height, (TxOut(amount, MINER.address),))


def spend(*prevouts, amount=5):
    tx = Transaction(1, tuple(TxIn(p) for p in prevouts), (TxOut(amount, ALICE.address),))
    return tx.sign([ALICE] * len(prevouts))


def make_block(txs, params=REGTEST, merkle=None, bits=None, want_valid_pow=True):
    """Search nonces until the header hash is (or, for a negative test, is not) below target."""
    txs = tuple(txs)
    root = merkle if merkle is not None else merkle_root([t.txid for t in txs])
    header = BlockHeader(1, GENESIS.hash, root, REGTEST.genesis_timestamp + 1,
                         params.initial_bits if bits is None else bits, 0)
    for nonce in range(10_000):
        candidate = header.with_nonce(nonce)
        if candidate.meets_target() == want_valid_pow:
            return Block(candidate, txs)
    raise AssertionError("no suitable nonce found")


A, B = OutPoint(b"\x0a" * 32, 0), OutPoint(b"\x0b" * 32, 0)


def test_a_valid_block_passes_and_round_trips():
    block = make_block([coinbase(), spend(A), spend(B)])
    check_block_syntax(block, REGTEST)
    assert len(block.header.to_bytes()) == HEADER_SIZE
    assert Block.from_bytes(block.to_bytes()) == block
    assert block.hash == block.header.hash and block.prev_hash == GENESIS.hash


def test_header_hash_changes_with_the_nonce_and_timestamp():
    h = GENESIS.header
    assert len({h.hash, h.with_nonce(1).hash, h.with_nonce(0, h.timestamp + 1).hash}) == 3


def test_genesis_funds_the_deterministic_accounts():
    coinbase_tx = GENESIS.transactions[0]
    assert coinbase_tx.is_coinbase and len(coinbase_tx.outputs) == REGTEST.funded_accounts
    for i, out in enumerate(coinbase_tx.outputs):
        assert out.address == account_key(REGTEST, i).address
        assert out.amount == REGTEST.account_balance
    assert GENESIS.header.merkle_root == GENESIS.compute_merkle_root()
    assert genesis_block(LAB).hash != GENESIS.hash
    assert len(genesis_block(MAIN).transactions[0].outputs) == 1


def test_proof_of_work_above_target():
    block = make_block([coinbase()], want_valid_pow=False)
    with pytest.raises(ProofOfWorkError, match="is above its target: no valid proof of work"):
        check_block_syntax(block, REGTEST)


def test_target_easier_than_the_network_limit():
    block = make_block([coinbase()], bits=target_to_bits((1 << 256) - 1))
    with pytest.raises(ProofOfWorkError, match="easier than the network's limit"):
        check_block_syntax(block, REGTEST)


def test_malformed_compact_target():
    block = Block(BlockHeader(1, GENESIS.hash, bytes(32), 0, 0x04923456, 0), (coinbase(),))
    with pytest.raises(ProofOfWorkError, match="invalid target: compact target 0x04923456 is negative"):
        check_block_syntax(block, REGTEST)


def test_merkle_root_that_does_not_match():
    block = make_block([coinbase(), spend(A)], merkle=merkle_root([coinbase().txid]))
    with pytest.raises(MerkleRootError, match="Merkle root does not match its transactions"):
        check_block_syntax(block, REGTEST)


def test_no_transactions():
    with pytest.raises(CoinbaseError, match="has no transactions; the first must be the coinbase"):
        check_block_syntax(make_block([]), REGTEST)


def test_first_transaction_is_not_a_coinbase():
    with pytest.raises(CoinbaseError, match="the first transaction of block .* is not a coinbase"):
        check_block_syntax(make_block([spend(A), coinbase()]), REGTEST)


def test_second_coinbase():
    with pytest.raises(CoinbaseError, match="transaction 1 of block .* is a second coinbase"):
        check_block_syntax(make_block([coinbase(), coinbase(amount=7)]), REGTEST)


def test_same_transaction_twice():
    tx = spend(A)
    with pytest.raises(DuplicateTransactionError, match="appears twice in block"):
        check_block_syntax(make_block([coinbase(), tx, tx]), REGTEST)


def test_double_spend_inside_one_block():
    with pytest.raises(DoubleSpendError, match=f"both spend output {A}"):
        check_block_syntax(make_block([coinbase(), spend(A, amount=5), spend(A, amount=6)]), REGTEST)


def test_too_many_transactions():
    params = REGTEST.with_changes(max_block_txs=2)
    with pytest.raises(BlockSizeError, match="holds 3 transactions, more than 2"):
        check_block_syntax(make_block([coinbase(), spend(A), spend(B)], params), params)


def test_too_many_bytes():
    params = REGTEST.with_changes(max_block_size=300)
    block = make_block([coinbase(), spend(A), spend(B)], params)
    with pytest.raises(BlockSizeError, match=f"is {len(block.to_bytes())} bytes, more than 300"):
        check_block_syntax(block, params)


def test_transaction_rules_are_applied_to_every_transaction():
    with pytest.raises(AmountError, match="amounts must be positive"):
        check_block_syntax(make_block([coinbase(), spend(A, amount=0)]), REGTEST)
