"""P2P between real node processes and a hand-driven socket: handshake, relay, initial block
download, limits, and misbehaving peers being cut off while honest peers stay."""
from __future__ import annotations

import struct
from dataclasses import replace

import pytest

from labchain.block import Block
from labchain.node.messages import (
    MAX_MESSAGE_SIZE,
    BlockMsg,
    Envelope,
    GetBlocks,
    GetData,
    InvItem,
    Inv,
    Ping,
    Pong,
    Reject,
    TxMsg,
    Version,
)
from labchain.node.messages import INV_BLOCK
from labchain.node.process import NodeProcess, NodeStartError
from labchain.core.params import get_params
from labchain.ledger.utxo.tx import Transaction, TxIn

from node_helpers import peer_names, wait_until


def connect(a: NodeProcess, b: NodeProcess) -> None:
    a.rpc.addpeer(b.p2p_addr)
    wait_until(lambda: f"node{b.index}" in peer_names(a) and f"node{a.index}" in peer_names(b),
               what=f"node{a.index} and node{b.index} to connect")


def test_handshake_reports_the_node_and_answers_ping(node, raw_peer):
    peer = raw_peer(node)
    assert peer.handshake is not None
    peer.send(Ping(77))
    assert peer.expect(Pong).nonce == 77
    assert "raw-peer" in peer_names(node)


@pytest.mark.parametrize("field, value, reason", [
    ("network", b"lab", "network mismatch"),
    ("genesis_hash", b"\x11" * 32, "genesis mismatch"),
    ("protocol", 99, "protocol version 99"),
])
def test_handshake_mismatch_disconnects_with_a_logged_reason(node, raw_peer, field, value, reason):
    peer = raw_peer(node, handshake=False)
    from labchain.block import genesis_block
    from labchain.core.params import get_params

    version = Version(1, b"regtest", genesis_block(get_params("regtest")).hash, 0, 1, 0, b"x")
    peer.send(replace(version, **{field: value}))
    assert reason in peer.expect(Reject).reason.decode()
    assert peer.closed_by_node()
    node.wait_for_log(f"refusing peer .*{reason}")
    assert node.rpc.getblockcount() == 0  # still serving


@pytest.mark.parametrize("network", ["regtest", "regtest-sm"])
def test_blocks_and_transactions_relay_between_nodes(start_node, network):
    a, b = start_node("a", params=network), start_node("b", params=network)
    connect(b, a)
    tip = a.rpc.generate(2)[-1]
    wait_until(lambda: b.rpc.getbestblockhash() == tip, what="block relay")
    accounts = [x["address"] for x in a.rpc.listaccounts()]
    txid = b.rpc.sendtoaddress(accounts[1], accounts[2], 1_000)
    wait_until(lambda: txid in a.rpc.getmempool(), what="transaction relay")
    a.rpc.generate(1)
    wait_until(lambda: b.rpc.getmempool() == [], what="mined transaction leaving b's mempool")


@pytest.mark.parametrize("network", ["regtest", "regtest-sm"])
def test_a_node_that_is_behind_downloads_the_chain_in_batches(start_node, network):
    a = start_node("a", params=network)
    a.rpc.generate(620)  # more than one 500-hash getblocks batch
    b = start_node("b", peers=(a.p2p_addr,), params=network)
    wait_until(lambda: b.rpc.getblockcount() == 620, what="initial block download")
    assert b.rpc.getbestblockhash() == a.rpc.getbestblockhash()


def test_a_node_refuses_a_peer_of_the_same_numbers_on_the_other_suite(start_node):
    a, b = start_node("a"), start_node("b", params="regtest-sm")
    a.rpc.addpeer(b.p2p_addr)
    a.wait_for_log("refusing peer .*network mismatch: peer is on 'regtest-sm', this node on 'regtest'")
    assert peer_names(a) == set() and peer_names(b) == set()


def test_peer_limit_refuses_extra_connections(start_node, raw_peer):
    node = start_node("limited", extra=("--max-peers", "2"))
    raw_peer(node, name=b"p1")
    raw_peer(node, name=b"p2")
    third = raw_peer(node, handshake=False)
    assert b"peer limit" in third.expect(Reject).reason
    assert third.closed_by_node()


def test_restart_with_another_network_on_the_same_datadir_fails_with_the_reason(node):
    node.stop()
    node.args[node.args.index("--params") + 1] = "lab"
    with pytest.raises(NodeStartError, match="use another data dir"):
        node.launch()


