"""Malformed consensus messages from a peer: the node logs them, scores the peer, and keeps
committing blocks (a Solo proposer on a real process)."""
from labchain.block import genesis_block
from labchain.core.config import load_config
from labchain.node.consensus import ConsensusMsg
from labchain.node.messages import Ping, Pong

from tests.labchain.node.consensus_helpers import wait_for

SOLO = load_config("solo").params


def _garbage() -> list[bytes]:
    from labchain.consensus.engine import EngineEnvelope

    return [b"", b"\x00", b"\xff" * 40,                                   # not an envelope
            EngineEnvelope(b"nosuch.message", b"\x01\x02").to_bytes(),   # unknown type
            EngineEnvelope(b"solo.commit", b"\x01").to_bytes(),          # a truncated body
            EngineEnvelope(b"raft.vote", b"\x00" * 3).to_bytes()]        # another engine's, malformed


def test_malformed_consensus_messages_score_the_peer_and_the_node_keeps_committing(start_node, raw_peer):
    node = start_node("node0", params="solo", extra=("--name", "node0"))
    genesis = genesis_block(SOLO).hash_in(SOLO.crypto)
    peer = raw_peer(node, network=b"solo", genesis=genesis, name=b"node1")
    garbage = _garbage()
    for payload in garbage[:4]:                      # 4 x 20 points: below the ban score (100)
        peer.send(ConsensusMsg(payload))
    peer.send(Ping(7))
    assert peer.expect(Pong).nonce == 7              # still connected, the node still answers
    state = wait_for(lambda: (s := node.rpc.getconsensusstate())["bad_messages"] >= 4 and s,
                     "4 bad messages counted")
    height = state["chain_height"]
    wait_for(lambda: node.rpc.getblockcount() >= height + 2, "the proposer to keep committing")
    for payload in garbage[4:]:                      # 120 points: the node disconnects the peer
        peer.send(ConsensusMsg(payload))
    assert peer.closed_by_node()
    height = node.rpc.getblockcount()
    wait_for(lambda: node.rpc.getblockcount() >= height + 2, "the proposer to go on after the ban")
    log = (node.datadir / "node.log").read_text()
    assert "bad consensus message from" in log
    assert "unknown consensus message type 'nosuch.message'" in log
    assert "misbehaviour score" in log
