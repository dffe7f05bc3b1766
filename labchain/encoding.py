"""Teaching API: ``labchain.encoding`` is ``labchain.core.encoding`` (docs/ARCHITECTURE.md, "Teaching API").

Kept so lab notebooks keep their short import; code inside the package imports ``labchain.core.encoding``.
The alias is the same module object, so every name (and a lab's monkeypatch) is shared.
"""
import importlib
import sys

sys.modules[__name__] = importlib.import_module("labchain.core.encoding")
