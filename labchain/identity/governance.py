"""Multi-signed governance: chain-config updates and member operations, checked by policy.

A :class:`ConfigUpdate` proposes changes to the :class:`ConsortiumConfig` (ChainMaker's chain
config, ``bc.yml``); org admins endorse its canonical bytes; :func:`apply_config_update` checks
that the update carries ``sequence = current + 1`` (so a stale or replayed proposal is refused),
that every resource it touches has its policy satisfied, and returns the new config. Member
operations (freeze, revoke, trust roots, keys) go through :func:`apply_member_op` the same way.

Terminology (ChainMaker names)
------------------------------
sequence
    The config's version number, incremented by every accepted update (``bc.yml``
    ``sequence``). An update is proposed *for* sequence ``current + 1``.
change
    ``(resource, key, value)``: ``CHAIN_CONFIG-BLOCK_UPDATE block.block_interval 2000``,
    ``CHAIN_CONFIG-NODE_ID_ADD org5 node1``, ``CHAIN_CONFIG-PERMISSION_UPDATE
    CONTRACT_MANAGE-INIT_CONTRACT ANY||admin``.
proposal bytes
    ``b"labchain/config-update\\0" + update.to_bytes()``: what admins sign; the prefix keeps a
    signature on a config update from being replayed as a member operation or a transaction.

Simplifications versus ChainMaker: the config holds only what governance changes here (values
as text, consensus nodes, policies); it is applied when :func:`apply_config_update` returns, and
the chain (not this package) decides at which block height; updates carry no expiry time.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, replace
from typing import Iterable

from labchain.core.encoding import ListOf, Nested, Record, UInt
from labchain.identity.errors import ConfigUpdateError
from labchain.identity.members import MODES, MemberOp, MemberStore
from labchain.identity.policy import DEFAULT_POLICIES, RESOURCES, Endorsement, Policy, PolicyResult, require
from labchain.identity.records import Text

#: config keys each CHAIN_CONFIG resource may set (ChainMaker's bc.yml names)
VALUE_RESOURCES = {
    "CHAIN_CONFIG-BLOCK_UPDATE": ("block.block_interval", "block.block_tx_capacity", "block.block_size",
                                  "block.tx_timeout", "block.tx_timestamp_verify"),
    "CHAIN_CONFIG-CORE_UPDATE": ("core.tx_scheduler_timeout", "core.tx_scheduler_validate_timeout"),
    "CHAIN_CONFIG-CONSENSUS_EXT_UPDATE": None,     # any consensus.ext_config.<name>
}
NODE_ADD, NODE_DELETE = "CHAIN_CONFIG-NODE_ID_ADD", "CHAIN_CONFIG-NODE_ID_DELETE"
PERMISSION_UPDATE = "CHAIN_CONFIG-PERMISSION_UPDATE"


@dataclass(frozen=True, slots=True)
class ConfigValue(Record):
    key: str
    value: str
    ENCODING = (("key", Text(128)), ("value", Text(1024)))


@dataclass(frozen=True, slots=True)
class ConsensusNode(Record):
    """ChainMaker ``consensus.nodes[{org_id, node_id[]}]``, one entry per node."""

    org_id: str
    node_id: str
    ENCODING = (("org_id", Text()), ("node_id", Text()))


@dataclass(frozen=True, slots=True)
class ResourcePolicy(Record):
    """ChainMaker ``resource_policies[{resource_name, policy}]``."""

    resource: str
    policy: Policy
    ENCODING = (("resource", Text(64)), ("policy", Nested(Policy)))


@dataclass(frozen=True, slots=True)
class ConsortiumConfig(Record):
    """The governed part of a consortium chain's config (lists sorted, so encoding is canonical)."""

    chain_id: str
    sequence: int = 0
    auth_type: str = "permissioned-cert"
    values: tuple[ConfigValue, ...] = ()
    consensus_nodes: tuple[ConsensusNode, ...] = ()
    policies: tuple[ResourcePolicy, ...] = ()
    ENCODING = (("chain_id", Text(64)), ("sequence", UInt(8)), ("auth_type", Text(32)),
                ("values", ListOf(Nested(ConfigValue))), ("consensus_nodes", ListOf(Nested(ConsensusNode))),
                ("policies", ListOf(Nested(ResourcePolicy))))

    def __post_init__(self) -> None:
        if self.auth_type not in MODES:
            raise ConfigUpdateError(f"unknown auth_type {self.auth_type!r}; modes are {', '.join(MODES)}",
                                    self.auth_type)

    def value(self, key: str, default: str | None = None) -> str | None:
        return next((v.value for v in self.values if v.key == key), default)

    def policy_for(self, resource: str) -> Policy:
        """The configured policy of ``resource``, else ChainMaker's default."""
        for entry in self.policies:
            if entry.resource == resource:
                return entry.policy
        if resource not in DEFAULT_POLICIES:
            raise ConfigUpdateError(f"unknown resource {resource!r}; resources are "
                                    f"{', '.join(RESOURCES)}", resource)
        return DEFAULT_POLICIES[resource]


