"""Teaching API: ``labchain.miner`` is ``labchain.consensus.pow.miner`` (docs/ARCHITECTURE.md, "Teaching API").

Kept so lab notebooks keep their short import; code inside the package imports ``labchain.consensus.pow.miner``.
The alias is the same module object, so every name (and a lab's monkeypatch) is shared.
"""
import importlib
import sys

sys.modules[__name__] = importlib.import_module("labchain.consensus.pow.miner")
