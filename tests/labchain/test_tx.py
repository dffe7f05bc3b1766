"""Transaction structure, signing and the syntax rules that need no UTXO set."""
import pytest

from labchain.crypto import PrivateKey, verify_signature
from labchain.core.errors import AmountError, DuplicateInputError, MalformedTransactionError
from labchain.core.params import REGTEST
from labchain.ledger.utxo.tx import OutPoint, Transaction, TxIn, TxOut, check_transaction_syntax

ALICE, BOB = PrivateKey.from_seed("tx tests", 0), PrivateKey.from_seed("tx tests", 1)
PREV = OutPoint(b"\xaa" * 32, 0)


def payment(*outputs, inputs=(PREV,), memo=b"", keys=None) -> Transaction:
    unsigned = Transaction(1, tuple(TxIn(p) for p in inputs), tuple(outputs), memo)
    return unsigned.sign(keys or [ALICE] * len(inputs))


def test_a_well_formed_payment_passes():
    tx = payment(TxOut(5, BOB.address), TxOut(3, ALICE.address), memo=b"lab 3 / student 17")
    check_transaction_syntax(tx, REGTEST)
    assert tx.total_out == 8 and not tx.is_coinbase


def test_each_input_signs_its_own_signature_hash():
    tx = payment(TxOut(5, BOB.address), inputs=(PREV, OutPoint(PREV.txid, 1)))
    for n, txin in enumerate(tx.inputs):
        assert txin.pubkey == ALICE.public_key.data
        assert verify_signature(txin.pubkey, tx.signature_hash(n), txin.signature)
    assert tx.signature_hash(0) != tx.signature_hash(1)
    assert not verify_signature(tx.inputs[0].pubkey, tx.signature_hash(1), tx.inputs[0].signature)


@pytest.mark.parametrize("change", [
    lambda tx: Transaction(tx.version, tx.inputs, (TxOut(6, BOB.address),), tx.memo),
    lambda tx: Transaction(tx.version, tx.inputs, (TxOut(5, ALICE.address),), tx.memo),
    lambda tx: Transaction(tx.version, tx.inputs, tx.outputs, b"other memo"),
    lambda tx: Transaction(tx.version, tx.inputs, tx.outputs, tx.memo, 9),
    lambda tx: Transaction(2, tx.inputs, tx.outputs, tx.memo),
], ids=["amount", "address", "memo", "lock_height", "version"])
def test_signature_hash_covers_amounts_addresses_memo_and_locks(change):
    tx = payment(TxOut(5, BOB.address), memo=b"tag")
    assert change(tx).signature_hash(0) != tx.signature_hash(0)


def test_signatures_do_not_change_the_signature_hash_but_change_the_txid():
    unsigned = Transaction(1, (TxIn(PREV, b"", ALICE.public_key.data),), (TxOut(5, BOB.address),))
    signed = unsigned.sign([ALICE])
    assert signed.signature_hash(0) == unsigned.signature_hash(0)
    assert signed.txid != unsigned.txid


def test_sign_needs_one_key_per_input():
    with pytest.raises(ValueError, match="need one key per input: 1 inputs, 2 keys"):
        Transaction(1, (TxIn(PREV),), (TxOut(1, BOB.address),)).sign([ALICE, BOB])


def test_coinbase_ids_differ_by_height():
    out = (TxOut(50, ALICE.address),)
    a, b = Transaction.coinbase(1, out), Transaction.coinbase(2, out)
    assert a.is_coinbase and a.txid != b.txid and a.lock_height == 1


def test_records_are_immutable_and_lists_become_tuples():
    tx = Transaction(1, [TxIn(PREV)], [TxOut(1, BOB.address)])
    assert isinstance(tx.inputs, tuple) and isinstance(tx.outputs, tuple)
    with pytest.raises(AttributeError):
        tx.memo = b"x"  # type: ignore[misc]
    assert hash(tx) == hash(Transaction(1, (TxIn(PREV),), (TxOut(1, BOB.address),)))


# --- syntax rules: one failing case each, type and message ----------------------------------

def test_no_outputs():
    with pytest.raises(MalformedTransactionError, match="has no outputs") as info:
        check_transaction_syntax(payment(), REGTEST)
    assert isinstance(info.value.obj, Transaction)


@pytest.mark.parametrize("amount", [0, -5])
def test_zero_or_negative_amount(amount):
    # a negative amount cannot even be encoded (so not signed): syntax checks come first
    fake_signed = TxIn(PREV, b"s" * 64, ALICE.public_key.data)
    tx = Transaction(1, (fake_signed,), (TxOut(3, BOB.address), TxOut(amount, BOB.address)))
    with pytest.raises(AmountError, match=f"output 1 of tx .* has amount {amount}; amounts must be positive"):
        check_transaction_syntax(tx, REGTEST)


def test_amount_above_max_money():
    tx = payment(TxOut(REGTEST.max_money + 1, BOB.address))
    with pytest.raises(AmountError, match="above the money supply limit"):
        check_transaction_syntax(tx, REGTEST)


def test_outputs_summing_above_max_money():
    tx = payment(TxOut(REGTEST.max_money, BOB.address), TxOut(1, BOB.address))
    with pytest.raises(AmountError, match="add up to more than the money supply limit"):
        check_transaction_syntax(tx, REGTEST)


def test_same_input_twice():
    tx = payment(TxOut(5, BOB.address), inputs=(PREV, PREV))
    with pytest.raises(DuplicateInputError, match=f"inputs 0 and 1 of tx .* both spend output {PREV}"):
        check_transaction_syntax(tx, REGTEST)


def test_memo_longer_than_80_bytes():
    check_transaction_syntax(payment(TxOut(5, BOB.address), memo=b"m" * 80), REGTEST)
    with pytest.raises(MalformedTransactionError, match="81-byte memo; at most 80 bytes"):
        check_transaction_syntax(payment(TxOut(5, BOB.address), memo=b"m" * 81), REGTEST)


@pytest.mark.parametrize("txin", [TxIn(PREV), TxIn(PREV, b"s" * 63, ALICE.public_key.data),
                                  TxIn(PREV, b"s" * 64, b"")], ids=["blank", "short-sig", "no-key"])
def test_unsigned_input(txin):
    tx = Transaction(1, (txin,), (TxOut(5, BOB.address),))
    with pytest.raises(MalformedTransactionError, match="input 0 of tx .* is not signed"):
        check_transaction_syntax(tx, REGTEST)
