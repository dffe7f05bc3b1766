"""Governed block parameters at the engine level: ``Engine.reconfigure(BlockParams, now)`` is one
more deterministic input. Solo's proposer and Raft's leader re-arm their block timers with a
new interval, Raft's leader cuts entries with the new capacity and takes back commands a block
could not hold (``requeue``), PBFT's primary waits the new interval; values an engine cannot use
are refused with a sentence and the engine keeps the ones it had."""
from __future__ import annotations

import random

import pytest

from labchain.consensus.engine import BlockParams, ConsensusError, SetTimer
from labchain.consensus.raft import LEADER, RaftConfig, RaftEngine, batch_commands
from labchain.consensus.raft.engine import BATCH
from labchain.consensus.registry import ConsensusSpec, build_engine
from labchain.consensus.solo import BLOCK_TIMER, SoloEngine
from labchain.crypto import get_suite


class App:
    def __init__(self) -> None:
        self.proposed: list[int] = []

    def propose(self, height: int) -> bytes:
        self.proposed.append(height)
        return f"block-{height}".encode()

    def check(self, height: int, value: bytes) -> str | None:
        return None


def test_block_params_refuse_a_capacity_of_zero_and_a_negative_interval_with_a_sentence():
    with pytest.raises(ConsensusError, match="block_tx_capacity is 0, but a block must be able to hold at least 1"):
        BlockParams(5, 1.0, 0).check("raft")
    with pytest.raises(ConsensusError, match=r"block_interval is -0.5 s, but it must be above 0.0 s"):
        BlockParams(5, -0.5, 10).check("solo")
    BlockParams(5, 0.0, 10).check("pbft", 0.0, strict=False)          # PBFT may seal at once
    assert BlockParams(7, 0.5, 2, 3).to_json() == {"from_height": 7, "block_interval": 0.5,
                                                   "block_tx_capacity": 2, "config_sequence": 3}


def test_solo_re_arms_its_block_timer_with_a_governed_interval_and_keeps_it_on_a_bad_value():
    proposer, follower = SoloEngine("p", ("p", "f"), App(), 1.0), SoloEngine("f", ("p", "f"), App(), 1.0)
    assert proposer.start(0.0) == [SetTimer(BLOCK_TIMER, 1.0)]
    assert proposer.reconfigure(BlockParams(4, 0.25, 2, 1), 3.0) == [SetTimer(BLOCK_TIMER, 0.25)]
    assert proposer.on_timer(BLOCK_TIMER, 3.25)[0] == SetTimer(BLOCK_TIMER, 0.25)
    assert proposer.reconfigure(BlockParams(5, 0.25, 3, 2), 3.3) == []     # same interval: no re-arm
    assert follower.reconfigure(BlockParams(4, 0.25, 2, 1), 3.0) == []     # a follower has no timer
    with pytest.raises(ConsensusError, match="solo: block_interval is 0"):
        proposer.reconfigure(BlockParams(6, 0, 3, 3), 4.0)
    assert proposer.block_interval == 0.25 and proposer.block_params == BlockParams(5, 0.25, 3, 2)


def _leader(capacity: int = 10) -> RaftEngine:
    engine = RaftEngine("a", ("a",), config=RaftConfig(block_interval=1.0, block_tx_capacity=capacity))
    engine.start(0.0)
    engine.on_timer("raft.election", 1.0)        # a one-node network elects itself at once
    assert engine.role == LEADER
    return engine


def test_a_raft_leader_cuts_entries_with_the_governed_capacity_from_the_next_batch():
    engine = _leader()
    for i in range(5):
        engine.submit(f"tx{i}".encode(), 1.0)
    out = engine.reconfigure(BlockParams(2, 0.5, 2, 1), 1.1)
    assert out == [SetTimer(BATCH, 0.5)]                      # the interval changed: re-armed
    out = engine.on_timer(BATCH, 1.6)
    assert SetTimer(BATCH, 0.5) in out
    sizes = [len(batch_commands(e.data)) for e in engine.log[1:]]
    assert sizes == [0, 2]                                    # the no-op, then 2 of 5
    assert engine.reconfigure(BlockParams(3, 0.5, 3, 2), 2.0) == []   # same interval: no re-arm
    engine.on_timer(BATCH, 2.1)
    assert [len(batch_commands(e.data)) for e in engine.log[1:]] == [0, 2, 3]
    with pytest.raises(ConsensusError, match="raft: block_tx_capacity is 0"):
        engine.reconfigure(BlockParams(4, 0.5, 0, 3), 2.2)
    assert engine.config.block_tx_capacity == 3


