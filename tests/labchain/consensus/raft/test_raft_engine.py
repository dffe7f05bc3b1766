"""Raft's rules one at a time, on a single engine fed messages by hand (no simulator): the vote
rules of section 5.2/5.4.1, the AppendEntries consistency check and conflict truncation of 5.3,
the Figure 8 commit rule, client forwarding, configuration errors and the wire records."""
from __future__ import annotations

import random

import pytest

from labchain.consensus.engine import (
    Commit, ConsensusError, Misbehaviour, Send, decode_engine_message, encode_engine_message,
)
from labchain.consensus.raft import (
    CANDIDATE, FOLLOWER, LEADER, AppendEntries, AppendReply, Batch, Entry, Forward, RaftConfig,
    RaftEngine, RequestVote, VoteReply,
)
from labchain.consensus.raft.engine import ELECTION, NOOP
from raftkit import names

FIVE = names(5)


def batch(*commands: bytes) -> bytes:
    return Batch(tuple(commands)).to_bytes()


def engine_with_log(node: str, terms: list[int], term: int, nodes=FIVE) -> RaftEngine:
    e = RaftEngine(node, nodes, rng=random.Random(1))
    e.start(0.0)
    for i, t in enumerate(terms, 1):
        e._append_local(Entry(t, batch(f"{node}-{i}".encode())))
    e.term = term
    return e


def sent(outputs, kind):
    return [o.message for o in outputs if isinstance(o, Send) and isinstance(o.message, kind)]


def test_a_vote_goes_only_to_a_candidate_whose_log_is_at_least_as_up_to_date():
    e = engine_with_log("n1", [1, 2, 2], term=2)
    older_term = e.on_message("n2", RequestVote(3, 5, 1), 1.0)         # longer log, older last term
    assert sent(older_term, VoteReply) == [VoteReply(3, 0)] and e.term == 3
    shorter = e.on_message("n3", RequestVote(4, 2, 2), 1.0)            # same last term, shorter
    assert sent(shorter, VoteReply) == [VoteReply(4, 0)]
    ok = e.on_message("n4", RequestVote(5, 3, 2), 1.0)                 # equal: granted
    assert sent(ok, VoteReply) == [VoteReply(5, 1)] and e.voted_for == "n4"
    again = e.on_message("n5", RequestVote(5, 9, 9), 1.0)              # one vote per term
    assert sent(again, VoteReply) == [VoteReply(5, 0)]
    stale = e.on_message("n5", RequestVote(4, 9, 9), 1.0)              # an old term: refused
    assert sent(stale, VoteReply) == [VoteReply(5, 0)]


def test_a_candidate_with_a_majority_of_votes_leads_and_appends_a_no_op():
    e = RaftEngine("n1", FIVE, rng=random.Random(2))
    e.start(0.0)
    out = e.on_timer(ELECTION, 1.5)
    assert e.role == CANDIDATE and e.term == 1 and len(sent(out, RequestVote)) == 4
    e.on_message("n2", VoteReply(1, 1), 1.6)
    e.on_message("n3", VoteReply(1, 0), 1.6)                           # a refusal does not count
    assert e.role == CANDIDATE
    out = e.on_message("n4", VoteReply(1, 1), 1.6)
    assert e.role == LEADER and e.log[-1] == Entry(1, NOOP)
    assert {m.prev_log_index for m in sent(out, AppendEntries)} == {0}


def test_append_entries_refuses_a_missing_prev_entry_with_a_hint_and_truncates_a_conflict():
    e = engine_with_log("n2", [1, 1, 2, 2], term=2)
    out = e.on_message("n1", AppendEntries(3, 6, 3, (), 0), 1.0)
    assert sent(out, AppendReply) == [AppendReply(3, 0, 0, 5, 0)]      # retry at my last + 1
    out = e.on_message("n1", AppendEntries(3, 4, 3, (), 0), 1.0)
    assert sent(out, AppendReply) == [AppendReply(3, 0, 0, 3, 2)]      # term 2 starts at 3
    new = (Entry(3, batch(b"x")), Entry(3, batch(b"y")))
    out = e.on_message("n1", AppendEntries(3, 2, 1, new, 3), 1.0)
    assert sent(out, AppendReply) == [AppendReply(3, 1, 4, 0, 0)]
    assert [x.term for x in e.log[1:]] == [1, 1, 3, 3]                 # term-2 tail replaced
    assert [c.height for c in out if isinstance(c, Commit)] == [1, 2, 3]
    out = e.on_message("n1", AppendEntries(3, 2, 1, (Entry(3, batch(b"x")),), 3), 1.0)
    assert e.last_index == 4                                            # an old message: no truncation


def test_a_leader_never_overwrites_a_committed_entry():
    e = engine_with_log("n2", [1, 1], term=1)
    e.on_message("n1", AppendEntries(1, 2, 1, (), 2), 1.0)
    assert e.commit_index == 2
    out = e.on_message("n3", AppendEntries(2, 1, 1, (Entry(2, b""),), 2), 1.0)
    assert any(isinstance(o, Misbehaviour) for o in out) and e.log[2].term == 1


