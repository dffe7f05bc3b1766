"""``labchain certs``: generate a consortium's certificates, show and verify one certificate.

``labchain certs generate --template FILE --out DIR`` is ChainMaker's ``cryptogen generate``
(:mod:`labchain.identity.cryptogen`); ``labchain certs template`` prints a starting template;
``labchain certs verify CERT --ca CA.crt ...`` says whether a certificate is accepted and, if
not, why (the same sentence a node logs when it refuses a peer).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
from pathlib import Path

from labchain.identity.errors import TemplateError

EXAMPLE_TEMPLATE = """\
# labchain certs generate --template this.yml --out crypto-config
suite: p256-sha256        # or sm2-sm3 (ChainMaker pk_algo: ecc_p256 | sm2)
valid_days: 3650
orgs:
  - name: org             # count 4: org1 .. org4
    count: 4
    nodes: {consensus: 1, common: 0}
    users: {admin: 1, client: 1, light: 0}
"""


def register(sub: argparse._SubParsersAction) -> None:
    certs = sub.add_parser("certs", help="consortium certificates (like ChainMaker's cryptogen)")
    csub = certs.add_subparsers(dest="certs_command", metavar="ACTION", required=True)
    gen = csub.add_parser("generate", help="CA, node, user and TLS certificates from a YAML template")
    gen.add_argument("--template", required=True, help="YAML template (see: labchain certs template)")
    gen.add_argument("--out", required=True, help="output folder (created)")
    gen.add_argument("--password-env", metavar="VAR",
                     help="encrypt the keys (SM4-GCM key files) with the password in this environment variable")
    gen.set_defaults(func=_generate)
    tpl = csub.add_parser("template", help="print an example template")
    tpl.set_defaults(func=lambda args: print(EXAMPLE_TEMPLATE, end="") or 0)
    ver = csub.add_parser("verify", help="check a certificate against CA certificates; explain a refusal")
    ver.add_argument("certificate", help="PEM or DER certificate file")
    ver.add_argument("--ca", action="append", required=True, help="trusted CA certificate (repeat per org)")
    ver.add_argument("--role", action="append", help="required role (repeatable: any of them)")
    ver.add_argument("--suite", choices=("p256-sha256", "sm2-sm3"), help="the chain's crypto suite")
    ver.set_defaults(func=_verify)


def _generate(args: argparse.Namespace) -> int:
    from labchain.identity.cryptogen import generate_to

    password = None
    if args.password_env:
        password = os.environ.get(args.password_env)
        if not password:
            raise TemplateError(f"the environment variable {args.password_env} is empty or unset", args.password_env)
    consortium = generate_to(args.template, args.out, password)
    members = sum(len(o.members) for o in consortium.orgs)
    print(f"{consortium.suite}: {len(consortium.orgs)} orgs, {members} members "
          f"({members * 2 + len(consortium.orgs)} certificates) in {Path(args.out)}")
    for org in consortium.orgs:
        roles = ", ".join(f"{m.name}" for m in org.members) or "CA only"
        print(f"  {org.name}: ca/ca.crt, {roles}")
    return 0


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TemplateError(f"cannot read {path}: {exc.strerror}", path) from None


def _verify(args: argparse.Namespace) -> int:
    from labchain.identity.verify import verify_certificate

    identity = verify_certificate(_read(args.certificate), [_read(p) for p in args.ca],
                                  now=_dt.datetime.now(_dt.timezone.utc), required_role=args.role,
                                  suite=args.suite)
    print(f"accepted: {identity} ({identity.suite}), serial {identity.serial}, issued by {identity.ca}")
    return 0
