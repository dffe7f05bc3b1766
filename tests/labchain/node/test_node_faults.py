"""Link faults on real nodes (labchain/node/faults.py): the record and its checks, then 4 real
TBFT validator processes: one node partitioned off -> the other 3 keep committing and it does
not advance, healed -> it catches up on the same chain; a 2|2 split -> nobody commits (no 2f+1
quorum), healed -> commits resume; bad fault parameters over RPC -> a clear error and the node
keeps running. A PBFT smoke test of the one-node partition. Polls with generous deadlines."""
import json
import time

import pytest

from labchain.core.errors import EncodingError, LabchainError
from labchain.node.faults import NO_FAULT, LinkFault, NodeFaultError, NodeFaults
from labchain.node.rpc import RpcError
from labchain.testnet import Testnet

from tests.labchain.node.consensus_helpers import assert_same_chain, heights, wait_for

KNOWN = {"node1", "node2", "node3"}


# --- the record --------------------------------------------------------------------------------

def test_a_link_fault_round_trips_through_bytes_and_json():
    fault = LinkFault.build(partition=["node2", "node3"], delay_ms=200, drop=0.3, seed=7,
                            known=KNOWN, own="node0")
    assert LinkFault.from_bytes(fault.to_bytes()) == fault
    assert LinkFault.from_json(json.loads(json.dumps(fault.to_json()))) == fault
    assert fault.describe() == {"partition": ["node2", "node3"], "delay_ms": 200, "drop": 0.3,
                                "seed": 7, "byzantine": None, "targets": [], "active": True}


def test_setting_one_field_keeps_the_others_and_the_empty_fault_is_inactive():
    first = LinkFault.build(delay_ms=50, known=KNOWN, own="node0")
    both = LinkFault.build(first, drop=0.5, known=KNOWN, own="node0")
    assert (both.delay_ms, both.drop) == (50, 0.5)
    assert not NO_FAULT.active and both.active


@pytest.mark.parametrize("fields, words", [
    ({"partition": ["node9"]}, "unknown peer 'node9'"),
    ({"partition": ["node0"]}, "cannot be partitioned from itself"),
    ({"partition": "node2"}, "must be a list of peer names"),
    ({"partition": ["node2", "node2"]}, "names node2 twice"),
    ({"drop": 1.5}, "between 0 and 1"),
    ({"drop": -0.1}, "between 0 and 1"),
    ({"drop": True}, "between 0 and 1"),
    ({"delay_ms": -5}, "must not be negative"),
    ({"delay_ms": 10_001}, "at most 10000"),
    ({"delay_ms": "200"}, "number of milliseconds"),
    ({"seed": -1}, "seed must be an integer"),
])
def test_a_bad_fault_is_refused_with_a_sentence_naming_the_value(fields, words):
    with pytest.raises(NodeFaultError, match=words) as info:
        LinkFault.build(known=KNOWN, own="node0", **fields)
    assert isinstance(info.value, LabchainError)


def test_decoded_bytes_with_a_probability_above_one_are_refused():
    out = bytearray()
    for (name, codec), value in zip(LinkFault.ENCODING, ((), 0, 2_000_000, 0, b"", ())):
        codec.write(out, value, name)
    with pytest.raises(EncodingError, match="drop_ppm is 2000000, more than 1000000"):
        LinkFault.from_bytes(bytes(out))


class _Peer:
    def __init__(self, name):
        self.name, self.closed = name, False


def _Msg(command):
    """A stand-in message: the fault layer looks only at its type's COMMAND."""
    return type("Msg", (), {"COMMAND": command})()


def test_the_same_seed_drops_the_same_consensus_messages_and_nothing_else():
    def pattern(seed):
        faults = NodeFaults()
        faults.set(LinkFault.build(drop=0.3, seed=seed))
        return [faults.outgoing(_Peer("node1"), _Msg(b"consensus")) is None for _ in range(400)]

    first = pattern(1)
    assert first == pattern(1) and first != pattern(2)
    assert 60 < sum(first) < 180                    # about 30% of 400
    faults = NodeFaults()
    faults.set(LinkFault.build(drop=1.0))
    assert faults.outgoing(_Peer("node1"), _Msg(b"tx")) == 0.0          # never dropped
    assert faults.outgoing(_Peer("node1"), _Msg(b"consensus")) is None