def test_figure_8_an_older_term_entry_on_a_majority_is_committed_only_with_a_current_term_entry():
    e = engine_with_log("n1", [1, 2], term=3)
    e.on_timer(ELECTION, 1.0)
    for peer in ("n2", "n3"):
        e.on_message(peer, VoteReply(4, 1), 1.1)
    assert e.role == LEADER and e.last_index == 3 and e.log[3].term == 4
    for peer in ("n2", "n3"):                   # index 2 (term 2) is now on n1, n2, n3
        out = e.on_message(peer, AppendReply(4, 1, 2, 0, 0), 1.2)
        assert not [o for o in out if isinstance(o, Commit)]
    assert e.commit_index == 0
    e.on_message("n2", AppendReply(4, 1, 3, 0, 0), 1.3)
    out = e.on_message("n3", AppendReply(4, 1, 3, 0, 0), 1.3)
    assert [o.height for o in out if isinstance(o, Commit)] == [1, 2, 3]


def test_a_higher_term_makes_a_leader_step_down():
    e = RaftEngine("n1", ("n1", "n2", "n3"), rng=random.Random(3))
    e.start(0.0)
    e.on_timer(ELECTION, 1.0)
    e.on_message("n2", VoteReply(1, 1), 1.1)
    assert e.role == LEADER
    e.on_message("n3", AppendReply(7, 0, 0, 0, 0), 1.2)
    assert e.role == FOLLOWER and e.term == 7 and e.leader is None


def test_a_follower_forwards_commands_to_the_leader_it_knows_and_keeps_them_until_committed():
    e = RaftEngine("n2", ("n1", "n2", "n3"), rng=random.Random(4))
    e.start(0.0)
    assert e.submit(b"early", 0.5) == []                 # no leader known yet: kept
    out = e.on_message("n1", AppendEntries(1, 0, 0, (Entry(1, NOOP),), 0), 1.0)
    assert Forward((b"early",)) in sent(out, Forward)    # forwarded once the leader is known
    assert sent(e.submit(b"late", 1.1), Forward) == [Forward((b"late",))]
    assert e.status()["leader"] == "n1" and e.status()["pending"] == 2
    e.on_message("n1", AppendEntries(1, 1, 1, (Entry(1, batch(b"early", b"late")),), 2), 1.2)
    assert e.status()["pending"] == 0 and e.status()["commit_index"] == 2


def test_the_leader_cuts_blocks_of_at_most_block_tx_capacity_and_skips_duplicates():
    config = RaftConfig(block_tx_capacity=3)
    e = RaftEngine("n1", ("n1",), rng=random.Random(5), config=config)
    e.start(0.0)
    e.on_timer(ELECTION, 1.0)
    for i in range(5):
        e.submit(f"c{i}".encode(), 1.1)
    e.submit(b"c0", 1.1)                                  # the same bytes again: one command
    first = e.on_timer("raft.batch", 1.5)
    second = e.on_timer("raft.batch", 2.0)
    values = [Batch.from_bytes(o.value).commands for o in first + second if isinstance(o, Commit)]
    assert values == [(b"c0", b"c1", b"c2"), (b"c3", b"c4")]
    # committed: a resubmission is ignored
    assert e.submit(b"c1", 2.1) == [] and e.status()["pending"] == 0


@pytest.mark.parametrize("change,word", [({"tick": 0}, "tick"), ({"election_tick": 1}, "election_tick"),
                                         ({"block_interval": -1}, "block_interval")])
def test_a_bad_configuration_is_refused_with_the_value_named(change, word):
    with pytest.raises(ConsensusError, match=word):
        RaftEngine("n1", ("n1",), config=RaftConfig(**change))
    with pytest.raises(ConsensusError, match="distinct validators"):
        RaftEngine("n1", ("n1", "n1"))


@pytest.mark.parametrize("message", [
    RequestVote(3, 10, 2), VoteReply(3, 1), AppendReply(3, 0, 0, 5, 2), Forward((b"a", b"")),
    AppendEntries(4, 9, 3, (Entry(4, batch(b"tx1")), Entry(4, NOOP)), 8),
])
def test_raft_messages_round_trip_through_bytes_json_and_the_engine_envelope(message):
    cls = type(message)
    assert cls.from_bytes(message.to_bytes()) == message
    assert cls.from_json(message.to_json()) == message
    assert decode_engine_message(encode_engine_message(message)) == message
    assert cls.COMMAND.startswith(b"raft.")


def test_status_reports_what_getconsensusstate_shows():
    e = RaftEngine("n1", ("n1", "n2", "n3"), rng=random.Random(6))
    e.start(0.0)
    e.on_timer(ELECTION, 1.0)
    e.on_message("n3", VoteReply(1, 1), 1.1)
    status = e.status()
    assert {k: status[k] for k in ("role", "term", "leader", "commit_index", "last_log_index")} == \
        {"role": "leader", "term": 1, "leader": "n1", "commit_index": 0, "last_log_index": 1}
    assert [p["id"] for p in status["peers"]] == ["n2", "n3"]
    assert status["peers"][0]["next_index"] == 2
