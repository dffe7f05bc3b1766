"""The JSON-RPC contract, against one real node process over real HTTP.

The tests share one node (module scope) and only assert changes they make themselves. They run
twice: on a regtest node (p256-sha256) and on a regtest-sm node (sm2-sm3); ``n.params`` is its
network, and ids computed here use its suite.
"""
from __future__ import annotations

import http.client
import json
import time

import pytest

from labchain.block import account_key
from labchain.node.process import NodeProcess
from labchain.node.rpc import Code, RpcError
from labchain.core.params import COIN, get_params
from labchain.ledger.utxo.tx import OutPoint, Transaction, TxIn, TxOut

@pytest.fixture(scope="module", params=["regtest", "regtest-sm"])
def n(request, tmp_path_factory):
    node = NodeProcess.start(tmp_path_factory.mktemp("rpc") / "n0", params=request.param)
    node.params = get_params(request.param)
    yield node
    node.kill()


def accounts(n):
    return [a["address"] for a in n.rpc.listaccounts()]


def raw_post(n, body: bytes, method: str = "POST") -> tuple[int, object]:
    host, port = n.rpc_url.split("//")[1].rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request(method, "/", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, json.loads(data) if data else None


def test_a_fresh_node_is_at_genesis_with_ten_funded_accounts(n):
    info = n.rpc.getblockchaininfo()
    assert info["network"] == n.params.name
    from labchain.block import genesis_block

    assert info["genesis"] == genesis_block(n.params).hash_in(n.params.crypto).hex()
    assert {"height", "tip", "total_work", "difficulty"} <= set(info)
    listed = n.rpc.listaccounts()
    assert len(listed) == 10
    assert listed[0] == {"address": str(account_key(n.params, 0).address), "balance": 1000 * COIN}


def test_generate_mines_blocks_that_getblock_returns_by_height_and_hash(n):
    before = n.rpc.getblockcount()
    hashes = n.rpc.generate(3)
    assert len(hashes) == 3 and n.rpc.getblockcount() == before + 3
    assert n.rpc.getbestblockhash() == hashes[-1]
    by_height = n.rpc.getblock(before + 1)
    assert by_height["hash"] == hashes[0]
    assert n.rpc.getblock(hashes[0])["height"] == before + 1
    assert by_height["confirmations"] == 3


def test_ids_and_addresses_over_rpc_are_the_chains_suites(n):
    suite = n.params.crypto
    a = accounts(n)
    txid = n.rpc.sendtoaddress(a[1], a[2], 4_321)
    tip = n.rpc.generate(1)[0]
    block = n.rpc.getblock(tip)
    from labchain.block import Block

    # the records' JSON extras name p256-sha256 ids: drop them to rebuild the records here
    raw = Block.from_json({"header": {k: v for k, v in block["header"].items() if k != "hash"},
                           "transactions": [{k: v for k, v in t.items() if k != "txid"}
                                            for t in block["transactions"]]})
    assert tip == block["hash"] == block["header"]["hash"] == suite.hash256(raw.header.to_bytes()).hex()
    assert [t["txid"] for t in block["transactions"]][1:] == [txid]
    assert txid == suite.hash256(raw.transactions[1].to_bytes()).hex()
    assert n.rpc.gettransaction(txid)["tx"]["txid"] == txid
    assert a[0].startswith({"p256-sha256": "L", "sm2-sm3": "S"}[suite.name])
    other = get_params({"p256-sha256": "regtest-sm", "sm2-sm3": "regtest"}[suite.name])
    foreign = str(account_key(other, 0).address)
    with pytest.raises(RpcError) as err:
        n.rpc.sendtoaddress(a[1], foreign, 1)
    assert err.value.code == Code.INVALID_ADDRESS_OR_KEY
    assert (f"is an address of the {other.crypto.name} crypto suite" in err.value.message
            and f"this chain uses {suite.name}" in err.value.message)
    with pytest.raises(RpcError, match=f"this chain uses {suite.name}"):
        n.rpc.getbalance(foreign)


def test_generate_pays_the_reward_to_a_given_address(n):
    to = str(account_key(n.params, 9).address)
    before = n.rpc.getbalance(to)
    n.rpc.generate(1, to)
    assert n.rpc.getbalance(to) == before + n.params.block_reward(n.rpc.getblockcount())


def test_sendtoaddress_enters_the_mempool_and_confirms(n):
    a = accounts(n)
    before = n.rpc.getbalance(a[2])
    txid = n.rpc.sendtoaddress(a[1], a[2], 12_345)
    assert txid in n.rpc.getmempool()
    assert n.rpc.gettransaction(txid)["confirmations"] == 0
    second = n.rpc.sendtoaddress(a[1], a[2], 5)  # spends the first one's unconfirmed change
    n.rpc.generate(1)
    assert n.rpc.getmempool() == []
    assert n.rpc.gettransaction(txid)["confirmations"] == 1
    assert n.rpc.gettransaction(second)["confirmations"] == 1
    assert n.rpc.getbalance(a[2]) == before + 12_350
    assert any(u["txid"] == txid for u in n.rpc.listunspent(a[2]))


def test_sendtoaddress_from_an_address_the_node_does_not_hold_is_refused(n):
    stranger = str(account_key(n.params, 50).address)
    with pytest.raises(RpcError) as err:
        n.rpc.sendtoaddress(stranger, accounts(n)[0], 1)
    assert err.value.code == Code.INVALID_ADDRESS_OR_KEY
    assert "not one of this node's accounts" in err.value.message


def test_sendtoaddress_beyond_the_balance_says_how_much_is_missing(n):
    a = accounts(n)
    with pytest.raises(RpcError) as err:
        n.rpc.sendtoaddress(a[3], a[4], 10_000 * COIN)
    assert err.value.code == Code.INSUFFICIENT_FUNDS and "short" in err.value.message


def _spend_genesis_output(params, account: int, amount: int) -> Transaction:
    """A payment from a genesis output, signed here (the way a lab builds raw transactions)."""
    from labchain.block import genesis_block

    coinbase = genesis_block(params).transactions[0]
    key = account_key(params, account)
    tx = Transaction(1, (TxIn(OutPoint(coinbase.txid_in(params.crypto), account)),),
                     (TxOut(amount, account_key(params, 0).address),
                      TxOut(1000 * COIN - amount - 1000, key.address)))
    return tx.sign([key])


def test_sendrawtransaction_accepts_a_signed_transaction_and_refuses_its_double_spend(n):
    tx = _spend_genesis_output(n.params, 7, 5 * COIN)
    assert n.rpc.sendrawtransaction(tx.to_bytes().hex()) == n.params.crypto.hash256(tx.to_bytes()).hex()
    rival = _spend_genesis_output(n.params, 7, 6 * COIN)
    with pytest.raises(RpcError) as err:
        n.rpc.sendrawtransaction(rival.to_bytes().hex())
    assert err.value.code == Code.VERIFY_REJECTED
    n.rpc.generate(1)
    with pytest.raises(RpcError) as err:
        n.rpc.sendrawtransaction(tx.to_bytes().hex())
    assert err.value.code == Code.VERIFY_ALREADY_IN_CHAIN


def test_sendrawtransaction_with_bad_hex_or_bytes_explains(n):
    with pytest.raises(RpcError) as err:
        n.rpc.sendrawtransaction("zz")
    assert err.value.code == Code.INVALID_PARAMS and "hex" in err.value.message
    with pytest.raises(RpcError) as err:
        n.rpc.sendrawtransaction("0100")
    assert err.value.code == Code.DESERIALIZATION_ERROR and "truncated" in err.value.message


def test_a_tampered_signature_is_rejected_with_the_reason(n):
    tx = _spend_genesis_output(n.params, 6, COIN)
    first = tx.inputs[0]
    bad_sig = bytes([first.signature[0] ^ 1]) + first.signature[1:]
    forged = Transaction(tx.version, (TxIn(first.prevout, bad_sig, first.pubkey),), tx.outputs)
    with pytest.raises(RpcError) as err:
        n.rpc.sendrawtransaction(forged.to_bytes().hex())
    assert err.value.code == Code.VERIFY_REJECTED and "signature" in err.value.message


def test_snapshot_and_revert_restore_the_tip_and_mempool(n):
    a = accounts(n)
    height, tip = n.rpc.getblockcount(), n.rpc.getbestblockhash()
    pending = n.rpc.sendtoaddress(a[5], a[6], 777)
    snap = n.rpc.snapshot()
    n.rpc.generate(4)
    assert n.rpc.getmempool() == []
    assert n.rpc.revert(snap) is True
    assert (n.rpc.getblockcount(), n.rpc.getbestblockhash()) == (height, tip)
    assert n.rpc.getmempool() == [pending]
    with pytest.raises(RpcError, match="no snapshot"):
        n.rpc.revert(snap)  # a snapshot is used up by its revert, as in Ganache
    n.rpc.generate(1)


def test_mocktime_sets_the_timestamp_of_new_blocks(n):
    base = int(time.time()) + 3600
    assert n.rpc.setmocktime(base) == base
    block = n.rpc.getblock(n.rpc.generate(1)[0])
    assert block["header"]["timestamp"] == base
    assert n.rpc.increasetime(600) == base + 600
    block = n.rpc.getblock(n.rpc.generate(1)[0])
    assert block["header"]["timestamp"] == base + 600
    n.rpc.setmocktime(0)


@pytest.mark.parametrize("method, value", [("setmocktime", 2**32), ("increasetime", 2**32)])
def test_a_clock_no_block_header_can_hold_is_refused_and_the_clock_stays(n, method, value):
    before = n.rpc.setmocktime(int(time.time()))
    with pytest.raises(RpcError, match=r"2106-02-07.*no block could be mined") as refused:
        n.rpc.call(method, value)
    assert refused.value.code == -32602
    assert n.rpc.increasetime(0) == before
    assert len(n.rpc.generate(1)) == 1   # the node still mines
    n.rpc.setmocktime(0)


def test_invalidateblock_reorganises_and_returns_transactions_to_the_mempool(n):
    a = accounts(n)
    txid = n.rpc.sendtoaddress(a[8], a[0], 1_000)
    mined = n.rpc.generate(1)[0]
    result = n.rpc.invalidateblock(mined)
    assert result["disconnected"] == [mined]
    assert n.rpc.getbestblockhash() != mined
    assert txid in n.rpc.getmempool()
    assert n.rpc.getblock(mined)["status"] == "invalid"
    n.rpc.generate(1)


def test_instant_mining_mines_each_rpc_transaction(n):
    a = accounts(n)
    n.rpc.setmining("instant")
    try:
        height = n.rpc.getblockcount()
        txid = n.rpc.sendtoaddress(a[4], a[3], 10)
        assert n.rpc.getblockcount() == height + 1
        assert n.rpc.gettransaction(txid)["confirmations"] == 1
    finally:
        n.rpc.setmining("manual")


def test_interval_mining_mines_without_being_asked(n):
    height = n.rpc.getblockcount()
    assert n.rpc.setmining("interval", 0.1) == {"mode": "interval", "seconds": 0.1}
    try:
        deadline = time.monotonic() + 30
        while n.rpc.getblockcount() < height + 2:
            assert time.monotonic() < deadline, "interval mining produced no blocks"
            time.sleep(0.05)
    finally:
        n.rpc.setmining("manual")


@pytest.mark.parametrize("call, code, words", [
    (("getblock", 10**6), Code.INVALID_ADDRESS_OR_KEY, "no block with height"),
    (("getblock", "ab" * 32), Code.INVALID_ADDRESS_OR_KEY, "no block with hash"),
    (("gettransaction", "cd" * 32), Code.INVALID_ADDRESS_OR_KEY, "no transaction"),
    (("getbalance", "not-an-address"), Code.INVALID_ADDRESS_OR_KEY, "invalid character"),
    (("generate", -1), Code.INVALID_PARAMS, "non-negative integer"),
    (("generate", True), Code.INVALID_PARAMS, "non-negative integer"),
    (("setmining", "sometimes"), Code.INVALID_PARAMS, "manual"),
    (("setmining", "interval"), Code.INVALID_PARAMS, "seconds"),
    (("addpeer", "nohostport"), Code.INVALID_PARAMS, "host:port"),
    (("disconnectpeer", 999), Code.CLIENT_NODE_NOT_CONNECTED, "no connected peer"),
    (("getblockcount", 1), Code.INVALID_PARAMS, "at most 0"),
    (("getblok", 1), Code.METHOD_NOT_FOUND, "did you mean 'getblock'"),
    (("sendtoaddress",), Code.INVALID_PARAMS, "needs parameter 'from'"),
])
def test_bad_calls_get_a_json_rpc_error_with_a_sentence(n, call, code, words):
    with pytest.raises(RpcError) as err:
        n.rpc.call(*call)
    assert err.value.code == code
    assert words in err.value.message


def test_named_parameters_work_like_positional_ones(n):
    assert n.rpc.getblock(hash_or_height=0) == n.rpc.getblock(0)
    with pytest.raises(RpcError, match="no parameter named 'height'"):
        n.rpc.getblock(height=0)


def test_protocol_level_errors(n):
    status, reply = raw_post(n, b"{not json")
    assert reply["error"]["code"] == Code.PARSE_ERROR
    status, reply = raw_post(n, b'"just a string"')
    assert reply["error"]["code"] == Code.INVALID_REQUEST
    status, reply = raw_post(n, b"")
    assert reply["error"]["code"] == Code.PARSE_ERROR
    status, reply = raw_post(n, b"", method="GET")
    assert status == 405 and "POST" in reply["error"]["message"]


def test_batches_and_notifications(n):
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "getblockcount"},
             {"jsonrpc": "2.0", "method": "getblockcount"},          # notification: no reply
             {"jsonrpc": "2.0", "id": 3, "method": "nosuch"}]
    status, reply = raw_post(n, json.dumps(batch).encode())
    assert [r["id"] for r in reply] == [1, 3]
    assert "result" in reply[0] and reply[1]["error"]["code"] == Code.METHOD_NOT_FOUND


