"""PBFT in the deterministic simulator: normal case, view change, crashes up to and beyond f,
checkpoints and garbage collection, state transfer, reproducibility. Every run carries the
engine-independent SafetyChecker, which stops the run on two different values at one height."""
from __future__ import annotations

from dataclasses import replace

import pytest
from pbftkit import assert_in_order, assert_same_prefix, make_engines, make_sim, nodes

from labchain.consensus.engine import Commit, ConsensusError, Misbehaviour, Send, quorum
from labchain.consensus.pbft import CatchUp, CommitCertificate, Fetch, PBFTEngine, keyring


@pytest.mark.parametrize("n", [4, 7])
def test_validators_commit_the_primarys_values_in_order(n):
    sim = make_sim(n, seed=3).run(until=0.6)
    for node in nodes(n):
        assert_in_order(sim, node)
    heights = sim.heights()
    assert min(heights.values()) >= 10
    assert_same_prefix(sim, nodes(n))
    assert [c.value for c in sim.commits["node1"][:3]] == [b"block 1|node0", b"block 2|node0",
                                                          b"block 3|node0"]
    assert sim.misbehaviour == []


def test_commit_certificate_holds_a_quorum_of_signed_commits():
    sim = make_sim(4, seed=1).run(until=0.2)
    engine = sim.engines["node2"]
    commit = sim.commits["node2"][4]
    cert = CommitCertificate.from_bytes(commit.certificate)
    assert cert.seq == commit.height and cert.digest == engine.digest(commit.value)
    assert len({c.replica for c in cert.commits}) == quorum(4)
    assert engine._check_certificate(commit.height, commit.value, cert)
    assert not engine._check_certificate(commit.height, commit.value + b"x", cert)
    assert not engine._check_certificate(commit.height, commit.value,
                                         CommitCertificate(cert.view, cert.seq, cert.digest,
                                                           cert.commits[:-1]))


def test_sm2_suite_signs_and_commits():
    import labchain.crypto.sm  # noqa: F401  registers sm2-sm3

    sim = make_sim(4, seed=2, suite="sm2-sm3").run(until=0.2)
    assert min(sim.heights().values()) >= 3
    engine = sim.engines["node0"]
    assert engine.suite.name == "sm2-sm3" and sim.misbehaviour == []
    cert = CommitCertificate.from_bytes(sim.commits["node0"][0].certificate)
    vote = cert.commits[0]
    assert engine.suite.verify(engine.keys[vote.replica], vote.signing_bytes(), vote.signature)


def test_crashed_primary_is_replaced_by_a_view_change_and_history_is_kept():
    sim = make_sim(4, seed=4)
    sim.run(until=0.3)
    before = {n: list(sim.commits[n]) for n in nodes(4)}
    sim.crash("node0")
    sim.run(until=4.0)
    for node in ("node1", "node2", "node3"):
        status = sim.engines[node].status()
        assert status["view"] >= 1 and status["primary"] != "node0" and not status["view_change"]
        assert sim.commits[node][:len(before[node])] == before[node]   # nothing committed changed
        assert sim.heights()[node] >= sim.heights()["node0"] + 20
        assert_in_order(sim, node)
    assert_same_prefix(sim, nodes(4))


def test_f_crashed_backups_do_not_stop_commits():
    sim = make_sim(7, seed=5)
    sim.crash("node5")
    sim.crash("node6")
    sim.run(until=0.5)
    assert min(sim.heights()[n] for n in nodes(7)[:5]) >= 10
    assert all(sim.engines[n].view == 0 for n in nodes(7)[:5])   # no view change was needed


def test_f_plus_one_crashed_stops_commits_without_divergence_then_resumes():
    sim = make_sim(4, seed=6)
    sim.run(until=0.3)
    sim.crash("node2")
    sim.crash("node3")
    sim.run(until=0.4)          # messages in flight at the crash settle
    stalled = dict(sim.heights())
    sim.run(until=6.0)
    assert sim.heights() == stalled                 # no quorum: nothing commits
    assert_same_prefix(sim, nodes(4))
    sim.recover("node2")
    sim.recover("node3")
    sim.run(until=30.0, stop=lambda s: min(s.heights().values()) >= max(stalled.values()) + 10)
    assert min(sim.heights().values()) >= max(stalled.values()) + 10
    for node in nodes(4):
        assert_in_order(sim, node)
    assert_same_prefix(sim, nodes(4))


def test_lagging_node_catches_up_past_garbage_collected_checkpoints():
    sim = make_sim(4, seed=7, checkpoint_period=5)
    sim.crash("node3")
    sim.run(until=1.0)
    leader_height = sim.heights()["node0"]
    assert sim.engines["node0"].stable_seq > 10 and sim.heights()["node3"] == 0
    sim.recover("node3")
    sim.run(until=3.0)
    lagger = sim.engines["node3"]
    assert lagger.last_executed > leader_height     # caught up, then kept up
    assert sim.heights()["node0"] - lagger.last_executed <= 2
    assert lagger.stable_seq > 0
    assert_in_order(sim, "node3")
    assert_same_prefix(sim, nodes(4))
    for commit in sim.commits["node3"]:   # every value it copied came with a valid certificate
        cert = CommitCertificate.from_bytes(commit.certificate)
        assert lagger._check_certificate(commit.height, commit.value, cert)


