"""Fixtures: a real local testnet with a few blocks and payments, and the explorer serving it
from a background thread (tornado on its own event loop) on a free loopback port."""
from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from labchain.explorer.data import Network
from labchain.explorer.server import Background
from labchain.testnet import Testnet
from polling import wait_until as _wait_until


def fetch(base: str, path: str) -> tuple[int, str]:
    """(status, body) of a GET; error statuses are returned, not raised."""
    try:
        with urllib.request.urlopen(base + path, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


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


def wait_until(predicate, timeout: float = 60.0, what: str = "condition"):
    return _wait_until(predicate, timeout, what)
