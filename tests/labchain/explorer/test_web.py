"""Every page of the explorer over HTTP against a real 4-node testnet: what it shows, the
400/404/403/503 pages (never a traceback), the language switch, and the class console."""
from __future__ import annotations

import re

import pytest

from explorerkit import fetch
from labchain.explorer.console import Console, local_provider
from labchain.explorer.data import Network
from labchain.explorer.server import Background
from labchain.testnet import Testnet


def test_root_redirects_to_the_only_network_and_shows_the_overview(get, chain_net):
    status, body = get("/")
    assert status == 200 and "Chain overview" in body
    assert '<b id="height">4</b>' in body
    tip = chain_net.nodes[0].rpc.getbestblockhash()
    assert f'/n/local/block/{tip}' in body
    assert body.count('<tr data-height=') == 5                      # blocks 4..0
    assert "No side branch seen" in body


def test_live_fragment_is_the_part_the_script_swaps_in(get):
    status, body = get("/n/local/live")
    assert status == 200 and body.startswith('<div id="live"') and "<html" not in body


def test_block_page_by_height_and_by_hash_lists_its_transactions(get, chain_net):
    status, body = get("/n/local/block/4")
    assert status == 200 and "Block #4" in body and chain_net.confirmed in body
    block_hash = re.search(r'id="block-hash">([0-9a-f]{64})<', body).group(1)
    status, by_hash = get(f"/n/local/block/{block_hash}")
    assert status == 200 and "Block #4" in by_hash and "coinbase" in by_hash


def test_transaction_page_shows_inputs_with_their_amounts_and_outputs(get, chain_net):
    status, body = get(f"/n/local/tx/{chain_net.confirmed}")
    assert status == 200 and chain_net.confirmed in body and "in block" in body
    assert chain_net.paid in body and "0.00123456" in body          # the output paid
    assert "Inputs (1)" in body and "Outputs (2)" in body
    fee = chain_net.nodes[0].rpc.getblock(4)["transactions"][0]["outputs"][0]["amount"] - 5_000_000_000
    assert re.search(r"Fee</th><td>" + re.escape(f"{fee / 1e8:,.8f}".rstrip("0").rstrip(".")) + "<", body)
    status, pending = get(f"/n/local/tx/{chain_net.pending}")
    assert status == 200 and "waiting in the mempool" in pending


def test_address_page_has_balance_history_and_says_its_limit(get, chain_net):
    status, body = get(f"/n/local/address/{chain_net.paid}")
    balance = chain_net.nodes[0].rpc.getbalance(chain_net.paid)
    assert status == 200 and chain_net.confirmed in body and chain_net.pending in body
    assert f'{balance / 1e8:,.8f}'.rstrip("0").rstrip(".") in body
    assert "Only blocks 0 to 4 and the mempool are scanned" in body


def test_mempool_and_nodes_pages(get, chain_net):
    status, body = get("/n/local/mempool")
    assert status == 200 and chain_net.pending in body and "1 transactions waiting on node0" in body
    status, body = get("/n/local/nodes")
    assert status == 200 and body.count("<line ") == 3 and body.count('class="peer up"') == 4


def test_search_lands_on_block_transaction_and_address_pages(get, chain_net):
    assert "Block #2" in get("/n/local/search?q=2")[1]
    status, body = get(f"/n/local/search?q={chain_net.confirmed}")
    assert status == 200 and 'id="txid">' + chain_net.confirmed in body
    status, body = get(f"/n/local/search?q={chain_net.paid}")
    assert status == 200 and 'id="address">' + chain_net.paid in body


@pytest.mark.parametrize("path, status, words", [
    ("/n/local/search?q=not-a-thing", 400, "is not a block height"),
    ("/n/local/search?q=", 400, "the search is empty"),
    ("/n/local/search?q=" + "ab" * 32, 404, "knows a transaction"),
    ("/n/local/block/" + "0" * 64, 404, "knows a block with hash"),
    ("/n/local/block/999", 404, "knows a block with height 999"),
    ("/n/local/block/xyz", 400, "is not a hash"),
    ("/n/local/tx/1234", 400, "is not a hash"),
    ("/n/local/address/L123", 400, "is not a block height"),
    ("/n/elsewhere/", 404, "there is no network"),
    ("/no/such/page", 404, "there is no page"),
    ("/n/local/?lang=klingon", 400, "is not available"),
    ("/class", 404, "without a class console"),
])
def test_bad_or_unknown_input_is_a_page_that_says_so(get, path, status, words):
    got, body = get(path)
    assert got == status and words in body and f"{status} ·" in body
    assert "Traceback" not in body and 'File "' not in body


