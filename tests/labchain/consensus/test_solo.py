"""Solo in the simulator: the proposer commits one value per block_interval and the followers
commit the same values; a follower that was down fetches what it missed; only the proposer may
commit; the run is a pure function of its seed."""
from __future__ import annotations

import pytest

from labchain.consensus.engine import (
    ConsensusError, Misbehaviour, decode_engine_message, encode_engine_message,
)
from labchain.consensus.sim import Simulation
from labchain.consensus.solo import SoloCommit, SoloEngine, SoloFetch

NODES = ("p", "f1", "f2")


class App:
    def __init__(self, refuse: set[int] = frozenset()) -> None:
        self.refuse = refuse
        self.proposed: list[int] = []

    def propose(self, height: int) -> bytes:
        self.proposed.append(height)
        return f"block-{height}".encode()

    def check(self, height: int, value: bytes) -> str | None:
        if height in self.refuse:
            return f"height {height} is refused by this test"
        return None if value == f"block-{height}".encode() else "not the expected block"


def network(seed: int = 0, interval: float = 1.0, apps=None) -> Simulation:
    apps = apps or {n: App() for n in NODES}
    return Simulation({n: SoloEngine(n, NODES, apps[n], block_interval=interval) for n in NODES},
                      seed=seed)


def test_the_proposer_commits_once_per_interval_and_followers_follow():
    sim = network(interval=0.5)
    sim.run(until=5.2)
    for node in NODES:
        assert [c.height for c in sim.commits[node]] == list(range(1, 11))
        assert [c.value for c in sim.commits[node]] == [f"block-{h}".encode() for h in range(1, 11)]
    assert [round(t, 6) for t in sim.commit_times["p"]] == [round(0.5 * h, 6) for h in range(1, 11)]
    assert sim.engines["f1"].status()["leader"] == "p" and sim.engines["p"].status()["role"] == "proposer"


def test_a_follower_that_was_down_fetches_the_heights_it_missed():
    sim = network()
    sim.run(until=2.5)
    sim.crash("f2")
    sim.run(until=6.5)
    assert sim.heights()["f2"] == 2
    sim.recover("f2")
    sim.run(until=7.5)                 # the commit of height 7 shows the gap; f2 fetches 3..6
    assert [c.height for c in sim.commits["f2"]] == list(range(1, 8))
    assert sim.commits["f2"] == sim.commits["p"]


def test_a_commit_from_anyone_but_the_proposer_is_misbehaviour_and_a_refused_value_is_not_committed():
    follower = SoloEngine("f1", NODES, App(refuse={1}))
    out = follower.on_message("f2", SoloCommit(1, b"block-1"), 0.0)
    assert len(out) == 1 and isinstance(out[0], Misbehaviour) and "only p proposes" in out[0].reason
    out = follower.on_message("p", SoloCommit(1, b"block-1"), 0.0)
    assert isinstance(out[0], Misbehaviour) and follower.height == 0
    assert follower.on_message("p", SoloFetch(1), 0.0) == []            # followers do not serve


def test_the_proposer_skips_a_tick_its_own_application_refuses():
    sim = network(apps={"p": App(refuse={1}), "f1": App(), "f2": App()})
    sim.run(until=3.5)
    assert sim.heights() == {"p": 0, "f1": 0, "f2": 0} and sim.engines["p"].refused == 3


def test_same_seed_same_commit_log():
    a = network(seed=4, interval=0.3).run(until=4.0)
    b = network(seed=4, interval=0.3).run(until=4.0)
    assert a.commit_log_hash() == b.commit_log_hash() and a.heights()["f1"] == 13


def test_bad_configuration_and_wire_records():
    with pytest.raises(ConsensusError, match="block_interval"):
        SoloEngine("p", NODES, App(), block_interval=0)
    with pytest.raises(ConsensusError, match="one validator"):
        SoloEngine("p", (), App())
    for message in (SoloCommit(7, b"block-7"), SoloFetch(3)):
        assert decode_engine_message(encode_engine_message(message)) == message
        assert type(message).from_json(message.to_json()) == message
