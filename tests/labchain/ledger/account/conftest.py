"""Fixtures of the account-ledger tests: both crypto suites, deterministic keys, a funded state
(helpers in ``accountkit.py``)."""
from __future__ import annotations

import pytest

from accountkit import CHAIN, FUNDS, SUITES, Keys, funded_state
from labchain.crypto import get_suite
from labchain.ledger.account import AccountStore, WorldState


@pytest.fixture(params=SUITES)
def suite(request):
    return get_suite(request.param)


@pytest.fixture(scope="session")
def p256():
    return get_suite("p256-sha256")


@pytest.fixture
def keys(suite) -> Keys:
    return Keys(suite)


@pytest.fixture
def store(suite, keys):
    """An in-memory store whose accounts 0..3 hold FUNDS each."""
    s = AccountStore(None, suite, CHAIN)
    s.genesis({keys[i]: FUNDS for i in range(4)})
    yield s
    s.close()


@pytest.fixture
def state(keys) -> WorldState:
    return funded_state(keys)
