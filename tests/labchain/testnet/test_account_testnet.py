"""A 4-node regtest-account testnet of real node processes (line topology): the stdlib token
deployed and used across nodes, receipts and events on every node, a state proof checked
against a header, a partition whose reorganisation reverts state and receipts, bad input over
RPC, and a SIGKILL during sync on the account model."""
from __future__ import annotations

import time

import pytest

from labchain.chain.account_model import verify_account_proof
from labchain.core.params import get_params
from labchain.ledger.account.wallet import AccountWallet
from labchain.ledger.contracts.stdlib import source
from labchain.node.rpc import RpcError
from labchain.testnet import Testnet
from polling import wait_until as _wait_until

PARAMS = get_params("regtest-account")
WALLET = AccountWallet(PARAMS)
ADDR = [str(a) for a in WALLET.addresses]


def _receipt(node, txid):
    try:
        return node.rpc.getreceipt(txid)
    except RpcError:
        return None


@pytest.fixture(scope="module")
def tn(tmp_path_factory):
    with Testnet.start(nodes=4, topology="line", params="regtest-account",
                       dir=tmp_path_factory.mktemp("acct") / "net") as net:
        yield net


@pytest.fixture(scope="module")
def token(tn):
    """The stdlib token deployed from node 0 by account 0 (supply 1000)."""
    sent = tn.nodes[0].rpc.deploycontract(0, source("token"), ["Lab Coin", "LAB", 1000])
    tn.nodes[0].rpc.generate(1)
    tn.sync_blocks(timeout=120)
    receipt = tn.nodes[3].rpc.getreceipt(sent["txid"])
    assert receipt["status"] == "success", receipt
    return receipt["contract_address"]


def test_a_token_transfer_sent_on_node3_is_mined_on_node0_with_its_event_on_every_node(tn, token):
    rpc3 = tn.nodes[3].rpc
    sent = rpc3.sendcontract(0, token, "transfer", [{"address": ADDR[2]}, 40])
    assert sent["txid"] in tn.sync_mempools(timeout=120)
    tn.nodes[0].rpc.generate(1)
    tn.sync_blocks(timeout=120)
    for node in tn.nodes:
        receipt = wait_until(lambda: _receipt(node, sent["txid"]), what="the receipt")
        assert receipt["status"] == "success"
        (event,) = receipt["events"]
        assert event["name"] == "Transfer" and event["contract"] == token
        logs = node.rpc.getlogs(token, event["topics"][2], receipt["height"], receipt["height"])
        assert [log["txid"] for log in logs] == [sent["txid"]]
        balance = node.rpc.callcontract(token, "balance_of", [{"address": ADDR[2]}])
        assert balance["return_value"] == 40


def test_a_coin_transfer_and_its_proof_against_the_header_on_another_node(tn):
    nonce = tn.nodes[1].rpc.getaccount(ADDR[4])["pending_nonce"]
    before = tn.nodes[1].rpc.getbalance(ADDR[5])
    txid = tn.nodes[1].rpc.sendtransaction(WALLET.hex(WALLET.transfer(4, ADDR[5], 12_345, nonce)))
    tn.sync_mempools(timeout=120)
    tn.nodes[2].rpc.generate(1)
    tip = tn.sync_blocks(timeout=120)
    assert tn.nodes[0].rpc.getreceipt(txid)["status"] == "success"
    answer = tn.nodes[3].rpc.getproof(ADDR[5])
    assert answer["account"]["balance"] == before + 12_345 and answer["block_hash"] == tip
    header = tn.nodes[0].rpc.getblock(tip)["header"]         # the header from ANOTHER node
    assert verify_account_proof(PARAMS.crypto, bytes.fromhex(header["merkle_root"]), answer)
    forged = dict(answer, state_root=answer["tx_root"])        # a forged root breaks the commitment
    assert not verify_account_proof(PARAMS.crypto, bytes.fromhex(header["merkle_root"]), forged)


