"""Session-wide test plumbing: the shared requirement helper (``tests/needs.py``) and the
Hypothesis ``ci`` profile.

Any test module may ``from needs import require, unavailable, needs_root``.
"""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from needs import CHROMIUM, require  # noqa: E402
from hypothesis import settings  # noqa: E402

# One Hypothesis profile for the whole suite: with CI set, examples are derandomized (a red CI
# run is reproducible) and no per-example deadline applies (2 shared cores). Test folders
# choose their example counts per test, never their own profile.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def root_required():
    """Used by ``needs.needs_root``."""
    require("root")


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (the explorer's and the class server's
    end-to-end tests); never `playwright install`."""
    require("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--disable-gpu"])
        yield b
        b.close()
