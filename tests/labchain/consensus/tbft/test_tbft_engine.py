"""The TBFT state machine: commits, proposer rotation, timeouts, the locking rules driven by
hand, crash tolerance (f crashed: commits go on; f+1: no commit and no fork; recovery catches
up), determinism from the seed, and malformed input never raising."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from labchain.consensus.engine import (
    Broadcast, ConsensusError, Misbehaviour, Send, SetTimer, decode_engine_message,
)
from labchain.consensus.faults import FaultAction, FaultSchedule, schedule_for_student
from labchain.consensus.sim import SimApp
from labchain.consensus.tbft import (
    Precommit, Prevote, Proposal, SyncRequest, TBFTConfig, build_engines,
)
from labchain.consensus.tbft.messages import PRECOMMIT, PREVOTE, PROPOSE, CertVote
from simkit import FAST, SIGNED, SUITE, run_until_live, tbft_sim


def test_four_validators_commit_the_same_values_in_order():
    sim = tbft_sim(4, seed=1, config=SIGNED)
    sim.run(stop=lambda s: min(s.heights().values()) >= 4)
    logs = {node: [(c.height, c.value) for c in commits[:4]] for node, commits in sim.commits.items()}
    assert len(set(map(tuple, logs.values()))) == 1
    assert [h for h, _ in logs["v0"]] == [1, 2, 3, 4]
    assert all(SimApp.check(h, v) is None for h, v in logs["v0"])


def test_the_proposer_rotates_every_blocks_per_proposer_heights():
    sim = tbft_sim(4, seed=1, config=TBFTConfig.fast(signatures=False, blocks_per_proposer=2))
    sim.run(stop=lambda s: min(s.heights().values()) >= 8)
    proposers = [c.value.split(b" by ")[1].decode() for c in sim.commits["v2"][:8]]
    assert proposers == ["v0", "v0", "v1", "v1", "v2", "v2", "v3", "v3"]
    engine = sim.engines["v0"]
    assert [engine.proposer(5, r) for r in range(4)] == ["v2", "v3", "v0", "v1"]


def test_round_timeouts_grow_by_the_delta_per_round():
    config = TBFTConfig(propose_timeout=30.0, propose_delta_timeout=1.0, prevote_timeout=2.0,
                        prevote_delta_timeout=0.5)
    engine = build_engines(4, SimApp, SUITE, config=config)["v1"]
    assert engine.timeout(PROPOSE, 0) == 30.0 and engine.timeout(PROPOSE, 3) == 33.0
    assert engine.timeout(PREVOTE, 2) == 3.0
    out = engine.start(0.0)          # v1 is not the proposer of (1, 0): it waits
    assert SetTimer("propose/1/0", 30.0) in out
    assert TBFTConfig.chainmaker().propose_timeout == 30.0


def test_bad_configuration_is_refused_with_a_sentence():
    with pytest.raises(ConsensusError, match="TBFT_blocks_per_proposer is 0"):
        TBFTConfig(blocks_per_proposer=0)
    with pytest.raises(ConsensusError, match="no public key for validator"):
        from labchain.consensus.tbft import TBFTEngine
        TBFTEngine("v0", ("v0", "v1"), SimApp("v0"), suite=SUITE, secret=1, public_keys={"v0": b""})


class Hand:
    """Drive v3 by hand with messages signed by the other validators' engines."""

    def __init__(self):
        self.engines = build_engines(4, SimApp, SUITE, config=SIGNED)
        self.me = self.engines["v3"]
        self.out = self.me.start(0.0)

    def prevote(self, who, round, value):
        e = self.engines[who]
        return e.make_vote(PREVOTE, 1, round, SUITE.hash(value) if value else b"")

    def proposal(self, who, round, value, valid_round=-1, polka=()):
        p = self.engines[who].make_proposal(1, round, value, valid_round)
        votes = tuple(CertVote(v.validator, v.signature) for v in polka)
        return Proposal(p.height, p.round, p.pol_round, p.value, p.proposer, p.signature, votes)

    def feed(self, sender, message):
        self.out = self.me.on_message(sender, message, 0.0)
        return self.out

    def my_votes(self, kind):
        return [o.message for o in self.out if isinstance(o, Broadcast) and isinstance(o.message, kind)]


