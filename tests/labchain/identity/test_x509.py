"""X.509 certificates of both suites: what openssl, cryptography and the parser say about them."""
from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess

import pytest
from asn1crypto import x509 as ax509
from identitykit import NOW, consortium_of

from labchain.crypto import asn1, sm2
from labchain.identity.errors import MalformedCertificateError
from labchain.identity.x509 import Certificate, KeyPair, Subject, issue

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="no openssl command")
DISTID = ["-vfyopt", "distid:1234567812345678"]


def openssl(*args, check=True) -> subprocess.CompletedProcess:
    return subprocess.run([OPENSSL, *map(str, args)], capture_output=True, text=True, check=check)


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_round_trip_keeps_every_field(consortium):
    member = consortium.org("org2").member("consensus1")
    cert = member.certificate
    again = Certificate.from_pem(cert.to_pem())
    assert again == cert
    assert (cert.org, cert.role, cert.common_name) == ("org2", "consensus", "consensus1.org2")
    assert (cert.issuer_org, cert.issuer_role, cert.issuer_common_name) == ("org2", "ca", "ca.org2")
    assert cert.suite == consortium.suite and cert.signature_suite == consortium.suite
    assert cert.public_key == member.key.public_key
    assert cert.not_before == NOW and cert.not_after == NOW + dt.timedelta(days=365)
    assert not cert.is_ca and consortium.org("org2").ca_certificate.is_ca
    assert cert.authority_key_id == consortium.org("org2").ca_certificate.subject_key_id


def test_signature_checks_against_the_issuer_only(consortium):
    org1, org2 = consortium.org("org1"), consortium.org("org2")
    cert = org1.member("admin1").certificate
    assert cert.signed_by(org1.ca_certificate)
    assert not cert.signed_by(org2.ca_certificate)


def test_seeded_generation_is_reproducible_byte_for_byte(suite):
    a = consortium_of(suite).org("org3").member("client1").certificate
    b = consortium_of(suite, seed="identity-tests").org("org3").member("client1").certificate
    from labchain.identity.cryptogen import generate
    from identitykit import template
    c = generate(template(suite), now=NOW).org("org3").member("client1").certificate
    assert a.der == b.der == c.der
    other = consortium_of(suite, seed="other").org("org3").member("client1").certificate
    assert other.public_key != a.public_key and other.serial != a.serial


@needs_openssl
def test_openssl_prints_oids_role_and_extensions(consortium, tmp_path):
    cert = consortium.org("org1").member("consensus1").tls_certificate
    text = openssl("x509", "-in", write(tmp_path, "c.crt", cert.to_pem()), "-noout", "-text").stdout
    if consortium.suite == "sm2-sm3":
        assert "Signature Algorithm: SM2-with-SM3" in text and "ASN1 OID: SM2" in text
    else:
        assert "Signature Algorithm: ecdsa-with-SHA256" in text and "ASN1 OID: prime256v1" in text
    assert "Subject: O = org1, OU = consensus, CN = consensus1.tls.org1" in text
    assert "DNS:consensus1.org1, DNS:localhost, IP Address:127.0.0.1" in text
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in text
    asn = openssl("asn1parse", "-in", tmp_path / "c.crt").stdout
    oid = "1.2.156.10197.1.501" if consortium.suite == "sm2-sm3" else "ecdsa-with-SHA256"
    assert ("SM2-with-SM3" if consortium.suite == "sm2-sm3" else oid) in asn


@needs_openssl
def test_openssl_verify_accepts_every_generated_certificate(consortium, tmp_path):
    opts = DISTID if consortium.suite == "sm2-sm3" else []
    for org in consortium.orgs[:2]:
        ca = write(tmp_path, f"{org.name}.ca.crt", org.ca_certificate.to_pem())
        leaves = []
        for m in org.members:
            leaves.append(write(tmp_path, f"{org.name}.{m.name}.crt", m.certificate.to_pem()))
            leaves.append(write(tmp_path, f"{org.name}.{m.name}.tls.crt", m.tls_certificate.to_pem()))
        out = openssl("verify", *opts, "-CAfile", ca, *leaves)
        assert out.stdout.count(": OK") == len(leaves), out.stdout + out.stderr


@needs_openssl
def test_openssl_verify_refuses_a_leaf_under_another_orgs_ca(consortium, tmp_path):
    opts = DISTID if consortium.suite == "sm2-sm3" else []
    ca = write(tmp_path, "ca2.crt", consortium.org("org2").ca_certificate.to_pem())
    leaf = write(tmp_path, "leaf.crt", consortium.org("org1").member("admin1").certificate.to_pem())
    out = openssl("verify", *opts, "-CAfile", ca, leaf, check=False)
    assert out.returncode != 0 and "unable to get local issuer certificate" in out.stdout + out.stderr


@needs_openssl
@pytest.mark.skipif(OPENSSL is None or not openssl("version").stdout.startswith("OpenSSL 3.0"),
                    reason="documents OpenSSL 3.0's default SM2 ID for certificate verification")