def test_raft_requeue_orders_again_what_a_block_could_not_hold_exactly_once():
    engine = _leader(capacity=4)
    for i in range(4):
        engine.submit(f"tx{i}".encode(), 1.0)
    engine.on_timer(BATCH, 2.0)
    assert engine.commit_index == 2 and len(batch_commands(engine.log[2].data)) == 4
    # the driver built block 2 with a capacity of 2: tx2 and tx3 go back
    engine.reconfigure(BlockParams(3, 1.0, 2, 1), 2.0)
    assert engine.requeue([b"tx2", b"tx3"], 2.0) == []        # the leader forwards nothing
    assert engine.submit(b"tx2", 2.1) == [] and len(engine.pending) == 2   # still one pending copy
    engine.on_timer(BATCH, 3.0)
    assert batch_commands(engine.log[3].data) == (b"tx2", b"tx3")
    assert engine.commit_index == 3 and not engine.pending
    assert engine.submit(b"tx0", 3.1) == [] and not engine.pending   # committed: refused as a duplicate


def _engine(kind: str, interval: float, settings=()):
    suite = get_suite("p256-sha256")
    spec = ConsensusSpec(kind, ("n0", "n1", "n2", "n3"), interval, 100, settings)
    return build_engine(spec, "n0", App(), rng=random.Random(0), suite=suite, seed="seed", chain_id="t")


def test_pbft_takes_a_governed_interval_below_its_request_timeout_and_refuses_one_above():
    engine = _engine("pbft", 0.0, (("request_timeout", 1.0),))
    engine.start(0.0)
    assert engine.primary() == engine.index                   # n0 is view 0's primary
    assert engine.reconfigure(BlockParams(2, 0.5, 2, 1), 1.0) == [SetTimer("pbft.propose", 0.5)]
    assert engine.reconfigure(BlockParams(3, 0.5, 3, 2), 1.0) == []     # same interval
    with pytest.raises(ConsensusError, match=r"must stay below request_timeout \(1.0 s\)"):
        engine.reconfigure(BlockParams(4, 2.0, 2, 3), 1.5)
    assert engine.block_interval == 0.5 and engine.block_params.sequence == 2


def test_an_engine_without_its_own_reconfigure_remembers_the_parameters():
    engine = _engine("tbft", 1.0)
    assert engine.block_params is None
    assert engine.reconfigure(BlockParams(9, 0.0, 2, 4), 1.0) == []
    assert engine.block_params.block_tx_capacity == 2
    with pytest.raises(ConsensusError, match="tbft: block_tx_capacity is -1"):
        engine.reconfigure(BlockParams(10, 1.0, -1, 5), 1.0)


# --- driven by the simulator: a checker plays the node's driver ------------------------------

def _governed_raft_run(seed: int, change_at: int = 3):
    """3 Raft nodes under a steady load in the simulator; right after a node has committed
    height ``change_at`` (the block carrying a config update), it gets ``reconfigure`` with a
    capacity of 2 from the next height, as the node's driver does."""
    from labchain.consensus.sim import Simulation

    nodes = ("n1", "n2", "n3")
    config = RaftConfig(tick=0.05, election_tick=10, heartbeat_tick=1, block_interval=0.1,
                        block_tx_capacity=50)
    sim = Simulation({v: RaftEngine(v, nodes, rng=random.Random(f"{seed}:{v}"), config=config)
                      for v in nodes}, seed=seed)
    switched: dict[str, int] = {}              # node -> the log length when it switched

    def driver(s: Simulation) -> None:
        for node, engine in s.engines.items():
            if node not in switched and len(s.commits.get(node, ())) >= change_at:
                assert engine.reconfigure(BlockParams(change_at + 1, 0.1, 2, 1), s.now) == []
                switched[node] = engine.last_index
    sim.checkers.append(driver)
    rng = random.Random(seed)
    for i in range(120):                       # 120 commands over 3 s
        sim.at(0.5 + i * 0.025, lambda s, c=f"cmd-{i:03d}".encode(), n=rng.choice(nodes): s.submit(n, c))
    sim.run(until=8.0)
    return sim, switched


def test_the_simulator_drives_a_governed_raft_capacity_at_a_height_reproducibly():
    sim, switched = _governed_raft_run(seed=4)
    assert set(switched) == {"n1", "n2", "n3"}
    commits = sim.commits["n1"]
    assert all([(c.height, c.value) for c in sim.commits[n]] == [(c.height, c.value) for c in commits]
               for n in ("n2", "n3"))
    leader = next(e for e in sim.engines.values() if e.role == LEADER)
    later = [c for c in commits if c.height > switched[leader.node_id]]   # cut after the leader switched
    assert later and all(len(batch_commands(c.value)) <= 2 for c in later)
    assert max(len(batch_commands(c.value)) for c in commits[:3]) > 2     # before: larger batches
    assert sum(len(batch_commands(c.value)) for c in commits) == 120       # nothing lost or doubled
    again, _ = _governed_raft_run(seed=4)
    assert again.commit_log_hash() == sim.commit_log_hash()
