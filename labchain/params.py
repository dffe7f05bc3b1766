"""Teaching API: ``labchain.params`` is ``labchain.core.params`` (docs/ARCHITECTURE.md, "Teaching API").

Kept so lab notebooks keep their short import; code inside the package imports ``labchain.core.params``.
The alias is the same module object, so every name (and a lab's monkeypatch) is shared.
"""
import importlib
import sys

sys.modules[__name__] = importlib.import_module("labchain.core.params")
