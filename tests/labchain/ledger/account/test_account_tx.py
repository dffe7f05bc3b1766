"""AccountTx, AccountAddress, CallData/DeployData: encodings, signatures on both suites, refusals."""
from __future__ import annotations

import pytest

from accountkit import CHAIN, FUNDS, Keys
from labchain.core.errors import AddressError, EncodingError
from labchain.crypto import get_suite
from labchain.ledger.account import AccountAddress, AccountTx, CallData, DeployData, WorldState, intrinsic_gas
from labchain.ledger.account.errors import (
    BadSignatureError,
    GasLimitError,
    InsufficientBalanceError,
    IntrinsicGasError,
    MalformedTransactionError,
    NonceGapError,
    NonceTooLowError,
    WrongChainError,
)
from labchain.ledger.account.tx import account_version, verify_tx


def funded(keys, *balances) -> WorldState:
    state = WorldState(keys.suite)
    for i, b in enumerate(balances):
        state.add_balance(keys[i], b)
    return state


def test_records_round_trip_through_bytes_and_json(keys):
    call = CallData("transfer", (b"\x01\x02", b""))
    deploy = DeployData("def f():\n    return 1\n", (b"\x05",))
    txs = [keys.tx(0, 3, keys[1], 500, gas_price=7),
           keys.tx(1, 0, None, 0, gas_limit=100_000, data=deploy),
           keys.tx(2, 9, keys[0], 1, gas_limit=60_000, data=call)]
    for record in [call, deploy, *txs]:
        assert type(record).from_bytes(record.to_bytes()) == record
        assert type(record).from_json(record.to_json()) == record
    assert txs[1].to_json()["to"] is None and txs[1].deploy_data() == deploy
    assert txs[2].call_data() == call


def test_decoding_is_strict(keys):
    raw = keys.tx(0, 0, keys[1], 5).to_bytes()
    with pytest.raises(EncodingError, match="trailing"):
        AccountTx.from_bytes(raw + b"\x00")
    with pytest.raises(EncodingError, match="truncated"):
        AccountTx.from_bytes(raw[:-3])


def test_account_address_has_its_own_version_per_suite_and_round_trips(keys):
    a = keys[0]
    assert a.version == account_version(keys.suite) == keys.suite.address_version | 0x80
    assert AccountAddress.from_string(str(a), keys.suite) == a
    assert AccountAddress.from_bytes(a.to_bytes()) == a
    other = get_suite("sm2-sm3" if keys.suite.name == "p256-sha256" else "p256-sha256")
    with pytest.raises(MalformedTransactionError, match=f"account address of the {keys.suite.name} crypto suite"):
        AccountAddress.from_string(str(a), other)


def test_account_address_refuses_a_utxo_address_and_a_typo(p256):
    utxo = str(p256.address(p256.public_key(5)))
    with pytest.raises(AddressError, match="is a UTXO address"):
        AccountAddress.from_string(utxo)
    text = str(AccountAddress.of(p256, p256.public_key(5)))
    typo = text[:-1] + ("1" if text[-1] != "1" else "2")
    with pytest.raises(AddressError, match="bad checksum"):
        AccountAddress.from_string(typo)


def test_signed_transaction_verifies_and_a_changed_field_does_not(keys):
    tx = keys.tx(0, 0, keys[1], 10)
    verify_tx(tx, keys.suite, CHAIN, funded(keys, FUNDS))
    assert tx.sender(keys.suite) == keys[0]
    forged = AccountTx(tx.chain_id, tx.nonce, tx.gas_limit, tx.gas_price, tx.to, 11, tx.data,
                       tx.public_key, tx.signature)
    with pytest.raises(BadSignatureError, match="does not verify"):
        verify_tx(forged, keys.suite, CHAIN)


def test_a_signature_of_one_suite_does_not_verify_on_the_other():
    p, s = get_suite("p256-sha256"), get_suite("sm2-sm3")
    tx = Keys(p).tx(0, 0, Keys(s)[1], 1)
    with pytest.raises((BadSignatureError, MalformedTransactionError)):
        verify_tx(tx, s, CHAIN)


