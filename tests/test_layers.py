"""The layering of docs/ARCHITECTURE.md, checked on every import statement of the packages:
a layer imports only layers below it (lazy imports inside functions count too)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: package prefix -> prefixes it must never import
FORBIDDEN = {
    "labchain.crypto": ("labchain.tx", "labchain.block", "labchain.chain", "labchain.node", "labchain.testnet"),
    "labchain.encoding": ("labchain.tx", "labchain.block", "labchain.chain", "labchain.node", "labchain.testnet"),
    "labchain.tx": ("labchain.block", "labchain.chain", "labchain.node", "labchain.testnet"),
    "labchain.block": ("labchain.chain", "labchain.node", "labchain.testnet"),
    "labchain.chain": ("labchain.miner", "labchain.wallet", "labchain.node", "labchain.testnet"),
    "labchain.miner": ("labchain.node", "labchain.testnet"),
    "labchain.wallet": ("labchain.node", "labchain.testnet"),
    "labchain.node": ("labchain.testnet",),
    "labchain": ("grading",),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = sorted((ROOT / "labchain").rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_module_imports_only_lower_layers(path):
    module = module_name(path)
    banned = [b for prefix, bans in FORBIDDEN.items()
              if module == prefix or module.startswith(prefix + ".") for b in bans]
    bad = sorted(n for n in imported_modules(path) for b in banned if n == b or n.startswith(b + "."))
    assert bad == [], f"{module} imports {bad}, above it in the layers (docs/ARCHITECTURE.md)"


def test_the_check_sees_a_violation(tmp_path):
    fake = tmp_path / "x.py"
    fake.write_text("def f():\n    from grading.cli import main\n")
    assert "grading.cli" in imported_modules(fake)
