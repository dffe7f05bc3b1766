"""MemberStore: governance operations as records, applied deterministically, refused by name."""
from __future__ import annotations

import re

import pytest
from identitykit import consortium_of

from labchain.core.errors import EncodingError
from labchain.identity import errors
from labchain.identity.members import (CERTS_FREEZE, CERTS_REVOKE, CERTS_UNFREEZE, PUBKEY_ADD, PUBKEY_DELETE,
                                       TRUST_ROOT_ADD, TRUST_ROOT_DELETE, MemberOp, MemberStore, RegisteredKey)
from labchain.identity.x509 import KeyPair


def refused(text: str, kind=errors.MemberStoreError):
    return pytest.raises(kind, match=re.escape(text))


def test_create_lists_orgs_and_round_trips(members, consortium):
    assert members.orgs() == ("org1", "org2", "org3", "org4")
    assert MemberStore.from_bytes(members.to_bytes()) == members
    assert MemberStore.from_json(members.to_json()) == members
    assert {c.der for c in members.roots()} == {c.der for c in consortium.trust_roots}


def test_the_same_operations_in_any_order_of_roots_give_identical_bytes(consortium):
    a = MemberStore.create("permissioned-cert", consortium.suite, consortium.trust_roots)
    b = MemberStore.create("permissioned-cert", consortium.suite, list(reversed(consortium.trust_roots)))
    assert a.to_bytes() == b.to_bytes()


def test_freeze_unfreeze_revoke_change_what_verify_says(members, consortium, now):
    cert = consortium.org("org2").member("client1").certificate
    frozen = members.apply(MemberOp(CERTS_FREEZE, "org2", cert.der), now)
    with pytest.raises(errors.FrozenCertificateError):
        frozen.verify(cert, now)
    thawed = frozen.apply(MemberOp(CERTS_UNFREEZE, "org2", cert.der))
    assert thawed == members and thawed.verify(cert, now).org == "org2"
    revoked = members.apply(MemberOp(CERTS_REVOKE, "org2", serial=cert.serial_hex.upper()))
    with pytest.raises(errors.RevokedCertificateError, match="org org2 revoked serial"):
        revoked.verify(cert, now)
    assert MemberStore.from_bytes(revoked.to_bytes()) == revoked


def test_trust_root_delete_then_members_of_that_org_are_unknown(members, consortium, now):
    ca = consortium.org("org4").ca_certificate
    smaller = members.apply(MemberOp(TRUST_ROOT_DELETE, "org4", ca.der))
    assert smaller.orgs() == ("org1", "org2", "org3")
    with pytest.raises(errors.UnknownCAError, match=re.escape("its issuer, CA ca.org4 (org org4), is not among")):
        smaller.verify(consortium.org("org4").member("admin1").certificate, now)
    assert smaller.apply(MemberOp(TRUST_ROOT_ADD, "org4", ca.der)) == members


def test_member_op_refusals_name_the_operation(members, consortium, now):
    org1 = consortium.org("org1")
    cert = org1.member("admin1").certificate
    with refused("cannot add a trust root of org org1: ca.org1 (org org1) is already a trust root"):
        members.apply(MemberOp(TRUST_ROOT_ADD, "org1", org1.ca_certificate.der))
    with refused("cannot add a trust root of org org1: admin1.org1 (org org1) is not a self-signed CA certificate"):
        members.apply(MemberOp(TRUST_ROOT_ADD, "org1", cert.der))
    with refused("cannot add a trust root of org org9: the CA certificate names org org1, not org9"):
        MemberStore("permissioned-cert", consortium.suite).apply(MemberOp(TRUST_ROOT_ADD, "org9", org1.ca_certificate.der))
    other = "sm2-sm3" if consortium.suite == "p256-sha256" else "p256-sha256"
    with refused(f"the CA certificate is {consortium.suite} but the chain uses {other}"):
        MemberStore("permissioned-cert", other).apply(MemberOp(TRUST_ROOT_ADD, "org1", org1.ca_certificate.der))
    with refused("cannot delete a trust root of org org1: that CA certificate is not a trust root"):
        members.apply(MemberOp(TRUST_ROOT_DELETE, "org1", consortium.org("org2").ca_certificate.der))
    with refused("cannot unfreeze a certificate of org org1: admin1.org1 (org org1) is not frozen"):
        members.apply(MemberOp(CERTS_UNFREEZE, "org1", cert.der))
    with refused("cannot freeze a certificate of org org2: admin1.org1 (org org1) belongs to org org1"):
        members.apply(MemberOp(CERTS_FREEZE, "org2", cert.der), now)
    stranger = consortium_of(consortium.suite, seed="impostor").org("org1").member("admin1").certificate
    with refused("cannot freeze a certificate of org org1: only valid member certificates can be frozen"):
        members.apply(MemberOp(CERTS_FREEZE, "org1", stranger.der), now)
    twice = members.apply(MemberOp(CERTS_REVOKE, "org1", serial="ab"))
    with refused("cannot revoke serial ab of org org1: serial ab of org org1 is already revoked"):
        twice.apply(MemberOp(CERTS_REVOKE, "org1", serial="ab"))
    with refused("cannot revoke serial xyz of org org1: the serial 'xyz' is not a hex number"):
        members.apply(MemberOp(CERTS_REVOKE, "org1", serial="xyz"))
    with refused("cannot revoke serial 1 of org org7: org org7 has no trust root"):
        members.apply(MemberOp(CERTS_REVOKE, "org7", serial="1"))
    with refused("unknown member operation 'CERT_MANAGE-CERTS_DELETE'"):
        members.apply(MemberOp("CERT_MANAGE-CERTS_DELETE", "org1"))
    with refused("public keys are registered in permissioned-key and public modes"):
        members.apply(MemberOp(PUBKEY_ADD, "org1", org1.member("admin1").key.public_key, role="admin"))