def test_the_language_switch_renders_chinese_and_is_remembered_by_cookie(explorer):
    import http.cookiejar
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    body = opener.open(explorer.url + "/n/local/?lang=zh-CN").read().decode()
    assert '<html lang="zh-CN">' in body and "链概览" in body and "最新区块" in body
    again = opener.open(explorer.url + "/n/local/mempool").read().decode()
    assert "内存池" in again and "Chain overview" not in again
    english = opener.open(explorer.url + "/n/local/?lang=en").read().decode()
    assert "Chain overview" in english


def test_a_down_node_shows_as_down_and_an_all_down_network_is_a_503_page(tmp_path):
    with Testnet.start(nodes=2, dir=tmp_path / "net") as net, \
            Background({"n": Network.from_testnet("n", net)}) as bg:
        net.nodes[0].rpc.generate(1)
        net.sync_blocks()
        net.kill(1)
        status, body = fetch(bg.url, "/n/n/")
        assert status == 200 and body.count('class="down"') == 1 and "Nodes up 1/2" in body
        status, body = fetch(bg.url, "/n/n/nodes")
        assert status == 200 and 'class="peer down"' in body
        net.kill(0)
        status, body = fetch(bg.url, "/n/n/")
        assert status == 200 and "every node is down" in body and body.count('class="down"') == 2
        status, body = fetch(bg.url, "/n/n/block/1")
        assert status == 503 and "answers its RPC" in body


def test_class_console_needs_the_token_and_links_each_student(chain_net, tmp_path):
    with Testnet.start(nodes=2, dir=tmp_path / "s2") as other:
        other.nodes[0].rpc.generate(2)
        other.sync_blocks()
        other.kill(1)
        console = Console(local_provider({"s001": chain_net, "s002": other}), token="t0ken")
        with Background({}, console) as bg:
            assert fetch(bg.url, "/class")[0] == 403
            status, body = fetch(bg.url, "/class?token=wrong")
            assert status == 403 and "the class console needs the instructor" in body
            status, body = fetch(bg.url, "/class?token=t0ken")
            assert status == 200 and 'href="/n/s001/"' in body and 'href="/n/s002/"' in body
            row1 = body[body.index('data-student="s001"'):body.index('data-student="s002"')]
            assert ">4/4<" in row1 and ">4<" in row1 and "1/2/2/1" in row1 and "MiB" in row1
            row2 = body[body.index('data-student="s002"'):]
            assert ">1/2<" in row2 and "node1: exited" in row2
            assert fetch(bg.url, "/n/s002/")[0] == 403          # a student's chain: token too
            status, student = fetch(bg.url, "/n/s002/?token=t0ken")
            assert status == 200 and '<b id="height">2</b>' in student
            assert fetch(bg.url, "/n/s002/live?token=wrong")[0] == 403


def test_an_sm2_sm3_chain_is_explored_with_its_own_ids(tmp_path):
    with Testnet.start(nodes=1, params="regtest-sm", dir=tmp_path / "sm") as net, \
            Background({"sm": Network.from_testnet("sm", net)}) as bg:
        rpc = net.nodes[0].rpc
        rpc.generate(2)
        to = rpc.listaccounts()[1]["address"]
        txid = rpc.sendtoaddress(0, to, 5000)
        status, body = fetch(bg.url, f"/n/sm/search?q={txid}")
        assert status == 200 and txid in body and to.startswith("S") and to in body
        status, body = fetch(bg.url, "/n/sm/")
        assert status == 200 and rpc.getbestblockhash() in body


def test_a_console_whose_provider_fails_is_a_502_page_with_the_reason():
    from labchain.testnet.docker import DockerUnavailableError

    def provider():
        raise DockerUnavailableError("cannot reach the Docker engine: no socket")

    with Background({}, Console(provider, token="t")) as bg:
        status, body = fetch(bg.url, "/class?token=t")
        assert status == 502 and "cannot reach the Docker engine: no socket" in body
        assert "Traceback" not in body
