"""Chain tests run on both crypto suites: ``kit``, ``chain`` and ``mempool`` (tests/labchain/
conftest.py) are built on regtest (p256-sha256) and on regtest-sm (sm2-sm3). A test compares
ids through ``kit.txid(tx)`` / ``kit.hash(block)``, which use the chain's suite."""
from __future__ import annotations

import pytest

from labchain.crypto.suite import BUILTIN_SUITES


@pytest.fixture(params=sorted(BUILTIN_SUITES))
def suite_name(request) -> str:
    return request.param
