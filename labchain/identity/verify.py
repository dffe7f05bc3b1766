"""Certificate verification: is this certificate a member, of which org, in which role?

:func:`verify_certificate` checks, in this order, and raises the first failure with a sentence
that names the certificate, its CA, role, serial and the reason:

1. suite: the certificate's key and signature belong to the chain's crypto suite
   (:class:`SuiteMismatchError`: an SM2 certificate on a P-256 chain);
2. issuer: a trust root with the issuer's name and key id exists (:class:`UnknownCAError`),
   the root's key verifies the signature (:class:`BadCertificateSignatureError`), the root is
   a CA certificate (:class:`NotACAError`) and the certificate names the root's org
   (:class:`OrgMismatchError`);
3. validity: the certificate and its CA are valid at ``now`` (:class:`ExpiredCertificateError`,
   :class:`NotYetValidError`);
4. revocation: ``(org, serial)`` is not in the CRL (:class:`RevokedCertificateError`);
5. freezing: its fingerprint is not frozen (:class:`FrozenCertificateError`);
6. role: the role it carries is one the use requires (:class:`WrongRoleError`, e.g. a client
   certificate presented by a consensus node).

Terminology: a *trust root* is an organisation's self-signed CA certificate listed in the chain
config (ChainMaker ``trust_roots[{org_id, root[]}]``); an :class:`Identity` is what a verified
certificate (or, in ``permissioned-key`` mode, a registered public key) proves.

Simplifications versus ChainMaker: one level (root CA -> member), no intermediate CAs; the CRL
is a set of ``(org, serial)`` records rather than signed DER CRLs; revocation is checked
against the issuing org, not against a CRL distribution point.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Iterable

from labchain.identity.errors import (BadCertificateSignatureError, CertificateError,
                                      ExpiredCertificateError, FrozenCertificateError,
                                      NotACAError, NotYetValidError, OrgMismatchError, RevokedCertificateError,
                                      SuiteMismatchError, UnknownCAError, WrongRoleError)
from labchain.identity.x509 import Certificate

ROLE_WORDS = {"admin": "an org admin", "client": "a client", "light": "a light client",
              "consensus": "a consensus node", "common": "a common (sync) node"}
_SUITE_WORDS = {"p256-sha256": "a P-256 (p256-sha256)", "sm2-sm3": "an SM2 (sm2-sm3)"}


@dataclass(frozen=True, slots=True)
class Identity:
    """Who signed: the org and role a certificate or registered key proves."""

    org: str
    role: str
    name: str                 # certificate CN, or "key <hex prefix>" in key modes
    public_key: bytes         # 33-byte compressed
    suite: str
    serial: str = ""          # hex; empty in key modes
    ca: str = ""              # the issuing CA's label; empty in key modes
    fingerprint: str = ""

    def __str__(self) -> str:
        return f"{self.name} ({self.role} of {self.org})"


def _now(now: _dt.datetime | None) -> _dt.datetime:
    if now is None:
        return _dt.datetime.now(_dt.timezone.utc)
    return now if now.tzinfo else now.replace(tzinfo=_dt.timezone.utc)


def _when(moment: _dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _roles(required_role: str | Iterable[str] | None) -> tuple[str, ...]:
    if required_role is None:
        return ()
    if isinstance(required_role, str):
        return (required_role,)
    return tuple(required_role)


def verify_certificate(cert: bytes | str | Certificate, trust_roots: Iterable[Certificate | bytes | str],
                       crl: Iterable[tuple[str, int | str]] = (), frozen: Iterable[str] = (),
                       now: _dt.datetime | None = None,
                       required_role: str | Iterable[str] | None = None,
                       suite: str | None = None) -> Identity:
    """The :class:`Identity` of ``cert`` under ``trust_roots``, or a :class:`CertificateError`.

    ``crl``: ``(org, serial)`` pairs (serial an int or hex text); ``frozen``: certificate
    fingerprints (hex SHA-256 of the DER); ``required_role``: a role or roles the use needs;
    ``suite``: the chain's suite name (None: any suite both certificate and CA share).
    Malformed input raises :class:`~labchain.identity.errors.MalformedCertificateError`.
    """
    cert = Certificate.load(cert)
    roots = [Certificate.load(r) for r in trust_roots]
    now = _now(now)
    about = dict(ca=cert.issuer_label, role=cert.role, serial=cert.serial_hex)
    who = (f"certificate {cert.common_name or '?'} (org {cert.org or '?'}, role {cert.role or 'none'}, "
           f"serial {cert.serial_hex})")

    def fail(kind: type[CertificateError], why: str):
        return kind(f"{who} is refused: {why}", cert, **about)

    if suite is not None and (cert.suite != suite or cert.signature_suite != suite):
        got = cert.suite if cert.suite != suite else (cert.signature_suite or cert.signature_algorithm)
        raise fail(SuiteMismatchError, f"it is {_SUITE_WORDS.get(got, got)} certificate but this chain "
                                       f"uses {suite}")
    named = [r for r in roots if (r.org, r.role, r.common_name)
             == (cert.issuer_org, cert.issuer_role, cert.issuer_common_name)]
    issuers = [r for r in named if not cert.authority_key_id or r.subject_key_id == cert.authority_key_id]
    if not issuers:
        known = ", ".join(sorted({r.label for r in roots})) or "none"
        detail = (" (a CA of that name is trusted, but with another key: the certificate comes from a "
                  "different CA that reuses the name)" if named else "")
        raise fail(UnknownCAError, f"its issuer, CA {cert.issuer_label}, is not among the trust roots "
                                   f"(trusted CAs: {known}){detail}")
    same_suite = [r for r in issuers if r.suite == cert.suite]
    if not same_suite:
        raise fail(SuiteMismatchError, f"its CA {issuers[0].label} is {_SUITE_WORDS.get(issuers[0].suite)} "
                                       f"CA but the certificate is {_SUITE_WORDS.get(cert.suite, cert.suite)} one")
    root = next((r for r in same_suite if cert.signed_by(r)), None)
    if root is None:
        raise fail(BadCertificateSignatureError, f"its signature does not verify with the key of CA "
                                                 f"{same_suite[0].label} (the certificate was altered after "
                                                 "issue, or signed by another key)")
    if not root.is_ca:
        raise fail(NotACAError, f"its issuer {root.label} is listed as a trust root but is not a CA "
                                "certificate (basicConstraints CA:FALSE), so it cannot issue certificates")
    if cert.org != root.org:
        raise fail(OrgMismatchError, f"it names org {cert.org or '(none)'} but its CA {root.label} "
                                     f"belongs to org {root.org}")
    for subject, label in ((cert, who), (root, f"its CA {root.label}")):
        if now < subject.not_before:
            raise fail(NotYetValidError, f"{'it' if subject is cert else label} is not valid before "
                                         f"{_when(subject.not_before)} (now {_when(now)})")
        if now > subject.not_after:
            raise fail(ExpiredCertificateError, f"{'it' if subject is cert else label} expired on "
                                                f"{_when(subject.not_after)} (now {_when(now)})")
    revoked = {(org, s if isinstance(s, str) else format(s, "x")) for org, s in crl}
    if (root.org, cert.serial_hex) in revoked:
        raise fail(RevokedCertificateError, f"org {root.org} revoked serial {cert.serial_hex} (it is on the CRL)")
    if cert.fingerprint in set(frozen):
        raise fail(FrozenCertificateError, f"it is frozen (fingerprint {cert.fingerprint[:16]}..); "
                                           "an admin must unfreeze it before it is accepted again")
    roles = _roles(required_role)
    if roles and cert.role not in roles:
        raise fail(WrongRoleError, f"it carries role {cert.role or '(none)'} but this use needs "
                                   f"{' or '.join(roles)} (a {cert.role or 'role-less'} certificate cannot act as "
                                   f"{' or '.join(ROLE_WORDS.get(r, r) for r in roles)})")
    return Identity(org=root.org, role=cert.role, name=cert.common_name, public_key=cert.public_key,
                    suite=cert.suite, serial=cert.serial_hex, ca=root.label, fingerprint=cert.fingerprint)
