"""Testnet.start(config=...): a local testnet on a chain configuration file, and a bad file refused before any node starts."""
import copy

import pytest
import yaml

from labchain.core.config import PRESET_DIR
from labchain.core.errors import ConfigError
from labchain.testnet import Testnet


def test_a_local_testnet_runs_on_a_config_file(tmp_path):
    data = copy.deepcopy(yaml.safe_load((PRESET_DIR / "regtest.yml").read_text()))
    data["chain_id"] = "class-7b"
    path = tmp_path / "class.yml"
    path.write_text(yaml.safe_dump(data))
    with Testnet.start(nodes=2, config=path, dir=tmp_path / "net") as tn:
        assert {n.rpc.getblockchaininfo()["network"] for n in tn.nodes} == {"class-7b"}
        tn.nodes[0].rpc.generate(1)
        tn.sync_blocks()
        assert tn.nodes[1].rpc.getblockcount() == 1


def test_a_bad_config_file_is_refused_before_any_node_starts(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text((PRESET_DIR / "regtest.yml").read_text().replace("model: utxo", "model: accounts"))
    with pytest.raises(ConfigError, match="ledger.model is 'accounts'; allowed: utxo"):
        Testnet.start(nodes=2, config=path, dir=tmp_path / "net")
    assert not (tmp_path / "net").exists()


def test_a_local_testnet_runs_on_the_regtest_sm_preset_file(tmp_path):
    from labchain.core.params import get_params
    from labchain.ledger.utxo.tx import Transaction

    suite = get_params("regtest-sm").crypto
    with Testnet.start(nodes=2, config=PRESET_DIR / "regtest-sm.yml", dir=tmp_path / "net") as tn:
        accounts = [a["address"] for a in tn.nodes[0].rpc.listaccounts()]
        assert all(a.startswith("S") for a in accounts)          # version byte 0x3f
        txid = tn.nodes[1].rpc.sendtoaddress(accounts[1], accounts[2], 1_000)
        tn.sync_mempools()
        tn.nodes[0].rpc.generate(1)
        tn.sync_blocks()
        found = tn.nodes[1].rpc.gettransaction(txid)
        tx = Transaction.from_json({k: v for k, v in found["tx"].items() if k != "txid"})
        assert found["confirmations"] == 1 and suite.hash256(tx.to_bytes()).hex() == txid
