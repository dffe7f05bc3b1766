"""Policies: every rule, every reason a signer is ignored, and the sentence explain() gives."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from identitykit import NOW, consortium_of

from labchain.identity import errors
from labchain.identity.members import CERTS_FREEZE, CERTS_REVOKE, MemberOp, MemberStore, RegisteredKey
from labchain.identity.policy import DEFAULT_POLICIES, Endorsement, Policy, endorse, evaluate, require
from labchain.identity.x509 import KeyPair

MSG = b"labchain/test-proposal\x00one"
ADMIN = ("admin",)


@pytest.fixture
def sign(consortium):
    def sign(org: str, name: str, message: bytes = MSG) -> Endorsement:
        member = consortium.org(org).member(name)
        return endorse(message, member.key, member.certificate)
    return sign


def admins(sign, *orgs):
    return [sign(o, "admin1") for o in orgs]


@pytest.mark.parametrize("rule, orgs, passes", [
    ("ANY", 1, True), ("ANY", 0, False),
    ("MAJORITY", 3, True), ("MAJORITY", 2, False),
    ("ALL", 4, True), ("ALL", 3, False),
    ("2", 2, True), ("2", 1, False),
    ("2/3", 3, True), ("2/3", 2, False),       # ceil(2/3 * 4) = 3
    ("1/4", 1, True), ("3/4", 2, False),
])
def test_rules_count_organisations(rule, orgs, passes, sign, members, now):
    result = evaluate(Policy(rule, (), ADMIN), admins(sign, *["org1", "org2", "org3", "org4"][:orgs]),
                      members, MSG, now=now)
    assert result.satisfied is passes
    assert result.counted_orgs == ("org1", "org2", "org3", "org4")[:orgs]


def test_the_explanation_of_a_rejection_names_everything(sign, members, consortium, now):
    stranger = consortium_of(consortium.suite, seed="impostor").org("org4").member("admin1")
    endorsements = [sign("org1", "admin1"), sign("org1", "admin2"), sign("org2", "client1"),
                    sign("org3", "admin1", b"another proposal"), endorse(MSG, stranger.key, stranger.certificate),
                    Endorsement(b"\x30\x01", b"")]
    result = evaluate(DEFAULT_POLICIES["CHAIN_CONFIG-TRUST_ROOT_ADD"], endorsements, members, MSG,
                      resource="CHAIN_CONFIG-TRUST_ROOT_ADD", now=now)
    assert not result.satisfied and result.needed == 3 and result.missing_orgs == ("org2", "org3", "org4")
    assert [t.reason for t in result.ignored] == [
        "duplicate org org1: one vote per org", "wrong role client, needs admin",
        "bad signature: it does not sign these bytes", "unknown CA ca.org4 (org org4)", "malformed certificate"]
    assert [t.index for t in result.ignored] == [1, 2, 3, 4, 5]
    assert "a CA of that name is trusted, but with another key" in result.ignored[3].detail
    assert result.explain() == (
        "CHAIN_CONFIG-TRUST_ROOT_ADD needs admin signatures from a majority (3) of 4 orgs (org1, org2, org3, "
        "org4); rejected: 1 of 3 counted (admin1.org1); missing org2, org3, org4; ignored admin2.org1 "
        "(duplicate org org1: one vote per org), client1.org2 (wrong role client, needs admin), admin1.org3 "
        "(bad signature: it does not sign these bytes), admin1.org4 (unknown CA ca.org4 (org org4)), "
        "an unidentified signer (malformed certificate).")


def test_accepted_explanations_say_who_counted(sign, members, now):
    result = evaluate(Policy("ANY", (), ADMIN), admins(sign, "org2"), members, MSG,
                      resource="CERT_MANAGE-CERTS_FREEZE", now=now)
    assert result.explain() == ("CERT_MANAGE-CERTS_FREEZE needs an admin signature from any of 4 orgs "
                                "(org1, org2, org3, org4); accepted: 1 of 1 counted (admin1.org2).")


def test_self_counts_only_the_org_concerned(sign, members, now):
    policy = DEFAULT_POLICIES["CHAIN_CONFIG-TRUST_ROOT_UPDATE"]
    result = evaluate(policy, admins(sign, "org1", "org2"), members, MSG, resource="CHAIN_CONFIG-TRUST_ROOT_UPDATE",
                      self_org="org2", now=now)
    assert result.satisfied and result.counted_orgs == ("org2",)
    assert result.explain() == ("CHAIN_CONFIG-TRUST_ROOT_UPDATE needs an admin signature from the org concerned, "
                                "org2; accepted: 1 of 1 counted (admin1.org2); ignored admin1.org1 "
                                "(org org1 is not the org concerned, org2).")
    assert not evaluate(policy, admins(sign, "org1", "org3"), members, MSG, self_org="org2", now=now).satisfied
    with pytest.raises(errors.PolicySyntaxError, match="policy is SELF but the action names no org"):
        evaluate(policy, [], members, MSG, now=now)


def test_an_org_list_restricts_who_counts(sign, members, now):
    result = evaluate(Policy("ALL", ("org1", "org2"), ("admin", "client")), [sign("org1", "admin1"),
                      sign("org3", "admin1")], members, MSG, now=now)
    assert result.explain() == ("this action needs admin or client signatures from all 2 orgs (org1, org2); "
                                "rejected: 1 of 2 counted (admin1.org1); missing org2; ignored admin1.org3 "
                                "(org org3 is not in the policy's org list).")


def test_an_impossible_number_says_it_can_never_pass(sign, members, now):
    result = evaluate(Policy("5"), admins(sign, "org1", "org2", "org3", "org4"), members, MSG, now=now)
    assert not result.satisfied
    assert "the rule asks for 5 orgs but only 4 exist, so it can never pass" in result.explain()
    assert "member signatures from 5 of 4 orgs" in result.explain()


def test_revoked_and_frozen_signers_are_ignored_with_the_reason(sign, members, consortium, now):
    a1, a2 = consortium.org("org1").member("admin1").certificate, consortium.org("org2").member("admin1").certificate
    store = members.apply(MemberOp(CERTS_REVOKE, "org1", serial=a1.serial_hex)).apply(
        MemberOp(CERTS_FREEZE, "org2", a2.der), now)
    result = evaluate(Policy("ANY", (), ADMIN), admins(sign, "org1", "org2"), store, MSG, now=now)
    assert [(t.signer, t.reason) for t in result.ignored] == [
        ("admin1.org1", f"revoked certificate, serial {a1.serial_hex}"), ("admin1.org2", "frozen certificate")]
    expired = evaluate(Policy("ANY"), admins(sign, "org3"), members, MSG, now=NOW + dt.timedelta(days=999))
    assert expired.ignored[0].reason == "expired certificate"


def test_require_raises_with_the_trace(sign, members, now):
    policy = Policy("MAJORITY", (), ADMIN)
    with pytest.raises(errors.PolicyError) as info:
        require(policy, admins(sign, "org1"), members, MSG, resource="CONTRACT_MANAGE-INIT_CONTRACT", now=now)
    assert info.value.result.missing_orgs == ("org2", "org3", "org4")
    assert str(info.value) == info.value.result.explain()
    assert str(info.value).startswith("CONTRACT_MANAGE-INIT_CONTRACT needs admin signatures from a majority (3)")
    assert require(policy, admins(sign, "org1", "org2", "org3"), members, MSG, now=now).satisfied


def test_permissioned_key_mode_evaluates_registered_keys(suite, now):
    keys = {org: KeyPair.from_seed(suite, f"{org}-admin") for org in ("org1", "org2", "org3")}
    store = MemberStore.create("permissioned-key", suite,
                               keys=[RegisteredKey(o, "admin", k.public_key) for o, k in keys.items()])
    stranger = KeyPair.from_seed(suite, "stranger")
    endorsements = [endorse(MSG, keys["org1"]), endorse(MSG, keys["org2"]), endorse(MSG, stranger)]
    result = evaluate(Policy("MAJORITY", (), ADMIN), endorsements, store, MSG, now=now)
    assert result.satisfied and result.counted_orgs == ("org1", "org2")
    assert result.ignored[0].signer == f"key {stranger.public_key.hex()[:12]}"
    assert result.ignored[0].reason == "unregistered public key"


def test_something_that_is_not_an_endorsement_is_ignored(members, now):
    result = evaluate(Policy("ANY"), ["admin1 says yes"], members, MSG, now=now)
    assert result.ignored[0].reason == "not an endorsement record but str"


@pytest.mark.parametrize("text, message", [
    ("SOME", "unknown policy rule 'SOME'; use ANY, ALL, MAJORITY, SELF, a number like 3 or a fraction like 2/3"),
    ("0", "policy rule '0': a number of orgs must be at least 1"),
    ("3/2", "policy rule '3/2': a fraction must lie in (0, 1], like 2/3"),
    ("1/0", "policy rule '1/0': a fraction must lie in (0, 1], like 2/3"),
    ("ANY||boss", "unknown role 'boss' in a policy; roles are admin, client, light, consensus, common"),
    ("SELF|org1|admin", "a SELF policy takes no org list"),
    ("ANY|a|b|c", "a policy is written RULE|orgs|roles, got 'ANY|a|b|c'"),
])
def test_policy_syntax_errors(text, message):
    with pytest.raises(errors.PolicySyntaxError, match=re.escape(message)):
        Policy.parse(text)


def test_policy_text_and_record_round_trip():
    policy = Policy.parse("majority|org1, org2|admin")
    assert policy == Policy("MAJORITY", ("org1", "org2"), ("admin",)) and str(policy) == "MAJORITY|org1,org2|admin"
    assert Policy.from_bytes(policy.to_bytes()) == policy and Policy.from_json(policy.to_json()) == policy
    endorsement = Endorsement(b"\x01\x02", b"\x03" * 64)
    assert Endorsement.from_bytes(endorsement.to_bytes()) == endorsement