def test_checkpoints_garbage_collect_the_log_in_a_long_run():
    engines = make_engines(4, checkpoint_period=5)
    sim = make_sim(4, seed=8, engines=engines)
    sizes = []
    sim.checkers.append(lambda s: sizes.append(max(e.log_size() for e in s.engines.values())))
    sim.run(stop=lambda s: min(s.heights().values()) >= 150)
    engine = engines["node1"]
    assert engine.last_executed >= 150
    assert engine.stable_seq >= engine.last_executed - engine.window
    assert all(seq > engine.stable_seq for seq in engine.slots)
    # one height logs ~2n messages per replica; without GC the log would hold ~150 * 8
    assert max(sizes) <= 2 * 4 * engine.window
    assert max(sizes[len(sizes) // 2:]) <= max(sizes[:len(sizes) // 2]) + 4


def test_same_seed_gives_the_same_commit_log():
    def run(seed):
        sim = make_sim(4, seed=seed, block_interval=0.02)
        sim.at(0.2, lambda s: s.crash("node0"))
        sim.at(1.5, lambda s: s.recover("node0"))
        return sim.run(until=3.0)

    a, b = run(11), run(11)
    assert a.commit_log_hash() == b.commit_log_hash()
    assert a.messages_sent == b.messages_sent and a.heights() == b.heights()
    assert [s.status() for s in a.engines.values()] == [s.status() for s in b.engines.values()]


def test_status_reports_view_primary_commits_checkpoint_and_pending():
    sim = make_sim(4, seed=9, checkpoint_period=5).run(until=0.3)
    status = sim.engines["node2"].status()
    assert status["engine"] == "pbft" and status["view"] == 0 and status["primary"] == "node0"
    assert status["last_committed"] == sim.heights()["node2"]
    assert status["stable_checkpoint"] % 5 == 0 and status["stable_checkpoint"] > 0
    assert status["watermarks"] == [status["stable_checkpoint"], status["stable_checkpoint"] + 10]
    assert all(p > status["last_committed"] for p in status["pending"])


def test_bad_configuration_is_refused_with_a_sentence():
    validators = nodes(4)
    secrets, public = keyring(validators)
    with pytest.raises(ConsensusError, match="not a validator"):
        PBFTEngine("stranger", validators, None, secret=secrets["node0"], public_keys=public)
    with pytest.raises(ConsensusError, match="does not match its public key"):
        PBFTEngine("node1", validators, None, secret=secrets["node0"], public_keys=public)
    with pytest.raises(ConsensusError, match="checkpoint_period is 0"):
        PBFTEngine("node0", validators, None, secret=secrets["node0"], public_keys=public,
                   checkpoint_period=0)
    with pytest.raises(ConsensusError, match="must exceed block_interval"):
        PBFTEngine("node0", validators, None, secret=secrets["node0"], public_keys=public,
                   request_timeout=0.1, block_interval=0.2)


def test_normal_case_sends_the_quadratic_message_count():
    from labchain.consensus.pbft.figures import expected_per_height, measure

    result = measure(4, heights=20, checkpoint_period=10)
    # (n-1) pre-prepares + (n-1)^2 prepares + n(n-1) commits per height, checkpoints every K;
    # the only extra messages are those of height 21 already in flight when the run stops
    assert result["expected"] == expected_per_height(4, 10) == 3 + 9 + 12 + 1.2
    assert result["expected"] <= result["per_height"] <= result["expected"] + 24 / 20


def transfer(source, target, out):
    """Carry FETCH/CATCHUP between two engines until the target stops asking."""
    commits = []
    for _ in range(100):
        fetches = [o.message for o in out if isinstance(o, Send) and isinstance(o.message, Fetch)]
        commits += [o for o in out if isinstance(o, Commit)]
        if not fetches:
            return commits
        answers = [o.message for o in source.on_message(target.node_id, fetches[0], 9.0)
                   if isinstance(o, Send)]
        out = [o for a in answers for o in target.on_message(source.node_id, a, 9.0)]
    raise AssertionError("state transfer did not end")


def test_restarted_node_with_empty_state_copies_the_chain_and_refuses_forged_values():
    sim = make_sim(4, seed=12, checkpoint_period=5).run(stop=lambda s: min(s.heights().values()) >= 100)
    source = sim.engines["node1"]
    fresh = make_engines(4, checkpoint_period=5)["node3"]     # node3 restarted from nothing
    fresh.start(9.0)
    first = source.on_message("node3", Fetch(1, 0, 3), 9.0)[0].message
    forged = CatchUp((replace(first.entries[0], value=b"block 1|evil"),) + first.entries[1:],
                     first.checkpoints, (), 1)
    out = fresh.on_message("node1", forged, 9.0)
    assert fresh.last_executed == 0
    assert [o for o in out if isinstance(o, Misbehaviour) and "certificate" in o.reason]
    commits = transfer(source, fresh, [Send("node1", Fetch(1, 0, 3))])
    assert fresh.last_executed == source.last_executed >= 100
    assert [c.value for c in commits] == [c.value for c in sim.commits["node1"][:len(commits)]]
    assert fresh.stable_seq == source.stable_seq and fresh.state == source.state


def test_replica_isolated_through_many_timeouts_rejoins_the_next_view_change():
    # node3 alone for 20 s: without the paper's rule (escalate to v+2 only after 2f+1
    # view-changes for v+1) it would climb dozens of views and never rejoin the others
    sim = make_sim(4, seed=13, request_timeout=0.3, block_interval=0.2, max_timeout_doublings=1)
    sim.partition(["node0", "node1", "node2"], ["node3"])
    sim.run(until=20.0)
    assert sim.engines["node3"].view <= 1
    sim.heal()
    sim.run(until=21.0)
    sim.crash("node0")            # the next fault needs node3 in the new view
    height = max(sim.heights().values())
    sim.run(until=40.0, stop=lambda s: min(s.heights()[n] for n in ("node1", "node2", "node3")) >= height + 10)
    for node in ("node1", "node2", "node3"):
        assert sim.heights()[node] >= height + 10
        assert sim.engines[node].view >= 1 and sim.engines[node].active
    assert_same_prefix(sim, nodes(4))
