"""The account ledger model under the PoW chain: genesis allocation, mined transfers and
contracts, the header commitment, reorganisations, reopening after a crash between the two
stores, and state proofs checked against a header."""
from __future__ import annotations

import pytest

from labchain.chain import Chain
from labchain.chain.account_model import (
    AccountBlock, AccountMempool, StateRootError, genesis_allocations, verify_account_proof,
)
from labchain.chain.ledger_model import UtxoModel, ledger_model
from labchain.consensus.pow.miner import Miner
from labchain.core.errors import ConfigError, MerkleRootError
from labchain.core.params import get_params
from labchain.ledger.account import account_key as state_key
from labchain.ledger.account.errors import NonceTooLowError
from labchain.ledger.account.wallet import AccountWallet
from labchain.ledger.contracts import decode_value
from labchain.ledger.contracts.stdlib import source

COINS = get_params("regtest-account").account_balance


@pytest.fixture(params=["p256-sha256", "sm2-sm3"])
def params(request):
    """regtest-account, and the same on China's national cryptography (SM2/SM3)."""
    base = get_params("regtest-account")
    return base if request.param == base.suite else base.with_changes(suite=request.param, name="regtest-account-sm")


@pytest.fixture
def wallet(params):
    return AccountWallet(params)


def mine(chain: Chain, pool: AccountMempool, proposer, timestamp=None) -> AccountBlock:
    template = pool.block_template(proposer, timestamp)
    header = Miner(chain.params).solve(template.header)
    block = template.with_header(header)
    update = chain.add_block(block)
    pool.update(update)
    return block


def test_the_config_chooses_the_model(params):
    assert type(ledger_model(get_params("regtest"))) is UtxoModel
    assert ledger_model(params).name == "account"
    with pytest.raises(ConfigError, match="ledger model 'plasma' is unknown; the models are account, utxo"):
        ledger_model(params.with_changes(ledger="plasma"))


def test_genesis_allocates_the_deterministic_accounts(params, wallet):
    with Chain(params) as chain:
        state = chain.ledger.store.state
        assert len(genesis_allocations(params)) == 10
        assert [state.balance(a) for a in wallet.addresses] == [COINS] * 10
        genesis = chain.get_block(0)
        assert genesis.state_root == state.state_root
        assert genesis.header.merkle_root == genesis.compute_merkle_root(chain.suite)


def test_a_mined_transfer_moves_value_pays_gas_and_reward_and_leaves_a_receipt(params, wallet):
    with Chain(params) as chain:
        pool = chain.ledger.new_pool(chain)
        tx = wallet.transfer(0, wallet.address(1), 5_000, nonce=0, gas_price=2)
        txid = pool.add(tx)
        block = mine(chain, pool, wallet.address(9))
        state = chain.ledger.store.state
        assert chain.height == 1 and block.transactions == (tx,) and len(pool) == 0
        assert state.account(wallet.address(0)).nonce == 1
        assert state.balance(wallet.address(0)) == COINS - 5_000 - 21_000 * 2
        assert state.balance(wallet.address(1)) == COINS + 5_000
        assert state.balance(wallet.address(9)) == COINS + 21_000 * 2 + params.block_reward(1)
        height, position, receipt = chain.ledger.store.receipt(txid)
        assert (height, position, receipt.status, receipt.gas_used) == (1, 0, 1, 21_000)
        assert block.state_root == state.state_root
        assert chain.get_transaction(txid).height == 1
        with pytest.raises(NonceTooLowError, match="nonce 0 was already used"):
            pool.add(wallet.transfer(0, wallet.address(1), 1, nonce=0))