def test_start_failure_on_a_busy_port_shows_the_log(node, tmp_path):
    port = node.p2p_addr.rsplit(":", 1)[1]
    with pytest.raises(NodeStartError, match="exited with code 1") as err:
        NodeProcess.start(tmp_path / "clash", p2p_port=int(port))
    assert "address already in use" in str(err.value).lower()


def test_the_node_exits_when_its_parent_process_dies(tmp_path):
    import subprocess
    import sys

    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    node = NodeProcess.start(tmp_path / "orphan", parent_pid=parent.pid)
    parent.kill()
    parent.wait()
    wait_until(lambda: not node.running, what="the node to notice its parent died")
    assert f"parent process {parent.pid} is gone" in node.log_text()


# --- misbehaving peers ---------------------------------------------------------------------

@pytest.fixture
def honest_pair(start_node):
    """A node under attack and an honest peer connected to it."""
    target, honest = start_node("target"), start_node("honest")
    connect(honest, target)
    return target, honest


def _still_honest(target: NodeProcess, honest: NodeProcess) -> None:
    assert "node1" in peer_names(target), "the honest peer was disconnected too"
    tip = target.rpc.generate(1)[0]
    wait_until(lambda: honest.rpc.getbestblockhash() == tip, what="relay to the honest peer")


def _bad_pow(block: Block) -> Block:
    nonce = 0
    while (header := block.header.with_nonce(nonce)).meets_target():
        nonce += 1
    return Block(header, block.transactions)


def _forged_tx(kit, chain) -> Transaction:
    tx = kit.pay(chain, 3, kit.address(4), 1_000, fee=100)
    first = tx.inputs[0]
    sig = bytes([first.signature[0] ^ 1]) + first.signature[1:]
    return Transaction(tx.version, (TxIn(first.prevout, sig, first.pubkey),), tx.outputs)


@pytest.mark.parametrize("attack", ["bad proof of work", "bad Merkle root", "bad signature in block",
                                    "two forged transactions", "oversized message", "garbage bytes"])
def test_a_misbehaving_peer_is_disconnected_and_honest_peers_stay(honest_pair, raw_peer, kit, chain, attack):
    target, honest = honest_pair
    evil = raw_peer(target, name=b"evil")
    if attack == "bad proof of work":
        evil.send(BlockMsg(_bad_pow(kit.block(chain))))
    elif attack == "bad Merkle root":
        good = kit.block(chain, mine=False)
        header = replace(good.header, merkle_root=b"\x00" * 32)
        nonce = 0
        while not (h := header.with_nonce(nonce)).meets_target():
            nonce += 1
        evil.send(BlockMsg(Block(h, good.transactions)))
    elif attack == "bad signature in block":
        evil.send(BlockMsg(kit.block(chain, [_forged_tx(kit, chain)])))
    elif attack == "two forged transactions":
        evil.send(TxMsg(_forged_tx(kit, chain)))
        evil.send(Ping(1))
        assert evil.expect(Pong).nonce == 1, "one bad transaction should only score, not disconnect"
        forged = _forged_tx(kit, chain)
        evil.send(TxMsg(replace(forged, memo=b"again")))
    elif attack == "oversized message":
        evil.send_raw(struct.pack("<I", MAX_MESSAGE_SIZE + 1))
    else:
        payload = Envelope(b"block", b"\x01\x02\x03").to_bytes()
        evil.send_raw(struct.pack("<I", len(payload)) + payload)
    assert evil.closed_by_node(), f"{attack}: the node kept the connection"
    target.wait_for_log(r"disconnecting peer \d+ evil .*misbehaviour score")
    _still_honest(target, honest)


def test_an_unsolicited_orphan_block_asks_the_sender_for_its_ancestors(node, raw_peer, kit, chain):
    blocks = kit.extend(chain, 2)
    peer = raw_peer(node)
    peer.send(BlockMsg(blocks[1]))  # parent unknown to the node
    assert peer.expect(GetBlocks).locator[-1] == chain.genesis_hash
    peer.send(BlockMsg(blocks[0]))
    wait_until(lambda: node.rpc.getblockcount() == 2, what="the orphan to connect")
    assert node.rpc.getpeerinfo()[0]["misbehaviour_score"] == 0


def test_inventory_of_unknown_kind_scores_but_keeps_the_peer(node, raw_peer):
    from labchain.node.messages import InvItem

    peer = raw_peer(node)
    peer.send(Inv((InvItem(9, b"\x00" * 32),)))
    peer.send(Ping(5))
    assert peer.expect(Pong).nonce == 5
    assert node.rpc.getpeerinfo()[0]["misbehaviour_score"] == 10


