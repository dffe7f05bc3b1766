"""Governed block parameters on real node processes (issue #12: "the new config applies from the
next block on every node"): on consortium-4org-raft, a config update of
``block.block_tx_capacity`` to 2 endorsed by three org admins holds from the block after the one
that carries it: ten transactions then fill blocks of at most 2, and every node (the four Raft
validators and the regulator) reports the same capacity from the same height and config sequence
in ``getconsensusstate``; a ``block.block_interval`` update shows the same way. Values no node
could use (capacity 0, a negative interval, text, an unknown key, an interval PBFT could not
keep) are refused with a sentence before anything is sent, and the nodes keep serving."""
from __future__ import annotations

import pytest

from labchain.core.config import load_config
from labchain.identity import ConfigChange, ConfigUpdate
from labchain.identity.errors import ConfigUpdateError
from labchain.identity.onchain import GovernanceState, GovernanceTx, check_values
from labchain.ledger.account.wallet import AccountWallet
from labchain.node.rpc import RpcError
from labchain.testnet import Testnet
from polling import wait_until

BLOCK = "CHAIN_CONFIG-BLOCK_UPDATE"
ENDORSERS = ["org1", "org3", "org4"]          # a majority of the 5 orgs


# --- the value rules (pure) ------------------------------------------------------------------

@pytest.mark.parametrize("key, value, sentence", [
    ("block.block_tx_capacity", "0", "block.block_tx_capacity='0' is refused: it must be from 1 to 1000000 transactions"),
    ("block.block_interval", "-200", "block.block_interval='-200' is refused: it must be from 1 to 600000 milliseconds"),
    ("block.block_interval", "fast", "'fast' is refused: it must be a whole number of milliseconds"),
    ("block.tx_timestamp_verify", "maybe", "it must be true or false"),
])
def test_a_block_value_no_node_could_use_is_refused_with_a_sentence(key, value, sentence):
    update = ConfigUpdate("c", 1, (ConfigChange(BLOCK, key, value),))
    with pytest.raises(ConfigUpdateError) as info:
        check_values(update)
    assert sentence in str(info.value)


def test_usable_block_values_pass_the_value_rules():
    check_values(ConfigUpdate("c", 1, (ConfigChange(BLOCK, "block.block_interval", "500"),
                                       ConfigChange(BLOCK, "block.block_tx_capacity", "2"),
                                       ConfigChange(BLOCK, "block.tx_timestamp_verify", "true"))))


def test_replay_records_a_bad_value_as_rejected_and_remembers_where_good_values_start():
    from labchain.identity.members import MemberStore

    state = GovernanceState.genesis("c", MemberStore("public", "p256-sha256"))
    bad = GovernanceTx.of(ConfigUpdate("c", 1, (ConfigChange(BLOCK, "block.block_tx_capacity", "0"),)))
    after = state.apply(bad, 3, "aa", None)
    assert after.config.sequence == 0 and not after.history[-1].accepted
    assert "is refused: it must be from 1" in after.history[-1].reason
    assert after.value_since("block.block_tx_capacity") is None


def test_a_proposal_over_the_capacity_in_force_is_refused_saying_since_when():
    from types import SimpleNamespace

    from labchain.chain import Chain
    from labchain.chain.finality import build_block
    from labchain.consensus.engine import BlockParams
    from labchain.node.consensus import NodeApplication

    params = load_config("tbft-4-account").params
    wallet = AccountWallet(params)
    chain = Chain(params, clock=lambda: params.genesis_timestamp + 10_000)
    try:
        txs = [wallet.transfer(0, str(wallet.address(1)), 5, n) for n in range(3)]
        three, _ = build_block(chain, txs, wallet.addresses[4])
        two, _ = build_block(chain, txs, wallet.addresses[4], capacity=2)
        app = NodeApplication(SimpleNamespace(chain=chain), lambda: BlockParams(7, 0.5, 2, 3))
        assert app.check(1, three.to_bytes()) == ("the block at height 1 holds 3 transactions, more than the "
                                                  "block_tx_capacity of 2 in force since height 7 (chain config "
                                                  "sequence 3)")
        assert app.check(1, two.to_bytes()) is None and len(two.transactions) == 2
        assert NodeApplication(SimpleNamespace(chain=chain)).check(1, three.to_bytes()) is None   # no limit given
    finally:
        chain.close()


# --- real processes ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def net(tmp_path_factory):
    folder = tmp_path_factory.mktemp("H2-governed-params")
    tn = Testnet.start(config="consortium-4org-raft", dir=folder / "tn", timeout=120)
    try:
        wait_until(lambda: tn.leader() is not None, 60, "a Raft leader")
        yield tn
    finally:
        tn.down()


