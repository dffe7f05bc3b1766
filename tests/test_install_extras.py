"""The core install (`pip install labchain`, no extras) is the ledger, the node and the testnets:
none of them may import a package that only an extra brings (pyproject.toml: [lab], [grading],
[hub]). Checked in a subprocess that refuses to import those packages."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRA_ONLY = ("jupyterlab", "jupyter_server", "nbgrader", "ipykernel", "ipywidgets", "matplotlib",
              "jupyterhub", "dockerspawner", "celery", "nbformat", "nbconvert")
CORE_MODULES = ("labchain.chain", "labchain.node.node", "labchain.node.cli", "labchain.testnet",
                "labchain.testnet.docker", "labchain.consensus.pow.miner", "labchain.wallet",
                "labchain.crypto.sm", "labchain.core.config", "labchain.identity",
                "labchain.ledger.account", "labchain.ledger.contracts")
BLOCKER = f"""
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {EXTRA_ONLY!r}:
            raise ImportError(f"{{name}} comes only with an extra")
sys.meta_path.insert(0, Refuse())
import importlib
for module in {CORE_MODULES!r}:
    importlib.import_module(module)
from labchain.cli import main
for group in ("node", "testnet", "certs"):
    try:
        main([group, "--help"])
    except SystemExit as exc:
        assert exc.code == 0, (group, exc.code)
print("core ok")
"""


def test_the_core_modules_and_commands_work_without_any_extra():
    result = subprocess.run([sys.executable, "-c", BLOCKER], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("core ok")


def test_jupyter_and_nbgrader_are_extras_not_core_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    assert not [name for name in ("jupyterlab", "nbgrader", "ipykernel", "jupyterhub", "celery")
                if name in core]
    extras = project["optional-dependencies"]
    assert "jupyterlab>=4.1,<5" in extras["lab"] and any("nbgrader" in d for d in extras["grading"])
    assert {"labchain[lab]", "labchain[grading]", "labchain[hub]"} <= set(extras["dev"])
