"""The layering of docs/ARCHITECTURE.md, checked on every import statement of labchain/ and grading/
(lazy imports inside functions count too), from ONE rank table.

A module may import modules of its own rank or lower, never higher. A module's rank is that of
the longest table entry that is it or a package containing it; a module no entry covers fails
``test_every_module_has_a_rank``, so a new top-level module must be placed in the table.
Imports within one rank (one package) are not checked by the rank table; the node's RPC and
driver modules name ``Node`` only for type checkers (``test_node_parts_import_without_the_node``),
and grading.sandbox.kernel names the worker through a Protocol.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: module or package -> rank; lower ranks are the foundations (docs/ARCHITECTURE.md, the picture)
RANKS = {
    "labchain": 0,                       # the root package's __init__ (imports nothing)
    "labchain.core": 0, "labchain.core.errors": 0, "labchain.errors": 0,
    "labchain.core.encoding": 1, "labchain.encoding": 1,
    "labchain.i18n": 0,                  # message catalogs: core.errors translates its messages through them
    "labchain.crypto": 2,                # Suite interface, registry, p256, sm*
    "labchain.consensus": 3, "labchain.consensus.pow": 3,
    "labchain.consensus.engine": 3,      # the pure state-machine interface; raft/, tbft/, pbft/, sim
    "labchain.identity": 3,              # certificates, roles, policies (uses crypto suites)
    "labchain.consensus.pow.difficulty": 3, "labchain.difficulty": 3,
    "labchain.core.params": 4, "labchain.params": 4, "labchain.core.config": 4,
    "labchain.merkle": 5,
    "labchain.ledger": 6, "labchain.tx": 6,
    "labchain.block": 7,
    "labchain.chain": 8,
    "labchain.consensus.pow.miner": 9, "labchain.miner": 9, "labchain.wallet": 9,
    "labchain.node": 10,
    "labchain.deploy": 11, "labchain.deploy.images": 11, "labchain.images": 11,
    "labchain.testnet": 12,
    "labchain.deploy.classroom": 13, "labchain.testnet.classroom": 13,
    "labchain.deploy.swarm": 13,         # per-student testnets as Docker Swarm stacks
    "labchain.deploy.lab": 13,           # lab sessions: testnet + JupyterLab views
    "labchain.deploy.hub": 13,           # the class server: JupyterHub + a testnet per student
    "labchain.explorer": 13,             # block explorer + class console (reads nodes over RPC)
    "labchain.curriculum": 14,
    "labchain.cli": 15,                  # and the ``python -m`` entry points, which call it
    "labchain.node.__main__": 15, "labchain.testnet.__main__": 15, "labchain.i18n.__main__": 15,
    "grading": 20, "grading.errors": 20,
    "grading.sandbox": 21,               # one notebook in isolation; knows nothing of nbgrader
    "grading.course": 22, "grading.batch": 22, "grading.checks": 22, "grading.gradebook": 22,
    "grading.instructor": 22,
    "grading.options": 23,
    "grading.pipeline": 24,              # nbgrader steps around the sandbox
    "grading.collect": 25, "grading.export": 25, "grading.feedback": 25, "grading.report": 25,
    "grading.autograde": 26,
    "grading.publish": 26,               # LTI AGS grade passback (reads the hub's LTI state)
    "grading.queue": 26,                 # autograde through Celery + Redis workers (docs/grading-queue.md)
    "grading.api": 27,
    "grading.cli": 28,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = sorted([*(ROOT / "labchain").rglob("*.py"), *(ROOT / "grading").rglob("*.py")])
MODULES = {module_name(p) for p in SOURCES}


def rank(module: str) -> int | None:
    parts = module.split(".")
    if module in RANKS:
        return RANKS[module]
    for n in range(len(parts) - 1, 1, -1):  # a top-level name ("labchain") covers only itself
        if ".".join(parts[:n]) in RANKS:
            return RANKS[".".join(parts[:n])]
    return None


def imported_modules(path: Path) -> set[str]:
    """Project modules imported by the file; ``from pkg import mod`` counts as ``pkg.mod``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                names.add(full if full in MODULES else node.module)
    return {n for n in names if n.split(".")[0] in ("labchain", "grading")}


def test_every_module_has_a_rank():
    assert sorted(m for m in MODULES if rank(m) is None) == [], "add these modules to RANKS"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_module_imports_only_its_rank_or_lower(path):
    module = module_name(path)
    own = rank(module)
    if own is None:
        pytest.fail(f"{module} has no rank in RANKS")
    bad = sorted(f"{n} (rank {rank(n)})" for n in imported_modules(path)
                 if rank(n) is not None and rank(n) > own)
    assert bad == [], f"{module} (rank {own}) imports {bad}, above it in the layers (docs/ARCHITECTURE.md)"


def test_the_check_sees_a_violation_and_an_unranked_module(tmp_path):
    fake = tmp_path / "x.py"
    fake.write_text("def f():\n    from grading.cli import main\n    from labchain import node\n")
    assert imported_modules(fake) == {"grading.cli", "labchain.node"}
    assert rank("grading.cli") > rank("labchain.crypto.p256") == rank("labchain.crypto")
    assert rank("labchain.newthing") is None and rank("labchain.chain.newthing") == RANKS["labchain.chain"]


def test_node_parts_import_without_the_node():
    """node.node imports the RPC tables, the payments and the engine driver; none of them may
    import node.node back at run time (a circle: issue #9): they get the node passed in."""
    import subprocess
    import sys

    code = ("import sys; import labchain.node.methods, labchain.node.payments, "
            "labchain.node.account_methods, labchain.node.consensus, labchain.node.identity; "
            "print('labchain.node.node' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
