"""RPC errors in the reader's language: the node sends English, the client translates.

A node serves many clients, each with its own ``LABCHAIN_LANG``; so the sentence on the wire is
always the English one (even when the node itself was started with ``LABCHAIN_LANG=zh-CN``) and
``RpcError.__str__`` on the client side renders it in the client's language. One real node
process over real HTTP.
"""
from __future__ import annotations

import http.client
import json

import pytest

from labchain.core.params import COIN
from labchain.node.process import NodeProcess
from labchain.node.rpc import Code, RpcError


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("LABCHAIN_LANG", "zh-CN")       # the node inherits it: it must still send English
    try:
        process = NodeProcess.start(tmp_path_factory.mktemp("rpc-i18n") / "n0", params="regtest")
    finally:
        patch.undo()
    yield process
    process.kill()


def overdraw(node):
    accounts = [a["address"] for a in node.rpc.listaccounts()]
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sendtoaddress",
                       "params": [accounts[3], accounts[4], 10_000 * COIN]}).encode()
    return body


def test_the_node_sends_the_english_sentence_whatever_its_own_language(node):
    host, port = node.rpc_url.split("//")[1].rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", "/", overdraw(node), {"Content-Type": "application/json"})
    reply = json.loads(conn.getresponse().read())
    conn.close()
    assert reply["error"]["code"] == Code.INSUFFICIENT_FUNDS
    assert reply["error"]["message"].startswith("cannot pay ")
    assert "short of the" in reply["error"]["message"]


def test_a_zh_cn_client_reads_the_refusal_in_chinese(node, monkeypatch):
    accounts = [a["address"] for a in node.rpc.listaccounts()]
    monkeypatch.delenv("LABCHAIN_LANG", raising=False)
    with pytest.raises(RpcError) as english:
        node.rpc.sendtoaddress(accounts[3], accounts[4], 10_000 * COIN)
    assert str(english.value).startswith("node0 sendtoaddress: cannot pay ")
    assert str(english.value).endswith(f"(code {int(Code.INSUFFICIENT_FUNDS)})")
    monkeypatch.setenv("LABCHAIN_LANG", "zh-CN")
    with pytest.raises(RpcError) as chinese:
        node.rpc.sendtoaddress(accounts[3], accounts[4], 10_000 * COIN)
    text = str(chinese.value)
    assert text.startswith("node0 sendtoaddress: 无法支付 ") and "可花费的币合计" in text, text
    assert text.endswith(f"（错误码 {int(Code.INSUFFICIENT_FUNDS)}）")
    assert chinese.value.message == english.value.message      # the English stays on .message


def test_a_message_with_no_chinese_sentence_stays_english_with_its_code(node, monkeypatch):
    monkeypatch.setenv("LABCHAIN_LANG", "zh-CN")
    with pytest.raises(RpcError) as err:
        node.rpc.getblockcont()
    assert err.value.code == Code.METHOD_NOT_FOUND
    assert str(err.value) == f"node0 getblockcont: {err.value.message} (code {int(Code.METHOD_NOT_FOUND)})"
