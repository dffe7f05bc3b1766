"""Shared helpers of the account-ledger tests (import from here, not from conftest: in a
multi-folder run ``conftest`` may name another folder's module)."""
from __future__ import annotations

import labchain.crypto.sm  # noqa: F401  (registers sm2-sm3)
from labchain.ledger.account import AccountAddress, BlockContext, WorldState, credit, sign_tx

SUITES = ("p256-sha256", "sm2-sm3")
CHAIN = "regtest"
FUNDS = 10**12


class Keys:
    """``n`` deterministic secrets of one suite with their addresses; ``tx(i, ...)`` signs."""

    def __init__(self, suite, n: int = 6, seed: str = "account tests") -> None:
        self.suite = suite
        self.secrets = [suite.secret_from_seed(seed, i) for i in range(n)]
        self.addresses = [AccountAddress.of(suite, suite.public_key(d)) for d in self.secrets]

    def __getitem__(self, i: int) -> AccountAddress:
        return self.addresses[i]

    def tx(self, i: int, nonce: int, to=None, value: int = 0, **kw):
        kw.setdefault("chain_id", CHAIN)
        return sign_tx(self.suite, self.secrets[i], nonce=nonce, to=to, value=value, **kw)


def ctx(keys: Keys, height: int, proposer: int = 5, **kw) -> BlockContext:
    return BlockContext(height, 1_700_000_000 + 10 * height, keys[proposer], CHAIN, **kw)


def funded_state(keys: Keys, n: int = 4, amount: int = FUNDS) -> WorldState:
    """A state in memory whose accounts 0..n-1 hold ``amount`` each."""
    state = WorldState(keys.suite)
    for i in range(n):
        credit(state, keys[i], amount)
    return state
