"""X.509 certificates for P-256 and SM2 organisations: build, sign, parse, verify one signature.

One code path for both crypto suites: the structures are built and parsed with ``asn1crypto``
(a well-kept pure-Python ASN.1 library), the signature over the to-be-signed bytes comes from
the LabChain suite (:mod:`labchain.crypto.p256`, :mod:`labchain.crypto.sm`), DER-encoded with
:mod:`labchain.crypto.asn1`. ``cryptography`` cannot sign SM2 certificates, which is why it is
not the builder; the tests load every P-256 certificate with ``cryptography`` and check its
signature there, and ``openssl verify`` checks both suites.

Terminology
-----------
TBS (to-be-signed) certificate
    The DER ``tbsCertificate``: version, serial, issuer, validity, subject, public key and
    extensions. The CA signs exactly these bytes.
SM2 OIDs
    ``1.2.156.10197.1.301`` the SM2 curve (in the public key's namedCurve), and
    ``1.2.156.10197.1.501`` SM2-with-SM3 (the signature algorithm; GM/T 0006). An SM2 certificate
    signature is SM2 over SM3(Z_A || TBS), Z_A computed with the CA's public key and the default
    signer ID ``1234567812345678`` (GM/T 0009), DER ``SEQUENCE {r, s}``.
role
    Carried in the subject's organizational unit (OU), as ChainMaker's cryptogen does:
    ``admin``, ``client``, ``consensus``, ``common`` (sync node), ``light``; a CA carries ``ca``.
org id
    The subject's organization (O), e.g. ``org1``: ChainMaker's ``org_id``.
serial
    A positive integer unique per CA (random 63 bits here); shown in hex.
SKI / AKI
    Subject / authority key identifier: the suite hash (SHA-256 or SM3, ChainMaker
    ``ski_hash``) of the uncompressed public key; a child's AKI names its CA's SKI.
fingerprint ("cert hash")
    SHA-256 of the certificate's DER (what ``openssl x509 -fingerprint -sha256`` prints); the
    frozen-certificate list holds these.

Simplifications versus real PKIs: no certificate chains longer than CA -> leaf (ChainMaker's
cryptogen also issues from one self-signed root per org, intermediate CAs being optional
there), no name constraints or policies, no DER CRL files (revocation is a governance record,
:mod:`labchain.identity.members`), no GM dual (sign + encrypt) TLS certificates.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import functools
import secrets
from dataclasses import dataclass

from asn1crypto import keys as _keys
from asn1crypto import x509 as _x509

from labchain.core.errors import EncodingError, InvalidKeyError
from labchain.crypto import asn1
from labchain.crypto.suite import get_suite
from labchain.identity.errors import MalformedCertificateError

#: ChainMaker's roles; the first three are users' certificates, the next two nodes'
ROLES = ("admin", "client", "light", "consensus", "common")
USER_ROLES = ("admin", "client", "light")
NODE_ROLES = ("consensus", "common")
CA_ROLE = "ca"

OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
#: suite name -> (curve OID, signature algorithm OID, ChainMaker pk_algo)
SUITE_OIDS = {
    "p256-sha256": ("1.2.840.10045.3.1.7", "1.2.840.10045.4.3.2", "ecc_p256"),   # prime256v1, ecdsa-with-SHA256
    "sm2-sm3": (asn1.OID_SM2_CURVE, "1.2.156.10197.1.501", "sm2"),             # sm2p256v1, SM2-with-SM3
}
_SUITE_BY_SIGNATURE = {sig: name for name, (_, sig, _) in SUITE_OIDS.items()}
_SUITE_BY_CURVE = {curve: name for name, (curve, _, _) in SUITE_OIDS.items()}
SIGNATURE_NAMES = {"1.2.840.10045.4.3.2": "ecdsa-with-SHA256", "1.2.156.10197.1.501": "SM2-with-SM3"}

#: a certificate bigger than this is refused before parsing (real ones are ~600-900 bytes)
MAX_CERT_SIZE = 16 * 1024


def _utc(moment: _dt.datetime) -> _dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=_dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc)


# --- keys ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class KeyPair:
    """A private key of one suite (the secret integer d) and what derives from it."""

    suite: str
    secret: int

    def __post_init__(self) -> None:
        if self.suite not in SUITE_OIDS:
            raise InvalidKeyError(f"certificates support the suites {', '.join(SUITE_OIDS)}, "
                                  f"not {self.suite!r}", self.suite)
        get_suite(self.suite).check_secret(self.secret)

    def __repr__(self) -> str:
        return f"KeyPair({self.suite}, public {self.public_key.hex()[:16]}..)"

    @classmethod
    def generate(cls, suite: str) -> KeyPair:
        return cls(suite, get_suite(suite).generate_secret())

    @classmethod
    def from_seed(cls, suite: str, phrase: str, index: int = 0) -> KeyPair:
        return cls(suite, get_suite(suite).secret_from_seed(phrase, index))

    @property
    def public_key(self) -> bytes:
        """33-byte SEC1 compressed point (LabChain's wire form)."""
        return get_suite(self.suite).public_key(self.secret)

    @property
    def public_point(self) -> bytes:
        """65-byte uncompressed point (what X.509 carries)."""
        return uncompressed_point(self.suite, self.public_key)

    def sign(self, message: bytes) -> bytes:
        """64-byte ``r || s`` signature of ``message`` with this suite (SM2: Z_A of the default ID)."""
        return get_suite(self.suite).sign(self.secret, message)

    def private_key_pem(self) -> str:
        """PKCS #8 ``PRIVATE KEY`` PEM, as ``openssl genpkey`` writes (unencrypted)."""
        der = asn1.sequence(asn1.encode_integer(0),
                            asn1.sequence(asn1.encode_oid(OID_EC_PUBLIC_KEY),
                                          asn1.encode_oid(SUITE_OIDS[self.suite][0])),
                            asn1.tlv(asn1.OCTET_STRING, asn1.encode_sec1_private(
                                self.secret.to_bytes(32, "big"), self.public_point, with_curve=False)))
        return asn1.pem_encode("PRIVATE KEY", der)


def uncompressed_point(suite: str, public_key: bytes) -> bytes:
    if suite == "sm2-sm3":
        from labchain.crypto import sm2

        return sm2.uncompressed(sm2.decode_point(public_key))
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(public_key))
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def compressed_point(point: bytes) -> bytes:
    if len(point) != 65 or point[0] != 4:
        raise MalformedCertificateError("the certificate's public key is not a 65-byte uncompressed "
                                        "elliptic-curve point", point)
    return bytes([2 + (point[64] & 1)]) + point[1:33]


