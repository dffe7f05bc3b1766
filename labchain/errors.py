"""Teaching API: ``labchain.errors`` is ``labchain.core.errors`` (docs/ARCHITECTURE.md, "Teaching API").

Kept so lab notebooks keep their short import; code inside the package imports ``labchain.core.errors``.
The alias is the same module object, so every name (and a lab's monkeypatch) is shared.
"""
import importlib
import sys

sys.modules[__name__] = importlib.import_module("labchain.core.errors")
