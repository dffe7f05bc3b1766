"""Byzantine faults on real nodes (labchain/node/faults.py ``byzantine``, the simulator's
ByzantineEngine inside labchain/node/consensus.py) and equivocation evidence: the record and
its checks, then 4 real TBFT validator processes where node1 double-votes (the conflicting
votes only to node3, so node0 and node2 learn of it from the evidence gossip): the chain stays
one chain and keeps committing, every honest node holds verified evidence naming node1 and a
certificate records it; forged evidence over RPC is refused with the reason; the CLI sets and
shows it; a double-proposing node cannot split the chain. PBFT: a double-voting backup is
reported by the honest replicas, safely. The simulator's twin of the TBFT run is
tests/labchain/consensus/tbft/test_tbft_evidence.py (same schedule)."""
import dataclasses
import json
import subprocess
import sys

import pytest

from labchain.consensus.faults import FaultSchedule
from labchain.consensus.tbft import DuplicateVoteEvidence
from labchain.core.errors import LabchainError
from labchain.node.faults import LinkFault, NodeFaultError
from labchain.node.rpc import RpcError
from labchain.testnet import Testnet

from tests.labchain.node.consensus_helpers import assert_same_chain, heights, wait_for

KNOWN = {"node1", "node2", "node3"}
#: the schedule both this test and the simulator's twin run (JSON, as a student would write it)
SCHEDULE = FaultSchedule.from_json('{"byzantine": {"node1": "double_vote"}}')


def test_a_byzantine_fault_round_trips_and_reads_back_in_the_cli_spelling():
    fault = LinkFault.build(byzantine="double-vote", targets=["node3"], known=KNOWN, own="node0",
                            engine="tbft")
    assert LinkFault.from_bytes(fault.to_bytes()) == fault
    assert LinkFault.from_json(json.loads(json.dumps(fault.to_json()))) == fault
    assert fault.behaviour == "double_vote" and fault.active
    assert (fault.describe()["byzantine"], fault.describe()["targets"]) == ("double-vote", ["node3"])
    honest = LinkFault.build(fault, byzantine="", known=KNOWN, own="node0")
    assert (honest.byzantine, honest.targets, honest.active) == (b"", (), False)
    assert LinkFault.build(byzantine="double_proposal", engine="pbft").describe()["byzantine"] \
        == "double-propose"


@pytest.mark.parametrize("fields, words", [
    ({"byzantine": "double-spend"}, "unknown Byzantine behaviour 'double-spend'"),
    ({"byzantine": "equivocate"}, "unknown Byzantine behaviour"),
    ({"byzantine": 3}, "behaviour name like 'double-vote'"),
    ({"byzantine": "double-vote", "engine": "raft"}, "needs a BFT engine .* this chain runs raft"),
    ({"byzantine": "double-propose", "targets": ["node2"]}, "targets name the peers of a double vote"),
    ({"byzantine": "double-vote", "targets": ["node7"]}, "unknown peer 'node7' in the targets"),
    ({"byzantine": "double-vote", "targets": ["node0"]}, "cannot name itself in the targets"),
    ({"byzantine": "double-vote", "targets": "node2"}, "targets must be a list"),
])
def test_a_bad_byzantine_fault_is_refused_with_a_sentence(fields, words):
    with pytest.raises(NodeFaultError, match=words) as info:
        LinkFault.build(known=KNOWN, own="node0", **{"engine": "tbft", **fields})
    assert isinstance(info.value, LabchainError)


def _apply_byzantine(tn, schedule: FaultSchedule, targets=None) -> None:
    """A schedule's Byzantine entries on the real nodes named ``nodeN``."""
    for name, behaviour in schedule.byzantine:
        report = tn.nodes[int(name.removeprefix("node"))].set_fault(byzantine=behaviour, targets=targets)
        assert report["byzantine"] and report["active"]


def _names_node1(evidence) -> bool:
    return bool(evidence) and all(e["offender"] == "node1" for e in evidence)


@pytest.fixture(scope="module")
def double_voted(tmp_path_factory):
    """tbft-4 with node1 double-voting towards node3 until every honest node holds evidence
    recorded in a certificate and 2 more blocks are final; then node1 is honest again."""
    with Testnet.start(nodes=4, topology="full", config="tbft-4",
                       dir=tmp_path_factory.mktemp("h_byzantine") / "net", timeout=120) as tn:
        wait_for(lambda: min(heights(tn, range(4))) >= 2, "the first TBFT blocks", timeout=120)
        _apply_byzantine(tn, SCHEDULE, targets=["node3"])
        start = max(heights(tn, [0, 2, 3]))
        for i in (0, 2, 3):
            wait_for(lambda: _names_node1(tn.nodes[i].evidence()),
                     f"node{i} to hold evidence against node1", timeout=60)
        wait_for(lambda: any(e["recorded_at"] for i in (0, 2, 3) for e in tn.nodes[i].evidence()),
                 "a commit certificate recording the evidence", timeout=60)
        wait_for(lambda: min(heights(tn, [0, 2, 3])) >= start + 2,
                 "the honest nodes to commit 2 blocks past the fault", timeout=60)
        yield tn
        tn.nodes[1].clear_faults()


