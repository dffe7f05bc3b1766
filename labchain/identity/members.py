"""The member store: who may sign on a permissioned chain, changed only by governance records.

A :class:`MemberStore` is an immutable state value (a :class:`~labchain.core.encoding.Record`):
the identity mode, the suite, the trust roots (each org's CA certificates), the CRL, the
frozen certificates and, for ``permissioned-key`` and ``public`` modes, the registered public
keys. A :class:`MemberOp` (freeze, unfreeze, revoke, trust-root add/delete, key add/delete) is a
data record; :meth:`MemberStore.apply` returns the new store, so every node applying the same
operations in the same order holds byte-identical stores (lists are kept sorted).

Terminology (ChainMaker names)
------------------------------
identity mode / ``auth_type``
    ``permissioned-cert`` (ChainMaker ``permissionedWithCert``): members prove themselves with
    certificates under a trust root. ``permissioned-key`` (``permissionedWithKey``): admins
    register public keys with an org and role. ``public``: anyone may transact; the registered
    keys are the governance (admin) and consensus keys.
resource names of operations
    ``CHAIN_CONFIG-TRUST_ROOT_ADD``, ``CHAIN_CONFIG-TRUST_ROOT_DELETE``,
    ``CERT_MANAGE-CERTS_FREEZE``, ``CERT_MANAGE-CERTS_UNFREEZE``, ``CERT_MANAGE-CERTS_REVOKE``,
    ``PUBKEY_MANAGE-PUBKEY_ADD``, ``PUBKEY_MANAGE-PUBKEY_DELETE``: an operation's ``kind`` is the
    resource whose policy it needs (:mod:`labchain.identity.policy`).

Simplifications versus ChainMaker: revocation names ``(org, serial)`` instead of carrying a
signed CRL; freezing names the certificate's fingerprint (ChainMaker stores the certificate
hash too); ``public`` mode has no DPoS stake-based membership.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, replace

from labchain.core.errors import LabchainError
from labchain.core.encoding import ListOf, Nested, Record, UInt, VarBytes
from labchain.crypto.suite import get_suite
from labchain.identity.errors import IdentityError, MemberStoreError, UnknownKeyError, WrongRoleError
from labchain.identity.records import Text
from labchain.identity.verify import Identity, verify_certificate
from labchain.identity.x509 import ROLES, SUITE_OIDS, Certificate

#: ChainMaker's auth_type values, under the names the issue uses
MODES = ("permissioned-cert", "permissioned-key", "public")
# ChainMaker: permissionedWithCert, permissionedWithKey, public

TRUST_ROOT_ADD = "CHAIN_CONFIG-TRUST_ROOT_ADD"
TRUST_ROOT_DELETE = "CHAIN_CONFIG-TRUST_ROOT_DELETE"
CERTS_FREEZE = "CERT_MANAGE-CERTS_FREEZE"
CERTS_UNFREEZE = "CERT_MANAGE-CERTS_UNFREEZE"
CERTS_REVOKE = "CERT_MANAGE-CERTS_REVOKE"
PUBKEY_ADD = "PUBKEY_MANAGE-PUBKEY_ADD"
PUBKEY_DELETE = "PUBKEY_MANAGE-PUBKEY_DELETE"
OPERATIONS = (TRUST_ROOT_ADD, TRUST_ROOT_DELETE, CERTS_FREEZE, CERTS_UNFREEZE, CERTS_REVOKE,
              PUBKEY_ADD, PUBKEY_DELETE)


@dataclass(frozen=True, slots=True)
class TrustRoot(Record):
    """One org's CA certificate (DER). ChainMaker: ``trust_roots[{org_id, root[]}]``."""

    org_id: str
    certificate: bytes
    ENCODING = (("org_id", Text()), ("certificate", VarBytes(16 * 1024)))


@dataclass(frozen=True, slots=True)
class Revocation(Record):
    """A revoked certificate: its org and serial number (hex)."""

    org_id: str
    serial: str
    ENCODING = (("org_id", Text()), ("serial", Text(64)))


@dataclass(frozen=True, slots=True)
class RegisteredKey(Record):
    """A public key an admin registered (``permissioned-key``/``public`` modes)."""

    org_id: str
    role: str
    public_key: bytes
    ENCODING = (("org_id", Text()), ("role", Text(32)), ("public_key", VarBytes(65)))