@dataclass(frozen=True, slots=True)
class ConfigChange(Record):
    resource: str
    key: str
    value: str = ""
    ENCODING = (("resource", Text(64)), ("key", Text(128)), ("value", Text(1024)))


@dataclass(frozen=True, slots=True)
class ConfigUpdate(Record):
    """A proposal: move ``chain_id``'s config to ``sequence`` with ``changes``."""

    chain_id: str
    sequence: int
    changes: tuple[ConfigChange, ...]
    ENCODING = (("chain_id", Text(64)), ("sequence", UInt(8)), ("changes", ListOf(Nested(ConfigChange), 256)))

    def signing_bytes(self) -> bytes:
        return b"labchain/config-update\x00" + self.to_bytes()


def _sorted(items: Iterable[Record]) -> tuple:
    return tuple(sorted(set(items), key=lambda r: r.to_bytes()))


def _apply_change(config: ConsortiumConfig, change: ConfigChange) -> ConsortiumConfig:
    resource, key, value = change.resource, change.key, change.value
    if resource in VALUE_RESOURCES:
        allowed = VALUE_RESOURCES[resource]
        ok = key.startswith("consensus.ext_config.") if allowed is None else key in allowed
        if not ok:
            expect = "consensus.ext_config.<name>" if allowed is None else ", ".join(allowed)
            raise ConfigUpdateError(f"{resource} cannot set {key!r}; it sets {expect}", change)
        values = [v for v in config.values if v.key != key] + [ConfigValue(key, value)]
        return replace(config, values=_sorted(values))
    if resource in (NODE_ADD, NODE_DELETE):
        node = ConsensusNode(key, value)
        if resource == NODE_ADD:
            if node in config.consensus_nodes:
                raise ConfigUpdateError(f"node {value} of org {key} is already a consensus node", change)
            return replace(config, consensus_nodes=_sorted(config.consensus_nodes + (node,)))
        if node not in config.consensus_nodes:
            raise ConfigUpdateError(f"node {value} of org {key} is not a consensus node", change)
        return replace(config, consensus_nodes=tuple(n for n in config.consensus_nodes if n != node))
    if resource == PERMISSION_UPDATE:
        if key not in RESOURCES:
            raise ConfigUpdateError(f"cannot set a policy for unknown resource {key!r}", change)
        entry = ResourcePolicy(key, Policy.parse(value))
        return replace(config, policies=_sorted([p for p in config.policies if p.resource != key] + [entry]))
    raise ConfigUpdateError(f"{resource!r} is not a chain-config change; config updates carry "
                            f"{', '.join([*VALUE_RESOURCES, NODE_ADD, NODE_DELETE, PERMISSION_UPDATE])}",
                            change)


def check_config_update(config: ConsortiumConfig, update: ConfigUpdate, endorsements: Iterable[Endorsement],
                        members: MemberStore, now: _dt.datetime | None = None) -> list[PolicyResult]:
    """Every check of :func:`apply_config_update`; returns the policy traces (all satisfied)."""
    if update.chain_id != config.chain_id:
        raise ConfigUpdateError(f"the config update is for chain {update.chain_id!r}, this chain is "
                                f"{config.chain_id!r}", update)
    if update.sequence != config.sequence + 1:
        why = "a stale or replayed proposal" if update.sequence <= config.sequence else "a proposal from the future"
        raise ConfigUpdateError(f"the config update carries sequence {update.sequence} but the chain config is "
                                f"at sequence {config.sequence}, so the next update must carry "
                                f"{config.sequence + 1} ({why})", update)
    if not update.changes:
        raise ConfigUpdateError("the config update has no changes", update)
    endorsements = list(endorsements)
    message = update.signing_bytes()
    results = []
    for resource in dict.fromkeys(c.resource for c in update.changes):
        policy = config.policy_for(resource)
        self_org = next((c.key for c in update.changes if c.resource == resource), "")
        results.append(require(policy, endorsements, members, message, resource=resource,
                               self_org=self_org, now=now))
    return results


def apply_config_update(config: ConsortiumConfig, update: ConfigUpdate, endorsements: Iterable[Endorsement],
                        members: MemberStore, now: _dt.datetime | None = None) -> ConsortiumConfig:
    """The config after ``update`` (sequence + 1), or ConfigUpdateError / PolicyError saying why not."""
    check_config_update(config, update, endorsements, members, now)
    new = config
    for change in update.changes:
        new = _apply_change(new, change)
    return replace(new, sequence=update.sequence)


def apply_member_op(members: MemberStore, op: MemberOp, endorsements: Iterable[Endorsement],
                    config: ConsortiumConfig, now: _dt.datetime | None = None) -> MemberStore:
    """``members`` after ``op``, once ``config``'s policy for ``op.kind`` is satisfied (SELF is
    ``op.org_id``); raises PolicyError with the trace, or MemberStoreError."""
    require(config.policy_for(op.kind), list(endorsements), members, op.signing_bytes(),
            resource=op.kind, self_org=op.org_id, now=now)
    return members.apply(op, now)
