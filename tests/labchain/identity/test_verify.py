"""verify_certificate: every refusal reason, with the sentence and the fields it carries."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from asn1crypto import x509 as ax509
from identitykit import NOW, consortium_of

from labchain.crypto import asn1
from labchain.identity import errors
from labchain.identity.verify import verify_certificate
from labchain.identity.x509 import Certificate, KeyPair, Subject, issue

DAY = dt.timedelta(days=1)


def refused(kind, text: str):
    return pytest.raises(kind, match=re.escape(text))


def who(cert) -> str:
    return (f"certificate {cert.common_name} (org {cert.org}, role {cert.role}, "
            f"serial {cert.serial_hex}) is refused: ")


def test_a_good_certificate_gives_its_identity(consortium, now):
    org = consortium.org("org3")
    member = org.member("consensus1")
    identity = verify_certificate(member.certificate.der, consortium.trust_roots, now=now,
                                  required_role="consensus", suite=consortium.suite)
    assert (identity.org, identity.role, identity.name) == ("org3", "consensus", "consensus1.org3")
    assert identity.public_key == member.key.public_key and identity.ca == "ca.org3 (org org3)"
    assert identity.serial == member.certificate.serial_hex
    assert str(identity) == "consensus1.org3 (consensus of org3)"


def test_unknown_ca_names_the_issuer_and_the_trusted_cas(consortium, now):
    cert = consortium.org("org1").member("admin1").certificate
    roots = [o.ca_certificate for o in consortium.orgs[1:3]]
    with refused(errors.UnknownCAError, who(cert) + "its issuer, CA ca.org1 (org org1), is not among the "
                 "trust roots (trusted CAs: ca.org2 (org org2), ca.org3 (org org3))") as info:
        verify_certificate(cert, roots, now=now)
    exc = info.value
    assert (exc.reason, exc.ca, exc.role, exc.serial) == ("unknown-ca", "ca.org1 (org org1)", "admin", cert.serial_hex)
    assert exc.obj == cert


def test_a_ca_reusing_a_trusted_name_with_another_key_is_unknown(consortium, now):
    impostor = consortium_of(consortium.suite, seed="impostor").org("org1").member("consensus1").certificate
    with refused(errors.UnknownCAError, "a CA of that name is trusted, but with another key"):
        verify_certificate(impostor, consortium.trust_roots, now=now)


def _resigned(cert: Certificate, key: KeyPair, tbs=None) -> bytes:
    parsed = ax509.Certificate.load(cert.der)
    tbs = tbs if tbs is not None else parsed["tbs_certificate"]
    raw = key.sign(tbs.dump())
    return ax509.Certificate({"tbs_certificate": tbs, "signature_algorithm": parsed["signature_algorithm"],
                              "signature_value": asn1.encode_signature(int.from_bytes(raw[:32], "big"),
                                                                       int.from_bytes(raw[32:], "big"))}).dump()


def test_a_signature_by_another_key_is_a_bad_signature(consortium, now):
    cert = consortium.org("org1").member("client1").certificate
    forged = Certificate.from_der(_resigned(cert, KeyPair.from_seed(consortium.suite, "mallory")))
    with refused(errors.BadCertificateSignatureError, who(forged) + "its signature does not verify with the "
                 "key of CA ca.org1 (org org1) (the certificate was altered after issue, or signed by another key)"):
        verify_certificate(forged, consortium.trust_roots, now=now)


def test_an_altered_certificate_fails_its_signature(consortium, now):
    cert = consortium.org("org2").member("client1").certificate
    parsed = ax509.Certificate.load(cert.der)
    tbs = parsed["tbs_certificate"].copy()
    tbs["serial_number"] = cert.serial + 2        # keep the CA's signature, change the content
    altered = ax509.Certificate({"tbs_certificate": tbs, "signature_algorithm": parsed["signature_algorithm"],
                                 "signature_value": parsed["signature_value"]}).dump()
    with refused(errors.BadCertificateSignatureError, "its signature does not verify"):
        verify_certificate(altered, consortium.trust_roots, now=now)


def test_a_certificate_naming_another_org_than_its_ca_is_refused(consortium, now):
    org1 = consortium.org("org1")
    cert = issue(subject=Subject("org2", "admin", "sneaky.org2"), public_key=org1.member("admin1").key.public_key,
                 suite=consortium.suite, issuer_key=org1.ca_key, issuer=Subject("org1", "ca", "ca.org1"),
                 not_before=NOW, not_after=NOW + 10 * DAY)
    with refused(errors.OrgMismatchError, who(cert) + "it names org org2 but its CA ca.org1 (org org1) "
                 "belongs to org org1"):
        verify_certificate(cert, consortium.trust_roots, now=now)


def test_a_leaf_listed_as_trust_root_cannot_issue(consortium, now):
    admin = consortium.org("org1").member("admin1")
    fake_root = admin.certificate
    issued = issue(subject=Subject("org1", "consensus", "node9.org1"), public_key=admin.tls_key.public_key,
                   suite=consortium.suite, issuer_key=admin.key, issuer=Subject("org1", "admin", "admin1.org1"),
                   not_before=NOW, not_after=NOW + 10 * DAY)
    with refused(errors.NotACAError, who(issued) + "its issuer admin1.org1 (org org1) is listed as a trust root "
                 "but is not a CA certificate (basicConstraints CA:FALSE), so it cannot issue certificates"):
        verify_certificate(issued, [fake_root], now=now)


def test_expired_and_not_yet_valid(consortium):
    cert = consortium.org("org1").member("light1").certificate
    with refused(errors.ExpiredCertificateError, who(cert) + "it expired on 2027-12-01 12:00 UTC "
                 "(now 2028-01-05 12:00 UTC)"):
        verify_certificate(cert, consortium.trust_roots, now=NOW + 400 * DAY)
    with refused(errors.NotYetValidError, who(cert) + "it is not valid before 2026-12-01 12:00 UTC "
                 "(now 2026-11-30 12:00 UTC)"):
        verify_certificate(cert, consortium.trust_roots, now=NOW - DAY)


def test_an_expired_ca_invalidates_its_members(suite):
    ca_key, user = KeyPair.from_seed(suite, "short-ca"), KeyPair.from_seed(suite, "user")
    ca_subject = Subject("orgx", "ca", "ca.orgx")
    ca = issue(subject=ca_subject, public_key=ca_key.public_key, suite=suite, issuer_key=ca_key,
               not_before=NOW, not_after=NOW + 10 * DAY, is_ca=True)
    leaf = issue(subject=Subject("orgx", "client", "u.orgx"), public_key=user.public_key, suite=suite,
                 issuer_key=ca_key, issuer=ca_subject, not_before=NOW, not_after=NOW + 100 * DAY)
    assert verify_certificate(leaf, [ca], now=NOW + 5 * DAY).org == "orgx"
    with refused(errors.ExpiredCertificateError, "its CA ca.orgx (org orgx) expired on 2026-12-11 12:00 UTC"):
        verify_certificate(leaf, [ca], now=NOW + 20 * DAY)


def test_revoked_by_org_and_serial(consortium, now):
    cert = consortium.org("org2").member("common1").certificate
    with refused(errors.RevokedCertificateError, who(cert) + f"org org2 revoked serial {cert.serial_hex} "
                 "(it is on the CRL)"):
        verify_certificate(cert, consortium.trust_roots, crl=[("org2", cert.serial)], now=now)
    # the same serial revoked by another org does not touch this certificate
    verify_certificate(cert, consortium.trust_roots, crl=[("org1", cert.serial_hex)], now=now)


def test_frozen_by_fingerprint(consortium, now):
    cert = consortium.org("org4").member("admin2").certificate
    with refused(errors.FrozenCertificateError, who(cert) + f"it is frozen (fingerprint {cert.fingerprint[:16]}..); "
                 "an admin must unfreeze it before it is accepted again"):
        verify_certificate(cert, consortium.trust_roots, frozen=[cert.fingerprint], now=now)


def test_a_client_certificate_cannot_act_as_a_consensus_node(consortium, now):
    cert = consortium.org("org1").member("client1").certificate
    with refused(errors.WrongRoleError, who(cert) + "it carries role client but this use needs consensus "
                 "(a client certificate cannot act as a consensus node)") as info:
        verify_certificate(cert, consortium.trust_roots, now=now, required_role="consensus")
    assert info.value.reason == "wrong-role" and info.value.role == "client"
    identity = verify_certificate(cert, consortium.trust_roots, now=now, required_role=("admin", "client"))
    assert identity.role == "client"


def test_a_certificate_of_the_other_suite_is_refused(now):
    sm2_cert = consortium_of("sm2-sm3").org("org1").member("consensus1").certificate
    p256 = consortium_of("p256-sha256")
    with refused(errors.SuiteMismatchError, who(sm2_cert) + "it is an SM2 (sm2-sm3) certificate but this "
                 "chain uses p256-sha256"):
        verify_certificate(sm2_cert, p256.trust_roots, now=now, suite="p256-sha256")
    p_cert = p256.org("org1").member("consensus1").certificate
    with refused(errors.SuiteMismatchError, "it is a P-256 (p256-sha256) certificate but this chain uses sm2-sm3"):
        verify_certificate(p_cert, consortium_of("sm2-sm3").trust_roots, now=now, suite="sm2-sm3")


def test_checks_run_in_the_documented_order(consortium):
    """A certificate that is expired, revoked, frozen and of the wrong role reports the first."""
    cert = consortium.org("org1").member("client1").certificate
    kwargs = dict(crl=[("org1", cert.serial)], frozen=[cert.fingerprint], required_role="admin")
    with refused(errors.ExpiredCertificateError, "expired"):
        verify_certificate(cert, consortium.trust_roots, now=NOW + 400 * DAY, **kwargs)
    with refused(errors.RevokedCertificateError, "revoked"):
        verify_certificate(cert, consortium.trust_roots, now=NOW + DAY, **kwargs)
    with refused(errors.FrozenCertificateError, "frozen"):
        verify_certificate(cert, consortium.trust_roots, now=NOW + DAY, **{**kwargs, "crl": []})


def test_malformed_input_is_a_malformed_certificate_error(consortium, now):
    with refused(errors.MalformedCertificateError, "not a well-formed DER X.509 certificate"):
        verify_certificate(b"\x30\x00", consortium.trust_roots, now=now)
