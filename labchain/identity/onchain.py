"""Governance transactions on chain: one record with its endorsements, replayed block by block.

A :class:`GovernanceTx` carries one governed action, a :class:`~labchain.identity.governance.ConfigUpdate`
or a :class:`~labchain.identity.members.MemberOp`, together with the org admins' endorsements of
its signing bytes (a single multi-endorsement transaction: the endorsements are collected off
chain, as ChainMaker's ``cmc`` collects admin signatures into one config-update payload). Every
node replays the governance transactions of its chain in block order through
:meth:`GovernanceState.apply`, with the *block's* timestamp as the time certificates are checked
at: the same blocks give the same state on every node. An action included in block ``h``
holds from block ``h + 1`` on (the state *after* block ``h``).

Terminology (ChainMaker names)
------------------------------
governance transaction
    ChainMaker: a transaction to a system contract (``CHAIN_CONFIG``, ``CERT_MANAGE``) whose
    payload carries the endorsements. Here: :data:`DATA_PREFIX` + the record's bytes in a
    transaction's data (the node layer says which transactions; labchain/node/governance.py).
sequence
    The chain config's version (``ConsortiumConfig.sequence``); each accepted config update
    moves it by one. Member operations do not change it (ChainMaker's ``CERT_MANAGE`` contract
    is not part of ``bc.yml`` either): they carry their own **member sequence**
    (``MemberOp.sequence``, the count of accepted member operations plus one), so a replayed
    member operation is refused as stale while the same operation proposed afresh (freeze,
    unfreeze, freeze again) is not.
outcome
    What became of one governance transaction: accepted, or rejected with the sentence (for a
    policy, :meth:`~labchain.identity.policy.PolicyResult.explain`: which policy, which orgs
    counted, which were missing, which signers were ignored and why).

Values are checked as well as policies (:data:`VALUE_RULES`, :func:`check_values`): a
``block.block_tx_capacity`` of 0, a negative or non-numeric ``block.block_interval``
(milliseconds, as in ChainMaker) is refused with a sentence at check time and, should one reach
a block, recorded as rejected by every node alike. Which governed values the running consensus
engine follows (``block_interval``, ``block_tx_capacity``, from the next block) is the node's
business: labchain/node/consensus.py.

Simplifications versus ChainMaker: a rejected governance transaction stays in its block and
changes nothing (ChainMaker refuses it before the block; a LabChain node refuses it at the RPC
already, so only a race with another update gets one into a block); member operations are
numbered by one chain-wide member sequence, so two admins proposing at once race and one must
propose again (ChainMaker's tx ids let both pass); the state is replayed from genesis when a
node starts (no governance snapshot).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, replace

from labchain.core.encoding import ListOf, Nested, Record, UInt, VarBytes
from labchain.core.errors import EncodingError, LabchainError
from labchain.identity.errors import ConfigUpdateError, GovernanceError
from labchain.identity.governance import ConfigUpdate, ConsortiumConfig, apply_member_op, check_config_update
from labchain.identity.governance import apply_config_update
from labchain.identity.members import MemberOp, MemberStore
from labchain.identity.policy import Endorsement, PolicyResult, evaluate

#: what starts a governance transaction's data (then the record's canonical bytes)
DATA_PREFIX = b"labchain/governance\x00"
CONFIG_UPDATE, MEMBER_OP = 1, 2
KINDS = {CONFIG_UPDATE: "config-update", MEMBER_OP: "member-op"}
MAX_ENDORSEMENTS = 64
MAX_HISTORY = 1000


@dataclass(frozen=True, slots=True)
class GovernanceTx(Record):
    """``kind`` (1 config update, 2 member operation), the action's bytes, the endorsements."""

    kind: int
    body: bytes
    endorsements: tuple[Endorsement, ...] = ()
    ENCODING = (("kind", UInt(1)), ("body", VarBytes(64 * 1024)),
                ("endorsements", ListOf(Nested(Endorsement), MAX_ENDORSEMENTS)))

    @classmethod
    def of(cls, action: ConfigUpdate | MemberOp, endorsements=()) -> GovernanceTx:
        kind = CONFIG_UPDATE if isinstance(action, ConfigUpdate) else MEMBER_OP
        if not isinstance(action, (ConfigUpdate, MemberOp)):
            raise GovernanceError(f"a governance transaction carries a ConfigUpdate or a MemberOp, "
                                  f"not {type(action).__name__}", action)
        return cls(kind, action.to_bytes(), tuple(endorsements))

    def action(self) -> ConfigUpdate | MemberOp:
        """The decoded action; GovernanceError for an unknown kind or undecodable bytes."""
        kind = {CONFIG_UPDATE: ConfigUpdate, MEMBER_OP: MemberOp}.get(self.kind)
        if kind is None:
            raise GovernanceError(f"unknown governance kind {self.kind}; kinds are 1 (config update) "
                                  "and 2 (member operation)", self.kind)
        try:
            return kind.from_bytes(self.body)
        except (EncodingError, ValueError) as exc:
            raise GovernanceError(f"the {KINDS[self.kind]} in this governance transaction does not "
                                  f"decode: {exc}", self.body) from None

    def signing_bytes(self) -> bytes:
        """What each admin signs: the action's domain-separated bytes (not the endorsements)."""
        return self.action().signing_bytes()

    def endorsed(self, *endorsements: Endorsement) -> GovernanceTx:
        return replace(self, endorsements=self.endorsements + tuple(endorsements))

    def describe(self) -> str:
        action = self.action()
        if isinstance(action, MemberOp):
            return action.describe()
        changes = ", ".join(f"{c.resource} {c.key}={c.value}" if c.value else f"{c.resource} {c.key}"
                            for c in action.changes)
        return f"config update to sequence {action.sequence}: {changes}"

    def to_data(self) -> bytes:
        return DATA_PREFIX + self.to_bytes()

    @classmethod
    def from_data(cls, data: bytes) -> GovernanceTx | None:
        """The record in a transaction's ``data``; None when it is no governance data at all."""
        if not bytes(data).startswith(DATA_PREFIX):
            return None
        try:
            return cls.from_bytes(bytes(data)[len(DATA_PREFIX):])
        except (EncodingError, ValueError) as exc:
            raise GovernanceError(f"malformed governance transaction: {exc}", data) from None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one governance transaction at ``height``."""

    height: int
    txid: str
    kind: str
    description: str
    accepted: bool
    reason: str            # the refusal sentence ("" when accepted)
    sequence: int          # the config's sequence after it

    def to_json(self) -> dict:
        return {"height": self.height, "txid": self.txid, "kind": self.kind, "description": self.description,
                "accepted": self.accepted, "reason": self.reason, "sequence": self.sequence}


def trace_json(result: PolicyResult) -> dict:
    """A policy evaluation trace as JSON (RPC answers and errors)."""
    return {"resource": result.resource, "policy": str(result.policy), "universe": list(result.universe),
            "needed": result.needed, "satisfied": result.satisfied,
            "counted": [{"signer": t.signer, "org": t.org, "role": t.role} for t in result.counted],
            "missing_orgs": list(result.missing_orgs),
            "ignored": [{"signer": t.signer, "org": t.org, "role": t.role, "reason": t.reason, "detail": t.detail}
                        for t in result.ignored],
            "explain": result.explain()}


# --- values a config update may set ----------------------------------------------------------

def _integer(low: int, high: int, unit: str):
    def rule(text: str) -> str | None:
        try:
            value = int(text, 10)
        except (TypeError, ValueError):
            return f"it must be a whole number of {unit} from {low} to {high}"
        return None if low <= value <= high else f"it must be from {low} to {high} {unit}"
    return rule


def _boolean(text: str) -> str | None:
    return None if text in ("true", "false") else "it must be true or false"


#: key -> rule returning why a value is refused (None: acceptable); ChainMaker's bc.yml units
VALUE_RULES = {
    "block.block_interval": _integer(1, 600_000, "milliseconds"),      # ChainMaker: ms
    "block.block_tx_capacity": _integer(1, 1_000_000, "transactions"),
    "block.block_size": _integer(1, 1_000, "MB"),                           # ChainMaker: MB
    "block.tx_timeout": _integer(1, 31_536_000, "seconds"),
    "block.tx_timestamp_verify": _boolean,
}


def check_values(update: ConfigUpdate) -> None:
    """ConfigUpdateError with a sentence for a value no node could use (``block_tx_capacity``
    0, a negative ``block_interval``, text where a number goes); run at check and at replay."""
    for change in update.changes:
        rule = VALUE_RULES.get(change.key)
        problem = rule(change.value) if rule is not None else None
        if problem is not None:
            raise ConfigUpdateError(f"{change.resource} {change.key}={change.value!r} is refused: {problem}",
                                    change)


@dataclass(frozen=True, slots=True)
class GovernanceState:
    """The governed config and member store after block ``height``, and what happened so far."""

    config: ConsortiumConfig
    members: MemberStore
    height: int = 0
    member_sequence: int = 0               # member operations accepted so far (MemberOp.sequence)
    history: tuple[Outcome, ...] = ()
    #: (key, first height it holds at, config sequence that set it) for each value set so far
    since: tuple[tuple[str, int, int], ...] = ()

    def value_since(self, key: str) -> tuple[int, int] | None:
        """``(first height, config sequence)`` of the governed value ``key``; None if never set."""
        return next(((h, seq) for k, h, seq in self.since if k == key), None)

    @classmethod
    def genesis(cls, chain_id: str, members: MemberStore) -> GovernanceState:
        return cls(ConsortiumConfig(chain_id, 0, members.mode), members)

    def traces(self, gtx: GovernanceTx, now: _dt.datetime | None = None) -> list[PolicyResult]:
        """Every policy the record needs, evaluated (never raises for a missing endorsement;
        GovernanceError / ConfigUpdateError for a record that cannot apply at all)."""
        action = gtx.action()
        endorsements = list(gtx.endorsements)
        if isinstance(action, MemberOp):
            return [evaluate(self.config.policy_for(action.kind), endorsements, self.members,
                             action.signing_bytes(), resource=action.kind, self_org=action.org_id, now=now)]
        from labchain.identity.errors import PolicyError

        try:
            return check_config_update(self.config, action, endorsements, self.members, now)
        except PolicyError as exc:
            return [exc.result]

    def check(self, gtx: GovernanceTx, now: _dt.datetime | None = None) -> list[PolicyResult]:
        """:meth:`apply`'s checks without applying: the traces, or an IdentityError saying why not."""
        self._next(gtx, now)
        return self.traces(gtx, now)

    def _next(self, gtx: GovernanceTx, now) -> tuple[ConsortiumConfig, MemberStore, int]:
        action = gtx.action()
        if isinstance(action, ConfigUpdate):
            check_values(action)
            return (apply_config_update(self.config, action, gtx.endorsements, self.members, now),
                    self.members, self.member_sequence)
        expected = self.member_sequence + 1
        if action.sequence != expected:
            why = ("a stale or replayed governance transaction (propose it again)" if action.sequence < expected
                   else "a governance transaction from the future")
            raise GovernanceError(f"this member operation ({action.describe()}) carries member sequence "
                                  f"{action.sequence} but the chain's next is {expected}: {why}", gtx)
        members = apply_member_op(self.members, action, gtx.endorsements, self.config, now)
        return self.config, members, expected

    def apply(self, gtx: GovernanceTx | None, height: int, txid: str, now: _dt.datetime,
              error: str = "") -> GovernanceState:
        """The state after the governance transaction ``txid`` of block ``height`` (``gtx`` None
        with ``error``: undecodable data, recorded as rejected)."""
        try:
            if gtx is None:
                raise GovernanceError(error or "no governance record", txid)
            kind, description = KINDS.get(gtx.kind, str(gtx.kind)), gtx.describe()
            config, members, member_sequence = self._next(gtx, now)
        except (LabchainError, ValueError) as exc:     # IdentityError and any decoding error
            kind = KINDS.get(gtx.kind, "?") if gtx is not None else "?"
            description = _safe_describe(gtx)
            outcome = Outcome(height, txid, kind, description, False, str(exc), self.config.sequence)
            return replace(self, history=(self.history + (outcome,))[-MAX_HISTORY:])
        outcome = Outcome(height, txid, kind, description, True, "", config.sequence)
        since = self.since
        if config is not self.config:
            keys = {c.key for c in gtx.action().changes}
            since = tuple(sorted([e for e in since if e[0] not in keys]
                                 + [(k, height + 1, config.sequence) for k in keys]))
        return replace(self, config=config, members=members, member_sequence=member_sequence, since=since,
                       history=(self.history + (outcome,))[-MAX_HISTORY:])


def _safe_describe(gtx: GovernanceTx | None) -> str:
    if gtx is None:
        return "undecodable governance data"
    try:
        return gtx.describe()
    except (LabchainError, ValueError):
        return f"governance kind {gtx.kind}"
