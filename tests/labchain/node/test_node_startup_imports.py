"""What a node process loads: at start only what serving, relaying and syncing need.

Every node of a testnet is its own process, so each module a node imports at start is paid
once per node (``bench/bench_testnet.py`` compares four nodes with one Ganache). Signing
(pycryptodome), signature verification (``cryptography``), mining, the RPC client, TLS and
the other command groups' libraries load on first use. The node runs with Python's
``PYTHONPROFILEIMPORTTIME``, which lists every import on its stderr (``stderr.log``); ``ssl``
is checked in the process's memory map instead, since its refused import is listed too.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from labchain.node.process import STDERR_FILE, NodeProcess

#: Loaded on first use only (or never, for the last ones).
NOT_AT_START = ("Crypto", "cryptography", "multiprocessing", "http.client", "labchain.consensus.pow.miner",
                "labchain.testnet", "labchain.curriculum", "docker", "yaml", "matplotlib")


def imported(node: NodeProcess) -> set[str]:
    """Modules the node process has imported so far, from its import-time profile."""
    lines = (node.datadir / STDERR_FILE).read_text().splitlines()
    return {line.split("|")[2].strip() for line in lines
            if line.startswith("import time:") and line.count("|") == 2 and "cumulative" not in line}


def loaded_from(modules: set[str], names: tuple[str, ...]) -> set[str]:
    return {m for m in modules if any(m == n or m.startswith(n + ".") for n in names)}


@pytest.fixture
def profiled_node(start_node, monkeypatch) -> NodeProcess:
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")  # inherited by the node process only
    return start_node()


def test_a_started_node_has_loaded_neither_signing_nor_verifying_nor_other_tools(profiled_node):
    assert profiled_node.rpc.getblockcount() == 0
    modules = imported(profiled_node)
    assert "labchain.node.node" in modules  # the profile does list the node's imports
    assert loaded_from(modules, NOT_AT_START) == set()
    libraries = Path(f"/proc/{profiled_node.pid}/maps").read_text()
    assert "/_asyncio." in libraries and "libsqlite3" in libraries  # a running node's map
    assert "/_ssl." not in libraries and "libssl" not in libraries  # no TLS: see labchain/node/__main__.py


def test_mining_signing_and_verifying_load_their_modules_when_used(profiled_node):
    rpc = profiled_node.rpc
    rpc.generate(1)
    assert "labchain.consensus.pow.miner" in imported(profiled_node)
    assert loaded_from(imported(profiled_node), ("Crypto", "cryptography")) == set()
    accounts = [a["address"] for a in rpc.listaccounts()]
    txid = rpc.sendtoaddress(accounts[0], accounts[1], 1_000)
    rpc.generate(1)
    assert rpc.gettransaction(txid)["confirmations"] == 1
    modules = imported(profiled_node)
    assert "Crypto.Signature.DSS" in modules                              # signed
    assert "cryptography.hazmat.primitives.asymmetric.ec" in modules      # verified