def test_restart_on_the_same_datadir_resumes_at_the_same_tip(start_node):
    node = start_node("restart")
    node.rpc.generate(5)
    tip = node.rpc.getbestblockhash()
    assert node.stop() == 0
    node.launch()
    assert node.rpc.getbestblockhash() == tip and node.rpc.getblockcount() == 5


def test_stop_over_rpc_ends_the_process_cleanly(start_node):
    node = start_node("stopper")
    assert node.rpc.stop() == "LabChain node stopping"
    assert node.proc.wait(15) == 0
    assert "stopping: stop called over RPC" in node.log_text()


@pytest.mark.parametrize("body", [b"[" * 200_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
                                  json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getblock",
                                              "params": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})
                                  .encode()])
def test_deeply_nested_json_gets_a_parse_error_naming_the_limit_and_the_node_keeps_serving(n, body):
    # a nesting deeper than Python's stack used to raise RecursionError: connection dropped, no answer
    status, reply = raw_post(n, body)
    assert status == 200
    assert reply["error"]["code"] == Code.PARSE_ERROR
    assert "more than 32 levels deep" in reply["error"]["message"]
    assert n.rpc.getblockcount() >= 0


def test_a_request_body_over_the_size_limit_is_refused_with_the_limit(n):
    host, port = n.rpc_url.split("//")[1].rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", "/")
    conn.putheader("Content-Length", str(4 * 1024 * 1024 + 1))
    conn.endheaders()
    response = conn.getresponse()
    reply = json.loads(response.read())
    conn.close()
    assert response.status == 413
    assert "at most 4194304 bytes" in reply["error"]["message"]
    assert n.rpc.getblockcount() >= 0
