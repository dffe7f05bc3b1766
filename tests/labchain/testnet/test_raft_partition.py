"""Raft on 5 real node processes: partition the leader into a minority of 2 -> the minority
commits nothing new, the majority of 3 elects a leader and goes on; heal -> every node holds
the same chain (no fork) and the transactions acknowledged on both sides are committed once."""
import time

from labchain.core.config import load_config
from labchain.testnet import Testnet

from tests.labchain.node.consensus_helpers import assert_same_chain, heights, wait_all_at_least, wait_for
from tests.labchain.testnet.consensus_load import Load, committed_txids

RAFT5 = load_config("raft-5").params.consensus
HIGH = 2 * RAFT5.get("election_tick") * RAFT5.get("tick")


def test_a_partitioned_raft_leader_commits_nothing_and_heal_converges_without_a_fork(tmp_path):
    with Testnet.start(nodes=5, topology="full", config="raft-5", dir=tmp_path / "net") as tn:
        leader = tn.leader(timeout=60)
        assert leader is not None
        minority = [leader, (leader + 1) % 5]
        majority = [i for i in range(5) if i not in minority]
        addresses = [a["address"] for a in tn.nodes[0].rpc.listaccounts()]
        wait_all_at_least(tn, range(5), 1)

        tn.partition(minority, majority)
        time.sleep(2 * HIGH)                         # commits already in flight land first
        frozen = heights(tn, minority)
        # clients on both sides; the minority's transactions cannot commit until the heal
        loads = [Load(tn.nodes[minority[1]].rpc_url, addresses[:9] + addresses[9:], every=0.2),
                 Load(tn.nodes[majority[0]].rpc_url, addresses, every=0.1)]
        for load in loads:
            load.start()
        try:
            new_leader = wait_for(lambda: (l := tn.leader()) in majority and l + 1,
                                  "a leader in the majority", timeout=30 * HIGH) - 1
            assert new_leader in majority
            start = min(heights(tn, majority))
            wait_all_at_least(tn, majority, start + 5)
            assert heights(tn, minority) == frozen, "the minority committed a block"
            minority_roles = {tn.nodes[i].rpc.getconsensusstate()["role"] for i in minority}
            assert "leader" not in minority_roles or \
                tn.nodes[leader].rpc.getconsensusstate()["term"] < tn.nodes[new_leader].rpc.getconsensusstate()["term"]
        finally:
            acked = [t for load in loads for t in load.stop()]
        # what the minority holds is a prefix of the majority's chain
        for i in minority:
            assert assert_same_chain(tn, [i, majority[0]], frozen[minority.index(i)])

        tn.heal()
        wait_for(lambda: all(tn.nodes[i].rpc.gettransaction(t).get("confirmations", 0) >= 1
                             for i in range(5) for t in acked),
                 "every acknowledged transaction committed on every node", timeout=180)
        top = min(heights(tn, range(5)))
        assert_same_chain(tn, list(range(5)), top)
        counts = committed_txids(tn.nodes[0], top)
        assert all(counts[t] == 1 for t in acked)
