"""``labchain certs generate``: a consortium's CAs, node and user certificates, from a template.

Like ChainMaker's ``cryptogen`` (``crypto_config_template.yml`` -> ``crypto-config/``): a small
YAML template lists the orgs, how many nodes and users of each role they have, and the crypto
suite; :func:`generate` builds every key and certificate in memory (a :class:`Consortium`) and
:func:`write_consortium` lays them out on disk::

    OUT/manifest.json                       every file, org, role, serial and fingerprint
    OUT/<org>/ca/ca.crt  ca.key             the org's self-signed root CA (a trust root)
    OUT/<org>/node/<name>/<name>.sign.crt   consensus / common nodes: signing certificate
    OUT/<org>/node/<name>/<name>.sign.key
    OUT/<org>/node/<name>/<name>.tls.crt    TLS certificate (SAN <name>.<org>, localhost, 127.0.0.1)
    OUT/<org>/node/<name>/<name>.tls.key
    OUT/<org>/user/<name>/...               admin / client / light users, same four files

Keys are PKCS #8 PEM (``openssl pkey`` reads them), or, when a password is given, LabChain
key files (SM4-GCM, :mod:`labchain.crypto.keyfile`) named ``*.key.sm4``.

Template (every field but ``orgs`` optional)::

    suite: sm2-sm3          # or p256-sha256; ChainMaker pk_algo: sm2 | ecc_p256 also accepted
    valid_days: 3650        # ChainMaker specs.expire_year x 365
    seed: class-2026        # derive every key and serial from this phrase (reproducible)
    orgs:
      - name: org           # with count: org1 .. org4
        count: 4
        nodes: {consensus: 1, common: 1}
        users: {admin: 1, client: 1, light: 0}

Simplifications versus cryptogen: one CA per org signs both signing and TLS certificates (no
separate TLS CA), no intermediate CAs, no GM dual TLS certificates (sign + encrypt), node ids are
not libp2p peer ids.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from labchain.crypto import keyfile
from labchain.identity.errors import TemplateError
from labchain.identity.x509 import NODE_ROLES, SUITE_OIDS, USER_ROLES, Certificate, KeyPair, Subject, issue

PK_ALGO = {"ecc_p256": "p256-sha256", "sm2": "sm2-sm3"}   # ChainMaker pk_algo -> LabChain suite
MAX_PER_ROLE = 100
MAX_ORGS = 64


@dataclass(frozen=True, slots=True)
class OrgSpec:
    name: str
    nodes: dict[str, int]
    users: dict[str, int]


@dataclass(frozen=True, slots=True)
class Template:
    suite: str
    orgs: tuple[OrgSpec, ...]
    valid_days: int = 3650
    seed: str = ""

    @classmethod
    def from_yaml(cls, text: str) -> Template:
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise TemplateError(f"the template is not valid YAML: {str(exc).splitlines()[0]}", None) from None
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc) -> Template:
        if not isinstance(doc, dict):
            raise TemplateError("the template must be a mapping with an 'orgs' list", doc)
        unknown = set(doc) - {"suite", "pk_algo", "valid_days", "seed", "orgs"}
        if unknown:
            raise TemplateError(f"unknown template field(s): {', '.join(sorted(map(str, unknown)))}", doc)
        suite = doc.get("suite") or PK_ALGO.get(doc.get("pk_algo", "ecc_p256"))
        if suite not in SUITE_OIDS:
            raise TemplateError(f"suite must be one of {', '.join(SUITE_OIDS)} (or pk_algo "
                                f"{' / '.join(PK_ALGO)}), got {doc.get('suite') or doc.get('pk_algo')!r}", doc)
        days = doc.get("valid_days", 3650)
        if type(days) is not int or not 1 <= days <= 36500:
            raise TemplateError(f"valid_days must be a whole number of days from 1 to 36500, got {days!r}", doc)
        seed = doc.get("seed", "")
        if not isinstance(seed, str):
            raise TemplateError(f"seed must be text, got {type(seed).__name__}", doc)
        entries = doc.get("orgs")
        if not isinstance(entries, list) or not entries:
            raise TemplateError("the template needs a non-empty 'orgs' list", doc)
        orgs: list[OrgSpec] = []
        for i, entry in enumerate(entries):
            orgs.extend(_org_specs(entry, i))
        names = [o.name for o in orgs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise TemplateError(f"org name(s) appear twice: {', '.join(dupes)}", doc)
        if len(orgs) > MAX_ORGS:
            raise TemplateError(f"the template makes {len(orgs)} orgs; at most {MAX_ORGS}", doc)
        return cls(suite, tuple(orgs), days, seed)


def _counts(value, roles: tuple[str, ...], where: str) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TemplateError(f"{where} must map roles ({', '.join(roles)}) to counts", value)
    out = {}
    for role, n in value.items():
        if role not in roles:
            raise TemplateError(f"{where}: {role!r} is not a role here; use {', '.join(roles)}", value)
        if type(n) is not int or not 0 <= n <= MAX_PER_ROLE:
            raise TemplateError(f"{where}.{role} must be a count from 0 to {MAX_PER_ROLE}, got {n!r}", value)
        out[role] = n
    return out


def _org_specs(entry, i: int) -> list[OrgSpec]:
    where = f"orgs[{i}]"
    if not isinstance(entry, dict):
        raise TemplateError(f"{where} must be a mapping with a name", entry)
    unknown = set(entry) - {"name", "count", "nodes", "users"}
    if unknown:
        raise TemplateError(f"{where} has unknown field(s): {', '.join(sorted(map(str, unknown)))}", entry)
    name = entry.get("name")
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise TemplateError(f"{where}.name must be letters, digits, '-' or '_', got {name!r}", entry)
    nodes = _counts(entry.get("nodes"), NODE_ROLES, f"{where}.nodes")
    users = _counts(entry.get("users"), USER_ROLES, f"{where}.users")
    count = entry.get("count")
    if count is None:
        return [OrgSpec(name, nodes, users)]
    if type(count) is not int or not 1 <= count <= MAX_ORGS:
        raise TemplateError(f"{where}.count must be from 1 to {MAX_ORGS}, got {count!r}", entry)
    return [OrgSpec(f"{name}{k}", nodes, users) for k in range(1, count + 1)]


# --- generation -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Member:
    """One node or user: its signing key and certificate, TLS key and certificate."""

    org: str
    role: str
    name: str
    kind: str                 # "node" or "user"
    key: KeyPair
    certificate: Certificate
    tls_key: KeyPair
    tls_certificate: Certificate


def _by_name(items, name: str, where: str):
    for item in items:
        if item.name == name:
            return item
    raise KeyError(f"{where} has no {name!r}; it has {', '.join(i.name for i in items)}")


@dataclass(frozen=True, slots=True)
class Org:
    name: str
    ca_key: KeyPair
    ca_certificate: Certificate
    members: tuple[Member, ...]

    def member(self, name: str) -> Member:
        return _by_name(self.members, name, f"org {self.name}")

    def by_role(self, role: str) -> list[Member]:
        return [m for m in self.members if m.role == role]


@dataclass(frozen=True, slots=True)
class Consortium:
    suite: str
    orgs: tuple[Org, ...]
    files: dict = field(default_factory=dict)

    def org(self, name: str) -> Org:
        return _by_name(self.orgs, name, "the consortium")

    @property
    def trust_roots(self) -> list[Certificate]:
        return [o.ca_certificate for o in self.orgs]


def _keys_and_serials(template: Template):
    """Key and serial factories: derived from the seed phrase, or random."""
    def key(label: str) -> KeyPair:
        if template.seed:
            return KeyPair.from_seed(template.suite, f"{template.seed}/{label}")
        return KeyPair.generate(template.suite)

    def serial(label: str) -> int | None:
        if not template.seed:
            return None
        digest = hashlib.sha256(f"labchain-serial/{template.seed}/{label}".encode()).digest()
        return int.from_bytes(digest[:8], "big") >> 1 | 1
    return key, serial


def generate(template: Template | dict | str, now: _dt.datetime | None = None) -> Consortium:
    """Every org's CA, nodes and users, in memory. ``template``: a :class:`Template`, its
    dict form, or YAML text. ``now``: the start of validity (default: the current time, minus
    one minute of clock-skew margin)."""
    if isinstance(template, str):
        template = Template.from_yaml(template)
    elif isinstance(template, dict):
        template = Template.from_dict(template)
    start = (now or _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=1)).replace(microsecond=0)
    end = start + _dt.timedelta(days=template.valid_days)
    new_key, new_serial = _keys_and_serials(template)
    orgs = []
    for spec in template.orgs:
        ca_key = new_key(f"{spec.name}/ca")
        ca_subject = Subject(spec.name, "ca", f"ca.{spec.name}")
        ca_cert = issue(subject=ca_subject, public_key=ca_key.public_key, suite=template.suite,
                        issuer_key=ca_key, not_before=start, not_after=end,
                        serial=new_serial(f"{spec.name}/ca"), is_ca=True)
        members = []
        for kind, counts in (("node", spec.nodes), ("user", spec.users)):
            for role, n in counts.items():
                for k in range(1, n + 1):
                    name = f"{role}{k}"
                    label = f"{spec.name}/{name}"
                    key, tls_key = new_key(f"{label}/sign"), new_key(f"{label}/tls")
                    common = dict(suite=template.suite, issuer_key=ca_key, issuer=ca_subject,
                                  not_before=start, not_after=end)
                    cert = issue(subject=Subject(spec.name, role, f"{name}.{spec.name}"),
                                 public_key=key.public_key, serial=new_serial(f"{label}/sign"), **common)
                    tls = issue(subject=Subject(spec.name, role, f"{name}.tls.{spec.name}"),
                                public_key=tls_key.public_key, serial=new_serial(f"{label}/tls"),
                                tls_names=(f"{name}.{spec.name}", "localhost"), **common)
                    members.append(Member(spec.name, role, name, kind, key, cert, tls_key, tls))
        orgs.append(Org(spec.name, ca_key, ca_cert, tuple(members)))
    return Consortium(template.suite, tuple(orgs))


def _write(path: Path, text: str | bytes, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _write_key(path: Path, key: KeyPair, password: str | None, label: str) -> Path:
    if password:
        path = path.with_name(path.name + ".sm4")
        path.parent.mkdir(parents=True, exist_ok=True)
        keyfile.write_key_file(path, key.secret.to_bytes(32, "big"), password,
                               label=f"{key.suite} {label}", overwrite=True)
    else:
        _write(path, key.private_key_pem(), private=True)
    return path


def write_consortium(consortium: Consortium, out: str | os.PathLike, password: str | None = None) -> dict:
    """Lay ``consortium`` out under ``out`` (module docstring) and return the manifest."""
    out = Path(out)
    rel = lambda p: str(p.relative_to(out))  # noqa: E731
    manifest = {"suite": consortium.suite, "orgs": []}
    for org in consortium.orgs:
        base = out / org.name
        _write(base / "ca" / "ca.crt", org.ca_certificate.to_pem())
        ca_key = _write_key(base / "ca" / "ca.key", org.ca_key, password, f"{org.name} CA")
        entry = {"org_id": org.name, "ca_certificate": rel(base / "ca" / "ca.crt"), "ca_key": rel(ca_key),
                 "ca_fingerprint": org.ca_certificate.fingerprint, "members": []}
        for m in org.members:
            folder = base / m.kind / m.name
            files = {}
            for part, key, cert in (("sign", m.key, m.certificate), ("tls", m.tls_key, m.tls_certificate)):
                _write(folder / f"{m.name}.{part}.crt", cert.to_pem())
                key_path = _write_key(folder / f"{m.name}.{part}.key", key, password, f"{m.name}.{org.name} {part}")
                files[f"{part}_certificate"] = rel(folder / f"{m.name}.{part}.crt")
                files[f"{part}_key"] = rel(key_path)
            entry["members"].append({"name": m.name, "role": m.role, "kind": m.kind,
                                     "serial": m.certificate.serial_hex,
                                     "fingerprint": m.certificate.fingerprint, **files})
        manifest["orgs"].append(entry)
    _write(out / "manifest.json", json.dumps(manifest, indent=1) + "\n")
    return manifest


def load_key(path: str | os.PathLike, suite: str, password: str | None = None) -> KeyPair:
    """A key written by :func:`write_consortium` (PEM, or ``*.sm4`` with ``password``)."""
    path = Path(path)
    if path.name.endswith(".sm4"):
        if not password:
            raise TemplateError(f"{path} is encrypted; give its password", str(path))
        return KeyPair(suite, int.from_bytes(keyfile.read_key_file(path, password), "big"))
    text = path.read_text()
    if suite == "sm2-sm3":
        from labchain.crypto import sm2

        return KeyPair(suite, sm2.private_key_from_pem(text))
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return KeyPair(suite, load_pem_private_key(text.encode(), None).private_numbers().private_value)


def generate_to(template_path: str | os.PathLike, out: str | os.PathLike, password: str | None = None,
                now: _dt.datetime | None = None) -> Consortium:
    """Read a template file, generate, write; the CLI's ``certs generate``."""
    try:
        text = Path(template_path).read_text()
    except OSError as exc:
        raise TemplateError(f"cannot read the template {template_path}: {exc.strerror}", str(template_path)) from None
    consortium = generate(Template.from_yaml(text), now)
    manifest = write_consortium(consortium, out, password)
    return Consortium(consortium.suite, consortium.orgs, manifest)