def test_txid_depends_on_the_suite_and_the_signature(keys):
    tx = keys.tx(0, 0, keys[1], 10)
    other = get_suite("sm2-sm3" if keys.suite.name == "p256-sha256" else "p256-sha256")
    assert tx.txid(keys.suite) == keys.suite.hash256(tx.to_bytes()) != tx.txid(other)
    assert tx.with_signature(bytes(64)).txid(keys.suite) != tx.txid(keys.suite)


def test_replay_on_another_chain_is_refused(keys):
    tx = keys.tx(0, 0, keys[1], 10, chain_id="lab")
    with pytest.raises(WrongChainError, match="signed for chain 'lab', but this chain is 'regtest'"):
        verify_tx(tx, keys.suite, CHAIN)


def test_unsigned_and_off_curve_key_are_malformed(keys):
    tx = keys.tx(0, 0, keys[1], 10)
    with pytest.raises(MalformedTransactionError, match="is not signed"):
        verify_tx(tx.with_signature(b""), keys.suite, CHAIN)
    with pytest.raises(MalformedTransactionError, match="not a point"):
        verify_tx(tx.with_signature(tx.signature, b"\x02" + b"\xff" * 32), keys.suite, CHAIN)


def test_recipient_of_another_suite_is_refused(keys):
    other = get_suite("sm2-sm3" if keys.suite.name == "p256-sha256" else "p256-sha256")
    tx = keys.tx(0, 0, Keys(other)[1], 10)
    with pytest.raises(MalformedTransactionError, match=f"account address of the {other.name} crypto suite"):
        verify_tx(tx, keys.suite, CHAIN)


def test_creation_needs_deploy_data(keys):
    tx = keys.tx(0, 0, None, 0, gas_limit=100_000, data=b"\x01junk")
    with pytest.raises(MalformedTransactionError, match="not a DeployData"):
        verify_tx(tx, keys.suite, CHAIN)


def test_intrinsic_gas_follows_ethereum():
    assert intrinsic_gas(b"", False) == 21_000
    assert intrinsic_gas(b"\x00\x01\x02", False) == 21_000 + 4 + 16 * 2
    assert intrinsic_gas(b"", True) == 53_000


def test_gas_limit_below_intrinsic_gas_is_refused(keys):
    tx = keys.tx(0, 0, keys[1], 1, gas_limit=21_000 + 15, data=b"\x01")
    with pytest.raises(IntrinsicGasError, match="below its intrinsic gas 21016"):
        verify_tx(tx, keys.suite, CHAIN)
    verify_tx(keys.tx(0, 0, keys[1], 1, gas_limit=21_016, data=b"\x01"), keys.suite, CHAIN)


def test_gas_limit_above_block_limit_is_refused(keys):
    with pytest.raises(GasLimitError, match="above the block gas limit 50000"):
        verify_tx(keys.tx(0, 0, keys[1], 1, gas_limit=60_000), keys.suite, CHAIN, max_gas=50_000)


def test_nonce_too_low_and_gap_are_refused(keys):
    state = funded(keys, FUNDS)
    from labchain.ledger.account import Account
    state.set_account(keys[0], Account(2, FUNDS))
    with pytest.raises(NonceTooLowError, match="nonce 1, but the account's next nonce is 2: nonce 1 was already used"):
        verify_tx(keys.tx(0, 1, keys[1], 1), keys.suite, CHAIN, state)
    with pytest.raises(NonceGapError, match=r"nonces 2\.\.3 must come first"):
        verify_tx(keys.tx(0, 4, keys[1], 1), keys.suite, CHAIN, state)
    verify_tx(keys.tx(0, 2, keys[1], 1), keys.suite, CHAIN, state)


def test_balance_must_cover_value_plus_gas(keys):
    state = funded(keys, 21_000 * 3 + 99)
    with pytest.raises(InsufficientBalanceError, match=r"100 \+ 21000 \* 3 = 63100, but the account holds 63099"):
        verify_tx(keys.tx(0, 0, keys[1], 100, gas_price=3), keys.suite, CHAIN, state)
    verify_tx(keys.tx(0, 0, keys[1], 99, gas_price=3), keys.suite, CHAIN, state)
