"""Fixtures for ledger tests; the helpers they use live in ``chainkit.py``
(import them from there: ``from chainkit import ChainKit``)."""
from __future__ import annotations

import pytest

from chainkit import ChainKit, MockClock, solve  # noqa: F401  (re-exported for fixtures)
from labchain.chain import Mempool


#: the regtest preset of each crypto suite: the same numbers, its own ids and keys
REGTEST_OF_SUITE = {"p256-sha256": "regtest", "sm2-sm3": "regtest-sm"}


@pytest.fixture
def suite_name() -> str:
    """The crypto suite of ``kit``/``chain``; folders whose tests are about chain behaviour
    override it with one parameter per suite (tests/labchain/chain/conftest.py)."""
    return "p256-sha256"


@pytest.fixture
def kit(suite_name) -> ChainKit:
    return ChainKit(REGTEST_OF_SUITE[suite_name])


@pytest.fixture
def chain(kit):
    chain = kit.new_chain()
    yield chain
    chain.close()


@pytest.fixture
def mempool(chain) -> Mempool:
    return Mempool(chain)
