"""The runtime guard of test cells (grading/sandbox/guard.py) with real forked kernels.

The corpus (r01-r14) covers the cheats end to end; these check what the corpus does not:
no false alarm on an honest notebook that plots inline, and a labchain patch restored."""
from __future__ import annotations

from nbformat.v4 import new_code_cell, new_notebook


def _test_cell(source: str, grade_id: str = "t"):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                 "grade_id": grade_id, "points": 1, "schema_version": 3}
    return cell


def _errors(cell) -> list[str]:
    return [o.get("ename") for o in cell.outputs if o.get("output_type") == "error"]


def test_an_honest_notebook_with_inline_plots_is_not_flagged(one):
    nb = new_notebook(cells=[new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()"),
                             _test_cell("import builtins as _b\nassert _b.len([1]) == 1")])
    result = one.run(nb)
    assert result.status == "ok", result.message
    assert result.tampered == ()
    assert _errors(result.notebook.cells[1]) == []


def test_a_patched_labchain_function_is_restored_before_the_test(one):
    nb = new_notebook(cells=[
        new_code_cell("import labchain.crypto as c\nc.sha256 = lambda data: b'x' * 32"),
        _test_cell("import hashlib, labchain.crypto as c\n"
                   "assert c.sha256(b'a') == hashlib.sha256(b'a').digest()")])
    result = one.run(nb)
    assert result.status == "ok", result.message
    assert _errors(result.notebook.cells[1]) == [], result.notebook.cells[1].outputs
    assert any("labchain.crypto.sha256" in why for why in result.tampered), result.tampered
