"""Compatibility alias: ``labchain.testnet.classroom`` moved to ``labchain.deploy.classroom`` (docs/ARCHITECTURE.md).

Kept for callers not yet updated; new code imports ``labchain.deploy.classroom``. Same module object.
"""
import importlib
import sys

sys.modules[__name__] = importlib.import_module("labchain.deploy.classroom")
