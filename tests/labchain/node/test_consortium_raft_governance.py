"""consortium-4org-raft on real node processes: four Raft validators (org1..org4) and a regulator
common node that follows every final block and never votes; governance transactions endorsed
by org admins go on chain and take effect on every node at the same height."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from labchain.node.rpc import RpcError
from labchain.testnet import Testnet
from polling import wait_until

BLOCK = "CHAIN_CONFIG-BLOCK_UPDATE"
REGULATOR = 4


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    folder = tmp_path_factory.mktemp("G-consortium-raft")
    tn = Testnet.start(config="consortium-4org-raft", dir=folder / "tn", timeout=120)
    try:
        wait_until(lambda: tn.leader() is not None, 60, "a Raft leader")
        yield tn
    finally:
        tn.down()


def heights(tn):
    return [n.rpc.getblockcount() for n in tn.nodes]


def governance_everywhere(tn, predicate, what, but=()):
    return wait_until(lambda: all(predicate(n.rpc.getgovernance()) for n in tn.nodes if n.index not in but),
                      60, what)


def test_the_regulator_follows_every_final_block_and_never_votes(net):
    reg = net.nodes[REGULATOR]
    assert reg.rpc.call("getidentity")["certificate"].startswith("common1.regulator")
    state = reg.rpc.getconsensusstate()
    assert state["voter"] is False and state["type"] == "raft"
    leader = net.nodes[net.leader(timeout=30)]
    assert "node4" not in leader.rpc.getconsensusstate()["peers"]      # never replicated to, never votes
    # a transaction makes a new block; the regulator holds the very same chain
    address = reg.rpc.call("listaccounts")[1]["address"]
    net.nodes[0].rpc.call("sendtransaction", _transfer(net, address))
    target = wait_until(lambda: min(heights(net)[:4]) >= 2 and max(heights(net)[:4]), 60, "a new block")
    wait_until(lambda: reg.rpc.getblockcount() >= target, 60, "the regulator at the validators' height")
    for h in range(1, target + 1):
        assert reg.rpc.getblock(h)["hash"] == net.nodes[0].rpc.getblock(h)["hash"]
    assert reg.rpc.call("getbalance", address) == net.nodes[0].rpc.call("getbalance", address)
    # a regulator that is down does not stop the validators; it catches up when it is back
    net.kill(REGULATOR)
    before = net.nodes[0].rpc.getblockcount()
    net.nodes[1].rpc.call("sendtransaction", _transfer(net, address, sender=1))
    wait_until(lambda: net.nodes[0].rpc.getblockcount() > before, 60, "blocks without the regulator")
    net.restart(REGULATOR, wait_connected=False)
    wait_until(lambda: net.nodes[REGULATOR].rpc.getbestblockhash() == net.nodes[0].rpc.getbestblockhash(),
               60, "the restarted regulator caught up")


def _transfer(net, to, sender=0):
    from labchain.core.config import load_config
    from labchain.ledger.account.wallet import AccountWallet

    wallet = AccountWallet(load_config(net.params).params)
    nonce = net.nodes[0].rpc.call("getaccount", str(wallet.address(sender)))["pending_nonce"]
    return wallet.transfer(sender, to, 1000, nonce).to_bytes().hex()


def test_an_underendorsed_config_update_is_refused_with_the_trace_and_changes_nothing(net):
    gov = net.governance
    gtx = gov.propose_config([(BLOCK, "block.block_interval", "700")])
    short = gov.endorse(gtx, ["org1", "org2"])
    with pytest.raises(RpcError) as info:
        gov.send(short)
    text = str(info.value)
    assert "majority (3) of 5 orgs" in text and "2 of 3 counted (admin1.org1, admin1.org2)" in text
    assert "missing org3, org4, regulator" in text
    [trace] = gov.check(short)["traces"]
    assert trace["counted"] == [{"signer": "admin1.org1", "org": "org1", "role": "admin"},
                                {"signer": "admin1.org2", "org": "org2", "role": "admin"}]
    assert trace["missing_orgs"] == ["org3", "org4", "regulator"] and not trace["satisfied"]
    # a client's signature is ignored with its reason
    [trace] = gov.check(gov.endorse(gtx, ["org3"], name="client1"))["traces"]
    assert trace["ignored"][0]["reason"] == "wrong role client, needs admin"
    assert net.nodes[0].rpc.getgovernance()["sequence"] == gtx.action().sequence - 1


def test_an_endorsed_config_update_moves_the_sequence_on_every_node_at_the_same_height(net):
    gov = net.governance
    start = gov.state()["sequence"]
    gtx = gov.endorse(gov.propose_config([(BLOCK, "block.block_interval", "500")]), ["org1", "org3", "org4"])
    answer = gov.send(gtx)
    assert answer["traces"][0]["satisfied"]
    governance_everywhere(net, lambda s: s["sequence"] == start + 1, "the new sequence on every node")
    outcomes = [[o for o in n.rpc.getgovernance()["history"] if o["txid"] == answer["txid"]] for n in net.nodes]
    assert {json.dumps(o) for o in outcomes} == {json.dumps(outcomes[0])}   # same height, same outcome
    assert outcomes[0][0]["accepted"] and outcomes[0][0]["sequence"] == start + 1
    assert net.nodes[REGULATOR].rpc.getgovernance()["values"]["block.block_interval"] == "500"
    # the endorsements were for the old sequence: sending the same record again is refused
    with pytest.raises(RpcError, match="stale or replayed"):
        gov.send(gtx)


def test_a_certificate_frozen_by_governance_is_refused_by_every_peer_from_the_next_block(net):
    gov = net.governance
    gtx = gov.endorse(gov.propose_member_op("freeze", "consensus1.org4"), ["org2"])
    answer = gov.send(gtx)
    # node3 itself may never learn that the block is committed: its peers drop it at once
    governance_everywhere(net, lambda s: len(s["frozen"]) == 1, "the frozen certificate on every other node",
                          but=(3,))
    height = net.nodes[0].rpc.getgovernance()["history"][-1]["height"]

    def refused_everywhere():
        for n in net.nodes[:3] + [net.nodes[REGULATOR]]:
            names = {p["name"] for p in n.rpc.getpeerinfo() if p["handshake_done"]}
            reasons = [r for r in n.rpc.call("getrefusedpeers") if r["code"] == "frozen"]
            if "node3" in names or not reasons:
                return False
        return True

    wait_until(refused_everywhere, 60, "node3 refused by every other node")
    refusal = net.nodes[0].rpc.call("getrefusedpeers")[-1]
    assert "consensus1.org4" in refusal["reason"] and "frozen" in refusal["reason"]
    shown = [p for p in net.nodes[1].rpc.getpeerinfo(True) if p.get("refused")]
    assert shown and shown[-1]["code"] == "frozen" and "consensus1.org4" in shown[-1]["reason"]
    assert not any(p.get("refused") for p in net.nodes[1].rpc.getpeerinfo())   # default: connected only
    assert answer["txid"] in {o["txid"] for o in net.nodes[1].rpc.getgovernance()["history"]}
    # the three unfrozen validators go on committing; the regulator still follows
    tip = net.nodes[0].rpc.getblockcount()
    net.nodes[0].rpc.call("sendtransaction", _transfer(net, net.nodes[0].rpc.call("listaccounts")[3]["address"], 2))
    wait_until(lambda: net.nodes[REGULATOR].rpc.getblockcount() > max(tip, height), 60, "blocks after the freeze")
    # unfreezing by governance lets node3 back in
    gov.send(gov.endorse(gov.propose_member_op("unfreeze", "consensus1.org4"), ["org1"]))
    governance_everywhere(net, lambda s: s["frozen"] == [], "the unfreeze", but=(3,))
    wait_until(lambda: "node3" in {p["name"] for p in net.nodes[0].rpc.getpeerinfo() if p["handshake_done"]},
               60, "node3 reconnected")
    # back in, node3 catches up and replays both operations at the heights every node saw
    wait_until(lambda: net.nodes[3].rpc.getgovernance()["history"] == net.nodes[0].rpc.getgovernance()["history"],
               60, "node3's governance history equal to node0's")
    assert net.nodes[3].rpc.getgovernance()["frozen"] == []
    assert net.nodes[3].rpc.getgovernance()["member_sequence"] == 2     # freeze, unfreeze


def test_bad_governance_input_is_refused_and_the_node_keeps_serving(net):
    rpc = net.nodes[0].rpc
    with pytest.raises(RpcError, match="not a governance record in hex"):
        rpc.sendgovernance("zz")
    with pytest.raises(RpcError, match="unknown member operation 'melt'"):
        rpc.proposememberop("melt", "org1")
    with pytest.raises(RpcError, match="changes must be a non-empty list"):
        rpc.proposeconfigupdate([])
    with pytest.raises(RpcError, match="unknown resource"):
        rpc.sendgovernance(net.governance.endorse(net.governance.propose_config(
            [("CHAIN_CONFIG-NOPE", "x", "1")]), ["org1", "org2", "org3"]).to_bytes().hex())
    assert rpc.getblockcount() >= 1


def test_the_governance_command_line_shows_checks_and_refuses_without_a_traceback(net):
    base = [sys.executable, "-m", "labchain.testnet", "governance"]
    where = ["--dir", str(net.dir)]
    show = subprocess.run(base + ["show"] + where, capture_output=True, text=True, timeout=60)
    assert show.returncode == 0, show.stderr
    assert "config sequence" in show.stdout
    check = subprocess.run(base + ["config", BLOCK, "block.block_tx_capacity", "50", "--orgs", "org1", "--check"]
                           + where, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    assert "would be rejected" in check.stdout and "missing org2" in check.stdout
    refused = subprocess.run(base + ["config", BLOCK, "block.block_tx_capacity", "50", "--orgs", "org1"] + where,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "governance rejected" in refused.stderr and "missing org2" in refused.stderr
    unknown = subprocess.run(base + ["freeze", "consensus1.org9", "--orgs", "org1"] + where,
                             capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "no org 'org9' in this consortium" in unknown.stderr


def test_governance_on_the_utxo_consortium_is_refused_with_a_sentence(tmp_path):
    """consortium-4org (pow, UTXO: labs 09 and 14) keeps working as before; its transactions'
    memo cannot carry endorsements, and sendgovernance says so."""
    tn = Testnet.start(config="consortium-4org", dir=tmp_path / "pow", timeout=120)
    try:
        gov = tn.governance
        gtx = gov.endorse(gov.propose_member_op("freeze", "consensus1.org2"), ["org1"])
        assert gov.check(gtx)["accepted"] is True
        with pytest.raises(RpcError, match="need an account-ledger chain"):
            gov.send(gtx)
        assert gov.state()["supported"] is False and gov.state()["frozen"] == []
        tn.nodes[0].rpc.generate(1)
        assert tn.sync_blocks(timeout=60) == tn.nodes[4].rpc.getbestblockhash()
    finally:
        tn.down()
