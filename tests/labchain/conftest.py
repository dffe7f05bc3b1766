"""Fixtures for ledger tests; the helpers they use live in ``chainkit.py``
(import them from there: ``from chainkit import ChainKit``)."""
from __future__ import annotations

import pytest

from chainkit import ChainKit, MockClock, solve  # noqa: F401  (re-exported for fixtures)
from labchain.chain import Mempool


@pytest.fixture
def kit() -> ChainKit:
    return ChainKit("regtest")


@pytest.fixture
def chain(kit):
    chain = kit.new_chain()
    yield chain
    chain.close()


@pytest.fixture
def mempool(chain) -> Mempool:
    return Mempool(chain)
