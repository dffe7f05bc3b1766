"""LABCHAIN_LANG=zh-CN for the errors of the industrial labs (07-12): consortium identity
(certificate refusals, member-store operations, policy explanations), crypto-suite mismatches,
account-model transaction refusals and contract compile errors.

Each error is raised for real by the module that owns it, so a raise site whose wording drifts
from its template fails here (the message would stay English).
"""
from __future__ import annotations

import ast
import builtins
import datetime as dt
import keyword
import re

import pytest

from labchain.core.errors import ConfigError, WalletError
from labchain.crypto.suite import get_suite
from labchain.i18n import messages
from labchain.identity import errors as id_errors
from labchain.identity.cryptogen import generate
from labchain.identity.members import CERTS_FREEZE, CERTS_REVOKE, TRUST_ROOT_ADD, MemberOp, MemberStore
from labchain.identity.policy import Policy, endorse, require
from labchain.identity.verify import verify_certificate
from labchain.ledger.account import errors as acct_errors
from labchain.ledger.account.state import Account, WorldState
from labchain.ledger.account.tx import AccountAddress, check_tx_state, check_tx_syntax, sign_tx
from labchain.ledger.contracts.compiler import compile_contract
from labchain.ledger.contracts.errors import ContractCompileError

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
LATER = NOW + dt.timedelta(days=1)
CJK = range(0x4E00, 0xA000)


def chinese(text: str) -> bool:
    return any(ord(ch) in CJK for ch in text)


@pytest.fixture(scope="module")
def consortium():
    return generate({"suite": "p256-sha256", "seed": "i18n-tests", "valid_days": 365,
                     "orgs": [{"name": "org", "count": 3, "nodes": {"consensus": 1},
                               "users": {"admin": 1, "client": 1}}]}, now=NOW)


@pytest.fixture
def zh(monkeypatch):
    monkeypatch.setenv("LABCHAIN_LANG", "zh-CN")


def refusal(call) -> Exception:
    with pytest.raises(Exception) as info:
        call()
    return info.value


def test_certificate_refusals_read_in_chinese_with_their_values(consortium, zh):
    cert = consortium.org("org2").member("client1").certificate
    roots = consortium.trust_roots
    revoked = refusal(lambda: verify_certificate(cert, roots, crl=[("org2", cert.serial)], now=LATER))
    assert isinstance(revoked, id_errors.RevokedCertificateError)
    assert str(revoked) == (f"证书 client1.org2（组织 org2，角色 client，序列号 {cert.serial_hex}）被拒绝："
                            f"组织 org2 已吊销序列号 {cert.serial_hex}（它在证书吊销列表 CRL 中）")
    assert revoked.message.startswith("certificate client1.org2")       # the English is kept
    frozen = refusal(lambda: verify_certificate(cert, roots, frozen=[cert.fingerprint], now=LATER))
    assert "已被冻结" in str(frozen) and cert.fingerprint[:16] in str(frozen)
    role = refusal(lambda: verify_certificate(cert, roots, now=LATER, required_role="consensus"))
    assert "它带有角色 client，但此用途需要 consensus" in str(role)
    expired = refusal(lambda: verify_certificate(cert, roots, now=NOW + dt.timedelta(days=999)))
    assert isinstance(expired, id_errors.ExpiredCertificateError) and "过期" in str(expired)
    stranger = refusal(lambda: verify_certificate(cert, roots[:1], now=LATER))
    assert isinstance(stranger, id_errors.UnknownCAError) and "不在信任根之中" in str(stranger)


def test_member_store_refusals_name_the_operation_in_chinese(consortium, zh):
    store = MemberStore.create("permissioned-cert", consortium.suite, consortium.trust_roots)
    org1 = consortium.org("org1")
    again = refusal(lambda: store.apply(MemberOp(TRUST_ROOT_ADD, "org1", org1.ca_certificate.der)))
    assert str(again) == "无法为组织 org1 添加信任根：ca.org1 (org org1) 已经是信任根"
    serial = org1.member("admin1").certificate.serial_hex
    revoked = store.apply(MemberOp(CERTS_REVOKE, "org1", serial=serial))
    twice = refusal(lambda: revoked.apply(MemberOp(CERTS_REVOKE, "org1", serial=serial)))
    assert str(twice) == f"无法吊销组织 org1 的序列号 {serial}：组织 org1 的序列号 {serial} 已经被吊销"
    cert = consortium.org("org2").member("client1").certificate
    frozen = store.apply(MemberOp(CERTS_FREEZE, "org2", cert.der), LATER)
    assert "已经被冻结" in str(refusal(lambda: frozen.apply(MemberOp(CERTS_FREEZE, "org2", cert.der), LATER)))