def _update(net, key: str, value: str) -> tuple[int, int]:
    """Send an endorsed update; (height of its block, the new sequence) once every node has it."""
    gov = net.governance
    answer = gov.send(gov.endorse(gov.propose_config([(BLOCK, key, value)]), ENDORSERS))
    wait_until(lambda: all(any(o["txid"] == answer["txid"] for o in n.rpc.getgovernance()["history"])
                           for n in net.nodes), 60, f"the {key} update on every node")
    [outcome] = [o for o in net.nodes[0].rpc.getgovernance()["history"] if o["txid"] == answer["txid"]]
    assert outcome["accepted"], outcome
    return outcome["height"], outcome["sequence"]


def _in_force(net, key: str, value, height: int, sequence: int) -> None:
    def everywhere():
        states = [n.rpc.getconsensusstate() for n in net.nodes]
        return all(s["block"][key] == value and s["block"]["from_height"] == height + 1
                   and s["block"]["config_sequence"] == sequence for s in states)
    wait_until(everywhere, 60, f"{key}={value} from height {height + 1} on every node")


def _transfers(net, count: int) -> list[str]:
    wallet = AccountWallet(load_config(net.params).params)
    to = str(wallet.address(5))
    nonce = net.nodes[0].rpc.call("getaccount", str(wallet.address(2)))["pending_nonce"]
    return [net.nodes[0].rpc.call("sendtransaction", wallet.transfer(2, to, 1000, nonce + i).to_bytes().hex())
            for i in range(count)]


def _block_txids(node, height: int) -> list[str]:
    return [tx["txid"] for tx in node.rpc.getblock(height)["transactions"]]


def _hash(node, height: int) -> str:
    block = node.rpc.getblock(height)
    return block.get("hash") or block["header"]["hash"]


def _committed_after(net, height: int, txids: list[str], reader: int) -> tuple[int, dict[int, int]]:
    """Wait until every node's chain holds ``txids`` above ``height``; (the lowest tip, the number
    of transactions of each block above ``height`` as node ``reader`` has them). Each of ``txids``
    is in exactly one block."""
    seen: list[str] = []

    def all_committed():
        top = min(n.rpc.getblockcount() for n in net.nodes)
        seen[:] = [t for h in range(height + 1, top + 1) for t in _block_txids(net.nodes[reader], h)]
        return all(t in seen for t in txids) and top
    top = wait_until(all_committed, 120, f"the {len(txids)} transactions in blocks on every node")
    assert all(seen.count(t) == 1 for t in txids)
    return top, {h: len(_block_txids(net.nodes[reader], h)) for h in range(height + 1, top + 1)}


def test_a_governed_block_tx_capacity_holds_from_the_next_block_on_every_node(net):
    height, sequence = _update(net, "block.block_tx_capacity", "2")
    _in_force(net, "block_tx_capacity", 2, height, sequence)
    txids = _transfers(net, 10)
    top, sizes = _committed_after(net, height, txids, reader=0)
    assert max(sizes.values()) <= 2 and len([n for n in sizes.values() if n]) >= 5, sizes
    for node in net.nodes[1:]:                                                      # the same blocks
        assert _hash(node, top) == _hash(net.nodes[0], top)
    state = net.nodes[4].rpc.getconsensusstate()                                    # the regulator too
    assert state["block"] == {"from_height": height + 1, "block_interval": 0.2, "block_tx_capacity": 2,
                              "config_sequence": sequence}


def test_a_governed_block_interval_shows_in_getconsensusstate_at_the_same_height_everywhere(net):
    height, sequence = _update(net, "block.block_interval", "300")
    _in_force(net, "block_interval", 0.3, height, sequence)
    assert {n.rpc.getconsensusstate()["block_params_refused"] is None for n in net.nodes} == {True}
    assert net.nodes[2].rpc.getgovernance()["values"]["block.block_interval"] == "300"


def test_a_restarted_validator_runs_with_the_governed_values_of_its_chain(net):
    before = net.nodes[0].rpc.getconsensusstate()["block"]
    assert before["config_sequence"] >= 1                      # the updates of the tests above
    net.kill(2)
    net.restart(2)
    wait_until(lambda: net.nodes[2].rpc.getconsensusstate()["block"] == before, 60,
               "node2 back with the governed values")
    tip = net.nodes[0].rpc.getblockcount()
    _transfers(net, 3)
    wait_until(lambda: net.nodes[2].rpc.getblockcount() > tip, 60, "node2 following new blocks")