@dataclass(frozen=True, slots=True)
class MemberOp(Record):
    """One governance operation on the member store, as data.

    ``kind`` is one of :data:`OPERATIONS`; ``org_id`` the org it is about (the org whose
    admin is SELF); ``data`` a certificate's DER (trust root, freeze, unfreeze) or a public
    key (key add/delete); ``serial`` the hex serial (revoke); ``role`` the role (key add).
    ``sequence`` numbers member operations on chain (the one after the chain's last accepted
    member operation, as a config update carries the config's next sequence; ChainMaker: each
    ``CERT_MANAGE`` transaction has its own tx id), so an endorsed freeze cannot be replayed
    after an unfreeze and the same freeze can be proposed again; 0 off chain, where
    :func:`apply_member_op` ignores it.
    """

    kind: str
    org_id: str
    data: bytes = b""
    serial: str = ""
    role: str = ""
    sequence: int = 0
    ENCODING = (("kind", Text(64)), ("org_id", Text()), ("data", VarBytes(16 * 1024)),
                ("serial", Text(64)), ("role", Text(32)), ("sequence", UInt(8)))

    def signing_bytes(self) -> bytes:
        """What org admins sign to endorse this operation (domain-separated canonical bytes)."""
        return b"labchain/member-op\x00" + self.to_bytes()

    def describe(self) -> str:
        what = {TRUST_ROOT_ADD: "add a trust root of", TRUST_ROOT_DELETE: "delete a trust root of",
                CERTS_FREEZE: "freeze a certificate of", CERTS_UNFREEZE: "unfreeze a certificate of",
                CERTS_REVOKE: f"revoke serial {self.serial} of", PUBKEY_ADD: f"register a {self.role} key of",
                PUBKEY_DELETE: "delete a key of"}.get(self.kind, self.kind)
        return f"{what} org {self.org_id}"


