"""The consortium-4org testnet on the Docker backend: each org's node in its own container, its
certificate and key copied in before it starts (labchain/testnet/consortium.py). Needs a Docker
engine: skips without one, fails under LABCHAIN_REQUIRE_ALL/_DOCKER (CI)."""
from __future__ import annotations

import secrets

from labchain.testnet import Testnet

from needs import require


def test_consortium_4org_runs_in_docker_with_a_certificate_per_container(tmp_path):
    require("docker")
    from labchain.deploy.images import build_images
    from labchain.testnet import docker as backend

    build_images(["node"], log=lambda *args: None)
    client = backend.connect()
    student = f"co{secrets.token_hex(3)}"
    try:
        with Testnet.start(config="consortium-4org", backend="docker", dir=tmp_path / "net",
                           student=student, timeout=180) as tn:
            assert len(tn.nodes) == 5
            orgs = {p["org"] for n in tn.nodes for p in n.rpc.getpeerinfo() if p["handshake_done"]}
            assert orgs == {"org1", "org2", "org3", "org4", "regulator"}
            tn.nodes[0].rpc.generate(2)
            assert tn.sync_blocks(timeout=120) == tn.nodes[4].rpc.getbestblockhash()
            assert tn.nodes[4].rpc.call("getidentity")["certificate"].startswith("common1.regulator")
    finally:
        backend.down(student, client=client, missing_ok=True)
        if not backend.students(client):
            for net in client.networks.list(names=[backend.LABS_NETWORK]):
                net.remove()