def key_identifier(suite: str, point: bytes) -> bytes:
    """SKI: the suite hash of the uncompressed public key (ChainMaker ``ski_hash``)."""
    return get_suite(suite).hash(point)


# --- building -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Subject:
    """Who a certificate names: org id (O), role (OU), common name (CN)."""

    org: str
    role: str
    common_name: str

    def to_name(self) -> _x509.Name:
        return _x509.Name.build({"organization_name": self.org,
                                 "organizational_unit_name": self.role,
                                 "common_name": self.common_name}, use_printable=False)


def _time(moment: _dt.datetime) -> _x509.Time:
    moment = _utc(moment).replace(microsecond=0)
    return _x509.Time({"utc_time" if moment.year < 2050 else "general_time": moment})


def issue(*, subject: Subject, public_key: bytes, suite: str, issuer_key: KeyPair,
          issuer: Subject | None = None, not_before: _dt.datetime, not_after: _dt.datetime,
          serial: int | None = None, is_ca: bool = False, tls_names: tuple[str, ...] = ()) -> Certificate:
    """A certificate for ``public_key`` (33-byte compressed) signed by ``issuer_key``.

    ``issuer`` None: self-signed (a root CA). ``tls_names``: a TLS certificate with these DNS
    names (and 127.0.0.1) in subjectAltName and serverAuth + clientAuth extended key usage.
    """
    if issuer_key.suite != suite:
        raise InvalidKeyError(f"a {suite} certificate must be signed by a {suite} CA key, "
                              f"not {issuer_key.suite}", issuer_key)
    if subject.role not in ROLES + (CA_ROLE,):
        raise InvalidKeyError(f"unknown role {subject.role!r}; roles are {', '.join(ROLES)}", subject)
    curve_oid, sig_oid, _ = SUITE_OIDS[suite]
    point = uncompressed_point(suite, public_key)
    serial = secrets.randbits(63) | 1 if serial is None else serial
    issuer_point = issuer_key.public_point
    extensions = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": is_ca}},
        {"extn_id": "key_usage", "critical": True,
         "extn_value": {"key_cert_sign", "crl_sign", "digital_signature"} if is_ca
         else ({"digital_signature", "key_agreement"} if tls_names else {"digital_signature", "non_repudiation"})},
        {"extn_id": "key_identifier", "critical": False, "extn_value": key_identifier(suite, point)},
        {"extn_id": "authority_key_identifier", "critical": False,
         "extn_value": {"key_identifier": key_identifier(suite, issuer_point)}},
    ]
    if tls_names:
        names = [_x509.GeneralName(name="dns_name", value=n) for n in tls_names]
        names.append(_x509.GeneralName(name="ip_address", value="127.0.0.1"))
        extensions.append({"extn_id": "subject_alt_name", "critical": False, "extn_value": names})
        extensions.append({"extn_id": "extended_key_usage", "critical": False,
                           "extn_value": ["server_auth", "client_auth"]})
    tbs = _x509.TbsCertificate({
        "version": "v3",
        "serial_number": serial,
        "signature": {"algorithm": sig_oid},
        "issuer": (issuer or subject).to_name(),
        "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
        "subject": subject.to_name(),
        "subject_public_key_info": {
            "algorithm": {"algorithm": "ec", "parameters": _keys.ECDomainParameters(name="named", value=curve_oid)},
            "public_key": point},
        "extensions": extensions,
    })
    tbs_der = tbs.dump()
    raw = issuer_key.sign(tbs_der)
    signature = asn1.encode_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    cert = _x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": {"algorithm": sig_oid},
                              "signature_value": signature})
    return Certificate.from_der(cert.dump())


