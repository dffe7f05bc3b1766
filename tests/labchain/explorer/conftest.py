"""Fixtures: a real local testnet with a few blocks and payments, and the explorer serving it
from a background thread (tornado on its own event loop) on a free loopback port."""
from __future__ import annotations

import pytest

from explorerkit import fetch
from labchain.explorer.data import Network
from labchain.explorer.server import Background
from labchain.testnet import Testnet


@pytest.fixture(scope="module")
def chain_net(tmp_path_factory):
    """4 nodes in a line; node0 mined 3 blocks and paid account 1, confirmed in block 4, and
    left one more payment in the mempool."""
    with Testnet.start(nodes=4, dir=tmp_path_factory.mktemp("explorer") / "net") as net:
        rpc = net.nodes[0].rpc
        rpc.generate(3)
        accounts = rpc.listaccounts()
        net.paid = accounts[1]["address"]
        net.confirmed = rpc.sendtoaddress(0, net.paid, 123_456)
        rpc.generate(1)
        net.pending = rpc.sendtoaddress(0, net.paid, 7_000)
        net.sync_blocks()
        net.sync_mempools()
        yield net


@pytest.fixture(scope="module")
def explorer(chain_net):
    with Background({"local": Network.from_testnet("local", chain_net)}, poll_ms=300) as bg:
        yield bg


@pytest.fixture
def get(explorer):
    return lambda path: fetch(explorer.url, path)