def test_a_generic_frame_never_makes_an_unknown_sentence_half_chinese():
    # "cannot {op}: {why}" applies only when {op} is itself a known phrase
    assert messages.translate("cannot reach node n1: connection refused", "zh-CN") == \
        "cannot reach node n1: connection refused"
    assert messages.translate("first clause; second clause.", "zh-CN") == "first clause; second clause."
    # list-item entries (a policy's ignored signers) apply only inside their list
    for text in ("key point", "unknown org x", "x (unknown org y)", "ignored a (no such reason)"):
        assert messages.translate(text, "zh-CN") == text


def test_policy_explanations_translate_clause_by_clause(consortium, zh):
    store = MemberStore.create("permissioned-cert", consortium.suite, consortium.trust_roots)
    admin = consortium.org("org1").member("admin1")
    message = b"labchain/i18n-proposal"
    error = refusal(lambda: require(Policy("MAJORITY", (), ("admin",)), [endorse(message, admin.key, admin.certificate)],
                                    store, message, resource="CHAIN_CONFIG-TRUST_ROOT_ADD", now=LATER))
    assert isinstance(error, id_errors.PolicyError)
    assert str(error) == ("CHAIN_CONFIG-TRUST_ROOT_ADD 需要3 个组织（org1, org2, org3）中多数（2 个）组织的 admin 签名；"
                          "被拒绝：2 个所需签名中计入了 1 个（admin1.org1）；缺少 org2, org3。")


def test_crypto_suite_mismatches_read_in_chinese(zh):
    from labchain.core.config import parse_config, resolve
    from labchain.wallet import Wallet

    error = refusal(lambda: Wallet(list(Wallet.from_seed("a", 1, "p256-sha256").keys)
                                   + list(Wallet.from_seed("a", 1, "sm2-sm3").keys)))
    assert isinstance(error, WalletError)
    assert str(error) == "一个钱包只能持有同一种密码套件的密钥，实际得到 p256-sha256, sm2-sm3"
    text = resolve("regtest").read_text(encoding="utf-8").replace("hash: SHA256", "hash: SM3", 1)
    mixed = refusal(lambda: parse_config(text))
    assert isinstance(mixed, ConfigError) and "不能与 crypto.signature ECDSA_P256 组合" in str(mixed)


def test_account_transaction_refusals_read_in_chinese(zh):
    suite = get_suite("p256-sha256")
    secret = 12345
    sender = AccountAddress.of(suite, suite.public_key(secret))
    state = WorldState(suite)
    state.set_account(sender, Account(nonce=2, balance=10))
    tx = sign_tx(suite, secret, chain_id="lab", nonce=1, to=sender, value=1)
    wrong = refusal(lambda: check_tx_syntax(tx, suite, "regtest"))
    assert isinstance(wrong, acct_errors.WrongChainError)
    assert str(wrong) == ("账户交易（nonce 1，发往 " + str(sender) + "，金额 1） 是为链 'lab' 签名的，"
                          "而本链是 'regtest'：一条链的交易不能在另一条链上重放")
    low = refusal(lambda: check_tx_state(tx, suite, state))
    assert isinstance(low, acct_errors.NonceTooLowError) and "nonce 1 已经用过了" in str(low)
    poor = sign_tx(suite, secret, chain_id="lab", nonce=2, to=sender, value=100)
    broke = refusal(lambda: check_tx_state(poor, suite, state))
    assert isinstance(broke, acct_errors.InsufficientBalanceError) and "但该账户只有 10" in str(broke)
    gas = refusal(lambda: check_tx_syntax(poor, suite, "lab", max_gas=1000))
    assert isinstance(gas, acct_errors.GasLimitError) and "超过了区块 gas 上限 1000" in str(gas)


