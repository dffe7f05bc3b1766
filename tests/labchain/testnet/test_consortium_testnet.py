"""The consortium-4org testnet (labchain/testnet/consortium.py): certificates generated into the
testnet folder, every node authenticated by org and role, the regulator following every block."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from labchain.core.config import PRESET_DIR
from labchain.identity import Certificate, verify_certificate
from labchain.testnet import Testnet

ORGS = ["org1", "org2", "org3", "org4", "regulator"]


def test_consortium_4org_comes_up_authenticated_and_the_regulator_follows(tmp_path):
    net = Testnet.start(config="consortium-4org", dir=tmp_path / "tn", timeout=120)
    try:
        assert len(net.nodes) == 5
        manifest = json.loads((tmp_path / "tn/crypto-config/manifest.json").read_text())
        assert [o["org_id"] for o in manifest["orgs"]] == ORGS
        # the generated certificates are real X.509 under the org CAs written beside them
        roots = [Certificate.load((tmp_path / "tn/crypto-config" / o["ca_certificate"]).read_text())
                 for o in manifest["orgs"]]
        node_cert = tmp_path / "tn/crypto-config/regulator/node/common1/common1.sign.crt"
        assert verify_certificate(node_cert.read_text(), roots, required_role="common").org == "regulator"
        # line topology: node i links to i-1 and i+1; each side of every link proved org and role
        for node in net.nodes:
            seen = {(p["org"], p["role"]) for p in node.rpc.getpeerinfo() if p["handshake_done"]}
            expected = {(ORGS[j], "common" if j == 4 else "consensus") for j in (node.index - 1, node.index + 1)
                        if 0 <= j < 5}
            assert seen == expected, (node.index, seen)
            assert node.rpc.call("getrefusedpeers") == []
        net.nodes[0].rpc.generate(3)
        tip = net.sync_blocks(timeout=60)
        assert net.nodes[4].rpc.getbestblockhash() == tip and net.nodes[4].rpc.getblockcount() == 3
        assert net.nodes[4].rpc.call("getidentity")["serial"] == manifest["orgs"][4]["members"][0]["serial"]
    finally:
        net.down()


def test_testnet_up_config_consortium_4org_from_the_command_line(tmp_path):
    folder = tmp_path / "cli"
    up = subprocess.run([sys.executable, "-m", "labchain.testnet", "up", "--config", "consortium-4org",
                         "--dir", str(folder)], capture_output=True, text=True, timeout=180)
    try:
        assert up.returncode == 0, up.stderr
        net = Testnet.connect(str(folder))
        assert len(net.nodes) == 5
        roles = sorted(p["role"] for p in net.nodes[3].rpc.getpeerinfo())
        assert roles == ["common", "consensus"]
    finally:
        subprocess.run([sys.executable, "-m", "labchain.testnet", "down", "--dir", str(folder)],
                       capture_output=True, timeout=120)


@pytest.mark.parametrize("mode", ["permissioned-key", "public"])
def test_the_consortium_also_runs_with_registered_keys_or_in_public_mode(tmp_path, mode):
    text = (PRESET_DIR / "consortium-4org.yml").read_text()
    config = tmp_path / f"{mode}.yml"
    config.write_text(text.replace("  mode: permissioned-cert ", f"  mode: {mode} "))
    net = Testnet.start(config=config, dir=tmp_path / "tn", nodes=5, timeout=120)
    try:
        assert len(net.nodes) == 5
        peers = net.nodes[4].rpc.getpeerinfo()
        if mode == "public":
            assert "org" not in peers[0] and not (tmp_path / "tn/crypto-config").exists()
        else:
            assert (peers[0]["org"], peers[0]["role"], peers[0]["cert_serial"]) == ("org4", "consensus", None)
        net.nodes[0].rpc.generate(2)
        net.sync_blocks(timeout=60)
    finally:
        net.down()
