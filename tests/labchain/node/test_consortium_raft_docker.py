"""consortium-4org-raft on the Docker backend: four Raft validators and the regulator, each in its
own container with its certificate copied in; the regulator follows the final blocks and a
governance update endorsed by three org admins reaches all five containers. Needs a Docker
engine: skips without one, fails under LABCHAIN_REQUIRE_ALL/_DOCKER (CI)."""
from __future__ import annotations

import secrets

from labchain.testnet import Testnet
from needs import require
from polling import wait_until


def test_the_raft_consortium_runs_in_docker_with_a_following_regulator_and_governance(tmp_path):
    require("docker")
    from labchain.deploy.images import build_images
    from labchain.testnet import docker as backend

    build_images(["node"], log=lambda *args: None)
    client = backend.connect()
    student = f"gr{secrets.token_hex(3)}"
    try:
        with Testnet.start(config="consortium-4org-raft", backend="docker", dir=tmp_path / "net",
                           student=student, timeout=180) as tn:
            assert len(tn.nodes) == 5
            wait_until(lambda: min(n.rpc.getblockcount() for n in tn.nodes) >= 1, 120, "a block on all 5")
            assert tn.nodes[4].rpc.getconsensusstate()["voter"] is False
            gov = tn.governance
            gtx = gov.endorse(gov.propose_config([("CHAIN_CONFIG-BLOCK_UPDATE", "block.block_interval", "500")]),
                              ["org1", "org2", "org3"])
            txid = gov.send(gtx)["txid"]
            wait_until(lambda: all(n.rpc.getgovernance()["sequence"] == 1 for n in tn.nodes), 120,
                       "sequence 1 in every container")
            heights = {o["height"] for n in tn.nodes for o in n.rpc.getgovernance()["history"] if o["txid"] == txid}
            assert len(heights) == 1
            wait_until(lambda: tn.nodes[4].rpc.getbestblockhash() == tn.nodes[0].rpc.getbestblockhash(), 60,
                       "the regulator at the validators' tip")
    finally:
        backend.down(student, client=client, missing_ok=True)
        if not backend.students(client):
            for net in client.networks.list(names=[backend.LABS_NETWORK]):
                net.remove()
