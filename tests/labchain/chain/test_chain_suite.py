"""The ledger takes signature checks, key fingerprints and Merkle hashes from the chain's suite
(``params.crypto``), not from the P-256 module functions (issue #9 section 3, first step).

Each test makes a throw-away suite that differs from P-256 in one function, runs a real chain
and mempool on ``regtest.with_changes(suite=...)`` and checks the difference shows. Suites that
keep P-256's address version are passed as instances, unregistered (the registry wants one
version per suite).
"""
from __future__ import annotations

import hashlib

import pytest

from chainkit import ChainKit
from labchain.chain import Mempool
from labchain.core.config import load_config
from labchain.core.errors import BadSignatureError, KeyMismatchError, MalformedTransactionError
from labchain.crypto import get_suite, register_suite
from labchain.crypto import suite as registry
from labchain.merkle import merkle_proof, merkle_root, verify_proof
from labchain.params import COIN, get_params

P256 = type(get_suite("p256-sha256"))


def _suite(name: str, **methods):
    return type(name.title().replace("-", ""), (P256,), {"name": name, "hash_algorithm": name, **methods})()


@pytest.fixture
def refusing_suite():
    """P-256 whose batch verification says no to every signature."""
    return _suite("refuse-all-test", verify_many=lambda self, checks, workers=1: [False] * len(checks))


@pytest.fixture
def other_fingerprint_suite():
    """P-256 whose key fingerprint is a different hash."""
    return _suite("sha3-fingerprint-test", hash160=lambda self, data: hashlib.sha3_256(data).digest()[:20])


@pytest.fixture
def sha3_suite():
    """A registered suite whose id hash is SHA3-256 twice, with its own address version."""
    yield register_suite(_suite(
        "sha3-ids-test", address_version=0x7B, hash=lambda self, data: hashlib.sha3_256(data).digest(),
        hash256=lambda self, data: hashlib.sha3_256(hashlib.sha3_256(data).digest()).digest()))
    registry._registry.pop("sha3-ids-test")


def test_params_name_the_default_suite_and_configs_carry_theirs():
    assert get_params("regtest").suite == "p256-sha256"
    assert get_params("regtest").crypto is get_suite("p256-sha256")
    assert load_config("regtest").params.suite == "p256-sha256"


def test_mempool_and_blocks_verify_signatures_with_the_chains_suite(refusing_suite):
    good = ChainKit()
    chain = good.new_chain()
    Mempool(chain).add(good.pay(chain, 0, to=good.address(1), amount=COIN))  # P-256 accepts it

    kit = ChainKit(get_params("regtest").with_changes(suite=refusing_suite))
    chain = kit.new_chain()
    pay = kit.pay(chain, 0, to=kit.address(1), amount=COIN)
    with pytest.raises(BadSignatureError, match="does not verify"):
        Mempool(chain).add(pay)
    with pytest.raises(BadSignatureError, match="does not verify"):
        chain.add_block(kit.block(chain, [pay]))
    assert chain.height == 0


