"""labchain certs generate: templates, the folder layout, key files, and the CLI."""
from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess

import pytest
import yaml
from identitykit import NOW

from labchain.cli import main
from labchain.crypto.keyfile import WrongPassphraseError
from labchain.identity.cli import EXAMPLE_TEMPLATE
from labchain.identity.cryptogen import Template, generate, generate_to, load_key, write_consortium
from labchain.identity.errors import TemplateError
from labchain.identity.x509 import Certificate

SMALL = {"suite": "sm2-sm3", "seed": "small", "orgs": [{"name": "solo", "users": {"admin": 1}}]}


@pytest.mark.parametrize("doc, message", [
    ([], "the template must be a mapping with an 'orgs' list"),
    ({"orgs": [], "colour": 1}, "unknown template field(s): colour"),
    ({"suite": "rsa", "orgs": [{"name": "a"}]}, "suite must be one of p256-sha256, sm2-sm3 (or pk_algo ecc_p256 / sm2), got 'rsa'"),
    ({"orgs": []}, "the template needs a non-empty 'orgs' list"),
    ({"valid_days": 0, "orgs": [{"name": "a"}]}, "valid_days must be a whole number of days from 1 to 36500, got 0"),
    ({"orgs": [{"name": "a b"}]}, "orgs[0].name must be letters, digits, '-' or '_', got 'a b'"),
    ({"orgs": [{"name": "a", "nodes": {"admin": 1}}]}, "orgs[0].nodes: 'admin' is not a role here; use consensus, common"),
    ({"orgs": [{"name": "a", "users": {"client": -1}}]}, "orgs[0].users.client must be a count from 0 to 100, got -1"),
    ({"orgs": [{"name": "a", "count": 0}]}, "orgs[0].count must be from 1 to 64, got 0"),
    ({"orgs": [{"name": "org", "count": 2}, {"name": "org1"}]}, "org name(s) appear twice: org1"),
    ({"orgs": [{"name": "a", "peers": 3}]}, "orgs[0] has unknown field(s): peers"),
    ({"seed": 5, "orgs": [{"name": "a"}]}, "seed must be text, got int"),
])
def test_template_errors_name_the_field(doc, message):
    with pytest.raises(TemplateError, match=re.escape(message)):
        Template.from_dict(doc)


def test_template_yaml_counts_and_chainmaker_pk_algo():
    template = Template.from_yaml("pk_algo: sm2\norgs:\n  - {name: org, count: 3, nodes: {consensus: 1}}\n")
    assert template.suite == "sm2-sm3" and [o.name for o in template.orgs] == ["org1", "org2", "org3"]
    with pytest.raises(TemplateError, match="the template is not valid YAML"):
        Template.from_yaml("orgs: [unclosed")
    example = Template.from_yaml(EXAMPLE_TEMPLATE)
    assert example.suite == "p256-sha256" and len(example.orgs) == 4
    assert example.orgs[0].users == {"admin": 1, "client": 1, "light": 0}


def test_generated_members_have_the_template_roles():
    consortium = generate({"suite": "p256-sha256", "seed": "roles", "orgs": [
        {"name": "a", "nodes": {"consensus": 2, "common": 1}, "users": {"admin": 1, "light": 2}}]}, now=NOW)
    org = consortium.org("a")
    assert [(m.name, m.role, m.kind) for m in org.members] == [
        ("consensus1", "consensus", "node"), ("consensus2", "consensus", "node"), ("common1", "common", "node"),
        ("admin1", "admin", "user"), ("light1", "light", "user"), ("light2", "light", "user")]
    for m in org.members:
        assert m.certificate.role == m.role == m.tls_certificate.role
        assert m.certificate.public_key != m.tls_certificate.public_key      # separate TLS key
        assert m.certificate.signed_by(org.ca_certificate) and m.tls_certificate.signed_by(org.ca_certificate)
    serials = [c.serial for m in org.members for c in (m.certificate, m.tls_certificate)]
    assert len(set(serials)) == len(serials)


def test_layout_manifest_and_key_files(tmp_path, consortium):
    manifest = write_consortium(consortium, tmp_path)
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    org = manifest["orgs"][1]
    assert org["org_id"] == "org2" and org["ca_certificate"] == "org2/ca/ca.crt"
    entry = next(m for m in org["members"] if m["name"] == "consensus1")
    assert entry == {"name": "consensus1", "role": "consensus", "kind": "node",
                     "serial": consortium.org("org2").member("consensus1").certificate.serial_hex,
                     "fingerprint": consortium.org("org2").member("consensus1").certificate.fingerprint,
                     "sign_certificate": "org2/node/consensus1/consensus1.sign.crt",
                     "sign_key": "org2/node/consensus1/consensus1.sign.key",
                     "tls_certificate": "org2/node/consensus1/consensus1.tls.crt",
                     "tls_key": "org2/node/consensus1/consensus1.tls.key"}
    assert (tmp_path / "org2/user/admin2/admin2.tls.crt").exists()
    key_path = tmp_path / entry["sign_key"]
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert load_key(key_path, consortium.suite) == consortium.org("org2").member("consensus1").key
    assert Certificate.load((tmp_path / entry["sign_certificate"]).read_text()) == \
        consortium.org("org2").member("consensus1").certificate


