"""LABCHAIN_LANG=zh-CN: the errors labs exercise read in Chinese; English stays the default.

The errors are raised for real by the ledger (a regtest Chain and its Mempool), as lab 03's
"break each rule" exercise does, so a raise site whose wording drifts from its template fails here.
"""
from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

import labchain.errors as errors
from labchain.chain import Mempool
from labchain.crypto import Address
from labchain.i18n import messages
from labchain.ledger.utxo.tx import OutPoint, Transaction, TxIn, TxOut

PACKAGE = Path(messages.__file__).resolve().parent
CJK = range(0x4E00, 0xA000)


def chinese(text: str) -> bool:
    return any(ord(ch) in CJK for ch in text)


def rejection(mempool, tx) -> errors.LabchainError:
    with pytest.raises(errors.TxValidationError) as info:
        mempool.add(tx)
    return info.value


def broken(kit, chain):
    """One transaction per rule, each rejected by the mempool with its own error (lab 03, section 5)."""
    good = kit.pay(chain, 0, to=kit.address(1), amount=5 * 10**8, fee=1000)
    coin = kit.coins(chain, 0)[0]
    sign = lambda tx, who=0: tx.sign([kit.keys[who]] * len(tx.inputs))   # noqa: E731
    return {
        errors.UnknownInputError: sign(Transaction(1, [TxIn(OutPoint(bytes(32), 0))], [TxOut(1, kit.address(1))])),
        errors.DuplicateInputError: sign(Transaction(1, [TxIn(coin.outpoint)] * 2, [TxOut(1, kit.address(1))])),
        errors.KeyMismatchError: sign(Transaction(1, [TxIn(coin.outpoint)], [TxOut(1, kit.address(1))]), who=1),
        errors.InsufficientInputsError: kit.pay(chain, 0, to=kit.address(1), amount=coin.amount + 1),
        errors.MalformedTransactionError: kit.pay(chain, 0, to=kit.address(1), amount=1, memo=b"x" * 81),
        errors.LockTimeError: kit.pay(chain, 0, to=kit.address(1), amount=1, lock_height=50),
        errors.BadSignatureError: dataclasses.replace(good, outputs=(TxOut(4 * 10**8, kit.address(1)),)
                                                      + good.outputs[1:]),
    }


def test_ledger_errors_read_in_chinese_with_their_values(kit, chain, mempool, monkeypatch):
    cases = broken(kit, chain)
    english = {cls: str(rejection(mempool, tx)) for cls, tx in cases.items()}
    monkeypatch.setenv("LABCHAIN_LANG", "zh-CN")
    for cls, tx in cases.items():
        exc = rejection(mempool, tx)
        assert type(exc) is cls
        text = str(exc)
        assert chinese(text) and text != english[cls], (cls.__name__, text)
        assert exc.message == english[cls]               # the English message is kept
        short = tx.txid.hex()[:8]
        assert short in english[cls] and short in text   # values carry over
    assert "交易" in str(rejection(mempool, cases[errors.LockTimeError]))


def test_double_spend_and_already_spent_in_chinese(kit, chain, mempool, monkeypatch):
    first = kit.pay(chain, 0, to=kit.address(1), amount=10**8)
    second = kit.pay(chain, 0, to=kit.address(2), amount=10**8)
    mempool.add(first)
    monkeypatch.setenv("LABCHAIN_LANG", "zh-CN")
    assert "内存池中的交易" in str(rejection(mempool, second)) and "双花" in str(rejection(mempool, second))
    chain.add_block(kit.block(chain, [first]))
    assert "但它已在区块 1 中被交易" in str(rejection(Mempool(chain), second))


def test_address_errors_in_chinese(monkeypatch):
    good = str(Address(0x30, bytes(20)))
    typo = good[:-1] + ("2" if good[-1] != "2" else "3")
    monkeypatch.setenv("LABCHAIN_LANG", "zh-CN")
    with pytest.raises(errors.AddressError, match="的校验和不正确"):
        Address.from_string(typo)
    with pytest.raises(errors.AddressError, match="Base58 不使用 0、O、I 和 l"):
        Address.from_string("1O")


def test_english_is_the_default_and_an_unknown_language_stays_english(monkeypatch):
    message = "inputs 0 and 1 of tx ab both spend output cd:0"
    monkeypatch.delenv("LABCHAIN_LANG", raising=False)
    assert str(errors.DuplicateInputError(message)) == message
    monkeypatch.setenv("LABCHAIN_LANG", "fr")
    assert str(errors.DuplicateInputError(message)) == message
    monkeypatch.setenv("LABCHAIN_LANG", "zh-CN")
    assert str(errors.DuplicateInputError(message)) == "tx ab 的输入 0 和输入 1 花费了同一个输出 cd:0"
    assert str(errors.LabchainError("a sentence with no template")) == "a sentence with no template"


def test_wrapped_messages_are_translated_inside():
    inner = "the spendable coins add up to 5 base units, 2 short of the 7 needed"
    out = messages.translate(f"cannot pay 6 + fee 1: {inner}", "zh-CN")
    assert out == "无法支付 6 加手续费 1：可花费的币合计 5 个基本单位，距所需的 7 还差 2"


def error_class(name: str) -> type:
    """The error class a template names: the core hierarchy or a layer's own errors module."""
    import labchain.identity.errors as identity
    import labchain.ledger.account.errors as account
    import labchain.ledger.contracts.errors as contracts
    import labchain.consensus.invariants as invariants
    import labchain.node.faults as faults
    import labchain.node.rpc as rpc

    for module in (errors, identity, account, contracts, rpc, faults, invariants):
        if hasattr(module, name):
            return getattr(module, name)
    raise AssertionError(f"no error class {name}")


def test_every_template_names_a_real_error_and_keeps_its_placeholders():
    rows = messages.templates("zh-CN")
    assert len(rows) >= 25
    for row in rows:
        assert issubclass(error_class(row.error), errors.LabchainError), row.error
        assert chinese(row.translated) or (row.item and row.translated != row.english), row.english  # a list item's frame


def test_i18n_imports_nothing_above_labchain_core():
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            for name in names:
                if name.startswith("labchain"):
                    assert name.startswith(("labchain.core", "labchain.i18n")), f"{path.name} imports {name}"