def test_a_double_voting_node_is_caught_by_every_honest_node_and_the_chain_stays_one(double_voted):
    tn = double_voted
    top = min(heights(tn, range(4)))
    assert_same_chain(tn, [0, 1, 2, 3], top)               # no two blocks at one height
    for i in (0, 2, 3):
        pool = tn.nodes[i].evidence()
        assert _names_node1(pool)
        for e in pool:                                      # two signed votes, different blocks
            assert e["votes"][0]["value_hash"] != e["votes"][1]["value_hash"]
            assert e["step"] in ("prevote", "precommit")
            again = tn.nodes[i].rpc.submitevidence(e["hex"])   # re-checked, already pooled
            assert again["new"] is False and again["evidence"]["offender"] == "node1"
    tn.nodes[0].wait_for_log(r"equivocation evidence against node1: two (pre)?(vote|commit)s at height")
    assert tn.nodes[1].faults()["byzantine"] == "double-vote"
    assert tn.nodes[1].rpc.getconsensusstate()["byzantine"] == "double_vote"


def test_forged_evidence_is_refused_with_the_reason_and_the_node_keeps_committing(double_voted):
    tn = double_voted
    genuine = DuplicateVoteEvidence.from_bytes(bytes.fromhex(tn.nodes[2].evidence()[0]["hex"]))
    sig = bytearray(genuine.signature_b)
    sig[-1] ^= 1
    forged = dataclasses.replace(genuine, signature_b=bytes(sig))
    rpc = tn.nodes[2].rpc
    before = rpc.getevidence()["rejected"]
    with pytest.raises(RpcError, match="evidence rejected: a signature in the evidence against "
                                       "node1 is not node1's") as info:
        rpc.submitevidence(forged.to_bytes().hex())
    assert info.value.code == -32602
    framed = dataclasses.replace(genuine, validator=b"node0")        # blame an honest node
    with pytest.raises(RpcError, match="not node0's"):
        rpc.submitevidence(framed.to_bytes().hex())
    for bad, words in (("zz", "hex of a DuplicateVoteEvidence"), ("01", "cannot be decoded")):
        with pytest.raises(RpcError, match=words):
            rpc.submitevidence(bad)
    report = rpc.getevidence()
    assert report["rejected"] == before + 3
    assert _names_node1(report["evidence"])                          # nothing forged got in
    start = heights(tn, [2])[0]
    wait_for(lambda: heights(tn, [2])[0] > start, "node2 to keep committing", timeout=60)


def test_bad_byzantine_parameters_over_rpc_get_invalid_params_and_change_nothing(double_voted):
    rpc = double_voted.nodes[3].rpc
    for kwargs, words in (({"byzantine": "double-spend"}, "unknown Byzantine behaviour"),
                          ({"byzantine": "double-propose", "targets": ["node1"]},
                           "targets name the peers of a double vote")):
        with pytest.raises(RpcError, match=words) as info:
            rpc.setfault(None, None, None, None, kwargs["byzantine"], kwargs.get("targets"))
        assert info.value.code == -32602
    assert rpc.getfaults()["active"] is False


def _cli(tn, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labchain.cli", "testnet", "fault", *args, "--dir",
                           str(tn.dir)], capture_output=True, text=True, timeout=60)


def test_the_cli_shows_the_byzantine_node_and_refuses_a_bad_behaviour(double_voted):
    shown = _cli(double_voted, "1")
    assert shown.returncode == 0, shown.stderr
    assert "node1: Byzantine: double-vote towards node3" in shown.stdout
    bad = _cli(double_voted, "2", "--byzantine", "double-spend")
    assert bad.returncode != 0 and "unknown Byzantine behaviour 'double-spend'" in bad.stderr + bad.stdout
    assert double_voted.nodes[2].faults()["active"] is False


def test_a_double_proposing_node_cannot_split_the_chain(double_voted):
    tn = double_voted
    assert tn.nodes[1].clear_faults()["active"] is False           # one faulty node at a time
    tn.nodes[2].set_fault(byzantine="double-propose")
    start = max(heights(tn, range(4)))
    wait_for(lambda: min(heights(tn, [0, 1, 3])) >= start + 6,    # node2 proposes 1 in 4
             "the others to commit 6 blocks past a double-proposing node2", timeout=80)
    for i in (1, 3):                       # the second half of the honest peers got the forgery
        tn.nodes[i].wait_for_log(r"proposal at height \d+ refused: the value is not a utxo block")
    assert_same_chain(tn, [0, 1, 2, 3], min(heights(tn, range(4))))
    tn.nodes[2].clear_faults()


def test_pbft_double_voting_backup_is_reported_and_the_chain_stays_one(tmp_path):
    with Testnet.start(nodes=4, topology="full", config="pbft-4", dir=tmp_path / "h_pbft",
                       timeout=120) as tn:
        wait_for(lambda: min(heights(tn, range(4))) >= 2, "the first PBFT blocks", timeout=120)
        tn.nodes[2].set_fault(byzantine="double-vote")
        start = max(heights(tn, [0, 1, 3]))
        for i in (0, 1, 3):
            wait_for(lambda: _names_node2(tn.nodes[i].rpc.getevidence()),
                     f"node{i} to report node2's equivocation", timeout=60)
        wait_for(lambda: min(heights(tn, [0, 1, 3])) >= start + 3,
                 "the honest replicas to keep committing", timeout=60)
        assert_same_chain(tn, [0, 1, 3], min(heights(tn, [0, 1, 3])))
        with pytest.raises(RpcError, match="keeps no evidence pool"):
            tn.nodes[0].rpc.submitevidence("00")


def _names_node2(report) -> bool:
    return report["engine"] == "pbft" and bool(report["evidence"]) and all(
        e["offender"] == "node2" and "equivocation" in e["reason"] for e in report["evidence"])