def test_a_deployed_token_transfers_with_events(params, wallet):
    with Chain(params) as chain:
        pool = chain.ledger.new_pool(chain)
        deploy = wallet.deploy(0, source("token"), ("Lab Coin", "LAB", 1000), nonce=0)
        pool.add(deploy)
        mine(chain, pool, wallet.address(9))
        receipt = chain.ledger.store.receipt(deploy.txid(chain.suite))[2]
        assert receipt.status == 1, receipt.revert_reason
        token = receipt.contract_address
        pay = wallet.call(0, token, "transfer", (wallet.address(2).to_bytes(), 30), nonce=1)
        bad = wallet.call(0, token, "transfer", (wallet.address(2).to_bytes(), 10**6), nonce=2)
        pool.add(pay)
        pool.add(bad)
        mine(chain, pool, wallet.address(9))
        store = chain.ledger.store
        ok, reverted = store.receipt(pay.txid(chain.suite))[2], store.receipt(bad.txid(chain.suite))[2]
        assert ok.status == 1 and [e.name for e in ok.events] == ["Transfer"]
        assert reverted.status == 0 and "balance 970 is less than 1000000" in reverted.revert_reason
        from labchain.ledger.account import read_call
        from labchain.chain.account_model import AccountModel
        ctx = AccountModel().context(chain, 3, 0, wallet.address(0))
        result = read_call(store.state, ctx, token, "balance_of", [wallet.address(2).to_bytes()])
        assert result.success and result.return_value == 30


def test_the_header_commits_to_the_state_root(params, wallet):
    with Chain(params) as chain:
        pool = chain.ledger.new_pool(chain)
        pool.add(wallet.transfer(0, wallet.address(1), 7, nonce=0))
        template = pool.block_template(wallet.address(9))
        lying = AccountBlock(template.header, template.proposer, bytes(32), template.receipts_root,
                             template.transactions)
        with pytest.raises(MerkleRootError, match="does not commit to its transactions, state root"):
            chain.add_block(lying.with_header(Miner(params).solve(lying.header)))
        # a miner that commits to a wrong root: the header is consistent, execution is not
        root_before = chain.ledger.store.state_root
        wrong = AccountBlock(template.header, template.proposer, bytes(32), template.receipts_root,
                             template.transactions)
        header = template.header.__class__(2, template.header.prev_hash, wrong.compute_merkle_root(chain.suite),
                                           template.header.timestamp, template.header.bits, 0)
        with pytest.raises(StateRootError, match="claims state root 0000000000000000"):
            chain.add_block(wrong.with_header(Miner(params).solve(header)))
        assert chain.height == 0 and chain.ledger.store.state_root == root_before
        assert chain.ledger.store.height == 0


def test_a_reorganisation_reverts_balances_nonces_and_receipts_and_returns_the_tx_to_the_pool(params, wallet):
    with Chain(params) as a, Chain(params) as b:
        pool_a, pool_b = a.ledger.new_pool(a), b.ledger.new_pool(b)
        tx = wallet.transfer(0, wallet.address(1), 1_000, nonce=0)
        pool_a.add(tx)
        mine(a, pool_a, wallet.address(8))
        assert a.ledger.store.receipt(tx.txid(a.suite)) is not None
        side = [mine(b, pool_b, wallet.address(9)), mine(b, pool_b, wallet.address(9))]
        for block in side:
            update = a.add_block(block)
            pool_a.update(update)
        state = a.ledger.store.state
        assert a.tip_hash == b.tip_hash and state.state_root == b.ledger.store.state_root
        assert state.account(wallet.address(0)).nonce == 0 and state.balance(wallet.address(1)) == COINS
        assert state.balance(wallet.address(8)) == COINS  # the orphaned block's reward is gone
        assert a.ledger.store.receipt(tx.txid(a.suite)) is None
        assert tx.txid(a.suite) in pool_a          # back in the pool, mineable on the new tip
        block = mine(a, pool_a, wallet.address(8))
        assert block.transactions == (tx,) and a.ledger.store.receipt(tx.txid(a.suite))[0] == 3


