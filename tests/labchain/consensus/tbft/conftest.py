"""TBFT tests: the shared simulation helpers live in ``tests/labchain/consensus/simkit.py``
(its folder goes on sys.path here); the Hypothesis ``ci`` profile is tests/conftest.py's."""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