def test_a_password_encrypts_keys_with_sm4(tmp_path):
    consortium = generate(SMALL, now=NOW)
    manifest = write_consortium(consortium, tmp_path, password="correct horse")
    key_file = tmp_path / manifest["orgs"][0]["members"][0]["sign_key"]
    assert key_file.name == "admin1.sign.key.sm4" and b"PRIVATE KEY" not in key_file.read_bytes()
    assert load_key(key_file, "sm2-sm3", "correct horse") == consortium.org("solo").member("admin1").key
    with pytest.raises(WrongPassphraseError):
        load_key(key_file, "sm2-sm3", "wrong")
    with pytest.raises(TemplateError, match="is encrypted; give its password"):
        load_key(key_file, "sm2-sm3")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
@pytest.mark.parametrize("suite", ["p256-sha256", "sm2-sm3"])
def test_cli_generate_writes_files_openssl_accepts(suite, tmp_path, capsys):
    template = tmp_path / "t.yml"
    template.write_text(yaml.safe_dump({"suite": suite, "orgs": [
        {"name": "org", "count": 2, "nodes": {"consensus": 1}, "users": {"admin": 1, "client": 1}}]}))
    out = tmp_path / "crypto-config"
    assert main(["certs", "generate", "--template", str(template), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{suite}: 2 orgs, 6 members (14 certificates) in {out}")
    opts = ["-vfyopt", "distid:1234567812345678"] if suite == "sm2-sm3" else []
    leaves = [str(p) for p in sorted((out / "org1").rglob("*.crt")) if p.parent.name != "ca"]
    result = subprocess.run(["openssl", "verify", *opts, "-CAfile", str(out / "org1/ca/ca.crt"), *leaves],
                            capture_output=True, text=True)
    assert result.stdout.count(": OK") == 6 == len(leaves), result.stdout + result.stderr
    key = subprocess.run(["openssl", "pkey", "-in", str(out / "org2/ca/ca.key"), "-noout", "-text"],
                         capture_output=True, text=True)
    assert key.returncode == 0 and ("SM2" in key.stdout or "prime256v1" in key.stdout or "P-256" in key.stdout)


def test_cli_verify_explains_a_refusal(tmp_path, capsys, suite):
    consortium = generate({"suite": suite, "seed": "cli", "orgs": [    # valid from the real clock's now
        {"name": "org", "count": 2, "users": {"client": 1}}]})
    write_consortium(consortium, tmp_path)
    cert, ca = tmp_path / "org1/user/client1/client1.sign.crt", tmp_path / "org1/ca/ca.crt"
    assert main(["certs", "verify", str(cert), "--ca", str(ca), "--role", "consensus"]) == 1
    assert "it carries role client but this use needs consensus (a client certificate cannot act as a " \
           "consensus node)" in capsys.readouterr().err
    assert main(["certs", "verify", str(cert), "--ca", str(ca), "--role", "client", "--suite", suite]) == 0
    assert capsys.readouterr().out.startswith(f"accepted: client1.org1 (client of org1) ({suite})")
    assert main(["certs", "verify", str(cert), "--ca", str(tmp_path / "org2/ca/ca.crt")]) == 1
    assert "its issuer, CA ca.org1 (org org1), is not among the trust roots" in capsys.readouterr().err


def test_cli_errors_are_one_line(tmp_path, capsys, monkeypatch):
    assert main(["certs", "generate", "--template", str(tmp_path / "missing.yml"), "--out", str(tmp_path)]) == 1
    assert "cannot read the template" in capsys.readouterr().err
    template = tmp_path / "t.yml"
    template.write_text(yaml.safe_dump(SMALL))
    monkeypatch.delenv("LC_TEST_PW", raising=False)
    assert main(["certs", "generate", "--template", str(template), "--out", str(tmp_path / "o"),
                 "--password-env", "LC_TEST_PW"]) == 1
    assert "the environment variable LC_TEST_PW is empty or unset" in capsys.readouterr().err
    assert main(["certs", "template"]) == 0 and "suite: p256-sha256" in capsys.readouterr().out


def test_generate_to_returns_the_manifest(tmp_path):
    template = tmp_path / "t.yml"
    template.write_text(yaml.safe_dump(SMALL))
    consortium = generate_to(template, tmp_path / "out", now=NOW)
    assert consortium.files["orgs"][0]["org_id"] == "solo"
    assert (tmp_path / "out/solo/user/admin1/admin1.sign.key").exists()
