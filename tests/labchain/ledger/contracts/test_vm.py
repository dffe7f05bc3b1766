"""execute / deploy / trace: effects, reverts, gas accounting and the CallResult contract."""
from __future__ import annotations

from vmkit import ALICE, BOB

from labchain.ledger.contracts.stdlib import load


def test_token_transfer_moves_balance_and_emits_one_event(chain):
    token = chain.deploy(load("token"), "Lab", "LAB", 1000)
    result = token.call("transfer", BOB, 10)
    assert result.success and result.return_value is True
    assert [e.name for e in result.events] == ["Transfer"]
    assert result.events[0].fields == {"sender": ALICE, "to": BOB, "amount": 10}
    assert token.ok("balance_of", BOB) == 10 and token.ok("balance_of", ALICE) == 990


def test_failed_transfer_reverts_every_effect_and_says_why(chain):
    token = chain.deploy(load("token"), "Lab", "LAB", 100)
    before = chain.host.state_digest()
    result = token.fails("transfer", BOB, 1000)
    assert result.revert_reason == "balance 100 is less than 1000"
    assert result.events == () and result.gas_used > 0
    assert chain.host.state_digest() == before