def test_lock_on_a_polka_then_refuse_another_value_then_unlock_on_a_later_polka():
    hand = Hand()
    a, b = b"block 1 by v0", b"block 1 by v1"
    hand.feed("v0", hand.proposal("v0", 0, a))
    assert hand.my_votes(Prevote)[0].value_hash == SUITE.hash(a)
    hand.feed("v0", hand.prevote("v0", 0, a))
    hand.feed("v1", hand.prevote("v1", 0, a))                 # polka for a: lock and precommit a
    assert hand.my_votes(Precommit)[0].value_hash == SUITE.hash(a)
    assert (hand.me.locked_value, hand.me.locked_round) == (a, 0)
    # f+1 = 2 validators in round 1 move v3 there; v1 proposes b without a polka: locked -> nil
    hand.feed("v2", hand.prevote("v2", 1, None))
    hand.feed("v1", hand.proposal("v1", 1, b))
    assert hand.me.round == 1 and hand.my_votes(Prevote)[0].value_hash == b""
    # round 2: v2 re-proposes b with a polka for b from round 1 (later than the lock): unlock
    polka = [hand.prevote(w, 1, b) for w in ("v0", "v1", "v2")]
    hand.feed("v0", hand.prevote("v0", 2, None))
    hand.feed("v2", hand.proposal("v2", 2, b, valid_round=1, polka=polka))
    assert hand.me.round == 2 and hand.my_votes(Prevote)[0].value_hash == SUITE.hash(b)


def test_a_re_proposal_without_its_polka_does_not_unlock():
    hand = Hand()
    a, b = b"block 1 by v0", b"block 1 by v2"
    hand.feed("v0", hand.proposal("v0", 0, a))
    hand.feed("v0", hand.prevote("v0", 0, a))
    hand.feed("v1", hand.prevote("v1", 0, a))
    hand.feed("v1", hand.prevote("v1", 2, None))
    hand.feed("v0", hand.prevote("v0", 2, None))
    polka = [hand.prevote(w, 1, b) for w in ("v0", "v1")]       # only 2 of 4: no polka
    hand.feed("v2", hand.proposal("v2", 2, b, valid_round=1, polka=polka))
    assert hand.me.round == 2 and hand.me.step == PROPOSE       # waits for the timeout
    hand.out = hand.me.on_timer("propose/1/2", 5.0)
    assert hand.my_votes(Prevote)[0].value_hash == b""
    assert hand.me.locked_value == a


def test_forged_or_misattributed_messages_are_misbehaviour_not_votes():
    hand = Hand()
    vote = hand.prevote("v0", 0, b"block 1 by v0")
    out = hand.feed("v1", vote)                                # v1 relays v0's vote as its own
    assert isinstance(out[0], Misbehaviour) and "signed as" in out[0].reason
    bad = Prevote(1, 0, vote.value_hash, b"v0", bytes(64))
    assert "invalid signature" in hand.feed("v0", bad)[0].reason
    wrong = hand.proposal("v2", 0, b"block 1 by v2")          # v2 is not the proposer of round 0
    assert "whose proposer is v0" in hand.feed("v2", wrong)[0].reason
    assert "not a validator" in hand.feed("mallory", vote)[0].reason
    assert hand.me.rounds[0].prevote_total == 0                # none of them was counted
    assert hand.me.round == 0


def test_one_crashed_validator_of_four_does_not_stop_commits():
    schedule = FaultSchedule((FaultAction(0.2, "crash", ("v3",)),))
    sim = tbft_sim(4, schedule, seed=3)
    sim.run(until=3.0)
    live = [sim.heights()[v] for v in ("v0", "v1", "v2")]
    assert min(live) > sim.heights()["v3"] + 20


def test_two_crashed_of_four_stop_commits_without_a_fork_and_recovery_catches_up():
    schedule = FaultSchedule((FaultAction(0.2, "crash", ("v2", "v3")),
                              FaultAction(3.0, "recover", ("v2", "v3"))))
    sim = tbft_sim(4, schedule, seed=4)
    sim.run(until=0.25)
    stalled = max(sim.heights().values())
    sim.run(until=2.9)
    assert max(sim.heights()[v] for v in ("v0", "v1")) <= stalled + 1   # at most one in flight
    assert run_until_live(sim) is None                                    # checkers: no fork
    sim.run(until=sim.now + 2.0)
    assert min(sim.heights().values()) > stalled + 5
    values = {c.height: c.value for c in sim.commits["v0"]}
    assert all(values.get(c.height, c.value) == c.value for c in sim.commits["v3"])


def test_a_paused_validator_resumes_and_catches_up():
    schedule = FaultSchedule((FaultAction(0.1, "pause", ("v1",)), FaultAction(1.5, "resume", ("v1",))))
    sim = tbft_sim(4, schedule, seed=6)
    sim.run(until=1.4)
    assert sim.heights()["v1"] < min(sim.heights()[v] for v in ("v0", "v2", "v3"))
    assert run_until_live(sim) is None


def test_the_same_seed_gives_the_same_commit_log_hash():
    schedule = schedule_for_student("alice", 4, seed=3, duration=3.0)
    hashes = set()
    for _ in range(2):
        sim = tbft_sim(4, schedule, seed=11)
        assert run_until_live(sim) is None
        hashes.add((sim.commit_log_hash(), sim.messages_sent, sim.now))
    assert len(hashes) == 1
    other = tbft_sim(4, schedule_for_student("bob", 4, seed=3, duration=3.0), seed=11)
    run_until_live(other)
    assert (other.commit_log_hash(), other.messages_sent) != next(iter(hashes))[:2]


