"""Test modules are imported by basename (no __init__.py in tests/, pytest's prepend import
mode): two folders holding the same ``test_x.py`` or helper ``xkit.py`` break a whole-suite run
("import file mismatch") although each folder passes alone. Name files after their area
(``test_account_store.py``, not ``test_store.py``)."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_no_two_test_or_helper_modules_share_a_basename():
    seen: dict[str, list[str]] = defaultdict(list)
    for path in TESTS.rglob("*.py"):
        if path.name in ("conftest.py", "__init__.py") or "__pycache__" in path.parts:
            continue
        seen[path.name].append(str(path.relative_to(TESTS)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, f"rename one of each: {clashes}"


def test_no_test_module_imports_from_conftest():
    """``from conftest import x`` finds whichever folder's conftest was imported last in a
    whole-suite run (three identity-handshake tests failed that way in CI); shared helpers live
    in ``<area>kit.py`` / ``*_helpers.py`` modules instead."""
    offenders = [str(p.relative_to(TESTS)) for p in TESTS.rglob("*.py")
                 if "from conftest import" in p.read_text(encoding="utf-8") and p.name != "test_test_names.py"]
    assert not offenders, offenders