@pytest.mark.parametrize("source, chinese_text", [
    ("import os\n", "合约中不允许导入模块（第 1 行，第 1 列）"),
    ("def f():\n    return 1.5\n", "合约中不允许使用浮点数（第 2 行，第 12 列）"),
    ("def f():\n    try:\n        pass\n    except Exception:\n        pass\n",
     "合约中不允许使用 try/except（请使用 require）（第 2 行，第 5 列）"),
    ("def f():\n    with x:\n        pass\n", "合约中不允许使用 with 语句（第 2 行，第 5 列）"),
])
def test_contract_compile_errors_keep_the_position_in_chinese(source, chinese_text, monkeypatch):
    english = str(refusal(lambda: compile_contract(source)))
    monkeypatch.setenv("LABCHAIN_LANG", "zh-CN")
    error = refusal(lambda: compile_contract(source))
    assert isinstance(error, ContractCompileError)
    assert str(error) == chinese_text and error.message == english


def test_every_new_template_is_chinese_and_parses():
    rows = [t for t in messages.templates("zh-CN") if t.error in {
        "CertificateError", "MemberStoreError", "PolicyError", "WrongChainError", "ContractCompileError"}]
    assert len(rows) >= 40
    assert all(chinese(t.translated) for t in rows if t.error != "PolicyError" or "{" not in t.translated[:1])


# --- issue #16 §1, second pass: every LabchainError sentence labs 07, 11, 13 and 14 exercise ---
# (policy refusals' short reasons, contract construct names, account RPC frames, link faults).
# Each message is raised for real; the check is that the Chinese keeps no English word but
# identifiers (code names, parameters, values), so a half-translated sentence fails.

IDENTIFIERS = set(keyword.kwlist) | set(dir(builtins)) | {
    "nonce", "txid", "gas", "storage", "isinstance", "sha256", "require", "revert", "emit", "CA", "CRL",
    "delay_ms", "drop", "drop_ppm", "partition", "seed", "args", "kwargs", "Name", "Event", "from", "node",
    "match", "case"} | set(dir(ast))
_VALUE = re.compile(r"'[^']*'|[\w.]*\d[\w.]*")      # quoted text; names and numbers with digits


def english_left(text: str, *also: str) -> list[str]:
    """Words of ``text`` that are English prose: not identifiers, values or the given names."""
    return [w for w in re.findall(r"[A-Za-z][A-Za-z_]+", _VALUE.sub(" ", text))
            if w not in IDENTIFIERS and w not in also]


def assert_chinese(error: Exception, *also: str) -> None:
    text = str(error)
    assert chinese(text) and not english_left(text, *also), (type(error).__name__, text, english_left(text, *also))


def test_english_left_flags_a_half_translated_sentence():
    assert english_left("合约中不允许使用 with statements（第 2 行）") == ["statements"]
    assert english_left("分区中的对等节点 'node9' 未知；本节点认识 node2, node3") == []


FORBIDDEN = [   # one contract per construct family of labchain/ledger/contracts/compiler.py
    "def f():\n    with x:\n        pass\n", "def f():\n    nonlocal x\n", "def f():\n    match 1:\n        case 1:\n            pass\n",
    "def f():\n    return lambda: 1\n", "def f():\n    return {1}\n", "def f():\n    return sum(i for i in [1])\n",
    "def f():\n    return (y := 1)\n", "def f(a):\n    return [*a]\n", "def f():\n    return 1j\n",
    "def f():\n    return getattr(1, 'x')\n", "def f():\n    return divmod(7, 2)\n", "def f():\n    return hash(1)\n",
    "def f():\n    return type(1)\n", "def f():\n    return round(1)\n", "def f():\n    return open('x')\n",
    "def f():\n    def g():\n        pass\n", "async def f():\n    pass\n", "class A:\n    pass\n",
    "@d\ndef f():\n    pass\n", "def f(*a):\n    pass\n", "def f(*, a):\n    pass\n",
    "def f(a: list):\n    a[0:1] = []\n", "def f():\n    msg.x = 1\n", "def f():\n    while 1:\n        pass\n    else:\n        pass\n",
    "def f():\n    for i in []:\n        pass\n    else:\n        pass\n", "for i in []:\n    pass\n",
]


@pytest.mark.parametrize("source", FORBIDDEN)
def test_every_forbidden_contract_construct_reads_in_chinese(source, zh):
    error = refusal(lambda: compile_contract(source))
    assert isinstance(error, ContractCompileError)
    assert_chinese(error)


