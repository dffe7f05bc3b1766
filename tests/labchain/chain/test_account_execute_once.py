"""A proposal executes once (docs/accounts-on-engines.md, "Execution once"): a validator that
checked a proposal commits it by writing the verified result, not by running its transactions
again; the result is the one executing it at commit gives (state root, receipts, store); a
verified result is never used on another state, is bounded in number and lost with the process
(a crash between check and commit executes at commit: the store is the only truth).

``AccountModel.executions`` counts block executions by purpose (build, check, connect, recover)
and ``reused`` the commits that wrote a verified result. Before the cache a validator counted
``{"check": 1, "connect": 1}`` per committed block (two executions), now ``{"check": 1,
"reused": 1}``."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from labchain.chain import Chain
from labchain.chain.account_model import MAX_VERIFIED
from labchain.chain.finality import FinalityLog, build_block
from labchain.core.config import load_config
from labchain.ledger.account.block import VerifiedBlock
from labchain.ledger.account.errors import UndoError
from labchain.ledger.account.wallet import AccountWallet
from labchain.ledger.contracts.stdlib import source
from labchain.node.consensus import NodeApplication

PARAMS = load_config("pbft-4-account").params
WALLET = AccountWallet(PARAMS)
ADDR = [str(a) for a in WALLET.addresses]
NOW = PARAMS.genesis_timestamp + 10_000


def _chain(path=None) -> Chain:
    return Chain(PARAMS, path=None if path is None else str(path), clock=lambda: NOW)


@pytest.fixture
def chains():
    made = []

    def make(path=None):
        made.append(_chain(path))
        return made[-1]

    yield make
    for c in made:
        c.close()


def _workload():
    """A token deploy and a call: execution that runs the VM, writes storage and emits events."""
    deploy = WALLET.deploy(0, source("token"), ["Lab Coin", "LAB", 1000], nonce=0)
    return [deploy, WALLET.transfer(1, ADDR[2], 5, 0), WALLET.transfer(0, ADDR[3], 9, 1)]


def _view(chain):
    """What a committed block left: tip, state root, receipts and every state key."""
    store = chain.ledger.store
    return chain.tip_hash, store.state_root, store.receipts(chain.height), list(store.state.items())


def test_a_validator_commits_a_checked_proposal_without_executing_it_again(chains):
    proposer, validator, plain = chains(), chains(), chains()
    block, dropped = build_block(proposer, _workload(), WALLET.addresses[4], timestamp=NOW)
    assert dropped == 0
    assert NodeApplication(SimpleNamespace(chain=validator)).check(1, block.to_bytes()) is None
    FinalityLog(validator).append(1, block)
    assert dict(validator.ledger.executions) == {"check": 1, "reused": 1}    # before: check 1, connect 1

    assert plain.add_block(block).status == "new_tip"                         # executed at connect
    assert dict(plain.ledger.executions) == {"connect": 1}
    assert _view(validator) == _view(plain)                                    # the same result
    assert validator.ledger.store.receipts(1)[0].contract_address is not None
    assert validator.ledger.store.receipt(block.transactions[0].txid(PARAMS.crypto)) == \
        plain.ledger.store.receipt(block.transactions[0].txid(PARAMS.crypto))


def test_a_proposer_executes_its_own_block_once_for_build_check_and_commit(chains):
    solo, plain = chains(), chains()
    block, _ = build_block(solo, _workload(), WALLET.addresses[4], timestamp=NOW)
    assert NodeApplication(SimpleNamespace(chain=solo)).check(1, block.to_bytes()) is None
    FinalityLog(solo).append(1, block)
    assert dict(solo.ledger.executions) == {"build": 1, "reused": 1}          # before: build, check, connect
    plain.add_block(block)
    assert _view(solo) == _view(plain)


def test_a_verified_result_is_not_used_on_another_state(chains):
    validator = chains()
    app = NodeApplication(SimpleNamespace(chain=validator))
    first, _ = build_block(chains(), [WALLET.transfer(1, ADDR[2], 5, 0)], WALLET.addresses[4], timestamp=NOW)
    other, _ = build_block(chains(), [WALLET.transfer(3, ADDR[2], 6, 0)], WALLET.addresses[5], timestamp=NOW)
    assert app.check(1, first.to_bytes()) is None and app.check(1, other.to_bytes()) is None
    FinalityLog(validator).append(1, other)              # round 2's proposal won
    verified = validator.ledger._verified[first.hash_in(PARAMS.crypto)]
    store = validator.ledger.store
    assert not store.reusable(verified, 2) and not store.reusable(verified, 1)   # height 1 is taken
    with pytest.raises(UndoError, match="the block's writes start from"):
        store.state.apply_writes(verified.result.undo, verified.writes)
    assert store.state_root == other.state_root


def test_forged_writes_are_refused_and_leave_the_state_as_it_was(chains):
    validator = chains()
    block, _ = build_block(validator, [WALLET.transfer(1, ADDR[2], 5, 0)], WALLET.addresses[4], timestamp=NOW)
    verified = validator.ledger._verified[block.hash_in(PARAMS.crypto)]
    key, value = verified.writes[0]
    forged = VerifiedBlock(1, verified.result, ((key, (value or b"") + b"!"), *verified.writes[1:]))
    state = validator.ledger.store.state
    before = list(state.items())
    with pytest.raises(UndoError, match="they belong to another block"):
        state.apply_writes(forged.result.undo, forged.writes)
    assert list(state.items()) == before and state.state_root == validator.ledger.store.state_root


def test_verified_results_are_bounded_and_the_oldest_is_executed_at_commit(chains):
    validator = chains()
    app = NodeApplication(SimpleNamespace(chain=validator))
    builder = chains()
    proposals = [build_block(builder, [WALLET.transfer(1, ADDR[2], 1 + k, 0)], WALLET.addresses[4],
                             timestamp=NOW)[0] for k in range(MAX_VERIFIED + 2)]   # rounds of one height
    for p in proposals:
        assert app.check(1, p.to_bytes()) is None
    assert len(validator.ledger._verified) == MAX_VERIFIED
    FinalityLog(validator).append(1, proposals[0])       # forgotten: executed at commit
    assert validator.ledger.executions["connect"] == 1 and validator.ledger.executions["reused"] == 0
    assert validator.ledger.store.state_root == proposals[0].state_root


def test_a_crash_between_check_and_commit_executes_at_commit_with_the_same_result(chains, tmp_path):
    path = tmp_path / "chain.db"
    validator = _chain(path)
    block, _ = build_block(chains(), _workload(), WALLET.addresses[4], timestamp=NOW)
    assert NodeApplication(SimpleNamespace(chain=validator)).check(1, block.to_bytes()) is None
    root_before = validator.ledger.store.state_root
    validator.close()                                    # the process ends; nothing was stored
    reopened = chains(path)
    assert reopened.height == 0 and reopened.ledger.store.state_root == root_before
    FinalityLog(reopened).append(1, block)
    assert dict(reopened.ledger.executions) == {"connect": 1}
    plain = chains()
    plain.add_block(block)
    assert _view(reopened) == _view(plain)