@dataclass(frozen=True, slots=True)
class MemberStore(Record):
    """Trust roots, CRL, frozen fingerprints and registered keys; immutable, canonical order."""

    mode: str
    suite: str
    trust_roots: tuple[TrustRoot, ...] = ()
    crl: tuple[Revocation, ...] = ()
    frozen: tuple[str, ...] = ()
    keys: tuple[RegisteredKey, ...] = ()
    ENCODING = (("mode", Text(32)), ("suite", Text(32)), ("trust_roots", ListOf(Nested(TrustRoot), 1024)),
                ("crl", ListOf(Nested(Revocation))), ("frozen", ListOf(Text(64))),
                ("keys", ListOf(Nested(RegisteredKey))))

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise MemberStoreError(f"unknown identity mode {self.mode!r}; modes are {', '.join(MODES)}", self.mode)
        if self.suite not in SUITE_OIDS:
            raise MemberStoreError(f"unknown crypto suite {self.suite!r}; choose {', '.join(SUITE_OIDS)}", self.suite)
        for name in ("trust_roots", "crl", "frozen", "keys"):
            items = tuple(getattr(self, name))
            canonical = tuple(sorted(set(items), key=_sort_key))
            if items != canonical:
                raise MemberStoreError(f"MemberStore.{name} must be sorted and without duplicates "
                                       "(build stores with MemberStore.create and apply)", items)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def create(cls, mode: str, suite: str, trust_roots=(), keys=()) -> MemberStore:
        """A store from CA certificates (any order, as Certificate, DER or PEM) and keys."""
        roots = tuple(TrustRoot(c.org, c.der) for c in map(Certificate.load, trust_roots))
        store = cls(mode, suite)
        for root in roots:
            store = store.apply(MemberOp(TRUST_ROOT_ADD, root.org_id, root.certificate))
        for key in keys:
            store = store.apply(MemberOp(PUBKEY_ADD, key.org_id, key.public_key, role=key.role))
        return store

    # -- queries -----------------------------------------------------------------------------
    def roots(self) -> list[Certificate]:
        return [Certificate.from_der(r.certificate) for r in self.trust_roots]

    def orgs(self) -> tuple[str, ...]:
        """Every org with a trust root (cert mode) or a registered key (key modes), sorted."""
        if self.mode == "permissioned-cert":
            return tuple(sorted({r.org_id for r in self.trust_roots}))
        return tuple(sorted({k.org_id for k in self.keys}))

    def verify(self, cert, now: _dt.datetime | None = None, required_role=None) -> Identity:
        """:func:`~labchain.identity.verify.verify_certificate` against this store."""
        return verify_certificate(cert, self.roots(), [(r.org_id, r.serial) for r in self.crl],
                                  self.frozen, now, required_role, self.suite)

    def identify(self, signer: bytes, now: _dt.datetime | None = None, required_role=None) -> Identity:
        """The identity behind an endorsement's ``signer`` bytes: a certificate in cert mode,
        a registered 33-byte public key in the key modes."""
        if self.mode == "permissioned-cert":
            return self.verify(signer, now, required_role)
        for key in self.keys:
            if key.public_key == signer:
                if required_role is not None:
                    roles = (required_role,) if isinstance(required_role, str) else tuple(required_role)
                    if key.role not in roles:
                        raise WrongRoleError(f"key {signer.hex()[:16]}.. is registered as {key.role} of org "
                                             f"{key.org_id} but this use needs {' or '.join(roles)}",
                                             signer, role=key.role)
                return Identity(org=key.org_id, role=key.role, name=f"key {signer.hex()[:12]}",
                                public_key=key.public_key, suite=self.suite)
        raise UnknownKeyError(f"public key {bytes(signer).hex()[:16]}.. is not registered by any org "
                              f"(mode {self.mode})", signer)

    # -- governance --------------------------------------------------------------------------
    def apply(self, op: MemberOp, now: _dt.datetime | None = None) -> MemberStore:
        """The store after ``op`` (no policy check here: see
        :func:`labchain.identity.governance.apply_member_op`); refuses an op that cannot apply."""
        if op.kind not in OPERATIONS:
            raise MemberStoreError(f"unknown member operation {op.kind!r}; operations are "
                                   f"{', '.join(OPERATIONS)}", op)

        def refuse(why: str) -> MemberStoreError:
            return MemberStoreError(f"cannot {op.describe()}: {why}", op)

        if op.kind in (TRUST_ROOT_ADD, TRUST_ROOT_DELETE):
            cert = Certificate.load(op.data)
            root = TrustRoot(op.org_id, cert.der)
            if op.kind == TRUST_ROOT_DELETE:
                if root not in self.trust_roots:
                    raise refuse("that CA certificate is not a trust root")
                return replace(self, trust_roots=_without(self.trust_roots, root))
            if self.mode != "permissioned-cert":
                raise refuse(f"trust roots belong to permissioned-cert mode, this chain is {self.mode}")
            if cert.suite != self.suite or cert.signature_suite != self.suite:
                raise refuse(f"the CA certificate is {cert.suite} but the chain uses {self.suite}")
            if not cert.is_ca or not cert.signed_by(cert):
                raise refuse(f"{cert.label} is not a self-signed CA certificate (basicConstraints CA "
                             "and a valid self-signature are required)")
            if cert.org != op.org_id:
                raise refuse(f"the CA certificate names org {cert.org}, not {op.org_id}")
            if root in self.trust_roots:
                raise refuse(f"{cert.label} is already a trust root")
            return replace(self, trust_roots=_with(self.trust_roots, root))
        if op.kind in (CERTS_FREEZE, CERTS_UNFREEZE):
            cert = Certificate.load(op.data)
            if op.kind == CERTS_UNFREEZE:
                if cert.fingerprint not in self.frozen:
                    raise refuse(f"{cert.label} is not frozen")
                return replace(self, frozen=_without(self.frozen, cert.fingerprint))
            if cert.fingerprint in self.frozen:
                raise refuse(f"{cert.label} is already frozen")
            try:
                identity = self.verify(cert, now)
            except IdentityError as exc:
                raise refuse(f"only valid member certificates can be frozen ({exc.message})") from None
            if identity.org != op.org_id:
                raise refuse(f"{cert.label} belongs to org {identity.org}")
            return replace(self, frozen=_with(self.frozen, cert.fingerprint))
        if op.kind == CERTS_REVOKE:
            try:
                serial = format(int(op.serial, 16), "x")
            except ValueError:
                raise refuse(f"the serial {op.serial!r} is not a hex number") from None
            if op.org_id not in self.orgs():
                raise refuse(f"org {op.org_id} has no trust root")
            entry = Revocation(op.org_id, serial)
            if entry in self.crl:
                raise refuse(f"serial {serial} of org {op.org_id} is already revoked")
            return replace(self, crl=_with(self.crl, entry))
        # key add / delete
        key = RegisteredKey(op.org_id, op.role, bytes(op.data))
        if op.kind == PUBKEY_DELETE:
            match = [k for k in self.keys if k.public_key == key.public_key and k.org_id == op.org_id]
            if not match:
                raise refuse(f"key {key.public_key.hex()[:16]}.. is not registered for org {op.org_id}")
            return replace(self, keys=_without(self.keys, match[0]))
        if self.mode == "permissioned-cert":
            raise refuse("public keys are registered in permissioned-key and public modes; "
                         "this chain admits members by certificate")
        if op.role not in ROLES:
            raise refuse(f"unknown role {op.role!r}; roles are {', '.join(ROLES)}")
        try:
            get_suite(self.suite).check_public_key(key.public_key)
        except (LabchainError, ValueError) as exc:
            raise refuse(f"the key is not a {self.suite} public key ({exc})") from None
        if any(k.public_key == key.public_key for k in self.keys):
            raise refuse(f"key {key.public_key.hex()[:16]}.. is already registered")
        return replace(self, keys=_with(self.keys, key))


def _sort_key(item):
    return item.to_bytes() if isinstance(item, Record) else item.encode()


def _with(items: tuple, item) -> tuple:
    return tuple(sorted(set(items) | {item}, key=_sort_key))


def _without(items: tuple, item) -> tuple:
    return tuple(x for x in items if x != item)
