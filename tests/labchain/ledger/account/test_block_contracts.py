"""Contracts through AccountTx: the standard token deployed, called, reverted, out of gas, undone."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from accountkit import FUNDS, Keys, ctx, funded_state
from labchain.crypto import get_suite
from labchain.ledger.account import (
    AccountStore, CallData, DeployData, apply_block, intrinsic_gas, read_call, undo_block,
)
from labchain.ledger.account.errors import BlockContextError
from labchain.ledger.account.state import code_key
from labchain.ledger.contracts.stdlib import source
from labchain.ledger.contracts.values import decode_value, encode_value, event_signature

SUPPLY = 1_000_000


def args(*values) -> tuple[bytes, ...]:
    return tuple(encode_value(v) for v in values)


def deploy_token(keys, state, height=1, value=0):
    tx = keys.tx(0, state.account(keys[0]).nonce, None, value, gas_limit=3_000_000,
                 data=DeployData(source("token"), args("Lab Coin", "LAB", SUPPLY)))
    (receipt,), *_ = apply_block(state, [tx], ctx(keys, height))
    return tx, receipt


def call(keys, state, sender, function, *values, value=0, gas_limit=300_000):
    return keys.tx(sender, state.account(keys[sender]).nonce, TOKEN[keys.suite.name], value,
                   gas_limit=gas_limit, data=CallData(function, args(*values)))


TOKEN: dict = {}


@pytest.fixture
def token(keys, state):
    tx, receipt = deploy_token(keys, state, value=777)
    assert receipt.succeeded, receipt.revert_reason
    TOKEN[keys.suite.name] = receipt.contract_address
    return receipt.contract_address


def balance_of(keys, state, token, who) -> int:
    result = read_call(state, ctx(keys, 9), token, "balance_of", [keys[who].to_bytes()])
    assert result.success, result.revert_reason
    return result.return_value


def test_deploy_stores_code_under_its_hash_and_credits_the_value(keys, state, token):
    account = state.account(token)
    assert account.code_hash == keys.suite.hash(source("token").encode())
    assert state.get(code_key(account.code_hash)) == source("token").encode()
    assert account.balance == 777 and account.nonce == 1
    assert balance_of(keys, state, token, 0) == SUPPLY
    assert state.account(keys[0]).nonce == 1


def test_deploy_receipt_carries_the_address_and_the_mint_event(keys, state):
    tx, receipt = deploy_token(keys, state)
    assert receipt.contract_address is not None and receipt.gas_used > 53_000
    (event,) = receipt.events
    assert event.name == "Transfer" and event.contract == receipt.contract_address
    assert event.topics[0] == event_signature("Transfer")
    assert decode_value(event.data)["amount"] == SUPPLY


def test_token_transfer_emits_an_event_with_topics(keys, state, token):
    tx = call(keys, state, 0, "transfer", keys[1].to_bytes(), 250)
    (receipt,), _, rroot, _ = apply_block(state, [tx], ctx(keys, 2))
    assert receipt.succeeded and receipt.gas_used > 21_000
    (event,) = receipt.events
    assert event.contract == token and len(event.topics) == 3
    assert decode_value(event.data) == {"sender": keys[0].to_bytes(), "to": keys[1].to_bytes(), "amount": 250}
    assert balance_of(keys, state, token, 0) == SUPPLY - 250 and balance_of(keys, state, token, 1) == 250


def test_a_reverted_call_refunds_value_keeps_the_nonce_and_charges_gas_used(keys, state, token):
    before = state.balance(keys[1])
    tx = call(keys, state, 1, "transfer", keys[2].to_bytes(), 5, value=1000)
    (receipt,), *_ = apply_block(state, [tx], ctx(keys, 2))
    assert receipt.status == 0 and receipt.events == ()
    assert receipt.revert_reason == "balance 0 is less than 5" and receipt.revert_line > 0
    assert state.account(keys[1]).nonce == 1
    assert state.balance(keys[1]) == before - receipt.gas_used            # the value came back
    assert 21_000 < receipt.gas_used < tx.gas_limit
    assert state.balance(token) == 777 and balance_of(keys, state, token, 2) == 0


def test_out_of_gas_charges_the_whole_gas_limit_and_reverts(keys, state, token):
    before = state.balance(keys[0])
    data = CallData("transfer", args(keys[1].to_bytes(), 5)).to_bytes()
    tx = call(keys, state, 0, "transfer", keys[1].to_bytes(), 5, gas_limit=intrinsic_gas(data, False) + 300)
    (receipt,), *_ = apply_block(state, [tx], ctx(keys, 2))
    assert receipt.status == 0 and receipt.revert_reason == "out of gas"
    assert receipt.gas_used == tx.gas_limit and state.balance(keys[0]) == before - tx.gas_limit
    assert balance_of(keys, state, token, 1) == 0 and state.account(keys[0]).nonce == 2


def test_unknown_function_and_undecodable_call_data_fail_with_a_reason(keys, state, token):
    bad_function = call(keys, state, 0, "mint", 5)
    raw = keys.tx(0, 2, token, 0, gas_limit=100_000, data=b"\x05junk")
    receipts, *_ = apply_block(state, [bad_function, raw], ctx(keys, 2))
    assert receipts[0].status == 0 and "no public function 'mint'" in receipts[0].revert_reason
    assert receipts[1].status == 0 and "data cannot be used" in receipts[1].revert_reason
    assert state.account(keys[0]).nonce == 3


def test_a_contract_that_does_not_compile_fails_and_uses_all_gas(keys, state):
    tx = keys.tx(0, 0, None, 0, gas_limit=200_000, data=DeployData("import os\n"))
    (receipt,), *_ = apply_block(state, [tx], ctx(keys, 1))
    assert receipt.status == 0 and "does not compile: imports are not allowed" in receipt.revert_reason
    assert receipt.gas_used == 200_000 and receipt.contract_address is None


def test_undo_of_a_contract_block_restores_the_previous_root(keys, state):
    tx, receipt = deploy_token(keys, state)
    TOKEN[keys.suite.name] = receipt.contract_address
    calls = [call(keys, state, 0, "transfer", keys[1].to_bytes(), 10)]
    calls.append(keys.tx(0, 2, receipt.contract_address, 0, gas_limit=300_000,
                         data=CallData("transfer", args(keys[2].to_bytes(), 20))))
    mid = state.state_root
    result = apply_block(state, calls, ctx(keys, 2))
    assert all(r.succeeded for r in result.receipts)
    undo_block(state, result.undo)
    assert state.state_root == mid


def test_the_same_contract_blocks_give_the_same_roots_on_a_store(keys, state, tmp_path):
    store = AccountStore(tmp_path / "a.db", keys.suite, "regtest")
    store.genesis({keys[i]: FUNDS for i in range(4)})
    assert store.state_root == funded_state(keys).state_root
    tx, receipt = deploy_token(keys, state)
    assert store.apply_block([tx], ctx(keys, 1)).receipts[0] == receipt
    assert store.state_root == state.state_root
    store.close()
    assert AccountStore(tmp_path / "a.db", keys.suite, "regtest").state_root == state.state_root


def test_read_call_changes_nothing_and_needs_code(keys, state, token):
    root = state.state_root
    result = read_call(state, ctx(keys, 2), token, "transfer", [keys[1].to_bytes(), 1], sender=keys[0])
    assert result.success and state.state_root == root
    with pytest.raises(BlockContextError, match="has no contract code"):
        read_call(state, ctx(keys, 2), keys[3], "balance_of", [b""])


def test_the_host_refuses_an_address_of_another_suite(keys, state, token):
    from labchain.ledger.account import LedgerHost
    from labchain.ledger.account.errors import StateError
    host = LedgerHost(state, bytes(32))
    foreign = bytes([keys.suite.address_version]) + bytes(20)      # a UTXO-style version byte
    with pytest.raises(Exception, match="account address"):
        host.balance(foreign)
    other = bytes([0x80 | (0x3F if keys.suite.name == "p256-sha256" else 0x30)]) + bytes(20)
    with pytest.raises(StateError, match=f"not an account address of this chain's suite \\({keys.suite.name}\\)"):
        host.transfer(token.to_bytes(), other, 1)
    assert state.balance(token) == 777


FORWARDER = '''"""Calls the token on behalf of itself; counts its calls."""
from contract import *

hits = storage.map(str, int)


def forward(token: bytes, to: bytes, amount: int) -> bool:
    hits["n"] += 1
    return call(token, "transfer", to, amount)


def count() -> int:
    return hits["n"]
'''


def test_cross_contract_calls_run_through_the_ledger_and_a_nested_revert_undoes_the_caller(keys, state, token):
    deploy = keys.tx(1, 0, None, 0, gas_limit=1_000_000, data=DeployData(FORWARDER))
    (created,), *_ = apply_block(state, [deploy], ctx(keys, 2))
    forwarder = created.contract_address
    assert created.succeeded and forwarder != token
    fund = call(keys, state, 0, "transfer", forwarder.to_bytes(), 100)
    good = keys.tx(1, 1, forwarder, 0, gas_limit=400_000,
                   data=CallData("forward", args(token.to_bytes(), keys[2].to_bytes(), 30)))
    bad = keys.tx(1, 2, forwarder, 0, gas_limit=400_000,
                  data=CallData("forward", args(token.to_bytes(), keys[2].to_bytes(), 1000)))
    receipts, *_ = apply_block(state, [fund, good, bad], ctx(keys, 3))
    assert [r.status for r in receipts] == [1, 1, 0]
    (event,) = receipts[1].events
    assert event.contract == token and decode_value(event.data)["sender"] == forwarder.to_bytes()
    assert "reverted" in receipts[2].revert_reason and "less than 1000" in receipts[2].revert_reason
    assert balance_of(keys, state, token, 2) == 30
    assert read_call(state, ctx(keys, 4), forwarder, "count", []).return_value == 1   # the failed call's +1 undone

KEYS = {name: Keys(get_suite(name)) for name in ("p256-sha256", "sm2-sm3")}
MOVES = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(0, SUPPLY // 2),
                           st.sampled_from(["token", "coin"])), min_size=1, max_size=8)


@settings(max_examples=15, deadline=None)
@given(blocks=st.lists(MOVES, min_size=1, max_size=3), which=st.sampled_from(sorted(KEYS)))
def test_random_token_and_coin_blocks_undo_exactly_and_replay_to_the_same_root(blocks, which):
    keys = KEYS[which]
    state, replica = funded_state(keys), funded_state(keys)
    tx, receipt = deploy_token(keys, state)
    apply_block(replica, [tx], ctx(keys, 1))
    token = receipt.contract_address
    history, undos = [(state.state_root, dict(state.items()))], []
    for h, moves in enumerate(blocks, start=2):
        txs, nonces = [], {}
        for sender, to, amount, kind in moves:
            nonce = nonces.setdefault(sender, state.account(keys[sender]).nonce)
            nonces[sender] += 1
            if kind == "coin":
                txs.append(keys.tx(sender, nonce, keys[to], amount))
            else:   # most senders hold no tokens: many of these revert
                txs.append(keys.tx(sender, nonce, token, 0, gas_limit=200_000,
                                   data=CallData("transfer", args(keys[to].to_bytes(), amount))))
        result = apply_block(state, txs, ctx(keys, h))
        assert apply_block(replica, txs, ctx(keys, h)) == result
        undos.append(result.undo)
        history.append((state.state_root, dict(state.items())))
    for undo, (root, items) in zip(reversed(undos), reversed(history[:-1])):
        undo_block(state, undo)
        assert state.state_root == root and dict(state.items()) == items