# --- parsing ------------------------------------------------------------------------------

def _name_field(name: _x509.Name, field: str) -> str:
    values = [value for rdn in name.chosen for attr in rdn
              if attr["type"].native == field for value in [attr["value"].native]]
    if len(values) > 1:
        raise MalformedCertificateError(f"the certificate name has {len(values)} {field} attributes; "
                                        "LabChain expects at most one", None)
    return str(values[0]) if values else ""


@dataclass(frozen=True, slots=True)
class Certificate:
    """A parsed certificate: the DER bytes and the fields LabChain uses, read once."""

    der: bytes
    serial: int
    org: str
    role: str
    common_name: str
    issuer_org: str
    issuer_role: str
    issuer_common_name: str
    not_before: _dt.datetime
    not_after: _dt.datetime
    suite: str
    signature_algorithm: str
    public_point: bytes
    is_ca: bool
    subject_key_id: bytes
    authority_key_id: bytes
    tbs: bytes
    signature: bytes          # 64 bytes r || s

    def __repr__(self) -> str:
        return (f"<{self.suite} certificate {self.common_name!r} org={self.org} role={self.role} "
                f"serial={self.serial_hex} issuer={self.issuer_label}>")

    @property
    def serial_hex(self) -> str:
        return format(self.serial, "x")

    @property
    def issuer_label(self) -> str:
        """How messages name the issuing CA: ``CN (org O)``."""
        return f"{self.issuer_common_name or '?'} (org {self.issuer_org or '?'})"

    @property
    def label(self) -> str:
        return f"{self.common_name or '?'} (org {self.org or '?'})"

    @property
    def public_key(self) -> bytes:
        """33-byte compressed public key, for the suite's ``verify``."""
        return compressed_point(self.public_point)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the DER, hex (``openssl x509 -fingerprint -sha256`` without colons)."""
        return hashlib.sha256(self.der).hexdigest()

    @property
    def signature_suite(self) -> str | None:
        """The suite of the signature algorithm (the issuer's suite), None when unknown."""
        return _SUITE_BY_SIGNATURE.get(self.signature_algorithm)

    def to_pem(self) -> str:
        return asn1.pem_encode("CERTIFICATE", self.der)

    def signed_by(self, issuer: Certificate) -> bool:
        """True when ``issuer``'s key verifies this certificate's signature (same suite only)."""
        if issuer.suite != self.suite or self.signature_suite != issuer.suite:
            return False
        return get_suite(self.suite).verify(issuer.public_key, self.tbs, self.signature)

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    def load(cls, data: bytes | str | Certificate) -> Certificate:
        """From DER bytes, PEM text/bytes, or an already parsed certificate."""
        if isinstance(data, Certificate):
            return data
        if isinstance(data, str) or (isinstance(data, (bytes, bytearray)) and bytes(data[:11]) == b"-----BEGIN "):
            return cls.from_pem(data)
        return cls.from_der(data)

    @classmethod
    def from_pem(cls, text: str | bytes) -> Certificate:
        if isinstance(text, (bytes, bytearray)):
            try:
                text = bytes(text).decode("ascii")
            except UnicodeDecodeError:
                raise MalformedCertificateError("a PEM certificate must be ASCII text", None) from None
        if not isinstance(text, str):
            raise MalformedCertificateError(f"expected PEM text, got {type(text).__name__}", text)
        if len(text) > 2 * MAX_CERT_SIZE:
            raise MalformedCertificateError(f"the PEM text is {len(text)} characters; a certificate "
                                            f"is at most {MAX_CERT_SIZE} bytes", None)
        try:
            label, der = asn1.pem_decode(text)
        except EncodingError as exc:
            raise MalformedCertificateError(f"not a PEM certificate: {exc.message}", None) from None
        if label != "CERTIFICATE":
            raise MalformedCertificateError(f"expected a CERTIFICATE PEM block, got {label!r}", None)
        return cls.from_der(der)

    @classmethod
    def from_der(cls, der: bytes) -> Certificate:
        if not isinstance(der, (bytes, bytearray)):
            raise MalformedCertificateError(f"expected certificate bytes, got {type(der).__name__}", der)
        der = bytes(der)
        if not der:
            raise MalformedCertificateError("the certificate is empty (0 bytes)", der)
        if len(der) > MAX_CERT_SIZE:
            raise MalformedCertificateError(f"the certificate is {len(der)} bytes; at most "
                                            f"{MAX_CERT_SIZE} are accepted", None)
        try:
            return _parse_cached(der)
        except MalformedCertificateError:
            raise
        except Exception as exc:   # asn1crypto raises ValueError, TypeError, KeyError... lazily
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise MalformedCertificateError(f"not a well-formed DER X.509 certificate: {detail[:200]}",
                                            der[:64]) from None

    @classmethod
    def _parse(cls, der: bytes) -> Certificate:
        cert = _x509.Certificate.load(der, strict=True)
        tbs = cert["tbs_certificate"]
        if tbs["version"].native != "v3":
            raise MalformedCertificateError(f"LabChain needs X.509 v3 certificates, this one is "
                                            f"{tbs['version'].native}", None)
        sig_oid = cert["signature_algorithm"]["algorithm"].dotted
        if tbs["signature"]["algorithm"].dotted != sig_oid:
            raise MalformedCertificateError("the certificate's two signature algorithm fields differ", None)
        spki = tbs["subject_public_key_info"]
        if spki["algorithm"]["algorithm"].dotted != OID_EC_PUBLIC_KEY:
            raise MalformedCertificateError("the certificate's key is not an elliptic-curve key "
                                            f"({spki['algorithm']['algorithm'].dotted})", None)
        params = spki["algorithm"]["parameters"]
        if params.name != "named":
            raise MalformedCertificateError("the certificate's curve is not given by name (OID)", None)
        curve = params.chosen.dotted
        if curve not in _SUITE_BY_CURVE:
            raise MalformedCertificateError(f"the certificate's curve {curve} is neither P-256 nor SM2", None)
        suite = _SUITE_BY_CURVE[curve]
        point = bytes(spki["public_key"].native if isinstance(spki["public_key"].native, bytes)
                      else spki["public_key"].contents[1:])
        compressed_point(point)
        try:
            r, s = asn1.decode_signature(cert["signature_value"].native)
        except EncodingError as exc:
            raise MalformedCertificateError(f"the certificate's signature is not DER SEQUENCE {{r, s}}: "
                                            f"{exc.message}", None) from None
        if not (r < 2 ** 256 and s < 2 ** 256):
            raise MalformedCertificateError("the certificate's signature r or s is over 256 bits", None)
        is_ca, ski, aki = False, b"", b""
        for ext in tbs["extensions"]:
            name = ext["extn_id"].native
            value = ext["extn_value"].parsed
            if name == "basic_constraints":
                is_ca = bool(value["ca"].native)
            elif name == "key_identifier":
                ski = bytes(value.native)
            elif name == "authority_key_identifier":
                aki = bytes(value["key_identifier"].native or b"")
            elif ext["critical"].native and name not in ("key_usage", "extended_key_usage", "subject_alt_name"):
                raise MalformedCertificateError(f"the certificate has a critical extension LabChain "
                                                f"does not understand ({ext['extn_id'].dotted})", None)
        validity = tbs["validity"]
        not_before, not_after = validity["not_before"].native, validity["not_after"].native
        if not isinstance(not_before, _dt.datetime) or not isinstance(not_after, _dt.datetime):
            raise MalformedCertificateError("the certificate's validity dates are missing", None)
        serial = tbs["serial_number"].native
        if serial <= 0:
            raise MalformedCertificateError(f"the certificate serial number must be positive, got {serial}", None)
        if cert.dump(force=True) != der:
            raise MalformedCertificateError("the certificate is not in canonical DER (re-encoding it "
                                            "gives other bytes)", None)
        subject, issuer = tbs["subject"], tbs["issuer"]
        return cls(der=der, serial=serial,
                   org=_name_field(subject, "organization_name"),
                   role=_name_field(subject, "organizational_unit_name"),
                   common_name=_name_field(subject, "common_name"),
                   issuer_org=_name_field(issuer, "organization_name"),
                   issuer_role=_name_field(issuer, "organizational_unit_name"),
                   issuer_common_name=_name_field(issuer, "common_name"),
                   not_before=_utc(not_before), not_after=_utc(not_after),
                   suite=suite, signature_algorithm=sig_oid, public_point=point, is_ca=is_ca,
                   subject_key_id=ski, authority_key_id=aki, tbs=tbs.dump(),
                   signature=r.to_bytes(32, "big") + s.to_bytes(32, "big"))


@functools.lru_cache(maxsize=4096)
def _parse_cached(der: bytes) -> Certificate:
    """Parsing is pure, so trust roots and peers' certificates are parsed once (failures are
    not cached: lru_cache does not keep exceptions)."""
    return Certificate._parse(der)