def test_a_losing_tx_whose_nonce_the_winner_used_is_refused_with_the_reason(params, wallet):
    with Chain(params) as a, Chain(params) as b:
        pool_a, pool_b = a.ledger.new_pool(a), b.ledger.new_pool(b)
        pool_a.add(wallet.transfer(0, wallet.address(1), 1_000, nonce=0))
        mine(a, pool_a, wallet.address(8))
        rival = wallet.transfer(0, wallet.address(2), 2_000, nonce=0)   # the same nonce, elsewhere
        pool_b.add(rival)
        side = [mine(b, pool_b, wallet.address(9)), mine(b, pool_b, wallet.address(9))]
        for block in side:
            pool_a.update(a.add_block(block))
        assert len(pool_a) == 0
        (reason,) = pool_a.refused.values()
        assert "nonce 0 was already used" in reason
        assert a.ledger.store.state.balance(wallet.address(2)) == COINS + 2_000


def test_reopening_after_a_crash_between_the_stores_returns_to_the_tip(params, wallet, tmp_path):
    path = str(tmp_path / "chain.sqlite")
    with Chain(params, path) as chain:
        pool = chain.ledger.new_pool(chain)
        pool.add(wallet.transfer(0, wallet.address(1), 1, nonce=0))
        mine(chain, pool, wallet.address(9))
        tip_root = chain.ledger.store.state_root
        # a crash after the account store committed block 2 but before the chain store did
        pool.add(wallet.transfer(0, wallet.address(1), 1, nonce=1))
        template = pool.block_template(wallet.address(9))
        chain.ledger.store.apply_block(template.transactions,
                                       chain.ledger.context(chain, 2, template.header.timestamp, template.proposer),
                                       params.block_reward(2))
        assert chain.ledger.store.height == 2
    with Chain(params, path) as chain:
        assert chain.height == 1 and chain.ledger.store.height == 1
        assert chain.ledger.store.state_root == tip_root == chain.get_block(1).state_root
        assert chain.ledger.store.state.account(wallet.address(0)).nonce == 1


def test_a_state_proof_verifies_against_the_header_and_fails_for_a_wrong_value(params, wallet):
    from labchain.node.account_methods import proof_answer

    with Chain(params) as chain:
        pool = chain.ledger.new_pool(chain)
        pool.add(wallet.transfer(0, wallet.address(1), 9, nonce=0))
        block = mine(chain, pool, wallet.address(9))
        answer = proof_answer(chain, wallet.address(1))
        assert verify_account_proof(chain.suite, block.header.merkle_root, answer)
        assert answer["account"]["balance"] == COINS + 9
        from labchain.ledger.account import Account
        forged = dict(answer, value=Account(0, COINS + 10).to_bytes().hex())   # a richer account: refused
        assert not verify_account_proof(chain.suite, block.header.merkle_root, forged)
        assert not verify_account_proof(chain.suite, chain.get_block(0).header.merkle_root, answer)
        key = state_key(wallet.address(1))
        assert answer["key"] == key.hex()


def test_the_account_block_encoding_round_trips(params, wallet):
    with Chain(params) as chain:
        pool = chain.ledger.new_pool(chain)
        pool.add(wallet.transfer(0, wallet.address(1), 9, nonce=0))
        block = mine(chain, pool, wallet.address(9))
        assert AccountBlock.from_bytes(block.to_bytes()) == block
        assert AccountBlock.from_json(block.to_json()) == block
        assert len(block.header.to_bytes()) == 80   # the PoW header is Bitcoin's 80 bytes, version 2


def test_a_block_of_the_other_model_is_refused_by_name(params, wallet):
    from labchain.block import genesis_block
    from labchain.core.errors import BlockValidationError

    with Chain(params) as accounts, Chain("regtest") as coins:
        with pytest.raises(BlockValidationError, match="is not an account block; this chain uses the account ledger"):
            accounts.add_block(genesis_block(get_params("regtest")))
        with pytest.raises(BlockValidationError, match="is not a UTXO block; this chain uses the UTXO ledger"):
            coins.add_block(accounts.get_block(0))
        assert accounts.height == coins.height == 0
