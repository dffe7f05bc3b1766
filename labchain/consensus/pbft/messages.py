"""PBFT wire messages: canonical records, what each signature covers, and proof checks.

Every message names its sender by *replica index* (its position in the validator list), as
Castro and Liskov's replica number ``i``; the engine maps an index to a node id. Each signed
message carries a 64-byte suite signature over ``DOMAIN || COMMAND || chain domain || the
signed fields`` (``SIGNED`` lists them; a pre-prepare signs the digest, not the value it
piggybacks, as in the paper). FISCO BCOS names are given where they differ.

Simplifications: no MACs/authenticators (every message is signed, as in the paper's
signature-based variant, section 4); no client requests or replies (values come from the
proposer's application); one value per sequence number (no batching).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from labchain.consensus.engine import register_messages
from labchain.core.encoding import FixedBytes, ListOf, Nested, Record, UInt, VarBytes

#: prefix of every signed payload, so a PBFT signature is never valid for anything else
DOMAIN = b"labchain-pbft-v1\x00"
#: the largest value (block bytes) one pre-prepare carries
MAX_VALUE = 2 * 1024 * 1024
_SIG = FixedBytes(64)
_DIGEST = FixedBytes(32)
_SEQ = UInt(8)
_VIEW = UInt(8)
_REPLICA = UInt(2)
NO_SIGNATURE = bytes(64)


class Signed:
    """Mixin: the bytes a message's signature covers, and a copy carrying a signature.
    ``height``/``round`` name the sequence number and view the way the simulator's message
    charts and the engine-independent fault wrappers read them (TBFT's names)."""

    __slots__ = ()
    COMMAND: ClassVar[bytes]
    SIGNED: ClassVar[tuple[str, ...]]

    def signing_bytes(self, domain: bytes = b"") -> bytes:
        out = bytearray(DOMAIN + self.COMMAND + b"\x00" + len(domain).to_bytes(1, "big") + domain)
        codecs = dict(self.ENCODING)  # type: ignore[attr-defined]
        for name in self.SIGNED:
            codecs[name].write(out, getattr(self, name), f"{type(self).__name__}.{name}")
        return bytes(out)

    def signed_by(self, suite, secret: int, domain: bytes = b""):
        return replace(self, signature=suite.sign(secret, self.signing_bytes(domain)))  # type: ignore[type-var]


class InView:
    """Mixin of the normal-case messages: ``height`` is the sequence number, ``round`` the view."""

    __slots__ = ()

    @property
    def height(self) -> int:
        return self.seq  # type: ignore[attr-defined]

    @property
    def round(self) -> int:
        return self.view  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class PrePrepare(InView, Signed, Record):
    """<PRE-PREPARE, v, n, d>: the primary assigns sequence ``seq`` to ``value`` in ``view``
    (FISCO BCOS: PBFTMessage of type PrePreparePacket, ``seq`` is the block number)."""
    view: int
    seq: int
    digest: bytes
    value: bytes
    replica: int
    signature: bytes = NO_SIGNATURE
    COMMAND = b"pbft.preprepare"
    SIGNED = ("view", "seq", "digest", "replica")
    ENCODING = (("view", _VIEW), ("seq", _SEQ), ("digest", _DIGEST), ("value", VarBytes(MAX_VALUE)),
                ("replica", _REPLICA), ("signature", _SIG))


@dataclass(frozen=True, slots=True)
class _Vote(InView, Signed, Record):
    """The fields of both votes, <v, n, d, i>; never sent itself (no COMMAND)."""
    view: int
    seq: int
    digest: bytes
    replica: int
    signature: bytes = NO_SIGNATURE
    SIGNED = ("view", "seq", "digest", "replica")
    ENCODING = (("view", _VIEW), ("seq", _SEQ), ("digest", _DIGEST), ("replica", _REPLICA),
                ("signature", _SIG))


@dataclass(frozen=True, slots=True)
class Prepare(_Vote):
    """<PREPARE, v, n, d, i>: backup ``replica`` accepted the pre-prepare."""
    COMMAND = b"pbft.prepare"


@dataclass(frozen=True, slots=True)
class CommitVote(_Vote):
    """<COMMIT, v, n, d, i>: ``replica`` has prepared (the paper's COMMIT message; named
    CommitVote here so it is not confused with the engine's Commit output)."""
    COMMAND = b"pbft.commit"


@dataclass(frozen=True, slots=True)
class Checkpoint(Signed, Record):
    """<CHECKPOINT, n, d, i>: ``replica`` executed up to ``seq`` and its state digest (the
    chained hash of every committed value) is ``state`` (FISCO BCOS: CheckPoint packet)."""
    seq: int
    state: bytes
    replica: int
    signature: bytes = NO_SIGNATURE
    COMMAND = b"pbft.checkpoint"
    SIGNED = ("seq", "state", "replica")
    ENCODING = (("seq", _SEQ), ("state", _DIGEST), ("replica", _REPLICA), ("signature", _SIG))

    @property
    def height(self) -> int:
        return self.seq


@dataclass(frozen=True, slots=True)
class PreparedProof(Record):
    """One element of a view change's P set: a pre-prepare and 2f matching prepares."""
    pre_prepare: PrePrepare
    prepares: tuple[Prepare, ...]
    ENCODING = (("pre_prepare", Nested(PrePrepare)), ("prepares", ListOf(Nested(Prepare), 1024)))


@dataclass(frozen=True, slots=True)
class ViewChange(Signed, Record):
    """<VIEW-CHANGE, v+1, n, C, P, i>: ``replica`` moves to ``new_view``; ``stable_seq`` is its
    last stable checkpoint, ``checkpoints`` its proof (C, 2f+1 messages; empty at 0) and
    ``prepared`` the P set (FISCO BCOS: ViewChangePacket carries the prepared proposals)."""
    new_view: int
    stable_seq: int
    checkpoints: tuple[Checkpoint, ...]
    prepared: tuple[PreparedProof, ...]
    replica: int
    signature: bytes = NO_SIGNATURE
    COMMAND = b"pbft.viewchange"
    SIGNED = ("new_view", "stable_seq", "checkpoints", "prepared", "replica")
    ENCODING = (("new_view", _VIEW), ("stable_seq", _SEQ),
                ("checkpoints", ListOf(Nested(Checkpoint), 1024)),
                ("prepared", ListOf(Nested(PreparedProof), 4096)),
                ("replica", _REPLICA), ("signature", _SIG))

    @property
    def round(self) -> int:
        return self.new_view


@dataclass(frozen=True, slots=True)
class NewView(Signed, Record):
    """<NEW-VIEW, v+1, V, O>: the new primary's proof (2f+1 view changes) and the
    pre-prepares it re-issues for the sequence numbers they leave open."""
    view: int
    view_changes: tuple[ViewChange, ...]
    pre_prepares: tuple[PrePrepare, ...]
    replica: int
    signature: bytes = NO_SIGNATURE
    COMMAND = b"pbft.newview"
    SIGNED = ("view", "view_changes", "pre_prepares", "replica")
    ENCODING = (("view", _VIEW), ("view_changes", ListOf(Nested(ViewChange), 1024)),
                ("pre_prepares", ListOf(Nested(PrePrepare), 4096)),
                ("replica", _REPLICA), ("signature", _SIG))


@dataclass(frozen=True, slots=True)
class CommitCertificate(Record):
    """2f+1 signed commits for one (view, seq, digest): the proof stored beside a committed
    value (the engine's ``Commit.certificate``) and carried by state transfer."""
    view: int
    seq: int
    digest: bytes
    commits: tuple[CommitVote, ...]
    ENCODING = (("view", _VIEW), ("seq", _SEQ), ("digest", _DIGEST),
                ("commits", ListOf(Nested(CommitVote), 1024)))


@dataclass(frozen=True, slots=True)
class CommittedEntry(Record):
    value: bytes
    certificate: CommitCertificate
    ENCODING = (("value", VarBytes(MAX_VALUE)), ("certificate", Nested(CommitCertificate)))


@dataclass(frozen=True, slots=True)
class Fetch(Record):
    """State-transfer request: ``replica`` has executed up to ``from_seq - 1`` and is in
    ``view`` (FISCO BCOS splits this into block sync and a RecoverRequest for the view)."""
    from_seq: int
    view: int
    replica: int
    COMMAND = b"pbft.fetch"
    ENCODING = (("from_seq", _SEQ), ("view", _VIEW), ("replica", _REPLICA))


@dataclass(frozen=True, slots=True)
class CatchUp(Record):
    """State-transfer answer: committed values with their certificates from ``from_seq`` on,
    the sender's stable checkpoint proof, and its latest new-view when it is in a later view.
    Nothing in it is trusted: every certificate and proof is checked by signatures."""
    entries: tuple[CommittedEntry, ...]
    checkpoints: tuple[Checkpoint, ...]
    new_view: tuple[NewView, ...]
    replica: int
    COMMAND = b"pbft.catchup"
    ENCODING = (("entries", ListOf(Nested(CommittedEntry), 256)),
                ("checkpoints", ListOf(Nested(Checkpoint), 1024)),
                ("new_view", ListOf(Nested(NewView), 1)), ("replica", _REPLICA))


MESSAGES = (PrePrepare, Prepare, CommitVote, Checkpoint, ViewChange, NewView, Fetch, CatchUp)
register_messages(*MESSAGES)
