"""A 4-node Docker testnet on the sm2-sm3 suite (regtest-sm): containers of the node image built
from this checkout mine, relay a payment, sync, and reorganise after a partition, with SM3 ids.
Needs a Docker engine: skips without one, fails under LABCHAIN_REQUIRE_ALL/_DOCKER (CI)."""
from __future__ import annotations

import secrets

from labchain.block import BlockHeader
from labchain.core.params import get_params
from labchain.ledger.utxo.tx import Transaction
from labchain.testnet import Testnet

from needs import require


def _record(cls, body: dict, id_key: str):
    """The record of an RPC answer (its JSON extras name p256-sha256 ids: left out here)."""
    return cls.from_json({k: v for k, v in body.items() if k != id_key})


def test_a_four_node_docker_testnet_runs_on_regtest_sm(tmp_path):
    require("docker")
    from labchain.deploy.images import build_images
    from labchain.testnet import docker as backend

    build_images(["node"], log=lambda *args: None)   # seconds when the layers are cached
    client = backend.connect()
    student = f"sm{secrets.token_hex(3)}"
    suite = get_params("regtest-sm").crypto
    try:
        with Testnet.start(nodes=4, topology="line", params="regtest-sm", backend="docker",
                           dir=tmp_path / "net", student=student) as tn:
            assert {n.rpc.getblockchaininfo()["network"] for n in tn.nodes} == {"regtest-sm"}
            accounts = [a["address"] for a in tn.nodes[0].rpc.listaccounts()]
            assert all(a.startswith("S") for a in accounts)
            tn.nodes[0].rpc.generate(2)
            tn.sync_blocks()
            txid = tn.nodes[3].rpc.sendtoaddress(accounts[3], accounts[4], 5_000)
            assert txid in tn.sync_mempools()
            tip = tn.nodes[1].rpc.generate(1)[0]
            assert tn.sync_blocks() == tip
            found = tn.nodes[0].rpc.gettransaction(txid)
            assert found["confirmations"] == 1
            assert suite.hash256(_record(Transaction, found["tx"], "txid").to_bytes()).hex() == txid

            tn.partition([0, 1], [2, 3])
            losing = tn.nodes[3].rpc.sendtoaddress(accounts[5], accounts[6], 7_000)
            tn.sync_mempools([2, 3])
            tn.nodes[2].rpc.generate(1)
            long_tip = tn.nodes[0].rpc.generate(3)[-1]
            tn.heal()
            assert tn.sync_blocks() == long_tip
            header = _record(BlockHeader, tn.nodes[3].rpc.getblock(long_tip)["header"], "hash")
            assert suite.hash256(header.to_bytes()).hex() == long_tip
            assert tn.nodes[3].rpc.gettransaction(losing)["confirmations"] == 0   # reorganised out
            assert losing in tn.sync_mempools()
    finally:
        backend.down(student, client=client, missing_ok=True)
        if not backend.students(client):      # the shared labs bridge goes with the last student
            for net in client.networks.list(names=[backend.LABS_NETWORK]):
                net.remove()
    assert not client.containers.list(all=True, filters={"label": f"{backend.LABEL_STUDENT}={student}"})
