"""Errors of the identity layer: each names the CA, role, serial and reason it is about.

A node, an RPC method or a notebook catches :class:`IdentityError` and shows ``str(exc)``: one
sentence a student can act on. The fields (``ca``, ``role``, ``serial``, ``reason``) let code
and tests tell refusals apart without parsing the sentence.
"""
from __future__ import annotations

from typing import Any

from labchain.core.errors import LabchainError


class IdentityError(LabchainError):
    """Root of every certificate, membership, policy and governance error."""


class MalformedCertificateError(IdentityError, ValueError):
    """Bytes or PEM text that are not one well-formed X.509 certificate LabChain can use."""

    reason = "malformed"


class CertificateError(IdentityError):
    """A well-formed certificate refused by :func:`labchain.identity.verify.verify_certificate`.

    ``reason`` is a short code (``unknown-ca``, ``expired``, ``not-yet-valid``, ``revoked``,
    ``frozen``, ``wrong-role``, ``bad-signature``, ``suite-mismatch``, ``not-a-ca``,
    ``unknown-key``); ``ca`` names the issuing CA as the certificate states it, ``role`` the
    role it carries and ``serial`` its serial number (hex).
    """

    reason = "refused"

    def __init__(self, message: str, obj: Any = None, *, ca: str = "", role: str = "",
                 serial: str = "") -> None:
        super().__init__(message, obj)
        self.ca, self.role, self.serial = ca, role, serial


class UnknownCAError(CertificateError):
    reason = "unknown-ca"


class ExpiredCertificateError(CertificateError):
    reason = "expired"


class NotYetValidError(CertificateError):
    reason = "not-yet-valid"


class RevokedCertificateError(CertificateError):
    reason = "revoked"


class FrozenCertificateError(CertificateError):
    reason = "frozen"


class WrongRoleError(CertificateError):
    reason = "wrong-role"


class BadCertificateSignatureError(CertificateError):
    reason = "bad-signature"


class SuiteMismatchError(CertificateError):
    reason = "suite-mismatch"


class OrgMismatchError(CertificateError):
    reason = "org-mismatch"


class NotACAError(CertificateError):
    reason = "not-a-ca"


class UnknownKeyError(CertificateError):
    """permissioned-key mode: a public key no admin registered."""

    reason = "unknown-key"


class MemberStoreError(IdentityError, ValueError):
    """A governance operation that cannot apply to the member store (names the operation)."""


class PolicyError(IdentityError):
    """A resource policy is not satisfied; ``.result`` is the :class:`PolicyResult` trace."""

    def __init__(self, message: str, obj: Any = None, *, result: Any = None) -> None:
        super().__init__(message, obj)
        self.result = result


class PolicySyntaxError(IdentityError, ValueError):
    """A policy rule, org list or role list that cannot be read (names the text)."""


class ConfigUpdateError(IdentityError, ValueError):
    """A config update refused before its policies are checked (chain id, sequence, change)."""


class TemplateError(IdentityError, ValueError):
    """A ``labchain certs generate`` template that cannot be used (names the field)."""


class GovernanceError(IdentityError, ValueError):
    """A governance transaction that cannot be read or applied (labchain/identity/onchain.py)."""
