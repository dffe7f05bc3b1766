"""Raft's wire messages (Ongaro & Ousterhout 2014, Figure 2) as canonical records.

Every message carries the sender's ``term``; the sender's id is not in the message because
the driver authenticates the link and passes it to ``on_message``. Indices and terms are
64-bit on the wire; the engine refuses terms at or above :data:`MAX_TERM` so that ``term + 1``
can never overflow the encoding.

Terminology
-----------
entry
    One log slot: the term of the leader that created it and its data, a :class:`Batch` of
    client commands (one block's transactions).
prev_log_index / prev_log_term
    The slot just before the entries of an AppendEntries, checked by the follower (the log
    matching property).
conflict_index / conflict_term
    A follower's hint on a failed AppendEntries (section 5.3's "optimisation", as etcd does
    it): where the leader should retry, so catching up costs one round trip per term of
    divergence instead of one per entry.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from labchain.consensus.engine import register_messages
from labchain.core.encoding import ListOf, Nested, Record, UInt, VarBytes

MAX_COMMAND = 1024 * 1024            # one client command (a transaction's bytes)
MAX_ENTRY_DATA = 3 * 1024 * 1024     # one entry: a batch; the engine envelope holds 4 MiB
MAX_TERM = 2 ** 62
MAX_BATCH = 100_000


@dataclass(frozen=True, slots=True)
class Batch(Record):
    """The commands of one log entry, in the leader's order (an empty batch is a no-op)."""
    commands: tuple[bytes, ...]
    ENCODING = (("commands", ListOf(VarBytes(MAX_COMMAND), max_items=MAX_BATCH)),)


@dataclass(frozen=True, slots=True)
class Entry(Record):
    term: int
    data: bytes
    ENCODING = (("term", UInt(8)), ("data", VarBytes(MAX_ENTRY_DATA)))


@dataclass(frozen=True, slots=True)
class RequestVote(Record):
    term: int
    last_log_index: int
    last_log_term: int
    COMMAND: ClassVar[bytes] = b"raft.vote"
    ENCODING = (("term", UInt(8)), ("last_log_index", UInt(8)), ("last_log_term", UInt(8)))


@dataclass(frozen=True, slots=True)
class VoteReply(Record):
    term: int
    granted: int                       # 1 or 0
    COMMAND: ClassVar[bytes] = b"raft.votereply"
    ENCODING = (("term", UInt(8)), ("granted", UInt(1)))


@dataclass(frozen=True, slots=True)
class AppendEntries(Record):
    term: int
    prev_log_index: int
    prev_log_term: int
    entries: tuple[Entry, ...]
    leader_commit: int
    COMMAND: ClassVar[bytes] = b"raft.append"
    ENCODING = (("term", UInt(8)), ("prev_log_index", UInt(8)), ("prev_log_term", UInt(8)),
                ("entries", ListOf(Nested(Entry), max_items=4096)), ("leader_commit", UInt(8)))


@dataclass(frozen=True, slots=True)
class AppendReply(Record):
    term: int
    success: int                       # 1 or 0
    match_index: int                   # on success: the follower's log matches up to here
    conflict_index: int                # on failure: where the leader should retry
    conflict_term: int                 # on failure: term of the follower's conflicting entry, or 0
    COMMAND: ClassVar[bytes] = b"raft.appendreply"
    ENCODING = (("term", UInt(8)), ("success", UInt(1)), ("match_index", UInt(8)),
                ("conflict_index", UInt(8)), ("conflict_term", UInt(8)))


@dataclass(frozen=True, slots=True)
class Forward(Record):
    """Client commands a non-leader passes on to the node it believes leads."""
    commands: tuple[bytes, ...]
    COMMAND: ClassVar[bytes] = b"raft.forward"
    ENCODING = (("commands", ListOf(VarBytes(MAX_COMMAND), max_items=4096)),)


MESSAGES = (RequestVote, VoteReply, AppendEntries, AppendReply, Forward)
register_messages(*MESSAGES)