def test_bad_input_gets_a_clear_error_or_a_failed_receipt_and_the_node_keeps_running(tn, token):
    rpc = tn.nodes[0].rpc
    with pytest.raises(RpcError, match="nonce 0 was already used"):
        rpc.sendtransaction(WALLET.hex(WALLET.transfer(0, ADDR[1], 1, 0)))
    rich = WALLET.transfer(7, ADDR[1], PARAMS.account_balance, rpc.getnonce(ADDR[7]))
    with pytest.raises(RpcError, match=r"needs 100000021000 \(value \+ gas_limit \* gas_price\)"):
        rpc.sendtransaction(WALLET.hex(rich))
    with pytest.raises(RpcError, match=r"does not compile: syntax error.*\(line 2, col \d+\)"):
        rpc.deploycontract(0, "def ok():\n    return (\n")
    with pytest.raises(RpcError, match=r"imports are not allowed in contracts \(line 1, col 1\)"):
        rpc.deploycontract(0, "import os\n")
    with pytest.raises(RpcError, match="not a signed account transaction"):
        rpc.sendtransaction("00ff")
    sent = rpc.sendcontract(1, token, "transfer", [{"address": ADDR[2]}, 10**9])   # account 1 has no tokens
    rpc.generate(1)
    receipt = rpc.getreceipt(sent["txid"])
    assert receipt["status"] == "failed" and "balance 0 is less than 1000000000" in receipt["revert_reason"]
    assert receipt["revert_line"] > 0
    tn.sync_blocks(timeout=120)                            # every node still answers and agrees


def test_a_partition_reorg_reverts_state_and_receipts_and_returns_the_tx_to_the_pool(tn):
    tn.sync_blocks(timeout=120)
    tn.partition([0, 1], [2, 3])
    rpc3 = tn.nodes[3].rpc
    nonce = rpc3.getaccount(ADDR[6])["pending_nonce"]
    before = rpc3.getbalance(ADDR[6])
    losing = rpc3.sendtransaction(WALLET.hex(WALLET.transfer(6, ADDR[8], 777, nonce)))
    tn.sync_mempools([2, 3], timeout=120)
    tn.nodes[2].rpc.generate(1)                          # the losing side: less work
    tn.nodes[0].rpc.generate(3)                          # the winning side
    tn.sync_blocks([0, 1], timeout=120)
    tn.sync_blocks([2, 3], timeout=120)
    assert rpc3.getreceipt(losing)["status"] == "success"
    assert rpc3.getnonce(ADDR[6]) == nonce + 1
    tn.heal()
    tip = tn.sync_blocks(timeout=180)
    assert tn.nodes[3].wait_for_log("reorganisation: 1 block", timeout=60)
    with pytest.raises(RpcError, match="it is in the pool, not mined yet"):
        rpc3.getreceipt(losing)
    assert rpc3.getnonce(ADDR[6]) == nonce and rpc3.getbalance(ADDR[6]) == before
    assert tn.nodes[3].rpc.getproof(ADDR[6])["block_hash"] == tip
    assert losing in wait_until(lambda: losing in tn.nodes[0].rpc.getmempool() and tn.sync_mempools(timeout=120),
                                what="the orphaned tx in every pool")
    tn.nodes[1].rpc.generate(1)
    tn.sync_blocks(timeout=120)
    assert tn.nodes[3].rpc.getreceipt(losing)["status"] == "success"


def test_sigkill_during_sync_reopens_at_a_block_boundary_with_the_matching_root(tn):
    rpc0 = tn.nodes[0].rpc
    for attempt in range(5):
        tn.kill(3)
        start = rpc0.getblockcount()
        for i in range(4):   # blocks with transactions, so the state changes per block
            nonce = rpc0.getaccount(ADDR[0])["pending_nonce"]
            rpc0.sendtransaction(WALLET.hex(WALLET.transfer(0, ADDR[9], 1, nonce)))
            rpc0.generate(100)
        tip = tn.sync_blocks([0, 1, 2], timeout=180)
        tn.restart(3, wait_connected=False)
        rpc3 = tn.nodes[3].rpc
        while (height := rpc3.getblockcount()) <= start:
            time.sleep(0.01)
        tn.kill(3)
        if height < start + 400:
            break
    print(f"node3 killed at height {height} of {start}..{start + 400}")
    tn.restart(3)
    rpc3 = tn.nodes[3].rpc
    proof = rpc3.getproof(ADDR[9])       # the reopened (maybe still syncing) state is its tip's
    header = rpc0.getblock(proof["height"])["header"]
    assert verify_account_proof(PARAMS.crypto, bytes.fromhex(header["merkle_root"]), proof)
    assert tn.sync_blocks(timeout=180) == tip
    assert rpc3.getbalance(ADDR[9]) == rpc0.getbalance(ADDR[9])


def wait_until(predicate, timeout: float = 90.0, what: str = "condition"):
    return _wait_until(predicate, timeout, what)