def test_openssl_3_0_verify_uses_an_empty_sm2_id_unless_given_distid(tmp_path):
    """Why docs/identity.md says to pass -vfyopt distid: without it, OpenSSL 3.0 computes Z_A with
    an empty ID; a certificate signed over Z_A(empty ID) passes without the flag."""
    consortium = consortium_of("sm2-sm3")
    org = consortium.org("org1")
    ca = write(tmp_path, "ca.crt", org.ca_certificate.to_pem())
    good = org.member("client1").certificate
    assert openssl("verify", "-CAfile", ca, write(tmp_path, "a.crt", good.to_pem()), check=False).returncode != 0
    raw = sm2.sign(org.ca_key.secret, good.tbs, user_id=b"")
    parsed = ax509.Certificate.load(good.der)
    empty_id = ax509.Certificate({"tbs_certificate": parsed["tbs_certificate"],
                                  "signature_algorithm": parsed["signature_algorithm"],
                                  "signature_value": sm2.signature_to_der(raw)})
    path = write(tmp_path, "b.crt", asn1.pem_encode("CERTIFICATE", empty_id.dump()))
    assert openssl("verify", "-CAfile", ca, path).stdout.strip().endswith("OK")
    assert not Certificate.from_der(empty_id.dump()).signed_by(org.ca_certificate)   # we use the default ID


@needs_openssl
def test_openssl_pkeyutl_checks_the_sm2_roots_self_signature(tmp_path):
    """``openssl verify -check_ss_sig`` cannot check an SM2 root's self-signature on 3.0 (it does not
    pass -vfyopt to that check), so the test checks it over the TBS bytes with pkeyutl."""
    root = consortium_of("sm2-sm3").org("org4").ca_certificate
    crt = write(tmp_path, "ca.crt", root.to_pem())
    openssl("asn1parse", "-in", crt, "-strparse", "4", "-noout", "-out", tmp_path / "tbs.der")
    assert (tmp_path / "tbs.der").read_bytes() == root.tbs
    (tmp_path / "sig.der").write_bytes(sm2.signature_to_der(root.signature))
    pub = write(tmp_path, "ca.pub", openssl("x509", "-in", crt, "-pubkey", "-noout").stdout)
    base = ["pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", pub,
            "-in", tmp_path / "tbs.der", "-sigfile", tmp_path / "sig.der"]
    assert "Signature Verified Successfully" in openssl(*base, "-pkeyopt", "distid:1234567812345678").stdout
    assert openssl(*base, check=False).returncode != 0


@needs_openssl
def test_openssl_reads_the_private_keys(consortium, tmp_path):
    member = consortium.org("org1").member("light1")
    key = write(tmp_path, "k.pem", member.key.private_key_pem())
    pub = openssl("pkey", "-in", key, "-pubout").stdout
    cert = write(tmp_path, "c.crt", member.certificate.to_pem())
    assert pub == openssl("x509", "-in", cert, "-pubkey", "-noout").stdout


def test_cryptography_verifies_p256_certificates_independently():
    from cryptography import x509 as cx509

    consortium = consortium_of("p256-sha256")
    org = consortium.org("org1")
    ca = cx509.load_der_x509_certificate(org.ca_certificate.der)
    for m in org.members:
        leaf = cx509.load_der_x509_certificate(m.certificate.der)
        leaf.verify_directly_issued_by(ca)      # raises InvalidSignature on a bad signature
        assert leaf.serial_number == m.certificate.serial
    other = cx509.load_der_x509_certificate(consortium.org("org2").ca_certificate.der)
    with pytest.raises(Exception):
        cx509.load_der_x509_certificate(org.member("admin1").certificate.der).verify_directly_issued_by(other)


def test_a_certificate_must_be_signed_by_a_key_of_its_suite():
    ca = KeyPair.from_seed("p256-sha256", "ca")
    with pytest.raises(Exception, match="a sm2-sm3 certificate must be signed by a sm2-sm3 CA key, not p256-sha256"):
        issue(subject=Subject("o", "client", "x"), public_key=KeyPair.from_seed("sm2-sm3", "u").public_key,
              suite="sm2-sm3", issuer_key=ca, not_before=NOW, not_after=NOW + dt.timedelta(days=1))


def test_unknown_role_is_refused_when_issuing():
    ca = KeyPair.from_seed("sm2-sm3", "ca")
    with pytest.raises(Exception, match="unknown role 'miner'"):
        issue(subject=Subject("o", "miner", "x"), public_key=ca.public_key, suite="sm2-sm3",
              issuer_key=ca, not_before=NOW, not_after=NOW + dt.timedelta(days=1))


@pytest.mark.parametrize("data, message", [
    (b"", "the certificate is empty (0 bytes)"),
    (b"\x30\x03\x02\x01\x01", "not a well-formed DER X.509 certificate"),
    ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "expected a CERTIFICATE PEM block, got 'PRIVATE KEY'"),
    ("hello", "not a PEM certificate"),
    (b"\x30" * (20 * 1024), "at most 16384 are accepted"),
    (12, "expected certificate bytes, got int"),
])
def test_malformed_input_gets_a_sentence(data, message):
    with pytest.raises(MalformedCertificateError, match=re.escape(message)):
        Certificate.load(data)


def test_a_non_canonical_der_encoding_is_refused():
    der = consortium_of("p256-sha256").org("org1").ca_certificate.der
    # long-form length 0x82 0x00 0xNN for the outer SEQUENCE would be non-minimal; do it on a copy
    body = der[4:] if der[1] == 0x82 else der[3:]
    bloated = b"\x30\x83" + len(body).to_bytes(3, "big") + body
    with pytest.raises(MalformedCertificateError):
        Certificate.from_der(bloated)


def test_an_rsa_or_ed25519_certificate_is_refused_by_name():
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import NameOID

    key = ed25519.Ed25519PrivateKey.generate()
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "x")])
    cert = (cx509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(5).not_valid_before(NOW).not_valid_after(NOW + dt.timedelta(days=1))
            .sign(key, None))
    with pytest.raises(MalformedCertificateError, match="not an elliptic-curve key"):
        Certificate.from_der(cert.public_bytes(serialization.Encoding.DER))

