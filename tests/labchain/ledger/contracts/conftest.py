"""Fixtures for the contract VM tests (helpers live in vmkit.py: ``from vmkit import ...``)."""
from __future__ import annotations

import pytest

from vmkit import Chainlet


@pytest.fixture
def chain() -> Chainlet:
    return Chainlet()

import os  # noqa: E402

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