def test_a_partition_cuts_both_directions_but_keeps_the_handshake_and_pings():
    faults = NodeFaults()
    faults.set(LinkFault.build(partition=["node2"], known=KNOWN, own="node0"))
    cut, other = _Peer("node2"), _Peer("node1")
    assert faults.outgoing(cut, _Msg(b"consensus")) is None
    assert not faults.incoming(cut, _Msg(b"inv"))
    assert faults.outgoing(cut, _Msg(b"ping")) == 0.0 and faults.incoming(cut, _Msg(b"pong"))
    assert faults.outgoing(cut, _Msg(b"version")) == 0.0
    assert faults.outgoing(other, _Msg(b"consensus")) == 0.0 and faults.incoming(other, _Msg(b"inv"))
    assert faults.report()["dropped_out"] == {"consensus": 1}


# --- real processes ---------------------------------------------------------------------------

SETTLE = 5.0     # seconds for messages already in flight when a fault starts to land
WATCH = 8.0      # seconds a stalled node must stay at one height


def _stalls(tn, indexes):
    """The heights of ``indexes`` after SETTLE; asserts they did not move during WATCH."""
    time.sleep(SETTLE)
    before = heights(tn, indexes)
    time.sleep(WATCH)
    assert heights(tn, indexes) == before, f"nodes {indexes} committed while cut off: {before}"
    return before


def _advance(tn, indexes, by, timeout=180):
    start = max(heights(tn, indexes))
    wait_for(lambda: min(heights(tn, indexes)) >= start + by,
             f"nodes {list(indexes)} to commit {by} more block(s) past {start}", timeout)


def _heal_all(tn):
    for node in tn.nodes:
        assert node.clear_faults()["active"] is False


def _partition_one_then_heal(tn):
    """node3 cut off from the others: they commit, it does not; healed, it catches up."""
    report = tn.nodes[3].set_fault(partition=[0, 1, 2])
    assert report["partition"] == ["node0", "node1", "node2"]
    time.sleep(SETTLE)
    isolated = tn.nodes[3].rpc.getblockcount()
    _advance(tn, [0, 1, 2], 3)
    assert tn.nodes[3].rpc.getblockcount() == isolated, "the isolated node committed"
    assert sum(tn.nodes[3].faults()["dropped_in"].values()) > 0     # it did refuse their messages
    _heal_all(tn)
    target = max(heights(tn, [0, 1, 2]))
    wait_for(lambda: tn.nodes[3].rpc.getblockcount() >= target,
             f"node3 to catch up to height {target}", timeout=180)
    assert_same_chain(tn, [0, 1, 2, 3], target)


@pytest.fixture(scope="module")
def tbft(tmp_path_factory):
    with Testnet.start(nodes=4, topology="full", config="tbft-4",
                       dir=tmp_path_factory.mktemp("faults") / "net", timeout=120) as tn:
        wait_for(lambda: min(heights(tn, range(4))) >= 2, "the first TBFT blocks", timeout=180)
        yield tn


def test_tbft_partitioned_node_stalls_while_three_commit_and_catches_up_when_healed(tbft):
    _partition_one_then_heal(tbft)


def test_tbft_two_two_split_commits_nothing_and_resumes_when_healed(tbft):
    tbft.nodes[0].set_fault(partition=["node2", "node3"])
    tbft.nodes[1].set_fault(partition=["node2", "node3"])
    tbft.nodes[2].set_fault(partition=["node0", "node1"])
    tbft.nodes[3].set_fault(partition=["node0", "node1"])
    stalled = _stalls(tbft, [0, 1, 2, 3])
    assert_same_chain(tbft, [0, 1, 2, 3], min(stalled))          # no fork while split
    _heal_all(tbft)
    _advance(tbft, [0, 1, 2, 3], 2, timeout=240)
    assert_same_chain(tbft, [0, 1, 2, 3], min(heights(tbft, range(4))))


def test_bad_fault_parameters_over_rpc_get_a_clear_error_and_the_node_keeps_running(tbft):
    rpc = tbft.nodes[1].rpc
    for args, words in (([["node9"]], "unknown peer 'node9'"), ([None, -5], "must not be negative"),
                        ([None, None, 1.5], "between 0 and 1")):
        with pytest.raises(RpcError, match=words):
            rpc.setfault(*args)
    assert rpc.getfaults()["active"] is False                    # nothing half-set
    _advance(tbft, [1], 1)


def test_pbft_partitioned_node_stalls_and_catches_up_when_healed(tmp_path):
    with Testnet.start(nodes=4, topology="full", config="pbft-4", dir=tmp_path / "net",
                       timeout=120) as tn:
        wait_for(lambda: min(heights(tn, range(4))) >= 2, "the first PBFT blocks", timeout=180)
        _partition_one_then_heal(tn)
