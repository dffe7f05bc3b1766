"""Fixtures for the contract VM tests (helpers live in vmkit.py: ``from vmkit import ...``)."""
from __future__ import annotations

import pytest

from vmkit import Chainlet


@pytest.fixture
def chain() -> Chainlet:
    return Chainlet()
