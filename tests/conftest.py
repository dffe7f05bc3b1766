"""Session-wide test plumbing: the shared requirement helper (``tests/needs.py``).

Any test module may ``from needs import require, unavailable, needs_root``.
"""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from needs import require  # noqa: E402


@pytest.fixture
def root_required():
    """Used by ``needs.needs_root``."""
    require("root")
