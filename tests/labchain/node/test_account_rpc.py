"""The account model's RPC methods on one real regtest-account node process: accounts and
nonces, contract deploy / call / read-only call, gas estimates, receipts, log filters, storage
proofs and a replayed trace the notebook debugger reads."""
from __future__ import annotations

import pytest

from labchain.chain.account_model import verify_account_proof
from labchain.core.params import get_params
from labchain.ledger.account import intrinsic_gas
from labchain.ledger.account.wallet import AccountWallet
from labchain.ledger.contracts.debugger import Debugger
from labchain.ledger.contracts.stdlib import source
from labchain.node.process import NodeProcess
from labchain.node.rpc import RpcError

PARAMS = get_params("regtest-account")
WALLET = AccountWallet(PARAMS)
ADDR = [str(a) for a in WALLET.addresses]


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    n = NodeProcess.start(tmp_path_factory.mktemp("acctnode") / "n0", params="regtest-account")
    yield n
    n.stop()


@pytest.fixture(scope="module")
def token(node):
    sent = node.rpc.deploycontract(0, source("token"), ["Lab Coin", "LAB", 1000])
    node.rpc.generate(1)
    return node.rpc.getreceipt(sent["txid"])["contract_address"]


def test_accounts_are_the_deterministic_keys_with_the_genesis_balance(node):
    listed = node.rpc.listaccounts()
    assert [a["address"] for a in listed] == ADDR
    fresh = node.rpc.getaccount(ADDR[5])
    assert fresh == {"address": ADDR[5], "nonce": 0, "balance": PARAMS.account_balance, "pending_nonce": 0,
                     "code_hash": None, "is_contract": False}
    with pytest.raises(RpcError, match="parameter 'address'"):
        node.rpc.getaccount("not-an-address")


def test_the_pool_nonce_runs_ahead_of_the_state_nonce_until_mined(node):
    rpc = node.rpc
    start = rpc.getnonce(ADDR[3])
    for i in range(2):
        rpc.sendtransaction(WALLET.hex(WALLET.transfer(3, ADDR[4], 10, start + i)))
    assert rpc.getaccount(ADDR[3])["pending_nonce"] == start + 2 and rpc.getnonce(ADDR[3]) == start
    with pytest.raises(RpcError, match="already in the pool"):
        rpc.sendtransaction(WALLET.hex(WALLET.transfer(3, ADDR[4], 10, start)))
    rpc.generate(1)
    assert rpc.getnonce(ADDR[3]) == start + 2 and rpc.getmempool() == []


def test_estimategas_matches_the_mined_receipt(node, token):
    rpc = node.rpc
    nonce = rpc.getaccount(ADDR[0])["pending_nonce"]
    tx = WALLET.call(0, token, "transfer", [WALLET.address(1).to_bytes(), 5], nonce)
    estimate = rpc.estimategas(WALLET.hex(tx))
    txid = rpc.sendtransaction(WALLET.hex(tx))
    rpc.generate(1)
    assert rpc.getreceipt(txid)["gas_used"] == estimate["gas_used"] > 21_000


def test_a_read_only_call_changes_nothing_and_reports_a_revert(node, token):
    rpc = node.rpc
    height = rpc.getblockcount()
    ok = rpc.callcontract(token, "total_supply")
    assert ok["success"] and ok["return_value"] == 1000
    bad = rpc.callcontract(token, "transfer", [{"address": ADDR[2]}, 1], ADDR[9])
    assert not bad["success"] and bad["revert_reason"] == "balance 0 is less than 1" and bad["revert_line"]
    with pytest.raises(RpcError, match="has no contract code"):
        rpc.callcontract(ADDR[1], "anything")
    assert rpc.getblockcount() == height and rpc.getmempool() == []


def test_getlogs_filters_by_contract_topic_and_height(node, token):
    rpc = node.rpc
    a = rpc.sendcontract(0, token, "transfer", [{"address": ADDR[6]}, 3])
    rpc.generate(1)
    b = rpc.sendcontract(0, token, "transfer", [{"address": ADDR[7]}, 4])
    rpc.generate(1)
    ra, rb = rpc.getreceipt(a["txid"]), rpc.getreceipt(b["txid"])
    to6 = ra["events"][0]["topics"][2]
    assert [l["txid"] for l in rpc.getlogs(token, to6)] == [a["txid"]]
    assert [l["txid"] for l in rpc.getlogs(token, None, rb["height"])] == [b["txid"]]
    assert rpc.getlogs(ADDR[1]) == []                     # an account that is no contract: no events


def test_getproof_of_a_storage_slot_and_of_an_absent_account(node, token):
    rpc = node.rpc
    block = rpc.getblock(rpc.getblockcount())
    root = bytes.fromhex(block["header"]["merkle_root"])
    nobody = str(AccountWallet(PARAMS.with_changes(account_seed="nobody"), 1).address(0))
    absent = rpc.getproof(nobody)
    assert absent["value"] is None and verify_account_proof(PARAMS.crypto, root, absent)
    code = rpc.getproof(token)
    assert code["account"]["code_hash"] and verify_account_proof(PARAMS.crypto, root, code)


def test_tracetransaction_replays_a_mined_call_for_the_debugger(node, token):
    rpc = node.rpc
    sent = rpc.sendcontract(0, token, "transfer", [{"address": ADDR[8]}, 2])
    rpc.sendtransaction(WALLET.hex(WALLET.transfer(2, ADDR[3], 1, rpc.getaccount(ADDR[2])["pending_nonce"])))
    rpc.generate(1)
    receipt = rpc.getreceipt(sent["txid"])
    trace = rpc.tracetransaction(sent["txid"])
    assert trace == rpc.tracetransaction(sent["txid"])     # deterministic replay
    same_data = WALLET.call(0, token, "transfer", [WALLET.address(8).to_bytes(), 2], 0).data
    assert trace["result"]["success"]
    assert trace["result"]["gas_used"] == receipt["gas_used"] - intrinsic_gas(same_data, False)  # the mined run's gas
    debugger = Debugger.from_json(trace, trace["source"])
    assert debugger.steps[-1].op == "returned"
    after = {k: v for k, v in debugger.storage_after.items() if k.startswith("balances[")}
    assert len(after) == 2 and rpc.callcontract(token, "balance_of", [{"address": ADDR[8]}])["return_value"] in after.values()
    assert sum(debugger.gas_per_line().values()) == trace["result"]["gas_used"]
    plain = rpc.sendtransaction(WALLET.hex(WALLET.transfer(2, ADDR[3], 1, rpc.getaccount(ADDR[2])["pending_nonce"])))
    rpc.generate(1)
    with pytest.raises(RpcError, match="traces contract calls; .* is a plain transfer"):
        rpc.tracetransaction(plain)
