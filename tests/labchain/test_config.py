"""Chain configuration files (labchain/core/config.py): the shipped presets and every bad-config message."""
import copy
import re
import subprocess
import sys

import pytest
import yaml

from labchain.core.config import PRESET_DIR, ChainConfig, chain_params, load_config, parse_config, preset_names
from labchain.core.errors import ConfigError, LabchainError
from labchain.core.params import NETWORKS

REGTEST = yaml.safe_load((PRESET_DIR / "regtest.yml").read_text())


@pytest.mark.parametrize("name, suite", [("regtest", "p256-sha256"), ("lab", "p256-sha256"),
                                         ("main", "p256-sha256"), ("regtest-sm", "sm2-sm3"),
                                         ("regtest-account", "p256-sha256")])
def test_shipped_presets_are_the_python_presets(name, suite):
    config = load_config(name)
    assert isinstance(config, ChainConfig)
    assert config.params == NETWORKS[name]          # the YAML is the source; the constants may not drift
    assert (config.chain_id, config.suite, config.ledger, config.consensus) == (name, suite, NETWORKS[name].ledger, "pow")
    assert chain_params(name) is NETWORKS[name]       # built-in names never import PyYAML in a node
    assert name in preset_names()


def test_a_config_file_gives_its_chain_id_as_the_network_name(tmp_path):
    data = copy.deepcopy(REGTEST)
    data["chain_id"] = "class-7b"
    data["genesis"]["accounts"]["count"] = 3
    path = tmp_path / "class.yml"
    path.write_text(yaml.safe_dump(data))
    params = chain_params(str(path))
    assert params.name == "class-7b" and params.funded_accounts == 3
    assert params.with_changes(name="regtest", funded_accounts=10) == NETWORKS["regtest"]


def changed(path: str, value):
    data = copy.deepcopy(REGTEST)
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return yaml.safe_dump(data)


DELETE = object()


@pytest.mark.parametrize("path, value, message", [
    ("chain_id", "", r"chain_id '' is not allowed; use 1 to 32 letters"),
    ("chain_id", "a b", r"chain_id 'a b' is not allowed"),
    ("chain_id", DELETE, r"missing key 'chain_id'"),
    ("crypto.hash", "MD5", r"crypto.hash is 'MD5'; allowed: SHA256, SM3"),
    ("crypto.signature", "RSA", r"crypto.signature is 'RSA'; allowed: ECDSA_P256, SM2"),
    ("ledger.model", "plasma", r"ledger.model is 'plasma'; allowed: utxo, account"),
    ("consensus.type", "paxos", r"consensus.type is 'paxos'; allowed: pow, solo, raft, pbft, tbft"),
    ("consensus.pow.block_time", 0, r"consensus.pow.block_time is 0, but it must be at least 1"),
    ("consensus.pow.block_time", "1s", r"consensus.pow.block_time is '1s', but it must be an integer"),
    ("consensus.pow.no_retargeting", "yes please", r"no_retargeting is 'yes please', but it must be true or false"),
    ("consensus.pow.blocktime", 1, r"unknown key 'consensus.pow.blocktime'; the keys allowed there are block_time"),
    ("consensus.pow.halving_interval", DELETE, r"missing key 'consensus.pow.halving_interval'"),
    ("consensus.extra", 1, r"unknown key 'consensus.extra'"),
    ("block.max_block_size", 10, r"block.max_block_size is 10, but it must be at least 1000"),
    ("block", [1], r"block must be a mapping of keys"),
    ("genesis.memo", "x" * 81, r"genesis.memo is 81 bytes, more than ledger.max_memo \(80\)"),
    ("genesis.accounts.seed", "", r"genesis.accounts.seed is empty"),
    ("genesis.accounts.balance", 10**16, r"more than ledger.max_money"),
    ("colour", "red", r"unknown key 'colour'"),
])
def test_a_bad_config_names_the_key_the_value_and_what_is_allowed(path, value, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_config(changed(path, value), "class.yml")
    assert str(caught.value).startswith("class.yml: ")
    assert isinstance(caught.value, LabchainError)


def test_not_yaml_not_a_mapping_and_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="is not valid YAML"):
        parse_config("chain_id: [unclosed", "x.yml")
    with pytest.raises(ConfigError, match="must be a mapping of keys"):
        parse_config("- 1\n- 2\n", "x.yml")
    with pytest.raises(ConfigError, match="no chain preset named 'regtset'; the presets are " + re.escape(", ".join(preset_names()))):
        load_config("regtset")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "none.yml"))


def test_sm3_with_sm2_gives_a_chain_on_the_sm_suite():
    text = changed("crypto.hash", "SM3").replace("ECDSA_P256", "SM2")
    params = parse_config(text, "sm.yml").params
    assert params.suite == "sm2-sm3" and params.crypto.hash_algorithm == "SM3"


@pytest.mark.parametrize("hash_name, signature", [("SM3", "ECDSA_P256"), ("SHA256", "SM2")])
def test_a_mixed_crypto_pair_is_refused_naming_the_allowed_pairs(hash_name, signature):
    text = changed("crypto.hash", hash_name).replace("ECDSA_P256", signature)
    with pytest.raises(ConfigError, match=rf"sm.yml: crypto.hash {hash_name} cannot be combined with "
                                          rf"crypto.signature {signature}; the allowed pairs are "
                                          r"SHA256 \+ ECDSA_P256 or SM3 \+ SM2"):
        parse_config(text, "sm.yml")


def test_labchain_node_with_a_bad_config_exits_2_with_the_message(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(changed("consensus.pow.block_time", -5))
    proc = subprocess.run([sys.executable, "-m", "labchain.node", "--datadir", str(tmp_path / "d"),
                           "--config", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "consensus.pow.block_time is -5, but it must be at least 1" in proc.stderr