def test_a_block_from_the_future_is_fetched_again_once_the_clock_catches_up(node, raw_peer, kit, chain):
    """Too far ahead of the node's clock is not invalid for ever (Bitcoin: BLOCK_TIME_FUTURE)."""
    node.rpc.setmocktime(int(kit.clock()))
    ahead = int(kit.clock()) + chain.params.max_future_block_time + 60
    block = kit.block(chain, timestamp=ahead)
    peer = raw_peer(node)
    peer.send(BlockMsg(block))
    node.wait_for_log(r"rejected block .*ahead of this node's clock")
    node.rpc.increasetime(120)
    peer.send(Inv((InvItem(INV_BLOCK, block.hash),)))
    assert peer.expect(GetData).items[0].hash == block.hash, "the node still refuses the block"
    peer.send(BlockMsg(block))
    wait_until(lambda: node.rpc.getblockcount() == 1, what="the once-future block to connect")


def _fetch_block(raw_peer, node: NodeProcess, block_hash: str) -> Block:
    """The block exactly as ``node`` sends it to peers (over P2P, not the RPC's JSON)."""
    peer = raw_peer(node, name=b"fetcher")
    peer.send(GetData((InvItem(INV_BLOCK, bytes.fromhex(block_hash)),)))
    return peer.expect(BlockMsg).block


def _tampered_bodies(block: Block, params) -> dict[str, Block]:
    """The honest block's header over bodies it does not commit to."""
    coinbase = block.transactions[0]
    richer = replace(coinbase, outputs=(replace(coinbase.outputs[0], amount=coinbase.outputs[0].amount + 1),))
    return {
        "bad Merkle root": Block(block.header, (richer,)),
        "too many transactions": Block(block.header, (coinbase,) * (params.max_block_txs + 1)),
        "no coinbase": Block(block.header, ()),
    }


def test_an_honest_header_over_a_tampered_body_does_not_make_the_node_refuse_the_honest_block(
        start_node, raw_peer):
    """The node used to remember the hash of a block whose body failed (Merkle root, size,
    coinbase) and then never fetched the honest block with that header from anyone."""
    target, honest = start_node("target"), start_node("honest")
    good_hash = honest.rpc.generate(1)[0]
    good = _fetch_block(raw_peer, honest, good_hash)
    for n, (attack, tampered) in enumerate(_tampered_bodies(good, get_params("regtest")).items()):
        assert tampered.hash == good.hash
        evil = raw_peer(target, name=f"evil{n}".encode())
        evil.send(BlockMsg(tampered))
        assert evil.closed_by_node(), f"{attack}: the node kept the connection"
        target.wait_for_log(rf"disconnecting peer \d+ evil{n} .*misbehaviour score")
    connect(honest, target)  # on connect each side asks what follows its tip
    wait_until(lambda: target.rpc.getbestblockhash() == good_hash, timeout=20,
               what="the target to accept the honest block after the tampered copies")
    assert target.rpc.getblock(good_hash)["status"] == "valid"


def test_a_peer_that_ignores_getdata_does_not_stall_sync(start_node, raw_peer):
    """A staller announces blocks, answers pings and never sends them: after the request
    deadline the node asks the honest peer that announced them too, and scores the staller."""
    import socket
    import threading

    from labchain.node import node as node_module

    target, honest = start_node("target"), start_node("honest")
    hashes = honest.rpc.generate(3)
    staller = raw_peer(target, name=b"staller")
    staller.send(Inv(tuple(InvItem(INV_BLOCK, bytes.fromhex(h)) for h in hashes)))
    assert len(staller.expect(GetData).items) == 3, "the target did not ask the staller"
    stop = threading.Event()
    staller.sock.settimeout(0.5)

    def answer_pings_only() -> None:
        while not stop.is_set():
            try:
                message = staller.read()
            except (socket.timeout, OSError):
                continue
            if message is None:
                return
            if isinstance(message, Ping):
                staller.send(Pong(message.nonce))

    thread = threading.Thread(target=answer_pings_only, daemon=True)
    thread.start()
    try:
        connect(honest, target)
        wait_until(lambda: target.rpc.getblockcount() == 3, timeout=30,
                   what="the target to sync from the honest peer despite the staller")
        assert target.rpc.getbestblockhash() == hashes[-1]
        target.wait_for_log(r"peer \d+ staller .*misbehaving \(\+%d.*stalling" % node_module.STALL_SCORE)
        scores = {p["name"]: p["misbehaviour_score"] for p in target.rpc.getpeerinfo()}
        assert scores["staller"] == node_module.STALL_SCORE and scores["node1"] == 0
    finally:
        stop.set()
        thread.join(5)
