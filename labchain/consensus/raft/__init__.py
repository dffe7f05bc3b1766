"""Raft consensus (crash-fault tolerant, leader based) behind the Engine interface: the
engine is ``engine.py`` (election, replication, commit, clients), its wire messages
``messages.py``. Design notes and simplifications: the docstring of ``engine.py`` and
docs/consensus-raft.md."""
from labchain.consensus.raft.engine import (  # noqa: F401
    CANDIDATE, FOLLOWER, LEADER, RaftConfig, RaftEngine, batch_commands, command_digest,
)
from labchain.consensus.raft.messages import (  # noqa: F401
    AppendEntries, AppendReply, Batch, Entry, Forward, RequestVote, VoteReply,
)
