"""Malformed certificate bytes and PEM never crash: always a MalformedCertificateError (or, for a
mutation that still parses, a CertificateError from verification) with a message.

``IDENTITY_FUZZ_EXAMPLES=10000`` runs the issue's 10,000 examples per test (minutes); the default
is lighter, and lighter again under ``CI``. Seeds: the ``ci`` profile derandomizes under CI.
"""
from __future__ import annotations

import base64
import os

from identitykit import NOW, consortium_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labchain.identity.errors import CertificateError, MalformedCertificateError
from labchain.identity.members import MemberStore
from labchain.identity.policy import Endorsement, Policy, evaluate
from labchain.identity.verify import verify_certificate
from labchain.identity.x509 import Certificate

EXAMPLES = int(os.environ.get("IDENTITY_FUZZ_EXAMPLES", "150" if os.environ.get("CI") else "400"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CONSORTIA = {s: consortium_of(s) for s in ("p256-sha256", "sm2-sm3")}
VALID = [m.certificate.der for c in CONSORTIA.values() for m in c.org("org1").members[:3]]
VALID += [c.org("org2").ca_certificate.der for c in CONSORTIA.values()]
SEEN = {"malformed": 0, "refused": 0, "accepted": 0}
SM2_MEMBERS = MemberStore.create("permissioned-cert", "sm2-sm3", CONSORTIA["sm2-sm3"].trust_roots)


def check(data) -> None:
    """Parse, then verify against the right consortium: only identity errors may come out."""
    try:
        cert = Certificate.load(data)
    except MalformedCertificateError as exc:
        assert exc.message and len(exc.message) < 400
        SEEN["malformed"] += 1
        return
    consortium = CONSORTIA[cert.suite]
    try:
        verify_certificate(cert, consortium.trust_roots, now=NOW, suite=consortium.suite)
    except CertificateError as exc:
        assert exc.message.startswith("certificate ") and exc.reason
        SEEN["refused"] += 1
        return
    SEEN["accepted"] += 1


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, len(data) - 1)) if data else 0
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and data:
            del data[pos:pos + draw(st.integers(1, 8))]
        elif kind == "truncate":
            data = data[:pos]
    return bytes(data)


@SETTINGS
@given(st.binary(max_size=1200))
def test_random_bytes_never_crash(data):
    check(data)


@SETTINGS
@given(mutated())
def test_mutated_certificates_never_crash(data):
    check(data)


@SETTINGS
@given(st.one_of(
    st.text(max_size=400),
    mutated().map(lambda d: "-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(d).decode()
                  + "-----END CERTIFICATE-----\n"),
    st.builds(lambda label, body: f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n",
              st.sampled_from(["CERTIFICATE", "PRIVATE KEY", "X"]), st.text(max_size=200)),
))
def test_malformed_pem_never_crashes(text):
    check(text)
    check(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)


@SETTINGS
@given(st.lists(st.builds(Endorsement, st.one_of(mutated(), st.binary(max_size=100)), st.binary(max_size=80)),
                max_size=4))
def test_policy_evaluation_of_garbage_endorsements_never_crashes(endorsements):
    result = evaluate(Policy("ANY"), endorsements, SM2_MEMBERS, b"proposal", now=NOW)
    assert not result.satisfied                    # none of them signs b"proposal"
    assert len(result.ignored) == len(endorsements) and result.explain().endswith(".")


def test_mutations_reach_both_the_parser_and_verification():
    """Seeded byte flips of valid certificates: many fail to parse, and some parse but are then
    refused by verification (a flipped bit in the name, validity or key), so the fuzzers above
    exercise verify_certificate too, not only the parser."""
    import random

    rng = random.Random(12)
    before = dict(SEEN)
    for _ in range(400):
        data = bytearray(rng.choice(VALID))
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        check(bytes(data))
    assert SEEN["malformed"] > before["malformed"] and SEEN["refused"] > before["refused"], SEEN
