"""Nodes started from chain configuration files refuse peers of another chain id or genesis (real processes)."""
import copy

import pytest
import yaml

from labchain.core.config import PRESET_DIR

from node_helpers import peer_names, wait_until


def write_config(tmp_path, name, **genesis_changes):
    data = copy.deepcopy(yaml.safe_load((PRESET_DIR / "regtest.yml").read_text()))
    data["chain_id"] = name
    data["genesis"].update(genesis_changes)
    path = tmp_path / f"{name}-{len(genesis_changes)}.yml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.mark.parametrize("config_kwargs, reason", [
    (dict(name="other-chain"), "network mismatch: peer is on 'other-chain', this node on 'regtest'"),
    (dict(name="regtest", memo="another genesis"), "genesis mismatch"),
])
def test_a_node_refuses_a_peer_of_another_chain_and_says_which(start_node, tmp_path, config_kwargs, reason):
    a = start_node("a")                                          # the regtest preset by name
    b = start_node("b", params=write_config(tmp_path, **config_kwargs))
    b.rpc.addpeer(a.p2p_addr)
    a.wait_for_log(f"refusing peer .*{reason}")
    assert "node1" not in peer_names(a) and "node0" not in peer_names(b)   # never became peers
    assert a.rpc.getblockcount() == 0 and b.rpc.getblockcount() == 0   # both keep serving


def test_nodes_of_the_same_config_file_connect(start_node, tmp_path):
    path = write_config(tmp_path, "class-7b")
    a, b = start_node("a", params=path), start_node("b", params=path)
    b.rpc.addpeer(a.p2p_addr)
    wait_until(lambda: "node1" in peer_names(a), what="two nodes of one config to connect")
    assert a.rpc.getblockchaininfo()["genesis"] == b.rpc.getblockchaininfo()["genesis"]
