"""PBFT (Castro & Liskov 1999), FISCO BCOS's consensus, behind the Engine interface.

``engine.py`` holds the replica state machine and its terminology; ``messages.py`` the signed
wire records. Decisions and simplifications: docs/consensus-pbft.md.
"""
from labchain.consensus.pbft.engine import PBFTEngine, keyring
from labchain.consensus.pbft.messages import (
    CatchUp, Checkpoint, CommitCertificate, CommitVote, CommittedEntry, Fetch, NewView,
    PrePrepare, Prepare, PreparedProof, ViewChange,
)

__all__ = ["PBFTEngine", "keyring", "CatchUp", "Checkpoint", "CommitCertificate", "CommitVote",
           "CommittedEntry", "Fetch", "NewView", "PrePrepare", "Prepare", "PreparedProof",
           "ViewChange"]
