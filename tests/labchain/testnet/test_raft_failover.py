"""Raft on 3 real node processes under a steady transaction load: SIGKILL the leader -> a new
leader is elected, no committed block is lost or changed, every acknowledged transaction is
committed exactly once; the old leader restarts and catches up on the same chain."""
import time

import pytest

from labchain.core.config import load_config
from labchain.testnet import Testnet

from tests.labchain.node.consensus_helpers import assert_same_chain, wait_all_at_least, wait_for
from tests.labchain.testnet.consensus_load import Load, committed_txids

RAFT3 = load_config("raft-3").params.consensus
TICK = RAFT3.get("tick")
LOW, HIGH = RAFT3.get("election_tick") * TICK, 2 * RAFT3.get("election_tick") * TICK


@pytest.fixture
def raft3(tmp_path):
    tn = Testnet.start(nodes=3, topology="full", config="raft-3", dir=tmp_path / "net")
    yield tn
    tn.down()


def _acked_committed(tn, indexes, acked):
    """True once every acked txid is in a block on every node of ``indexes``."""
    for i in indexes:
        for txid in acked:
            if tn.nodes[i].rpc.gettransaction(txid).get("confirmations", 0) < 1:
                return False
    return True


def test_killing_the_raft_leader_under_load_loses_nothing_and_it_catches_up(raft3):
    tn = raft3
    leader = tn.leader(timeout=60)
    assert leader is not None, "no Raft leader was elected"
    old_term = tn.nodes[leader].rpc.getconsensusstate()["term"]
    client = (leader + 1) % 3                       # the load goes to a follower that stays up
    survivors = [i for i in range(3) if i != leader]
    addresses = [a["address"] for a in tn.nodes[client].rpc.listaccounts()]
    load = Load(tn.nodes[client].rpc_url, addresses)
    load.start()
    try:
        wait_for(lambda: len(load.acked) >= 20, "20 acknowledged transactions before the kill")
        wait_all_at_least(tn, [0, 1, 2], 3)
        before_top = min(tn.nodes[i].rpc.getblockcount() for i in range(3))
        before = assert_same_chain(tn, [0, 1, 2], before_top)

        tn.kill(leader)
        killed_at = time.monotonic()
        new_leader = wait_for(lambda: (l := tn.leader()) is not None and l != leader and l + 1,
                              "a new leader among the survivors", timeout=20 * HIGH) - 1
        failover = time.monotonic() - killed_at
        state = tn.nodes[new_leader].rpc.getconsensusstate()
        assert new_leader in survivors and state["term"] > old_term
        assert state["election_timeout"] == [LOW, HIGH]
        acked_at_kill = len(load.acked)
        wait_for(lambda: len(load.acked) >= acked_at_kill + 20, "20 more acknowledged transactions")
    finally:
        acked = load.stop()
    print(f"failover {failover:.2f} s (election timeout {LOW}-{HIGH} s), {len(acked)} acked, "
          f"{load.refused} refused")

    wait_for(lambda: _acked_committed(tn, survivors, acked), "every acknowledged transaction committed",
             timeout=120)
    top = min(tn.nodes[i].rpc.getblockcount() for i in survivors)
    after = assert_same_chain(tn, survivors, top)
    assert after[:before_top + 1] == before            # no committed block lost or changed
    counts = committed_txids(tn.nodes[survivors[0]], top)
    assert all(counts[t] == 1 for t in acked), "an acknowledged transaction is not committed exactly once"

    tn.restart(leader)
    wait_all_at_least(tn, [leader], top)
    final = assert_same_chain(tn, [0, 1, 2], top)
    assert final[:before_top + 1] == before
    assert tn.nodes[leader].rpc.getconsensusstate()["term"] >= state["term"]