def test_policy_refusals_explain_each_ignored_signer_in_chinese(consortium, zh):
    store = MemberStore.create("permissioned-cert", consortium.suite, consortium.trust_roots[:2])   # org3 unknown
    message = b"labchain/i18n-ignored"
    org1, org2, org3 = (consortium.org(f"org{i}") for i in (1, 2, 3))
    signers = [endorse(message, m.key, m.certificate) for m in (
        org1.member("admin1"), org1.member("admin1"), org2.member("client1"), org3.member("admin1"))]
    signers.append(endorse(b"other bytes", org2.member("admin1").key, org2.member("admin1").certificate))
    error = refusal(lambda: require(Policy("ALL", (), ("admin",)), signers + ["not a record"], store, message,
                                    resource="CHAIN_CONFIG-TRUST_ROOT_ADD", now=LATER))
    assert isinstance(error, id_errors.PolicyError)
    for reason in ("duplicate org", "wrong role client", "unknown CA", "bad signature", "not an endorsement"):
        assert reason in error.message                      # every kind of ignored endorsement is there
    # roles are identifiers; "(org org3)" is part of the CA's certificate label, a value
    assert_chinese(error, "CHAIN_CONFIG", "TRUST_ROOT_ADD", "str", "admin", "client", "org")
    assert "已忽略" in str(error) and "角色 client 不符，需要 admin" in str(error)


def test_link_fault_refusals_read_in_chinese(zh):
    from labchain.node.faults import LinkFault, NodeFaultError

    bad = [dict(partition="node2"), dict(partition=[3]), dict(partition=["node1"]), dict(partition=["node9"]),
           dict(partition=["node2", "node2"]), dict(delay_ms="x"), dict(delay_ms=-1), dict(delay_ms=99_999),
           dict(drop=2), dict(seed=-1)]
    errors = [refusal(lambda: LinkFault.build(**kw, known=["node2", "node3"], own="node1")) for kw in bad]
    errors.append(refusal(lambda: LinkFault(drop_ppm=2_000_000)))
    errors.append(refusal(lambda: LinkFault.build(partition=["node9"], own="node1")))     # knows no peer yet
    for error in errors:
        assert isinstance(error, NodeFaultError)
        assert_chinese(error)


@pytest.fixture(scope="module")
def account_node(tmp_path_factory):
    from labchain.node.process import NodeProcess

    node = NodeProcess.start(tmp_path_factory.mktemp("i18n-node") / "n0", params="regtest-account")
    yield node
    node.stop()


def test_account_rpc_refusals_labs_show_read_in_chinese(account_node, zh):
    """Lab 07's replay and other-chain refusals, lab 14's deployment errors, lab 13's setfault."""
    from labchain.core.params import get_params
    from labchain.ledger.account.wallet import AccountWallet
    from labchain.node.rpc import RpcError

    wallet, rpc = AccountWallet(get_params("regtest-account")), account_node.rpc
    paid = wallet.transfer(4, wallet.address(0), 1, rpc.getnonce(str(wallet.address(4))))
    rpc.sendtransaction(wallet.hex(paid))
    rpc.generate(1)
    other = sign_tx(wallet.suite, wallet.keys[4].secret, chain_id="lab07", nonce=paid.nonce + 1,
                    to=wallet.address(0), value=1)
    calls = {"sendtransaction": [lambda: rpc.sendtransaction(wallet.hex(paid)),            # replay
                                 lambda: rpc.sendtransaction(wallet.hex(other)), lambda: rpc.sendtransaction("00ff")],
             "getbalance": [lambda: rpc.getbalance("nonsense")],
             "deploycontract": [lambda: rpc.deploycontract(0, "import os\n"),
                                lambda: rpc.deploycontract(0, "def f():\n    with x:\n        pass\n"),
                                lambda: rpc.deploycontract(99, "def f():\n    return 1\n")],
             "getreceipt": [lambda: rpc.getreceipt("zz"), lambda: rpc.getreceipt("00" * 32)],
             "setfault": [lambda: rpc.setfault(partition=["nobody"]), lambda: rpc.setfault(delay_ms=-5)]}
    for method, attempts in calls.items():
        for attempt in attempts:
            error = refusal(attempt)
            assert isinstance(error, RpcError) and "错误码" in str(error)
            assert_chinese(error, method, "AccountTx")
    replay = str(refusal(calls["sendtransaction"][0]))
    assert f"nonce {paid.nonce} 已经用过了" in replay
    assert "不能在另一条链上重放" in str(refusal(calls["sendtransaction"][1]))


