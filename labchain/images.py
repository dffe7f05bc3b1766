"""Compatibility alias: ``labchain.images`` moved to ``labchain.deploy.images`` (docs/ARCHITECTURE.md).

Kept for callers not yet updated; new code imports ``labchain.deploy.images``. Same module object.
"""
import importlib
import sys

sys.modules[__name__] = importlib.import_module("labchain.deploy.images")
