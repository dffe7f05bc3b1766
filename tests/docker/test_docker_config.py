"""A docker testnet on a chain configuration file of the host: the file's text reaches the containers."""
from __future__ import annotations

import copy

import yaml

from labchain.core.config import PRESET_DIR
from labchain.testnet import Testnet

from dockerkit import leftovers


def test_docker_nodes_run_the_host_config_file(docker_client, node_image, student_ids, tmp_path):
    (student,) = student_ids(1)
    data = copy.deepcopy(yaml.safe_load((PRESET_DIR / "regtest.yml").read_text()))
    data["chain_id"] = "docker-class"
    path = tmp_path / "class.yml"
    path.write_text(yaml.safe_dump(data))
    with Testnet.start(nodes=2, backend="docker", dir=tmp_path / "net", student=student, config=path) as tn:
        assert {n.rpc.getblockchaininfo()["network"] for n in tn.nodes} == {"docker-class"}
        tn.nodes[0].rpc.generate(1)
        tn.sync_blocks()
        assert tn.nodes[1].rpc.getblockcount() == 1
    assert leftovers(docker_client, student) == []
