"""The BFT fault scenario on 4 real validator processes (f = 1) under a transaction load: one
validator killed -> blocks keep committing; a second killed -> no block commits and no fork;
both restarted -> blocks commit again and the restarted validators catch up on the same chain;
every acknowledged transaction is committed exactly once. Run by test_pbft_testnet_faults.py and
test_tbft_testnet_faults.py (one file per engine keeps each under a minute)."""
import time

from labchain.testnet import Testnet

from tests.labchain.node.consensus_helpers import assert_same_chain, heights, wait_all_at_least, wait_for
from tests.labchain.testnet.consensus_load import Load, committed_txids


def run_bft_fault_scenario(config, tmp_path):
    """The scenario of the module docstring on the chain config ``config`` (4 validators)."""
    with Testnet.start(nodes=4, topology="full", config=config, dir=tmp_path / "net") as tn:
        wait_all_at_least(tn, range(4), 2)
        addresses = [a["address"] for a in tn.nodes[0].rpc.listaccounts()]
        load = Load(tn.nodes[0].rpc_url, addresses, every=0.1)
        load.start()
        try:
            tn.kill(3)                                   # f = 1: still a quorum of 3
            start = min(heights(tn, [0, 1, 2]))
            wait_all_at_least(tn, [0, 1, 2], start + 3, timeout=180)

            tn.kill(2)                                   # 2 of 4 left: no quorum
            time.sleep(8)                                # what was in flight lands first
            stalled = heights(tn, [0, 1])
            time.sleep(8)
            assert heights(tn, [0, 1]) == stalled, "blocks committed without a quorum"
            assert_same_chain(tn, [0, 1], min(stalled))

            tn.restart(2)
            tn.restart(3)
            wait_all_at_least(tn, range(4), max(stalled) + 3, timeout=240)
        finally:
            acked = load.stop()
        top = min(heights(tn, range(4)))
        assert_same_chain(tn, list(range(4)), top)
        wait_for(lambda: all(tn.nodes[0].rpc.gettransaction(t).get("confirmations", 0) >= 1 for t in acked),
                 "the acknowledged transactions committed", timeout=180)
        counts = committed_txids(tn.nodes[0], tn.nodes[0].rpc.getblockcount())
        assert all(counts[t] == 1 for t in acked)
