"""Raft's stable storage (labchain/node/consensus.py RaftWal): term, vote and log survive a
restart, truncations are replayed, a torn last record is dropped, a damaged file is refused."""
import random

import pytest

from labchain.consensus.raft import Entry, RaftEngine
from labchain.node.consensus import ConsensusStateError, RaftWal, WalRecord

VALIDATORS = ("node0", "node1", "node2")


def _engine():
    return RaftEngine("node0", VALIDATORS, None, rng=random.Random(1))


def test_term_vote_and_log_survive_a_restart(tmp_path):
    wal, engine = RaftWal(tmp_path / "raft.wal"), _engine()
    wal.restore(engine, 0)
    engine.term, engine.voted_for = 3, "node2"
    for term, data in [(1, b"a"), (2, b"b"), (3, b"c")]:
        engine._append_local(Entry(term, data))
    wal.save(engine)
    engine._truncate(2)                              # a new leader overwrote index 2..
    engine._append_local(Entry(3, b"x"))
    wal.save(engine)
    wal.close()

    again, fresh = RaftWal(tmp_path / "raft.wal"), _engine()
    again.restore(fresh, committed=1)
    assert (fresh.term, fresh.voted_for) == (3, "node2")     # it cannot vote twice in term 3
    assert [(e.term, e.data) for e in fresh.log[1:]] == [(1, b"a"), (3, b"x")]
    assert fresh.commit_index == fresh.last_applied == 1     # committed entries = the chain's blocks


def test_a_torn_last_record_is_dropped_and_the_rest_kept(tmp_path):
    path = tmp_path / "raft.wal"
    wal, engine = RaftWal(path), _engine()
    wal.restore(engine, 0)
    engine.term = 2
    engine._append_local(Entry(2, b"kept"))
    wal.save(engine)
    wal.close()
    record = WalRecord(2, 2, 2, b"torn away").to_bytes()
    with open(path, "ab") as f:
        f.write(len(record).to_bytes(4, "big") + record[:5])       # a crash mid-write
    again, fresh = RaftWal(path), _engine()
    again.restore(fresh, 0)
    assert [e.data for e in fresh.log[1:]] == [b"kept"]
    fresh._append_local(Entry(2, b"after"))          # the next record follows the kept one
    again.save(fresh)
    again.close()
    third, reread = RaftWal(path), _engine()
    third.restore(reread, 0)
    assert [e.data for e in reread.log[1:]] == [b"kept", b"after"]


def test_a_damaged_wal_is_refused_with_a_sentence(tmp_path):
    path = tmp_path / "raft.wal"
    path.write_bytes((3).to_bytes(4, "big") + b"\x02\x00\x00")
    with pytest.raises(ConsensusStateError, match="raft.wal is damaged at byte 0"):
        RaftWal(path)


def test_nothing_is_written_when_nothing_changed(tmp_path):
    wal, engine = RaftWal(tmp_path / "raft.wal"), _engine()
    wal.restore(engine, 0)
    wal.save(engine)
    assert (tmp_path / "raft.wal").stat().st_size == 0
