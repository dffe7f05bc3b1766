"""Chain configs of message-passing engines: consensus.type solo|raft|pbft|tbft with validators
and the engine's parameters (ChainMaker names); a bad section is refused naming the key."""
import pytest

from labchain.consensus.registry import ENGINE_TYPES, build_engine
from labchain.core.config import PRESET_DIR, load_config, parse_config
from labchain.core.errors import ConfigError

RAFT = (PRESET_DIR / "raft-3.yml").read_text()


def test_engine_presets_carry_their_spec_and_a_pow_preset_none():
    spec = load_config("raft-3").params.consensus
    assert spec.type == "raft" and spec.validators == ("node0", "node1", "node2")
    assert (spec.block_interval, spec.get("election_tick"), spec.get("heartbeat_tick")) == (0.2, 10, 1)
    assert load_config("raft-5").params.consensus.validators[-1] == "node4"
    assert load_config("solo").params.consensus.type == "solo"
    assert load_config("regtest").params.consensus is None


@pytest.mark.parametrize("old, new, message", [
    ("validators: [node0, node1, node2]", "validators: [node0, node0]", "consensus.validators is"),
    ("validators: [node0, node1, node2]", "validators: []", "list of distinct node names"),
    ("election_tick: 10 ", "election_tick: 1 ", "election_tick is 1, but it must be an integer of at least 2"),
    ("heartbeat_tick: 1 ", "heartbeat_tick: 12 ", "must be larger than heartbeat_tick"),
    ("block_interval: 0.2 ", "block_interval: fast ", "block_interval is 'fast'"),
    ("tick: 0.1 ", "tock: 0.1 ", "unknown key 'consensus.raft.tock'"),
    ("type: raft ", "type: paxos ", "consensus.type is 'paxos'; allowed: pow, solo, raft, pbft, tbft"),
])
def test_a_bad_engine_section_is_refused_naming_the_key(old, new, message):
    assert old in RAFT
    with pytest.raises(ConfigError, match=message):
        parse_config(RAFT.replace(old, new), "raft-3.yml")


def test_the_registry_builds_every_engine_type_it_lists():
    for engine_type in ENGINE_TYPES:
        assert engine_type in ("solo", "raft", "pbft", "tbft")
    spec = load_config("raft-3").params.consensus
    engine = build_engine(spec, "node1", None, rng=__import__("random").Random(0),
                          suite=load_config("raft-3").params.crypto)
    assert engine.name == "raft" and engine.config.election_timeout_range == (1.0, 2.0)


def test_a_testnet_of_too_few_nodes_for_its_validators_is_refused_before_any_node_starts(tmp_path):
    from labchain.testnet import Testnet
    from labchain.testnet.testnet import TestnetError

    with pytest.raises(TestnetError, match=r"names validator\(s\) node3, node4, but a testnet of 3 nodes"):
        Testnet.start(nodes=3, config="raft-5", dir=tmp_path / "net")
    assert not (tmp_path / "net").exists()
