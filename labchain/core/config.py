"""Chain configuration as data: one YAML file describes one chain (like ChainMaker's ``bc.yml``).

A file names the chain (``chain_id``), its crypto suite (``crypto.hash`` + ``crypto.signature``),
its ledger model and limits, its consensus engine with the engine's parameters, block limits
and the genesis allocation. The shipped presets live in ``labchain/core/chains/*.yml``
(``regtest``, ``lab``, ``main``, and ``regtest-sm``: regtest on the sm2-sm3 suite);
:func:`load_config` takes a preset name or a file path.
The format, key by key, is in docs/ARCHITECTURE.md ("Chain configuration").

Every way a file can be wrong raises :class:`~labchain.core.errors.ConfigError` with a
sentence naming the key (``consensus.pow.block_time``), the bad value and what is allowed;
nothing is half-loaded.

Decisions
---------
* ``chain_id`` becomes ``Params.name``: it is what the P2P handshake compares, so two chains
  with different ids never connect, and two with the same id but another genesis are refused
  by the genesis check.
* The presets exist twice on purpose only in one direction: the YAML files are the source;
  ``labchain.core.params`` keeps the same values as Python constants so a node started
  without ``--config`` never imports PyYAML (each testnet node is its own process; see
  tests/labchain/node/test_node_startup_imports.py). ``tests/labchain/test_config.py``
  fails if the two differ.

An optional ``identity:`` section (ChainMaker ``auth_type`` + ``trust_roots``) makes a
permissioned chain whose node links authenticate (labchain/node/identity.py,
docs/identity.md "Node links"); without it the chain is ``public``.

Simplifications versus ChainMaker: no ``sequence``/on-chain config updates in this file, no
``resource_policies`` (labchain/identity/governance.py holds them).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labchain.core.errors import ConfigError
from labchain.core.params import Params
from labchain.consensus.registry import ENGINE_SETTINGS, ENGINE_TYPES, ConsensusSpec

PRESET_DIR = Path(__file__).resolve().parent / "chains"
LEDGER_MODELS = ("utxo", "account")
CONSENSUS_ENGINES = ("pow",) + ENGINE_TYPES  # engines: labchain/consensus/registry.py
HASHES = ("SHA256", "SM3")
SIGNATURES = ("ECDSA_P256", "SM2")
#: the (hash, signature) pairs a suite implements: p256-sha256 and sm2-sm3 (ChainMaker, too,
#: pairs SM3 with SM2 only; a mixed pair would be a suite nobody ships)
SUITE_PAIRS = (("SHA256", "ECDSA_P256"), ("SM3", "SM2"))

_INT, _BOOL, _STR = "an integer", "true or false", "a string"

#: section -> key -> (kind, smallest allowed, Params field or None)
_SCHEMA: dict[str, dict[str, tuple[str, int | None, str | None]]] = {
    "ledger": {"model": (_STR, None, None), "max_money": (_INT, 1, "max_money"),
               "coinbase_maturity": (_INT, 0, "coinbase_maturity"), "max_memo": (_INT, 0, "max_memo")},
    "consensus.pow": {
        "block_time": (_INT, 1, "block_time"), "retarget_interval": (_INT, 1, "retarget_interval"),
        "retarget_clamp": (_INT, 1, "retarget_clamp"), "pow_limit_bits": (_INT, 1, "pow_limit_bits"),
        "initial_bits": (_INT, 1, "initial_bits"), "no_retargeting": (_BOOL, None, "no_retargeting"),
        "initial_reward": (_INT, 0, "initial_reward"), "halving_interval": (_INT, 1, "halving_interval")},
    "block": {"max_block_size": (_INT, 1000, "max_block_size"), "max_block_txs": (_INT, 1, "max_block_txs"),
              "max_future_block_time": (_INT, 0, "max_future_block_time"),
              "median_time_span": (_INT, 1, "median_time_span")},
    "genesis": {"timestamp": (_INT, 0, "genesis_timestamp"), "memo": (_STR, None, "genesis_memo")},
    "genesis.accounts": {"seed": (_STR, None, "account_seed"), "count": (_INT, 0, "funded_accounts"),
                         "balance": (_INT, 0, "account_balance")},
    "crypto": {"hash": (_STR, None, None), "signature": (_STR, None, None)},
}
_TOP = ("chain_id", "crypto", "ledger", "consensus", "block", "genesis")


@dataclass(frozen=True, slots=True)
class ChainConfig:
    """One chain: its id, crypto suite, ledger model, consensus engine and parameters."""

    chain_id: str
    suite: str          # crypto suite registry name (labchain.crypto.suite), e.g. "p256-sha256"
    ledger: str         # "utxo"
    consensus: str      # "pow"
    params: Params      # the engine's and the ledger's numbers, with Bitcoin's names
    source: str         # the preset name or the file it was read from
    identity: IdentityConfig | None = None   # the ``identity:`` section; None: a public chain


@dataclass(frozen=True, slots=True)
class IdentityConfig:
    """The ``identity:`` section: the member store its trust roots and keys make, the
    ``cryptogen`` template a testnet generates certificates from, and per-node identity folders."""

    store: Any                          # labchain.identity.MemberStore
    template: dict | None = None        # a labchain.identity.cryptogen template (testnets)
    node_identities: tuple[str, ...] = ()  # node INDEX -> its --identity folder (testnets)


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yml"))


def resolve(name_or_path: str | Path) -> Path:
    """The file of a preset name (``regtest``) or a path; ConfigError when there is neither."""
    text = str(name_or_path)
    if "/" not in text and not text.endswith((".yml", ".yaml")):
        path = PRESET_DIR / f"{text}.yml"
        if not path.is_file():
            raise ConfigError(f"no chain preset named {text!r}; the presets are "
                              f"{', '.join(preset_names())}, or give the path of a YAML file", text)
        return path
    path = Path(text)
    if not path.is_file():
        raise ConfigError(f"chain configuration file {text} does not exist", text)
    return path


def load_config(name_or_path: str | Path) -> ChainConfig:
    """Read and check a chain configuration (preset name or YAML path)."""
    path = resolve(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read chain configuration {path}: {exc}", str(path)) from None
    source = str(name_or_path) if path.parent == PRESET_DIR else str(path)
    return parse_config(text, source, path.parent)


def parse_config(text: str, source: str = "<text>", base: Path | None = None) -> ChainConfig:
    """Check a chain configuration given as YAML text (``base``: where relative paths start)."""
    import yaml  # imported here: a node without --config never loads PyYAML

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}".replace("\n", " "), source) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a mapping of keys (chain_id, crypto, ...), "
                          f"got {type(data).__name__}", source)
    identity_section = data.pop("identity", None)
    _check_keys(data, "", _TOP, source)
    chain_id = data["chain_id"]
    if not isinstance(chain_id, str) or not chain_id or len(chain_id.encode()) > 32 \
            or not all(c.isalnum() or c in "-_." for c in chain_id):
        raise ConfigError(f"{source}: chain_id {chain_id!r} is not allowed; use 1 to 32 letters, "
                          "digits, '-', '_' or '.'", chain_id)
    consensus = data["consensus"]
    if not isinstance(consensus, dict):
        raise ConfigError(f"{source}: consensus must be a mapping of keys, got {consensus!r}", consensus)
    if consensus.get("type") not in CONSENSUS_ENGINES:
        raise _not_allowed("consensus.type", consensus.get("type"), CONSENSUS_ENGINES, source)
    engine_chain = consensus["type"] != "pow"   # a message-passing engine: no consensus.pow section
    _check_keys(consensus, "consensus.", ("type", consensus["type"]) + (("validators",) * engine_chain), source)
    fields: dict[str, Any] = {"name": chain_id}
    values = {section: _section(data, section, source) for section in _SCHEMA
              if not (engine_chain and section == "consensus.pow")}
    if engine_chain:
        values["consensus.pow"] = dict(ENGINE_CHAIN_POW)
    for section, keys in _SCHEMA.items():
        for key, (kind, low, field) in keys.items():
            value = values[section][key]
            _check_value(f"{section}.{key}", value, kind, low, source)
            if field:
                fields[field] = value.encode() if field == "genesis_memo" else value
    crypto = values["crypto"]
    suite = _suite(crypto["hash"], crypto["signature"], source)
    if values["ledger"]["model"] not in LEDGER_MODELS:
        raise _not_allowed("ledger.model", values["ledger"]["model"], LEDGER_MODELS, source)
    engine = consensus["type"]
    if len(fields["genesis_memo"]) > fields["max_memo"]:
        raise ConfigError(f"{source}: genesis.memo is {len(fields['genesis_memo'])} bytes, more than "
                          f"ledger.max_memo ({fields['max_memo']})", fields["genesis_memo"])
    if fields["funded_accounts"] and not fields["account_seed"]:
        raise ConfigError(f"{source}: genesis.accounts.count is {fields['funded_accounts']} but "
                          "genesis.accounts.seed is empty; give a seed phrase", None)
    if fields["funded_accounts"] * fields["account_balance"] > fields["max_money"]:
        raise ConfigError(f"{source}: genesis.accounts fund {fields['funded_accounts']} x "
                          f"{fields['account_balance']} base units, more than ledger.max_money "
                          f"({fields['max_money']})", None)
    identity = None if identity_section is None else _identity(identity_section, suite, source, base)
    return ChainConfig(chain_id=chain_id, suite=suite, ledger=values["ledger"]["model"], consensus=engine,
                       params=Params(**fields, suite=suite, ledger=values["ledger"]["model"],
                                     consensus=_engine_spec(consensus, source) if engine_chain else None),
                       source=source,
                       identity=identity)



_IDENTITY_KEYS = ("mode", "trust_roots", "keys", "cryptogen", "node_identities")


def _identity(section: Any, suite: str, source: str, base: Path | None) -> IdentityConfig:
    """The ``identity:`` section -> an :class:`IdentityConfig` (trust roots as PEM paths
    relative to the file, or inline PEM text; keys as hex).

    ChainMaker names: ``mode`` is ``auth_type``; ``trust_roots[{org_id, root[]}]`` as in bc.yml;
    ``keys`` are the public keys admins register in ``permissionedWithKey`` mode."""
    from labchain.identity import MODES, Certificate, IdentityError, MemberOp, MemberStore
    from labchain.identity.members import PUBKEY_ADD, TRUST_ROOT_ADD

    if not isinstance(section, dict):
        raise ConfigError(f"{source}: identity must be a mapping of keys (mode, trust_roots, keys), "
                          f"got {section!r}", section)
    for key in section:
        if key not in _IDENTITY_KEYS:
            raise ConfigError(f"{source}: unknown key 'identity.{key}'; the keys allowed there are "
                              f"{', '.join(_IDENTITY_KEYS)}", key)
    mode = section.get("mode")
    if mode not in MODES:
        raise _not_allowed("identity.mode", mode, MODES, source)
    where = base or Path.cwd()

    def pem(item: Any, key: str) -> str:
        if not isinstance(item, str) or not item:
            raise ConfigError(f"{source}: {key} must be a PEM file path or PEM text, got {item!r}", item)
        if "-----BEGIN" in item:
            return item
        path = Path(item) if Path(item).is_absolute() else where / item
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: {key}: cannot read {path}: {exc}", str(path)) from None

    roots = []
    for i, entry in enumerate(section.get("trust_roots") or ()):
        if not isinstance(entry, dict) or set(entry) != {"org_id", "root"} or not isinstance(entry["root"], list):
            raise ConfigError(f"{source}: identity.trust_roots[{i}] must be {{org_id: ORG, root: [PEM path or "
                              f"text, ...]}}, got {entry!r}", entry)
        roots += [(str(entry["org_id"]), pem(r, f"identity.trust_roots[{i}].root[{k}]"))
                  for k, r in enumerate(entry["root"])]
    keys = section.get("keys") or ()
    for i, entry in enumerate(keys):
        if not isinstance(entry, dict) or set(entry) != {"org_id", "role", "public_key"}:
            raise ConfigError(f"{source}: identity.keys[{i}] must be {{org_id, role, public_key (hex)}}, "
                              f"got {entry!r}", entry)
    try:
        store = MemberStore(mode, suite)
        for org, text in roots:
            store = store.apply(MemberOp(TRUST_ROOT_ADD, org, Certificate.load(text).der))
        for entry in keys:
            store = store.apply(MemberOp(PUBKEY_ADD, str(entry["org_id"]), bytes.fromhex(str(entry["public_key"])),
                                         role=str(entry["role"])))
    except (IdentityError, ValueError) as exc:
        raise ConfigError(f"{source}: identity: {exc}", section) from None
    template = section.get("cryptogen")
    if template is not None and not isinstance(template, dict):
        raise ConfigError(f"{source}: identity.cryptogen must be a certs template mapping, got {template!r}",
                          template)
    folders = section.get("node_identities") or []
    if not isinstance(folders, list) or not all(isinstance(f, str) for f in folders):
        raise ConfigError(f"{source}: identity.node_identities must be a list of folder paths", folders)
    return IdentityConfig(store, template, tuple(f if Path(f).is_absolute() else str(where / f) for f in folders))


def _section(data: dict, dotted: str, source: str) -> dict:
    node: Any = data
    for part_index, part in enumerate(dotted.split(".")):
        where = ".".join(dotted.split(".")[:part_index + 1])
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"{source}: missing key {where!r}", None)
        node = node[part]
        if not isinstance(node, dict):
            raise ConfigError(f"{source}: {where} must be a mapping of keys, got {node!r}", node)
    allowed = tuple(_SCHEMA[dotted]) + tuple(k.split(".")[-1] for k in _SCHEMA if k.startswith(dotted + "."))
    _check_keys(node, dotted + ".", allowed, source)
    return node


def _check_keys(node: dict, prefix: str, allowed: tuple[str, ...], source: str) -> None:
    for key in node:
        if key not in allowed:
            raise ConfigError(f"{source}: unknown key {prefix + str(key)!r}; the keys allowed there are "
                              f"{', '.join(allowed)}", key)
    for key in allowed:
        if key not in node:
            raise ConfigError(f"{source}: missing key {prefix + key!r}", None)


def _check_value(key: str, value: Any, kind: str, low: int | None, source: str) -> None:
    ok = {_INT: type(value) is int, _BOOL: type(value) is bool, _STR: isinstance(value, str)}[kind]
    if not ok:
        raise ConfigError(f"{source}: {key} is {value!r}, but it must be {kind}", value)
    if low is not None and value < low:
        raise ConfigError(f"{source}: {key} is {value}, but it must be at least {low}", value)


def _not_allowed(key: str, value: Any, allowed: tuple[str, ...], source: str) -> ConfigError:
    return ConfigError(f"{source}: {key} is {value!r}; allowed: {', '.join(allowed)}", value)


def _suite(hash_name: Any, signature: Any, source: str) -> str:
    if hash_name not in HASHES:
        raise _not_allowed("crypto.hash", hash_name, HASHES, source)
    if signature not in SIGNATURES:
        raise _not_allowed("crypto.signature", signature, SIGNATURES, source)
    if (hash_name, signature) not in SUITE_PAIRS:
        pairs = " or ".join(f"{h} + {s}" for h, s in SUITE_PAIRS)
        raise ConfigError(f"{source}: crypto.hash {hash_name} cannot be combined with crypto.signature "
                          f"{signature}; the allowed pairs are {pairs}", (hash_name, signature))
    from labchain.core.errors import UnknownSuiteError
    from labchain.crypto.suite import suite_for

    try:
        return suite_for(hash_name, signature).name
    except UnknownSuiteError as exc:  # e.g. the SM suite's back-end failed to import here
        raise ConfigError(f"{source}: crypto: {exc}", (hash_name, signature)) from None


def chain_params(name_or_path: str | Path) -> Params:
    """The Params of a preset or file: the Python preset (no YAML import) for a built-in name."""
    from labchain.core.params import NETWORKS

    if isinstance(name_or_path, Params):
        return name_or_path
    if str(name_or_path) in NETWORKS:
        return NETWORKS[str(name_or_path)]
    return load_config(name_or_path).params


#: proof-of-work numbers of a chain sealed by an engine (solo, raft, pbft, tbft): regtest's
#: trivial target (half of all hashes meet it, the sealer tries about two nonces) so the block
#: and header encoding and checks stay those of the PoW chain; no retargeting; the coinbase
#: pays regtest's subsidy to the block's sealer (docs/consensus-nodes.md)
ENGINE_CHAIN_POW = {"block_time": 1, "retarget_interval": 150, "retarget_clamp": 4,
                    "pow_limit_bits": 0x21008000, "initial_bits": 0x21008000, "no_retargeting": True,
                    "initial_reward": 5_000_000_000, "halving_interval": 150}


def _engine_spec(consensus: dict, source: str) -> ConsensusSpec:
    """``consensus: {type, validators, <type>: {block_interval, block_tx_capacity, ...}}``."""
    engine = consensus["type"]
    validators = consensus["validators"]
    if (not isinstance(validators, list) or not validators
            or not all(isinstance(v, str) and v for v in validators) or len(set(validators)) != len(validators)):
        raise ConfigError(f"{source}: consensus.validators is {validators!r}, but it must be a list of "
                          "distinct node names (e.g. [node0, node1, node2])", validators)
    section = consensus[engine]
    where = f"consensus.{engine}"
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: {where} must be a mapping of keys, got {section!r}", section)
    own = ENGINE_SETTINGS[engine]
    _check_keys(section, where + ".", ("block_interval", "block_tx_capacity") + tuple(own), source)
    kinds = {"block_interval": (float, 0.01), "block_tx_capacity": (int, 1), **own}
    checked: dict[str, float | int] = {}
    for key, (kind, low) in kinds.items():
        value = section[key]
        ok = type(value) is int if kind is int else type(value) in (int, float)
        if not ok or value < low:
            what = "an integer" if kind is int else "a number of seconds"
            raise ConfigError(f"{source}: {where}.{key} is {value!r}, but it must be {what} of at "
                              f"least {low}", value)
        checked[key] = kind(value)
    if engine == "raft" and checked["election_tick"] <= checked["heartbeat_tick"]:
        raise ConfigError(f"{source}: {where}.election_tick is {checked['election_tick']}, but it must "
                          f"be larger than heartbeat_tick ({checked['heartbeat_tick']})", checked)
    return ConsensusSpec(engine, tuple(validators), float(checked.pop("block_interval")),
                         int(checked.pop("block_tx_capacity")), tuple(sorted(checked.items())))
