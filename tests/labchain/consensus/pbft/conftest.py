"""PBFT tests: the Hypothesis ``ci`` profile (derandomized when CI is set); helpers live in
``pbftkit.py``."""
from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