@pytest.mark.parametrize("key, value, match", [
    ("block.block_tx_capacity", "0", "it must be from 1 to 1000000 transactions"),
    ("block.block_interval", "-5", "it must be from 1 to 600000 milliseconds"),
    ("block.block_tx_capacity", "20000", "over this chain's block rule of 10000 transactions"),
    ("block.block_speed", "9", "cannot set 'block.block_speed'"),
])
def test_bad_block_values_are_refused_before_sending_and_the_nodes_keep_running(net, key, value, match,
                                                                               monkeypatch):
    gov = net.governance
    before = gov.state()["sequence"]
    gtx = gov.endorse(gov.propose_config([(BLOCK, key, value)]), ENDORSERS)
    checked = gov.check(gtx)
    assert checked["accepted"] is False and match in checked["reason"]
    with pytest.raises(RpcError, match="governance rejected") as info:
        gov.send(gtx)
    monkeypatch.setenv("LABCHAIN_LANG", "zh-CN")             # the student's language, on the client side
    assert "治理交易被拒绝：" in str(info.value) and "refused" not in str(info.value)
    monkeypatch.delenv("LABCHAIN_LANG")
    assert gov.state()["sequence"] == before
    tip = net.nodes[0].rpc.getblockcount()
    _transfers(net, 1)
    wait_until(lambda: min(n.rpc.getblockcount() for n in net.nodes) > tip, 60, "a block after the refusal")


# --- a TBFT consortium: the capacity is the proposer's and every validator's check ----------

def _tbft_consortium(folder):
    """consortium-4org-raft's orgs, identities and governance on TBFT (the regulator, node4,
    follows without voting)."""
    import yaml

    from labchain.core.config import resolve

    data = yaml.safe_load(resolve("consortium-4org-raft").read_text(encoding="utf-8"))
    data["chain_id"] = "consortium-4org-tbft"
    data["consensus"] = {"type": "tbft", "validators": ["node0", "node1", "node2", "node3"],
                         "tbft": {"block_interval": 0.5, "block_tx_capacity": 1000,
                                  "TBFT_propose_timeout": 3.0, "TBFT_propose_delta_timeout": 0.5,
                                  "TBFT_blocks_per_proposer": 1}}
    path = folder / "consortium-4org-tbft.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_on_tbft_a_governed_capacity_bounds_every_later_proposal_on_every_node(tmp_path):
    tn = Testnet.start(config=str(_tbft_consortium(tmp_path)), dir=tmp_path / "tn", timeout=120)
    try:
        wait_until(lambda: min(n.rpc.getblockcount() for n in tn.nodes) >= 1, 60, "a first TBFT block")
        assert tn.nodes[4].rpc.getconsensusstate()["block"]["block_tx_capacity"] == 1000
        height, sequence = _update(tn, "block.block_tx_capacity", "2")
        _in_force(tn, "block_tx_capacity", 2, height, sequence)
        txids = _transfers(tn, 8)
        top, sizes = _committed_after(tn, height, txids, reader=1)
        assert max(sizes.values()) <= 2 and len([n for n in sizes.values() if n]) >= 4, sizes
        assert len({_hash(n, top) for n in tn.nodes}) == 1
        # an interval this engine has no use for is taken (TBFT's rounds have their own timeouts)
        gov = tn.governance
        assert gov.check(gov.endorse(gov.propose_config([(BLOCK, "block.block_interval", "100")]),
                                     ENDORSERS))["accepted"] is True
    finally:
        tn.down()


# --- PBFT: an interval the engine cannot keep is refused by the node --------------------------

def test_on_pbft_a_governed_interval_applies_at_one_height_and_one_over_the_request_timeout_is_refused(tmp_path):
    """PBFT has no non-voting node: the consortium without its regulator (4 orgs, majority 3)."""
    import yaml

    path = _tbft_consortium(tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["chain_id"] = "consortium-4org-pbft"
    data["consensus"] = {"type": "pbft", "validators": ["node0", "node1", "node2", "node3"],
                         "pbft": {"block_interval": 0.5, "block_tx_capacity": 1000, "request_timeout": 3.0,
                                  "checkpoint_period": 10}}
    data["identity"]["cryptogen"]["orgs"] = [o for o in data["identity"]["cryptogen"]["orgs"]
                                             if o["name"] != "regulator"]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    tn = Testnet.start(config=str(path), dir=tmp_path / "tn", timeout=120)
    try:
        wait_until(lambda: min(n.rpc.getblockcount() for n in tn.nodes) >= 1, 60, "a first PBFT block")
        assert len(tn.nodes) == 4
        height, sequence = _update(tn, "block.block_interval", "200")
        _in_force(tn, "block_interval", 0.2, height, sequence)
        gov = tn.governance
        slow = gov.endorse(gov.propose_config([(BLOCK, "block.block_interval", "5000")]), ENDORSERS)
        checked = gov.check(slow)
        assert checked["accepted"] is False
        assert "the pbft engine cannot use it: pbft: block_interval 5.0 s must stay below request_timeout " \
               "(3.0 s)" in checked["reason"]
        with pytest.raises(RpcError, match="governance rejected: the pbft engine cannot use it"):
            gov.send(slow)
        tip = tn.nodes[0].rpc.getblockcount()
        _transfers(tn, 2)
        wait_until(lambda: min(n.rpc.getblockcount() for n in tn.nodes) > tip, 60, "PBFT blocks after the refusal")
        assert {n.rpc.getconsensusstate()["block"]["block_interval"] for n in tn.nodes} == {0.2}
    finally:
        tn.down()