def test_permissioned_key_mode_registers_and_identifies_keys(suite, now):
    admin, client = KeyPair.from_seed(suite, "admin"), KeyPair.from_seed(suite, "client")
    store = MemberStore.create("permissioned-key", suite, keys=[RegisteredKey("org1", "admin", admin.public_key)])
    store = store.apply(MemberOp(PUBKEY_ADD, "org2", client.public_key, role="client"))
    assert store.orgs() == ("org1", "org2")
    who = store.identify(client.public_key, now)
    assert (who.org, who.role, who.public_key) == ("org2", "client", client.public_key)
    with refused("is registered as client of org org2 but this use needs admin", errors.WrongRoleError):
        store.identify(client.public_key, now, required_role="admin")
    stranger = KeyPair.from_seed(suite, "stranger").public_key
    with refused(f"public key {stranger.hex()[:16]}.. is not registered by any org (mode permissioned-key)",
                 errors.UnknownKeyError):
        store.identify(stranger, now)
    with refused("is already registered"):
        store.apply(MemberOp(PUBKEY_ADD, "org3", client.public_key, role="client"))
    with refused("unknown role 'boss'"):
        store.apply(MemberOp(PUBKEY_ADD, "org3", stranger, role="boss"))
    with refused(f"the key is not a {suite} public key"):
        store.apply(MemberOp(PUBKEY_ADD, "org3", b"\x02" + b"\xff" * 32, role="client"))
    with refused("is not registered for org org1"):
        store.apply(MemberOp(PUBKEY_DELETE, "org1", client.public_key))
    assert store.apply(MemberOp(PUBKEY_DELETE, "org2", client.public_key)).orgs() == ("org1",)
    with refused("trust roots belong to permissioned-cert mode, this chain is permissioned-key"):
        store.apply(MemberOp(TRUST_ROOT_ADD, "org1", consortium_of(suite).org("org1").ca_certificate.der))


def test_store_construction_refuses_bad_modes_and_unsorted_lists(members):
    with refused("unknown identity mode 'permissionedWithCert'; modes are permissioned-cert, permissioned-key, public"):
        MemberStore("permissionedWithCert", "sm2-sm3")
    with refused("unknown crypto suite 'rsa'"):
        MemberStore("public", "rsa")
    with refused("MemberStore.trust_roots must be sorted and without duplicates"):
        MemberStore(members.mode, members.suite, tuple(reversed(members.trust_roots)))
    data = bytearray(members.to_bytes())
    with pytest.raises(EncodingError):
        MemberStore.from_bytes(bytes(data[:-1]) + b"\x05")


def test_member_op_encoding_round_trips_and_signing_bytes_are_domain_separated():
    op = MemberOp(CERTS_REVOKE, "org1", serial="1f")
    assert MemberOp.from_bytes(op.to_bytes()) == op and MemberOp.from_json(op.to_json()) == op
    assert op.signing_bytes().startswith(b"labchain/member-op\x00") and op.signing_bytes().endswith(op.to_bytes())
