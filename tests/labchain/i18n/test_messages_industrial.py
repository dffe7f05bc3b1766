"""LABCHAIN_LANG=zh-CN for the errors of the industrial labs (07-12): consortium identity
(certificate refusals, member-store operations, policy explanations), crypto-suite mismatches,
account-model transaction refusals and contract compile errors.

Each error is raised for real by the module that owns it, so a raise site whose wording drifts
from its template fails here (the message would stay English).
"""
from __future__ import annotations

import datetime as dt

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
    ("def f():\n    with x:\n        pass\n", "合约中不允许使用 with statements（第 2 行，第 5 列）"),
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
