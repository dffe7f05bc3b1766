"""TBFT tests: the Hypothesis ``ci`` profile (derandomized when CI is set); the shared
simulation helpers live in ``tests/labchain/consensus/simkit.py``."""
from __future__ import annotations

import os
import sys

from hypothesis import settings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