MESSAGES = st.one_of(
    st.builds(Proposal, st.integers(0, 3), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
              st.binary(max_size=40), st.sampled_from([b"v0", b"v1", b"v9", b""]), st.binary(max_size=70),
              st.lists(st.builds(CertVote, st.sampled_from([b"v0", b"v2", b"x"]), st.binary(max_size=70)),
                       max_size=3).map(tuple)),
    st.builds(Prevote, st.integers(0, 3), st.integers(0, 2**32 - 1), st.binary(max_size=32),
              st.sampled_from([b"v0", b"v1", b"v2", b"\xff"]), st.binary(max_size=70)),
    st.builds(Precommit, st.integers(0, 3), st.integers(0, 100), st.binary(max_size=32),
              st.sampled_from([b"v0", b"v1", b"v2"]), st.binary(max_size=70)),
    st.builds(SyncRequest, st.integers(0, 2**64 - 1)),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["v0", "v1", "v2", "stranger"]), MESSAGES), max_size=12),
       st.binary(max_size=80), st.booleans())
def test_malformed_messages_never_crash_the_engine(messages, garbage, signed):
    engine = build_engines(4, SimApp, SUITE, config=SIGNED if signed else FAST)["v3"]
    engine.start(0.0)
    for sender, message in messages:
        for out in engine.on_message(sender, message, 1.0):
            assert isinstance(out, (Broadcast, Send, SetTimer, Misbehaviour)) or hasattr(out, "height")
    engine.on_timer("propose/1/0", 9.0)
    engine.on_timer("not/a/timer", 9.0)
    engine.on_timer("garbage", 9.0)
    try:
        decoded = decode_engine_message(garbage)
    except ConsensusError:
        return
    engine.on_message("v1", decoded, 2.0)
    assert engine.status()["height"] >= 1


def test_weights_not_head_counts_make_the_quorum():
    # v0 holds 4 of 7: v0 and v3 (5 of 7 > 2/3) commit on without v1 and v2; equal weights stall
    crash = FaultSchedule((FaultAction(0.1, "crash", ("v1", "v2")),))
    heavy = tbft_sim(4, crash, seed=8, weights={"v0": 4, "v1": 1, "v2": 1, "v3": 1})
    heavy.run(until=3.0)
    equal = tbft_sim(4, crash, seed=8)
    equal.run(until=3.0)
    assert heavy.heights()["v3"] > equal.heights()["v3"] + 8   # rounds of crashed proposers time out
    assert equal.heights()["v3"] <= equal.heights()["v1"] + 1


def test_polka_votes_without_a_lock_round_are_refused_not_a_crash():
    hand = Hand()
    signed = hand.engines["v0"].make_proposal(1, 0, b"block 1 by v0", -1)   # pol_round 0
    vote = hand.prevote("v1", 0, b"block 1 by v0")
    smuggled = Proposal(1, 0, 0, signed.value, signed.proposer, signed.signature,
                        (CertVote(vote.validator, vote.signature),))
    out = hand.feed("v0", smuggled)
    assert isinstance(out[0], Misbehaviour) and "no proof-of-lock round" in out[0].reason


def _restart_fresh(sim, node: str) -> None:
    """A process restart without a WAL: the node's engine starts again at height 1 round 0."""
    for key in [k for k in sim._timers if k[0] == node]:
        del sim._timers[key]
    sim.engines[node] = build_engines(4, SimApp, SUITE, config=FAST)[node]
    sim.crashed.discard(node)
    sim._apply(node, sim.engines[node].start(sim.now))


@pytest.mark.parametrize("seed", [0, 3, 8])
def test_a_validator_restarted_with_a_fresh_engine_catches_up_and_commits_resume(seed):
    # issue #13: kill v3, kill v2 (no quorum), restart v2 with a fresh engine. Peers had sent
    # v2 some decisions before (answers to its late votes) and refused to send them again, so
    # the fresh engine stuck at a low height forever and v0, v1 never had a quorum again.
    sim = tbft_sim(4, seed=seed)
    sim.checkers = []
    sim.run(until=1.0)
    sim.crash("v3")
    sim.run(until=2.0)
    sim.crash("v2")
    sim.run(until=3.0)
    stalled = max(sim.heights()[v] for v in ("v0", "v1"))
    assert stalled > 20
    _restart_fresh(sim, "v2")
    sim.run(until=8.0)
    assert min(sim.heights()[v] for v in ("v0", "v1", "v2")) > stalled + 5
    values = {c.height: c.value for c in sim.commits["v0"]}
    assert all(values[c.height] == c.value for c in sim.commits["v2"] if c.height in values)