def test_inputs_match_addresses_by_the_chains_key_fingerprint(other_fingerprint_suite):
    from labchain.crypto import Address, hash160

    kit = ChainKit(get_params("regtest").with_changes(suite=other_fingerprint_suite))
    chain = kit.new_chain()
    key = kit.keys[1].public_key.data
    assert kit.address(1).pubkey_hash == other_fingerprint_suite.hash160(key) != hash160(key)  # genesis too
    p256_style = Address(kit.address(1).version, hash160(key))  # the same key, P-256's fingerprint
    block = kit.block(chain, [kit.pay(chain, 0, to=p256_style, amount=COIN)])
    chain.add_block(block)
    coin = chain.utxos(p256_style)[0]
    with pytest.raises(KeyMismatchError, match="hashes to another address"):
        Mempool(chain).add(kit.pay([coin], 1, to=kit.address(2), amount=COIN // 2))
    Mempool(chain).add(kit.pay(chain, 1, to=kit.address(2), amount=COIN))  # its own fingerprint: fine


def test_merkle_trees_hash_with_the_suite_given(sha3_suite):
    items = [bytes([i]) * 32 for i in range(5)]
    assert merkle_root(items) == merkle_root(items, get_suite("p256-sha256"))
    root = merkle_root(items, sha3_suite)
    leaf = sha3_suite.hash256(b"\x00" + items[0])
    assert root != merkle_root(items)
    assert merkle_root(items[:1], sha3_suite) == leaf
    proof = merkle_proof(items, 3, sha3_suite)
    assert verify_proof(items[3], proof, root, sha3_suite)
    assert not verify_proof(items[3], proof, root)          # the default suite's tree differs
    assert not verify_proof(items[3], merkle_proof(items, 3), root, sha3_suite)


def test_a_payment_to_an_address_of_another_suite_is_refused_by_name(sha3_suite, monkeypatch):
    from labchain.crypto import Address
    from labchain.ledger.utxo.tx import Transaction, TxIn, TxOut

    kit = ChainKit()
    chain = kit.new_chain()
    coin = kit.coins(chain, 0)[0]
    foreign = Address(sha3_suite.address_version, kit.address(1).pubkey_hash)
    tx = Transaction(1, [TxIn(coin.outpoint)], [TxOut(COIN, foreign)]).sign([kit.keys[0]])
    message = (r"output 0 of tx \w+ \(1 in, 1 out\) pays \w+, an address of the sha3-ids-test crypto "
               r"suite \(version byte 0x7b\), but this chain uses p256-sha256 \(0x30\): coins cannot move")
    with pytest.raises(MalformedTransactionError, match=message):
        Mempool(chain).add(tx)
    with pytest.raises(MalformedTransactionError, match=message):
        chain.add_block(kit.block(chain, [tx]))
    assert chain.balance(kit.address(0)) == 1000 * COIN   # nothing lost
    monkeypatch.setenv("LABCHAIN_LANG", "zh-CN")
    with pytest.raises(MalformedTransactionError, match="币不能在使用不同密码套件的链之间转移") as caught:
        Mempool(chain).add(tx)
    assert str(foreign) in str(caught.value) and "sha3-ids-test" in str(caught.value)


def test_ids_and_signature_hashes_take_a_suite_and_cache_per_suite(sha3_suite):
    from labchain.block import genesis_block

    block = genesis_block(get_params("regtest"))
    tx, p256 = block.transactions[0], get_suite("p256-sha256")
    assert tx.txid_in() == tx.txid_in(p256) == tx.txid == p256.hash256(tx.to_bytes())
    assert tx.txid_in(sha3_suite) == sha3_suite.hash256(tx.to_bytes()) != tx.txid
    assert tx.txid == p256.hash256(tx.to_bytes())          # the other suite's id is not cached over it
    assert block.header.hash_in(sha3_suite) == sha3_suite.hash256(block.header.to_bytes())
    assert block.header.hash_in(p256) == block.header.hash
    assert block.compute_merkle_root(sha3_suite) == merkle_root([tx.txid_in(sha3_suite)], sha3_suite)
    assert block.compute_merkle_root() == block.header.merkle_root
    kit = ChainKit()
    pay = kit.pay(kit.new_chain(), 0, to=kit.address(1), amount=COIN)
    assert pay.signature_hash(0) == pay.signature_hash(0, p256)
    assert pay.signature_hash(0, sha3_suite) != pay.signature_hash(0)


@pytest.fixture
def no_default_ids(monkeypatch):
    """Make every id that silently means p256-sha256 raise: the record properties (``tx.txid``,
    ``header.hash``, ``block.hash``) and the suite-less forms of the suite-taking methods."""
    from labchain import merkle
    from labchain.block import Block, BlockHeader
    from labchain.ledger.utxo.tx import Transaction

    def refuse(what):
        def fail(*args, **kwargs):
            raise AssertionError(f"{what} computed the default suite's id on an sm2-sm3 chain")
        return fail

    for cls, name in ((Transaction, "txid"), (BlockHeader, "hash"), (Block, "hash")):
        monkeypatch.setattr(cls, name, property(refuse(f"{cls.__name__}.{name}")))
    for cls, name in ((Transaction, "txid_in"), (Transaction, "signature_hash"), (BlockHeader, "hash_in"),
                      (Block, "compute_merkle_root")):
        original = getattr(cls, name)

        def guarded(self, *args, _original=original, _name=name, **kwargs):
            if (args[-1] if args and not isinstance(args[-1], int) else kwargs.get("suite")) is None:
                raise AssertionError(f"{_name} without a suite on an sm2-sm3 chain")
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(cls, name, guarded)
    original_root = merkle.merkle_root
    monkeypatch.setattr(merkle, "merkle_root", lambda items, suite=None: original_root(items, suite)
                        if suite is not None else refuse("merkle_root without a suite")())


def test_an_sm_chain_never_computes_a_default_suite_id(no_default_ids, tmp_path):
    """Blocks, payments, a reorganisation, the mempool, the miner and the wallet on regtest-sm,
    with every default-suite id path raising: nothing on the chain reaches one."""
    from labchain.consensus.pow.miner import Miner
    from labchain.wallet import Wallet, spent_by

    sm = get_suite("sm2-sm3")
    kit = ChainKit("regtest-sm")
    chain = kit.new_chain(tmp_path / "chain.sqlite")
    mempool = Mempool(chain)
    pay = kit.pay(chain, 0, to=kit.address(1), amount=COIN, fee=1_000)
    assert mempool.add(pay) == sm.hash256(pay.to_bytes())
    wallet = Wallet.from_keys(kit.keys[2:4])
    second = wallet.pay(chain, to=kit.address(5), amount=2 * COIN, fee=500, exclude=spent_by([pay]))
    mempool.add(second)
    block = Miner(chain.params).mine(mempool, kit.address(9))
    mempool.update(chain.add_block(block))
    assert chain.tip_hash == sm.hash256(block.header.to_bytes()) and len(mempool) == 0
    assert chain.has_transaction(sm.hash256(second.to_bytes()))
    side = kit.extend(chain, 1, parent=chain.genesis_hash, to=kit.address(3))   # equal work: no switch
    update = chain.add_block(kit.block(chain, parent=side[-1].hash_in(sm)))     # heavier: reorg
    assert update.status == "new_tip" and chain.height == 2 and update.disconnected == (block,)
    mempool.update(update)
    assert {t.txid_in(sm) for t in mempool.transactions()} == {pay.txid_in(sm), second.txid_in(sm)}
    chain.close()
    reopened = kit.new_chain(tmp_path / "chain.sqlite")  # the store reloads by the same ids
    assert reopened.height == 2 and reopened.balance(kit.address(1)) == 1000 * COIN
    reopened.close()