def test_consensus_invariant_violations_lab_13_meets_read_in_chinese(zh):
    from types import SimpleNamespace

    from labchain.consensus.engine import Commit
    from labchain.consensus.invariants import InvariantViolation, LivenessChecker, SafetyChecker, ValidityChecker
    from labchain.consensus.sim import SimApp

    def sim(commits, now=1.0):   # the checkers read only these fields of a Simulation
        out = SimpleNamespace(commits={n: [Commit(h, v) for h, v in c] for n, c in commits.items()},
                              now=now, deliveries=[], crashed=set(), paused=set())
        out.heights = lambda: {n: (c[-1].height if c else 0) for n, c in out.commits.items()}
        return out

    stuck = sim({"v0": [(1, b"block 1 by v0")], "v1": []})
    liveness = LivenessChecker(stable_after=0.0, bound=1.0)
    liveness(stuck)
    stuck.now = 5.0
    checks = [lambda: SafetyChecker()(sim({"v0": [(1, b"block 1 by v0")], "v1": [(1, b"block 1 by v0|alt")]})),
              lambda: ValidityChecker(SimApp.check)(sim({"v0": [(1, b"invalid block")]})),
              lambda: liveness(stuck)]
    for check in checks:
        error = refusal(check)
        assert isinstance(error, InvariantViolation)
        assert_chinese(error)                 # the committed values are quoted bytes: values


# --- governed block parameters (issue #12: a config update of block_interval/block_tx_capacity) ---

@pytest.mark.parametrize("key, value, shown", [
    ("block.block_tx_capacity", "0", "1 到 1000000 笔交易之间"),
    ("block.block_tx_capacity", "lots", "（交易笔数）"),
    ("block.block_interval", "-200", "1 到 600000 毫秒之间"),
    ("block.block_interval", "fast", "单位为毫秒"),
    ("block.block_size", "x", "单位为 MB"),
    ("block.tx_timeout", "0", "1 到 31536000 秒之间"),
    ("block.tx_timestamp_verify", "maybe", "true 或 false"),
])
def test_a_refused_block_value_reads_in_chinese_with_its_key_and_range(key, value, shown, zh):
    from labchain.identity import ConfigChange, ConfigUpdate
    from labchain.identity.onchain import check_values

    error = refusal(lambda: check_values(ConfigUpdate("c", 1, (ConfigChange("CHAIN_CONFIG-BLOCK_UPDATE", key, value),))))
    assert isinstance(error, id_errors.ConfigUpdateError)
    assert f"{key}={value!r} 被拒绝" in str(error) and shown in str(error)
    assert_chinese(error, "CHAIN_CONFIG", "BLOCK_UPDATE", "block", "block_tx_capacity", "block_interval",
                   "block_size", "tx_timeout", "tx_timestamp_verify", "lots", "fast", "maybe", "true", "false", "MB", "x")


def test_block_values_an_engine_cannot_keep_read_in_chinese(zh):
    from labchain.consensus.engine import BlockParams
    from labchain.consensus.engine import ConsensusError
    from labchain.consensus.pbft.engine import PBFTEngine, keyring

    names = ("raft", "pbft", "block_tx_capacity", "block_interval", "request_timeout")
    for call in (lambda: BlockParams(1, 1.0, 0, 0).check("raft"),
                 lambda: BlockParams(1, -1.0, 5, 0).check("raft"),
                 lambda: BlockParams(1, -1.0, 5, 0).check("pbft", 0.0, strict=False)):
        error = refusal(call)
        assert isinstance(error, ConsensusError)
        assert_chinese(error, *names)
    secrets, public = keyring(("v0",))
    pbft = PBFTEngine("v0", ("v0",), None, secret=secrets["v0"], public_keys=public, request_timeout=4.0)
    error = refusal(lambda: pbft.check_block_params(BlockParams(1, 9.0, 5, 0)))
    assert "必须小于 request_timeout（4.0 秒）" in str(error)
    assert_chinese(error, *names)
