"""Authenticated node links (labchain/node/identity.py) on real node processes.

A permissioned-cert chain trusts orgs org1 and org2; org3's CA is unknown to it. Each test
starts real ``labchain node`` processes with ``--identity`` folders written by cryptogen and
checks who is admitted, who is refused, and that the refusing node logs and reports why.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

from labchain.core.config import PRESET_DIR, load_config
from labchain.core.errors import ConfigError
from labchain.identity.cryptogen import generate, write_consortium
from labchain.node.identity import auth_message
from labchain.node.messages import Auth, AuthHello, Reject, Verack, Version, PROTOCOL_VERSION
from labchain.node.process import NodeProcess
from node_helpers import wait_until

#: auth messages per fuzz run: IDNODE_FUZZ_EXAMPLES, else 10 under CI and 25 locally
FUZZ_EXAMPLES = int(os.environ.get("IDNODE_FUZZ_EXAMPLES", 10 if os.environ.get("CI") else 25))
TEMPLATE = {"suite": "p256-sha256", "seed": "idnode-tests",
            "orgs": [{"name": "org", "count": 3, "nodes": {"consensus": 1, "common": 1}, "users": {"client": 1}}]}


@pytest.fixture(scope="module")
def crypto(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("idnode-crypto")
    write_consortium(generate(TEMPLATE), out / "crypto")
    sm = dict(TEMPLATE, suite="sm2-sm3", seed="idnode-sm")
    write_consortium(generate(sm), out / "sm")
    return out


def chain_file(crypto: Path, mode: str = "permissioned-cert", keys=(), name: str = "chain.yml") -> Path:
    data = copy.deepcopy(yaml.safe_load((PRESET_DIR / "regtest.yml").read_text()))
    data["chain_id"] = "idnode-test"
    section = {"mode": mode}
    if mode == "permissioned-cert":
        section["trust_roots"] = [{"org_id": f"org{i}", "root": [f"crypto/org{i}/ca/ca.crt"]} for i in (1, 2)]
    else:
        section["keys"] = list(keys)
    data["identity"] = section
    path = crypto / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def start(crypto, tmp_path):
    started: list[NodeProcess] = []

    def run(folder: str, peers=(), config: Path | None = None) -> NodeProcess:
        config = config or chain_file(crypto)
        node = NodeProcess.start(tmp_path / f"n{len(started)}", params=str(config), peers=tuple(peers),
                                 index=len(started), extra=("--identity", str(crypto / folder)))
        started.append(node)
        return node

    yield run
    for node in started:
        node.kill()


def refusals(node: NodeProcess, code: str) -> list[dict]:
    return [r for r in node.rpc.call("getrefusedpeers") if r["code"] == code]


def authenticated(node: NodeProcess) -> list[dict]:
    return [p for p in node.rpc.getpeerinfo() if p["handshake_done"]]


def logged(node: NodeProcess, reason: str) -> bool:
    return any("refusing peer" in line and reason in line
               for line in (node.datadir / "node.log").read_text().splitlines())


def test_members_authenticate_and_getpeerinfo_shows_org_role_and_serial(start, crypto):
    a = start("crypto/org1/node/consensus1")
    b = start("crypto/org2/node/common1", peers=[a.p2p_addr])
    peers = wait_until(lambda: authenticated(a), what="org2's node authenticated")
    serial = yaml.safe_load((crypto / "crypto/manifest.json").read_text())["orgs"][1]["members"][1]["serial"]
    assert (peers[0]["org"], peers[0]["role"], peers[0]["cert_serial"]) == ("org2", "common", serial)
    back = wait_until(lambda: authenticated(b), what="org1's node authenticated")[0]
    assert (back["org"], back["role"]) == ("org1", "consensus")
    a.rpc.generate(2)
    wait_until(lambda: b.rpc.getblockcount() == 2, what="blocks relayed over the authenticated link")
    assert a.rpc.call("getrefusedpeers") == []


@pytest.mark.parametrize("folder, code, words", [
    ("crypto/org3/node/consensus1", "unknown-ca", "is not among the trust roots"),
    ("crypto/org1/user/client1", "wrong-role", "carries role client but this use needs consensus or common"),
])
def test_a_node_outside_the_rules_is_refused_with_the_reason(start, folder, code, words):
    a = start("crypto/org1/node/consensus1")
    bad = start(folder, peers=[a.p2p_addr])
    refused = wait_until(lambda: refusals(a, code), what=f"a {code} refusal")[0]
    assert words in refused["reason"]
    assert logged(a, refused["reason"])
    assert authenticated(a) == [] and authenticated(bad) == []
    # the refused side is told why
    assert wait_until(lambda: refused["reason"][:80] in (bad.datadir / "node.log").read_text(), what="reject logged")


def test_a_revoked_certificate_drops_the_link_and_is_refused_after(start, crypto):
    a = start("crypto/org1/node/consensus1")
    b = start("crypto/org2/node/consensus1", peers=[a.p2p_addr])
    serial = wait_until(lambda: authenticated(a), what="link up")[0]["cert_serial"]
    result = a.rpc.call("revokecert", "org2", serial)
    assert result["dropped_peers"]
    refused = wait_until(lambda: refusals(a, "revoked"), what="revoked refusal")
    assert f"org org2 revoked serial {serial}" in refused[0]["reason"] and logged(a, "(it is on the CRL)")
    wait_until(lambda: len(refusals(a, "revoked")) >= 2, what="the redial refused too")
    assert authenticated(a) == []


def test_freezing_a_connected_peer_drops_it_and_unfreezing_lets_it_back(start, crypto):
    a = start("crypto/org1/node/consensus1")
    b = start("crypto/org2/node/consensus1", peers=[a.p2p_addr])
    wait_until(lambda: authenticated(a), what="link up")
    pem = (crypto / "crypto/org2/node/consensus1/consensus1.sign.crt").read_text()
    assert a.rpc.call("freezecert", pem)["dropped_peers"]
    refused = wait_until(lambda: refusals(a, "frozen"), what="frozen refusal")[0]
    assert "it is frozen" in refused["reason"] and logged(a, "it is frozen")
    assert authenticated(a) == []
    a.rpc.call("unfreezecert", pem)
    assert wait_until(lambda: authenticated(a), what="b back after unfreeze")[0]["org"] == "org2"


def test_permissioned_key_mode_admits_registered_keys_only(start, crypto):
    from labchain.identity.cryptogen import load_key

    def key(folder):
        return load_key(next((crypto / folder).glob("*.sign.key")), "p256-sha256").public_key.hex()

    config = chain_file(crypto, "permissioned-key", name="keys.yml", keys=[
        {"org_id": "org1", "role": "consensus", "public_key": key("crypto/org1/node/consensus1")},
        {"org_id": "org2", "role": "common", "public_key": key("crypto/org2/node/common1")},
        {"org_id": "org2", "role": "client", "public_key": key("crypto/org2/user/client1")}])
    a = start("crypto/org1/node/consensus1", config=config)
    start("crypto/org2/node/common1", peers=[a.p2p_addr], config=config)
    start("crypto/org3/node/common1", peers=[a.p2p_addr], config=config)
    start("crypto/org2/user/client1", peers=[a.p2p_addr], config=config)
    peer = wait_until(lambda: authenticated(a), what="registered key admitted")[0]
    assert (peer["org"], peer["role"], peer["cert_serial"]) == ("org2", "common", None)
    assert "is not registered by any org" in wait_until(lambda: refusals(a, "unknown-key"), what="unknown key")[0]["reason"]
    assert "is registered as client of org org2" in wait_until(lambda: refusals(a, "wrong-role"),
                                                                what="client key refused")[0]["reason"]


# --- raw peers: wrong suite, bad signatures, malformed auth ------------------------------------

class AuthPeer:
    """Drives the handshake by hand up to the auth message."""

    def __init__(self, node: NodeProcess) -> None:
        from node_helpers import RawPeer

        self.raw = RawPeer(node.p2p_addr)
        self.genesis = bytes.fromhex(node.ready["genesis"])
        self.raw.send(Version(PROTOCOL_VERSION, b"idnode-test", self.genesis, 0, 777, 0, b"raw"))
        self.hello = self.raw.expect(AuthHello)
        self.raw.send(Verack())

    def send_auth(self, credential: bytes, signature: bytes) -> None:
        self.raw.send(Auth(credential, signature))


def sign_with(crypto: Path, folder: str, suite: str, nonce: bytes, genesis: bytes) -> tuple[bytes, bytes]:
    from labchain.identity import Certificate
    from labchain.identity.cryptogen import load_key

    key = load_key(next((crypto / folder).glob("*.sign.key")), suite)
    cert = Certificate.load(next((crypto / folder).glob("*.sign.crt")).read_text())
    return cert.der, key.sign(auth_message(nonce, "idnode-test", genesis))


def test_a_certificate_of_the_wrong_suite_and_a_bad_signature_are_refused(start, crypto):
    a = start("crypto/org1/node/consensus1")
    peer = AuthPeer(a)
    peer.send_auth(*sign_with(crypto, "sm/org1/node/consensus1", "sm2-sm3", peer.hello.nonce, peer.genesis))
    assert "an SM2 (sm2-sm3) certificate but this chain uses p256-sha256" in peer.raw.expect(Reject).reason.decode()
    assert refusals(a, "suite-mismatch") and logged(a, "this chain uses p256-sha256")
    peer = AuthPeer(a)
    der, _ = sign_with(crypto, "crypto/org2/node/consensus1", "p256-sha256", peer.hello.nonce, peer.genesis)
    _, other = sign_with(crypto, "crypto/org2/node/consensus1", "p256-sha256", b"\0" * 32, peer.genesis)
    peer.send_auth(der, other)   # a signature over another nonce: a replayed answer
    assert b"does not verify" in peer.raw.expect(Reject).reason
    bad = refusals(a, "bad-auth")[0]
    assert bad["misbehaviour_score"] == 50 and "does not hold the certificate's private key" in bad["reason"]


def test_a_public_chain_sends_no_auth_messages(tmp_path):
    from node_helpers import RawPeer

    node = NodeProcess.start(tmp_path / "pub")
    try:
        raw = RawPeer(node.p2p_addr)
        raw.send(Version(PROTOCOL_VERSION, b"regtest", bytes.fromhex(node.ready["genesis"]), 0, 5, 0, b"raw"))
        assert [type(raw.read()), type(raw.read())] == [Version, Verack]
        raw.send(Verack())
        assert node.rpc.getpeerinfo()[0].keys().isdisjoint({"org", "role", "cert_serial"})
        with pytest.raises(Exception):
            node.rpc.call("getrefusedpeers")
    finally:
        node.kill()


def test_malformed_auth_messages_score_the_peer_and_the_node_keeps_running(start, crypto):
    from hypothesis import HealthCheck, given, settings, strategies as st

    a = start("crypto/org1/node/consensus1")

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.binary(max_size=600), st.binary(max_size=128), st.booleans())
    def attempt(credential, signature, real_cert):
        peer = AuthPeer(a)
        if real_cert:  # a member certificate with a garbage signature
            credential = (crypto / "crypto/org2/node/common1/common1.sign.crt").read_text().encode()
            from labchain.identity import Certificate

            credential = Certificate.load(credential.decode()).der
        peer.send_auth(credential, signature)
        assert peer.raw.closed_by_node()
        peer.raw.close()

    attempt()
    assert a.rpc.getblockcount() == 0            # still serving
    scored = refusals(a, "bad-auth")
    assert scored and all(r["misbehaviour_score"] >= 50 for r in scored)


def test_a_bad_identity_section_is_a_config_error_naming_the_key(crypto):
    data = yaml.safe_load(chain_file(crypto).read_text())
    data["identity"]["mode"] = "permissionedWithCert"
    bad = crypto / "bad.yml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="identity.mode is 'permissionedWithCert'; allowed: permissioned-cert"):
        load_config(bad)
    data["identity"] = {"mode": "permissioned-cert", "trust_roots": [{"org_id": "org1", "root": ["nope.crt"]}]}
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"identity.trust_roots\[0\].root\[0\]: cannot read"):
        load_config(bad)
    assert load_config(chain_file(crypto)).identity.store.orgs() == ("org1", "org2")
