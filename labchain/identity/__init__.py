"""Identity for permissioned consortium chains: certificates, roles, members, policies, governance.

ChainMaker (Chang'an Chain) admits organisations, nodes and users by identity. This package gives
LabChain the same building blocks, pure and tested; the node handshake and the chain use them.

Modules
-------
:mod:`~labchain.identity.x509`
    Real X.509 v3 certificates for P-256 and SM2 (SM2 OIDs, SM2-with-SM3 signatures over the
    TBS with Z_A of the default ID); the role in the subject's OU.
:mod:`~labchain.identity.cryptogen`
    ``labchain certs generate``: a YAML template -> every org's CA, node, user and TLS
    certificates in a documented folder layout (ChainMaker's ``cryptogen``).
:mod:`~labchain.identity.verify`
    :func:`verify_certificate`: unknown CA, bad signature, expired, revoked, frozen, wrong role,
    suite mismatch, each refused with a sentence naming CA, role and serial.
:mod:`~labchain.identity.members`
    :class:`MemberStore`: trust roots, CRL, frozen certificates, registered keys; changed only
    by :class:`MemberOp` records, deterministically.
:mod:`~labchain.identity.policy`
    :class:`Policy` (rule x org list x role list), :func:`evaluate` with a trace and a one-sentence
    :meth:`PolicyResult.explain`, :func:`require`.
:mod:`~labchain.identity.governance`
    :class:`ConfigUpdate` proposals endorsed by org admins; :func:`apply_config_update` checks
    the sequence number and the resource policies.
:mod:`~labchain.identity.onchain`
    :class:`GovernanceTx` (an action + its endorsements, carried in a transaction's data) and
    :class:`GovernanceState`, the config and member store replayed block by block.

Terminology
-----------
identity mode (ChainMaker ``auth_type``)
    ``permissioned-cert``, ``permissioned-key``, ``public`` (:data:`MODES`).
role
    ``admin``, ``client``, ``light`` (users), ``consensus``, ``common`` (nodes) (:data:`ROLES`).
trust root, CRL, frozen
    An org's CA certificate; the revoked ``(org, serial)`` pairs; the fingerprints of
    certificates an admin froze (temporarily refused, unlike revocation).
resource, policy, endorsement, sequence
    See :mod:`~labchain.identity.policy` and :mod:`~labchain.identity.governance`.

Simplifications versus ChainMaker (details in each module and docs/identity.md): root CA ->
member only (no intermediates), revocation as records instead of signed DER CRLs, one CA per org
for signing and TLS, no GM dual certificates, policies count orgs (one vote per org).
"""
from __future__ import annotations

from labchain.identity.errors import (CertificateError, ConfigUpdateError, IdentityError,
                                      MalformedCertificateError, MemberStoreError, PolicyError,
                                      PolicySyntaxError, TemplateError)
from labchain.identity.governance import (ConfigChange, ConfigUpdate, ConsortiumConfig, apply_config_update,
                                          apply_member_op)
from labchain.identity.members import MODES, MemberOp, MemberStore
from labchain.identity.onchain import GovernanceError, GovernanceState, GovernanceTx
from labchain.identity.policy import DEFAULT_POLICIES, RESOURCES, Endorsement, Policy, PolicyResult, endorse, evaluate, require
from labchain.identity.verify import Identity, verify_certificate
from labchain.identity.x509 import ROLES, Certificate, KeyPair

__all__ = [
    "CertificateError", "ConfigUpdateError", "IdentityError", "MalformedCertificateError", "MemberStoreError",
    "PolicyError", "PolicySyntaxError", "TemplateError", "ConfigChange", "ConfigUpdate", "ConsortiumConfig",
    "apply_config_update", "apply_member_op", "MODES", "MemberOp", "MemberStore", "DEFAULT_POLICIES",
    "RESOURCES", "Endorsement", "Policy", "PolicyResult", "endorse", "evaluate", "require", "Identity",
    "verify_certificate", "ROLES", "Certificate", "KeyPair", "GovernanceError", "GovernanceState", "GovernanceTx",
]
