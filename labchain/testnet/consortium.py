"""Consortium testnets: certificates generated into the testnet folder, one identity per node.

A chain config whose ``identity:`` section carries a ``cryptogen`` template (the shipped
``consortium-4org`` preset) is *prepared* before any node starts: :func:`prepare` runs
:func:`labchain.identity.cryptogen.generate` on the template, writes the certificates and keys
to ``DIR/crypto-config/`` (cryptogen's layout), and writes ``DIR/chain.yml``: the same chain
with ``identity.trust_roots`` filled with every org's CA certificate (inline PEM, so the file
is self-contained) and ``identity.node_identities`` listing each node's folder, in the order
orgs and nodes appear in the template (org1's consensus node is node 0, the regulator's common
node the last). Node INDEX then starts with ``--config DIR/chain.yml --node-index INDEX`` and
finds its own certificate and key (``labchain node`` reads ``node_identities[INDEX]``).
With ``identity.mode: permissioned-key`` the chain file registers every member's public key
(``identity.keys``) instead of trust roots; with ``public`` there is nothing to prepare.

Simplifications versus ChainMaker's ``prepare.sh`` + four-node compose: the node folders are
absolute paths on this machine, so only the local backend runs a prepared consortium (a Docker
backend would have to mount ``crypto-config`` into each container); keys are unencrypted PEM
files (mode 0600) in the testnet folder.
"""
from __future__ import annotations

from pathlib import Path

from labchain.core.config import load_config, resolve

CHAIN_FILE = "chain.yml"
CRYPTO_DIR = "crypto-config"


def needs_certificates(config) -> bool:
    """True when ``config`` (preset name or path) has an ``identity.cryptogen`` template."""
    chain = load_config(config)
    return (chain.identity is not None and chain.identity.template is not None
            and chain.identity.store.mode != "public")


def prepare(config, workdir: str | Path) -> tuple[Path, int]:
    """Generate the consortium's certificates into ``workdir`` and write its chain file;
    returns ``(chain file, number of nodes)``."""
    import yaml

    from labchain.identity.cryptogen import generate, write_consortium

    workdir = Path(workdir)
    data = yaml.safe_load(resolve(config).read_text(encoding="utf-8"))
    template = data["identity"].pop("cryptogen")
    consortium = generate(template)
    out = workdir / CRYPTO_DIR
    write_consortium(consortium, out)
    if data["identity"]["mode"] == "permissioned-key":  # admins register every member's key instead
        data["identity"]["trust_roots"] = []
        data["identity"]["keys"] = [{"org_id": org.name, "role": m.role, "public_key": m.key.public_key.hex()}
                                    for org in consortium.orgs for m in org.members]
    else:
        data["identity"]["trust_roots"] = [{"org_id": org.name, "root": [org.ca_certificate.to_pem()]}
                                           for org in consortium.orgs]
    data["identity"]["node_identities"] = [str(out / org.name / "node" / m.name)
                                           for org in consortium.orgs for m in org.members if m.kind == "node"]
    path = workdir / CHAIN_FILE
    path.write_text("# written by labchain.testnet.consortium from "
                    f"{config}: the generated trust roots and node identities\n" + yaml.safe_dump(data, sort_keys=False))
    load_config(path)  # checked before any node starts
    return path, len(data["identity"]["node_identities"])
