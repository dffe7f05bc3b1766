"""Resource policies (rule x org list x role list) and their evaluation, with a trace.

A :class:`Policy` says who must endorse an action on a *resource* (ChainMaker's
``resource_policies`` in ``bc.yml``). :func:`evaluate` checks a list of :class:`Endorsement`
records against it and returns a :class:`PolicyResult` that records, for every signer, whether
it counted or why it was ignored, which orgs are still missing, and :meth:`PolicyResult.explain`
gives it all as one sentence. :func:`require` raises :class:`PolicyError` carrying that result.

Terminology (ChainMaker names)
------------------------------
rule
    ``ANY`` (one org), ``ALL`` (every org of the list), ``MAJORITY`` (more than half of the
    orgs), an integer ``"3"`` (at least 3 orgs), a fraction ``"2/3"`` (at least two thirds of the
    orgs, rounded up), ``SELF`` (the org the action is about, e.g. the org whose trust root is
    updated).
org list / role list
    Only endorsements by these orgs / in these roles count; an empty list means every org of
    the consortium / every role. "The orgs" a rule counts over are the org list, or every org
    of the member store when the list is empty.
endorsement
    A signature over the action's canonical bytes plus the signer: a certificate (DER) in
    ``permissioned-cert`` mode, a registered public key otherwise.
one vote per org
    Several admins of one org count once; the extra signatures are ignored as ``duplicate org``.

Simplifications versus ChainMaker: the policy counts organisations, never individual
signatures (ChainMaker's integer rule counts signatures in some versions); there is no
``FORBIDDEN`` rule and no per-method contract policies; policies are checked in full each time
(no caching of verified certificates).
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from typing import Iterable

from labchain.core.encoding import ListOf, Record, VarBytes
from labchain.crypto.suite import get_suite
from labchain.identity.errors import IdentityError, PolicyError, PolicySyntaxError
from labchain.identity.records import Text
from labchain.identity.x509 import ROLES, KeyPair

NAMED_RULES = ("ANY", "ALL", "MAJORITY", "SELF")

# --- resources (ChainMaker's names) ---------------------------------------------------------
RESOURCES = {
    "CHAIN_CONFIG-TRUST_ROOT_ADD": "add an org's CA certificate to the trust roots",
    "CHAIN_CONFIG-TRUST_ROOT_UPDATE": "replace an org's own CA certificate",
    "CHAIN_CONFIG-TRUST_ROOT_DELETE": "remove an org's CA certificate from the trust roots",
    "CHAIN_CONFIG-NODE_ID_ADD": "add a consensus node",
    "CHAIN_CONFIG-NODE_ID_DELETE": "remove a consensus node",
    "CHAIN_CONFIG-BLOCK_UPDATE": "change block settings (block_interval, block_tx_capacity...)",
    "CHAIN_CONFIG-CORE_UPDATE": "change core settings (tx_scheduler_timeout...)",
    "CHAIN_CONFIG-CONSENSUS_EXT_UPDATE": "change consensus ext_config settings",
    "CHAIN_CONFIG-PERMISSION_UPDATE": "change a resource policy",
    "CERT_MANAGE-CERTS_FREEZE": "freeze a certificate",
    "CERT_MANAGE-CERTS_UNFREEZE": "unfreeze a certificate",
    "CERT_MANAGE-CERTS_REVOKE": "revoke a certificate",
    "PUBKEY_MANAGE-PUBKEY_ADD": "register a public key (permissioned-key mode)",
    "PUBKEY_MANAGE-PUBKEY_DELETE": "delete a registered public key",
    "CONTRACT_MANAGE-INIT_CONTRACT": "deploy a contract",
    "CONTRACT_MANAGE-UPGRADE_CONTRACT": "upgrade a contract",
    "CONTRACT_MANAGE-FREEZE_CONTRACT": "freeze a contract",
}


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _check_rule(rule: str) -> None:
    if rule in NAMED_RULES:
        return
    if rule.isdigit():
        if int(rule) < 1:
            raise PolicySyntaxError(f"policy rule {rule!r}: a number of orgs must be at least 1", rule)
        return
    num, slash, den = rule.partition("/")
    if slash and num.isdigit() and den.isdigit():
        if int(den) == 0 or not 0 < int(num) <= int(den):
            raise PolicySyntaxError(f"policy rule {rule!r}: a fraction must lie in (0, 1], like 2/3", rule)
        return
    raise PolicySyntaxError(f"unknown policy rule {rule!r}; use ANY, ALL, MAJORITY, SELF, a number "
                            "like 3 or a fraction like 2/3", rule)


@dataclass(frozen=True, slots=True)
class Policy(Record):
    """rule x org list x role list (ChainMaker ``policy: {rule, org_list, role_list}``)."""

    rule: str
    org_list: tuple[str, ...] = ()
    role_list: tuple[str, ...] = ()
    ENCODING = (("rule", Text(16)), ("org_list", ListOf(Text(), 256)), ("role_list", ListOf(Text(32), 8)))

    def __post_init__(self) -> None:
        if not isinstance(self.rule, str):
            raise PolicySyntaxError(f"a policy rule is text, got {type(self.rule).__name__}", self.rule)
        _check_rule(self.rule)
        for role in self.role_list:
            if role not in ROLES:
                raise PolicySyntaxError(f"unknown role {role!r} in a policy; roles are {', '.join(ROLES)}", role)
        if self.rule == "SELF" and self.org_list:
            raise PolicySyntaxError("a SELF policy takes no org list: the org is the one the action is about",
                                    self.org_list)

    @classmethod
    def parse(cls, text: str) -> Policy:
        """From ``RULE``, ``RULE|org1,org2|admin`` or ``RULE||admin,client`` (the form
        ``CHAIN_CONFIG-PERMISSION_UPDATE`` changes carry)."""
        if not isinstance(text, str) or text.count("|") > 2:
            raise PolicySyntaxError(f"a policy is written RULE|orgs|roles, got {text!r}", text)
        rule, _, rest = text.partition("|")
        orgs, _, roles = rest.partition("|")
        split = lambda s: tuple(x.strip() for x in s.split(",") if x.strip())  # noqa: E731
        return cls(rule.strip().upper(), split(orgs), split(roles))

    def __str__(self) -> str:
        return f"{self.rule}|{','.join(self.org_list)}|{','.join(self.role_list)}"

    def describe(self, universe: tuple[str, ...], needed: int, self_org: str = "") -> str:
        """What the policy asks, e.g. ``admin signatures from a majority (3) of 4 orgs (org1, ...)``."""
        roles = " or ".join(self.role_list) if self.role_list else "member"
        orgs = f"{len(universe)} org{'s' if len(universe) != 1 else ''} ({', '.join(universe) or 'none'})"
        if self.rule == "SELF":
            return f"{_article(roles)} {roles} signature from the org concerned, {self_org}"
        if self.rule == "ANY":
            return f"{_article(roles)} {roles} signature from any of {orgs}"
        if self.rule == "ALL":
            return f"{roles} signatures from all {orgs}"
        if self.rule == "MAJORITY":
            return f"{roles} signatures from a majority ({needed}) of {orgs}"
        if self.rule.isdigit():
            return f"{roles} signatures from {needed} of {orgs}"
        return f"{roles} signatures from {self.rule} ({needed}) of {orgs}"

    def needed(self, universe: tuple[str, ...]) -> int:
        n = len(universe)
        if self.rule == "ANY" or self.rule == "SELF":
            return 1
        if self.rule == "ALL":
            return n
        if self.rule == "MAJORITY":
            return n // 2 + 1
        if self.rule.isdigit():
            return int(self.rule)
        num, den = map(int, self.rule.split("/"))
        return max(1, math.ceil(num * n / den))


#: ChainMaker's defaults (chainmaker-go ``bc.yml`` and its docs): MAJORITY of admins for chain
#: config and contracts, ANY admin for certificate freeze/revoke, SELF admin to update one's own.
DEFAULT_POLICIES = {
    **{r: Policy("MAJORITY", (), ("admin",)) for r in RESOURCES},
    "CHAIN_CONFIG-TRUST_ROOT_UPDATE": Policy("SELF", (), ("admin",)),
    "CERT_MANAGE-CERTS_FREEZE": Policy("ANY", (), ("admin",)),
    "CERT_MANAGE-CERTS_UNFREEZE": Policy("ANY", (), ("admin",)),
    "CERT_MANAGE-CERTS_REVOKE": Policy("ANY", (), ("admin",)),
}


@dataclass(frozen=True, slots=True)
class Endorsement(Record):
    """A signer (certificate DER, or registered public key) and its signature (64 bytes)."""

    signer: bytes
    signature: bytes
    ENCODING = (("signer", VarBytes(16 * 1024)), ("signature", VarBytes(128)))


def endorse(message: bytes, key: KeyPair, certificate=None) -> Endorsement:
    """Sign ``message`` with ``key``; the signer is ``certificate``'s DER when given (cert
    mode), else the 33-byte public key (key modes)."""
    if certificate is None:
        signer = key.public_key
    else:
        signer = certificate if isinstance(certificate, bytes) else certificate.der
    return Endorsement(signer, key.sign(message))


# --- evaluation -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SignerTrace:
    """What happened to one endorsement: counted, or ignored with the reason."""

    index: int
    signer: str           # "admin1.org1" (certificate CN) or "key 02ab..." (key modes)
    org: str
    role: str
    counted: bool
    reason: str = ""      # why ignored, short: "unknown CA ca.org5 (org org5)", "wrong role client, needs admin"
    detail: str = ""      # the full refusal sentence of verify_certificate, when there is one

    def __str__(self) -> str:
        return self.signer if self.counted else f"{self.signer} ({self.reason})"


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """The evaluation trace of one policy over one set of endorsements."""

    resource: str
    policy: Policy
    universe: tuple[str, ...]       # the orgs the rule counts over
    needed: int
    counted: tuple[SignerTrace, ...]
    ignored: tuple[SignerTrace, ...]
    missing_orgs: tuple[str, ...]   # orgs of the universe with no counted endorsement
    self_org: str = ""
    satisfied: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def counted_orgs(self) -> tuple[str, ...]:
        return tuple(t.org for t in self.counted)

    def explain(self) -> str:
        """One sentence: which policy, who counted, who was ignored and why, what is missing."""
        what = self.resource or "this action"
        parts = [f"{what} needs {self.policy.describe(self.universe, self.needed, self.self_org)}"]
        verdict = "accepted" if self.satisfied else "rejected"
        names = f" ({', '.join(t.signer for t in self.counted)})" if self.counted else ""
        parts.append(f"{verdict}: {len(self.counted)} of {self.needed} counted{names}")
        if not self.satisfied and self.missing_orgs:
            parts.append(f"missing {', '.join(self.missing_orgs)}")
        parts.extend(self.notes)
        if self.ignored:
            parts.append("ignored " + ", ".join(f"{t.signer} ({t.reason})" for t in self.ignored))
        return "; ".join(parts) + "."


_SHORT = {"unknown-ca": "unknown CA {ca}", "bad-signature": "certificate signature does not verify with CA {ca}",
          "org-mismatch": "certificate names another org than its CA {ca}", "expired": "expired certificate",
          "not-yet-valid": "certificate not yet valid", "revoked": "revoked certificate, serial {serial}",
          "frozen": "frozen certificate", "wrong-role": "wrong role {role}",
          "suite-mismatch": "certificate of another crypto suite", "unknown-key": "unregistered public key",
          "malformed": "malformed certificate"}


def _refusal(exc: IdentityError) -> tuple[str, str]:
    """(signer label, short reason) of an identity refusal."""
    from labchain.identity.x509 import Certificate

    cert = exc.obj if isinstance(exc.obj, Certificate) else None
    label = cert.common_name if cert is not None and cert.common_name else "an unidentified signer"
    if isinstance(exc.obj, bytes) and len(exc.obj) == 33:
        label = f"key {exc.obj.hex()[:12]}"
    reason = getattr(exc, "reason", "malformed")
    template = _SHORT.get(reason, reason)
    return label, template.format(ca=getattr(exc, "ca", ""), serial=getattr(exc, "serial", ""),
                                  role=getattr(exc, "role", ""))


def evaluate(policy: Policy, endorsements: Iterable[Endorsement], members, message: bytes, *,
             resource: str = "", self_org: str = "", now: _dt.datetime | None = None) -> PolicyResult:
    """Check ``endorsements`` of ``message`` against ``policy`` with the identities of
    ``members`` (a :class:`~labchain.identity.members.MemberStore`); never raises for a bad
    endorsement: each one is counted or listed as ignored with its reason."""
    if policy.rule == "SELF":
        if not self_org:
            raise PolicySyntaxError(f"{resource or 'this'} policy is SELF but the action names no org", policy)
        universe = (self_org,)
    else:
        universe = tuple(policy.org_list) if policy.org_list else tuple(members.orgs())
    suite = get_suite(members.suite)
    counted: list[SignerTrace] = []
    ignored: list[SignerTrace] = []
    seen_orgs: set[str] = set()
    for i, endorsement in enumerate(endorsements):
        if not isinstance(endorsement, Endorsement):
            ignored.append(SignerTrace(i, f"endorsement {i}", "", "", False,
                                       f"not an endorsement record but {type(endorsement).__name__}"))
            continue
        try:
            identity = members.identify(endorsement.signer, now)
        except IdentityError as exc:
            label, reason = _refusal(exc)
            cert_org = getattr(exc.obj, "org", "")
            ignored.append(SignerTrace(i, label, cert_org, getattr(exc, "role", ""), False, reason, exc.message))
            continue
        who = identity.name
        try:
            good = suite.verify(identity.public_key, message, endorsement.signature)
        except (IdentityError, ValueError):
            good = False
        if not good:
            ignored.append(SignerTrace(i, who, identity.org, identity.role, False,
                                       "bad signature: it does not sign these bytes"))
        elif identity.org not in universe:
            why = (f"org {identity.org} is not the org concerned, {self_org}" if policy.rule == "SELF"
                   else f"org {identity.org} is not in the policy's org list" if policy.org_list
                   else f"unknown org {identity.org}")
            ignored.append(SignerTrace(i, who, identity.org, identity.role, False, why))
        elif policy.role_list and identity.role not in policy.role_list:
            ignored.append(SignerTrace(i, who, identity.org, identity.role, False,
                                       f"wrong role {identity.role}, needs {' or '.join(policy.role_list)}"))
        elif identity.org in seen_orgs:
            ignored.append(SignerTrace(i, who, identity.org, identity.role, False,
                                       f"duplicate org {identity.org}: one vote per org"))
        else:
            seen_orgs.add(identity.org)
            counted.append(SignerTrace(i, who, identity.org, identity.role, True))
    needed = policy.needed(universe)
    notes = ()
    if needed > len(universe):
        notes = (f"the rule asks for {needed} orgs but only {len(universe)} exist, so it can never pass",)
    satisfied = len(counted) >= needed and (policy.rule != "SELF" or self_org in seen_orgs)
    missing = tuple(o for o in universe if o not in seen_orgs)
    return PolicyResult(resource, policy, universe, needed, tuple(counted), tuple(ignored), missing,
                        self_org, satisfied, notes)


def require(policy: Policy, endorsements: Iterable[Endorsement], members, message: bytes, *,
            resource: str = "", self_org: str = "", now: _dt.datetime | None = None) -> PolicyResult:
    """:func:`evaluate`, raising :class:`PolicyError` (with ``.result``) when not satisfied."""
    result = evaluate(policy, endorsements, members, message, resource=resource, self_org=self_org, now=now)
    if not result.satisfied:
        raise PolicyError(result.explain(), endorsements, result=result)
    return result
