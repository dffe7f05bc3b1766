"""Raft in the deterministic simulator: election, ordering, failover, partitions, catch-up and
determinism. Every run has SafetyChecker + RaftChecker (raftkit.py) after every event, so the
logs are compared prefix-wise at each step, not only at the end."""
from __future__ import annotations

from dataclasses import replace

import pytest

from labchain.consensus.raft import FOLLOWER, LEADER, command_digest
from raftkit import CONFIG, Load, all_caught_up, assert_converged, loaded_network, make_sim, names

LOW, HIGH = CONFIG.election_timeout_range
HEARTBEAT = CONFIG.heartbeat_tick * CONFIG.tick


@pytest.mark.parametrize("n", [3, 5])
def test_a_leader_is_elected_and_commands_commit_once_in_the_same_order(n):
    sim, checker = make_sim(n, seed=n)
    load = Load(sim, seed=n)
    load.steady(start=0.0, stop=5.0, rate=200)
    sim.run(until=8.0)
    assert checker.changes and checker.changes[0][0] < HIGH + 0.1   # first election in range
    leaders = [node for node, e in sim.engines.items() if e.role == LEADER]
    assert len(leaders) == 1
    assert all(sim.engines[v].leader == leaders[0] for v in names(n))
    commands = assert_converged(sim)
    assert sorted(commands) == sorted(load.accepted) and len(commands) == load.count
    # blocks are cut by capacity: none holds more than block_tx_capacity commands
    assert max(len(c.value) for c in sim.commits["n1"]) < CONFIG.block_tx_capacity * 70


@pytest.mark.parametrize("n,seed", [(3, 1), (3, 2), (5, 3), (5, 4)])
def test_leader_crash_under_load_a_new_leader_in_the_timeout_range_and_nothing_lost(n, seed):
    sim, checker, load, old = loaded_network(n, seed, stop=9.0, warm_up=4.0)
    before = {v: list(sim.commits[v]) for v in names(n)}
    crash_at = sim.now
    sim.crash(old)
    sim.run(until=14.0)
    new_time, new_leader, new_term = checker.changes[-1]
    assert new_leader != old and new_term > sim.engines[old].term
    # no follower times out sooner than LOW after the last heartbeat it got (sent at most one
    # heartbeat interval before the crash); the first to time out does so within HIGH
    assert LOW - HEARTBEAT <= new_time - crash_at <= HIGH + 0.1, new_time - crash_at
    live = [v for v in names(n) if v != old]
    for v in names(n):      # what was committed before the crash is still there, unchanged
        assert sim.commits[v][:len(before[v])] == before[v]
    commands = assert_converged(sim, live)
    committed = set(commands)
    # every command a live node accepted is committed exactly once; only a command the old
    # leader itself took from a client and had not replicated may be lost (never acknowledged)
    lost = [c for c in load.accepted if c not in committed]
    assert all(command_digest(c) in sim.engines[old].pending for c in lost)
    assert len(lost) < 2 * CONFIG.block_tx_capacity
    assert sum(len(sim.commits[v]) for v in live) > sum(len(before[v]) for v in live)


def test_a_crashed_leader_that_comes_back_follows_and_loses_no_command():
    sim, checker, load, old = loaded_network(3, 11, stop=8.0)
    sim.crash(old)
    sim.run(until=6.0)
    sim.recover(old)
    sim.run(until=14.0)
    assert sim.engines[old].role == FOLLOWER
    commands = assert_converged(sim)
    assert sorted(commands) == sorted(load.accepted)   # the old leader's pending were re-forwarded


def test_a_leader_partitioned_into_the_minority_commits_nothing_and_heal_converges():
    sim, checker, load, old = loaded_network(5, 21, stop=10.0)
    other = next(v for v in names(5) if v != old)
    minority = {old, other}
    majority = [v for v in names(5) if v not in minority]
    sim.partition(minority, majority)
    cut = {v: len(sim.commits[v]) for v in names(5)}
    top = max(cut.values())
    sim.run(until=7.0)
    for v in minority:      # nothing new beyond what the whole network had committed
        assert len(sim.commits[v]) <= top
    assert all(len(sim.commits[v]) > top for v in majority)
    assert sim.engines[old].role != LEADER            # check quorum: it stepped down
    sim.heal()
    sim.run(until=16.0)
    commands = assert_converged(sim)
    assert sorted(commands) == sorted(load.accepted)


def test_a_node_restarted_far_behind_catches_up_from_the_log():
    config = replace(CONFIG, max_append_entries=8)       # catching up takes many messages
    sim, checker = make_sim(3, seed=31, config=config)
    sim.run(until=2.0)
    leader = checker.current_leader(sim)[0]
    behind = next(v for v in names(3) if v != leader)
    sim.crash(behind)
    load = Load(sim, seed=31)
    load.steady(start=2.0, stop=12.0, rate=400)         # ~4000 commands, ~100 entries
    sim.run(until=13.0)
    lag = sim.engines[leader].last_index - sim.engines[behind].last_index
    assert lag > 10 * config.max_append_entries
    sim.recover(behind)
    sim.run(until=15.0)
    assert all_caught_up(sim)
    assert sorted(assert_converged(sim)) == sorted(load.accepted)


def test_same_seed_same_commit_log_and_another_seed_differs():
    def run(seed):
        sim, _ = make_sim(5, seed=seed)
        load = Load(sim, seed=seed)
        load.steady(start=0.0, stop=4.0, rate=100)
        sim.at(2.0, lambda s: s.crash("n1"))
        sim.at(3.0, lambda s: s.recover("n1"))
        sim.run(until=7.0)
        return sim.commit_log_hash()
    assert run(5) == run(5)
    assert run(5) != run(6)


def test_one_validator_commits_alone_and_a_minority_never_elects():
    solo, _ = make_sim(1, seed=1)
    solo.submit("n1", b"tx", at=1.0)
    solo.run(until=4.0)
    assert [c for c in solo.commits["n1"] if c.value != b"\x00"]     # the batch with b"tx"
    sim, checker = make_sim(3, seed=2)
    sim.crash("n2")
    sim.crash("n3")
    sim.run(until=10.0)
    assert sim.engines["n1"].role != LEADER and not sim.commits["n1"]
    assert sim.engines["n1"].elections >= 3                 # it kept trying
