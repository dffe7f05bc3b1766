"""labchain.explorer.data against real node processes: lookups, the fork tree through a
partition and its healing, a node that is down, the search classifier, and read-only RPC."""
from __future__ import annotations

import pytest

from labchain.explorer import data
from labchain.explorer.data import BadQueryError, Network, NotFoundError, classify
from labchain.testnet import Testnet


def test_search_text_is_classified_as_height_hash_or_address():
    assert classify(" 42 ") == ("height", 42)
    assert classify("AB" * 32) == ("hash", "ab" * 32)
    address = "LN3XhXwUvKsgsh9r6Yh9R27jxZrcjhPuix"
    assert classify(address) == ("address", address)


@pytest.mark.parametrize("text", ["", "   ", "zzz", "12ab", "ab" * 31, "L" + "1" * 33, "-3"])
def test_malformed_search_text_is_a_bad_query_naming_it(text):
    with pytest.raises(BadQueryError) as caught:
        classify(text)
    assert caught.value.obj == text


def test_a_hash_must_be_64_hex_digits():
    assert data.check_hash("AA" * 32) == "aa" * 32
    with pytest.raises(BadQueryError, match="64 hex digits"):
        data.check_hash("g" * 64)


def test_the_explorer_refuses_to_call_a_method_that_writes():
    source = data.NodeSource(0, "http://127.0.0.1:9/")
    for method in ("generate", "sendtoaddress", "disconnectpeer", "stop"):
        with pytest.raises(data.ExplorerError, match="only reads"):
            source.call(method)


def test_overview_data_follow_the_reference_node(chain_net):
    network = Network.from_testnet("t", chain_net)
    snap = network.snapshot()
    assert snap.reference.name == "node0" and snap.reference.height == 4
    blocks = network.recent_blocks(snap)
    assert [b["height"] for b in blocks] == [4, 3, 2, 1, 0]
    assert blocks[0]["txs"] == 2 and set(blocks[0]["tip_of"]) == {"node0", "node1", "node2", "node3"}
    assert network.block(4, snap)["hash"] == chain_net.nodes[3].rpc.getbestblockhash()


def test_unknown_block_and_transaction_are_not_found(chain_net):
    network = Network.from_testnet("t", chain_net)
    with pytest.raises(NotFoundError, match="hash " + "0" * 64):
        network.block("0" * 64)
    with pytest.raises(NotFoundError, match="height 99"):
        network.block(99)
    with pytest.raises(NotFoundError, match="transaction"):
        network.transaction("1" * 64)


def test_address_history_finds_the_confirmed_and_the_pending_payment(chain_net):
    network = Network.from_testnet("t", chain_net)
    info = network.address(chain_net.paid, network.snapshot())
    got = {h["txid"]: h for h in info["history"]}
    assert got[chain_net.confirmed]["received"] == 123_456 and got[chain_net.confirmed]["height"] == 4
    assert got[chain_net.pending]["height"] is None
    assert info["balance"] == chain_net.nodes[0].rpc.getbalance(chain_net.paid)
    assert (info["scanned_from"], info["scanned_to"]) == (0, 4)


def test_peer_graph_is_the_line_topology(chain_net):
    network = Network.from_testnet("t", chain_net)
    graph = network.peer_graph(network.snapshot())
    assert graph["edges"] == [("node0", "node1"), ("node1", "node2"), ("node2", "node3")]


def test_fork_tree_shows_a_side_branch_while_partitioned_then_marks_it_resolved(tmp_path):
    with Testnet.start(nodes=4, dir=tmp_path / "net") as net:
        net.nodes[0].rpc.generate(1)
        net.sync_blocks()
        network = Network.from_testnet("t", net)
        assert network.fork_tree(network.snapshot())["branches"] == []
        net.partition([0, 1], [2, 3])
        net.nodes[0].rpc.generate(2)
        side = net.nodes[2].rpc.generate(1)[0]
        net.sync_blocks([2, 3])
        net.sync_blocks([0, 1])
        tree = network.fork_tree(network.snapshot())
        [branch] = tree["branches"]
        assert branch["tip"] == side and branch["fork_height"] == 1 and not branch["resolved"]
        assert sorted(branch["nodes"]) == ["node2", "node3"]
        assert [b["height"] for b in tree["main"]][-1] == 3
        net.heal()
        net.sync_blocks()
        tree = network.fork_tree(network.snapshot())
        [branch] = tree["branches"]
        assert branch["tip"] == side and branch["resolved"] and branch["nodes"] == []
        assert not network.block(side)["main"]


def test_a_node_that_is_down_is_reported_down_and_the_others_still_answer(tmp_path):
    with Testnet.start(nodes=2, dir=tmp_path / "net") as net:
        net.nodes[1].rpc.generate(2)
        net.sync_blocks()
        net.kill(0)
        network = Network.from_testnet("t", net)
        snap = network.snapshot()
        down, up = snap.nodes
        assert not down.up and down.error and up.up
        assert snap.reference is up and network.recent_blocks(snap)[0]["height"] == 2
        net.kill(1)
        snap = network.snapshot()
        assert snap.reference is None
        with pytest.raises(data.NetworkDownError):
            network.block(1, snap)


def test_a_node_behind_on_the_main_chain_is_behind_not_a_fork(tmp_path):
    with Testnet.start(nodes=2, dir=tmp_path / "net") as net:
        net.partition([0], [1])
        net.nodes[0].rpc.generate(2)
        network = Network.from_testnet("t", net)
        snap = network.snapshot()
        assert [s.place for s in snap.nodes] == ["main", "behind"]
        assert network.fork_tree(snap)["branches"] == []
        net.nodes[1].rpc.generate(1)
        assert [s.place for s in network.snapshot().nodes] == ["main", "side"]


def test_a_second_overview_reads_no_block_again_only_the_node_states(chain_net):
    network = Network.from_testnet("t", chain_net)
    calls = []
    for source in network.sources:
        real = source.call
        source.call = lambda method, *a, _real=real: (calls.append(method), _real(method, *a))[1]

    def overview():
        snap = network.snapshot()
        network.recent_blocks(snap)
        network.fork_tree(snap)

    overview()
    assert calls.count("getblock") >= 5
    calls.clear()
    overview()
    assert calls.count("getblock") == 0 and calls.count("getblockchaininfo") == 4
