"""Solo on real node processes: node0 proposes every block_interval, node1 and node2 follow;
a transaction sent to a follower is committed; a killed follower catches up on restart;
mining and revert are refused on an engine chain."""
import pytest

from labchain.node.rpc import RpcError
from labchain.testnet import Testnet

from tests.labchain.node.consensus_helpers import assert_same_chain, wait_all_at_least, wait_for


@pytest.fixture(scope="module")
def solo(tmp_path_factory):
    tn = Testnet.start(nodes=3, topology="full", config="solo", dir=tmp_path_factory.mktemp("solo"))
    yield tn
    tn.down()


def test_the_proposer_commits_blocks_and_the_followers_hold_the_same_ones(solo):
    wait_all_at_least(solo, [0, 1, 2], 3)
    top = min(n.rpc.getblockcount() for n in solo.nodes)
    assert_same_chain(solo, [0, 1, 2], top)
    states = [n.rpc.getconsensusstate() for n in solo.nodes]
    assert [s["role"] for s in states] == ["proposer", "follower", "follower"]
    assert {s["leader"] for s in states} == {"node0"}
    assert solo.leader() == 0


def test_a_transaction_sent_to_a_follower_is_committed_on_every_node(solo):
    accounts = [a["address"] for a in solo.nodes[2].rpc.listaccounts()]
    txid = solo.nodes[2].rpc.sendtoaddress(accounts[3], accounts[4], 12_345)
    found = wait_for(lambda: all(n.rpc.gettransaction(txid).get("confirmations", 0) >= 1 for n in solo.nodes),
                     "the follower's transaction to be committed on all nodes")
    assert found
    heights = {n.rpc.gettransaction(txid)["height"] for n in solo.nodes}
    assert len(heights) == 1                         # the same block everywhere


def test_mining_revert_and_invalidateblock_are_refused_on_an_engine_chain(solo):
    with pytest.raises(RpcError, match="sealed by solo consensus"):
        solo.nodes[1].rpc.generate(1)
    snap = solo.nodes[1].rpc.snapshot()
    with pytest.raises(RpcError, match="final"):
        solo.nodes[1].rpc.revert(snap)
    with pytest.raises(RpcError, match="invalidateblock is refused"):
        solo.nodes[1].rpc.invalidateblock(solo.nodes[1].rpc.getblock(1)["header"]["hash"])
    assert solo.nodes[1].rpc.getblock(1)["header"]["hash"] == solo.nodes[0].rpc.getblock(1)["header"]["hash"]


def test_a_killed_follower_catches_up_after_restart_without_a_fork(solo):
    solo.kill(2)
    start = solo.nodes[0].rpc.getblockcount()
    wait_all_at_least(solo, [0, 1], start + 3)
    solo.restart(2)
    target = solo.nodes[0].rpc.getblockcount()
    wait_all_at_least(solo, [2], target)
    assert_same_chain(solo, [0, 1, 2], target)


def test_a_restarted_proposer_resumes_at_its_height_and_the_followers_accept_its_blocks(solo):
    solo.kill(0)
    frozen = [solo.nodes[i].rpc.getblockcount() for i in (1, 2)]
    solo.restart(0)
    restarted_at = solo.nodes[0].rpc.getblockcount()
    assert restarted_at >= max(frozen)                # its own blocks were on disk before it sent them
    wait_all_at_least(solo, [0, 1, 2], restarted_at + 3)
    top = min(n.rpc.getblockcount() for n in solo.nodes)
    assert_same_chain(solo, [0, 1, 2], top)
    assert solo.nodes[0].rpc.getconsensusstate()["role"] == "proposer"
