"""TBFT: ChainMaker's Tendermint-style BFT consensus (see :mod:`labchain.consensus.tbft.engine`)."""
from labchain.consensus.tbft.engine import TBFTConfig, TBFTEngine, build_engines, make_keys
from labchain.consensus.tbft.messages import (
    CertificateError, CommitCertificate, Decision, DuplicateVoteEvidence, EvidenceError, EvidenceMsg, Precommit,
    Prevote, Proposal, SyncRequest, verify_commit_certificate, verify_evidence,
)

__all__ = ["TBFTConfig", "TBFTEngine", "build_engines", "make_keys", "CertificateError",
           "CommitCertificate", "Decision", "DuplicateVoteEvidence", "EvidenceError", "EvidenceMsg", "Precommit",
           "Prevote", "Proposal", "SyncRequest", "verify_commit_certificate", "verify_evidence"]
