"""Fixtures for node tests: real node processes on loopback, and a raw P2P peer.

    def test_x(node):                       # one regtest node, fresh for the test
        node.rpc.generate(1)

    def test_y(node, raw_peer):             # a socket that speaks the protocol by hand
        peer = raw_peer(node)               # handshake done
        peer.send(Ping(1)); assert isinstance(peer.expect(Pong), Pong)
"""
from __future__ import annotations

from pathlib import Path

import pytest

from node_helpers import RawPeer
from labchain.node.process import NodeProcess


@pytest.fixture
def start_node(tmp_path: Path):
    """Start regtest nodes in this test's tmp dir; all are stopped afterwards."""
    started: list[NodeProcess] = []

    def start(name: str = "n0", **kwargs) -> NodeProcess:
        node = NodeProcess.start(tmp_path / name, index=len(started), **kwargs)
        started.append(node)
        return node

    yield start
    for node in started:
        node.kill()


@pytest.fixture
def node(start_node) -> NodeProcess:
    return start_node()


@pytest.fixture
def raw_peer():
    peers: list[RawPeer] = []

    def connect(node: NodeProcess, handshake: bool = True, **kwargs) -> RawPeer:
        peer = RawPeer(node.p2p_addr)
        peers.append(peer)
        if handshake:
            peer.handshake(**kwargs)
        return peer

    yield connect
    for peer in peers:
        peer.close()
