"""The runtime guard of test cells (grading/sandbox/guard.py) with real forked kernels.

The corpus (r01-r14) covers the cheats end to end; these check what the corpus does not:
no false alarm on an honest notebook that plots inline, and a labchain patch restored."""
from __future__ import annotations

import pytest
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


def _setup_cell(source: str, grade_id: str = "setup"):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": True,
                                 "grade_id": grade_id, "schema_version": 3}
    return cell


FAKE_HASHLIB = ("class FakeHash:\n    def hexdigest(self):\n        return 'x'\n"
                "class H:\n    sha256 = staticmethod(lambda data=b'': FakeHash())\n")


def test_a_name_bound_by_a_setup_cell_cannot_be_swapped_before_the_test(one):
    # the setup cell imports hashlib as H; the student's cell swaps H for a fake whose digest
    # agrees with their wrong answer; the test sees the setup cell's H (guard.Scope)
    nb = new_notebook(cells=[
        _setup_cell("import hashlib as H"),
        new_code_cell(FAKE_HASHLIB + "def digest(data):\n    return 'x'\n"),
        _test_cell("assert digest(b'a') == H.sha256(b'a').hexdigest()")])
    result = one.run(nb)
    assert result.status == "ok", result.message
    assert _errors(result.notebook.cells[2]) == ["AssertionError"], result.notebook.cells[2].outputs


def test_a_name_bound_by_an_earlier_test_cannot_be_swapped_before_a_later_one(one):
    nb = new_notebook(cells=[
        _test_cell("import hashlib as H\nassert H.sha256(b'').digest_size == 32", "t1"),
        new_code_cell(FAKE_HASHLIB + "def digest(data):\n    return 'x'\n"),
        _test_cell("assert digest(b'a') == H.sha256(b'a').hexdigest()", "t2")])
    result = one.run(nb)
    assert result.status == "ok", result.message
    assert _errors(result.notebook.cells[0]) == []
    assert _errors(result.notebook.cells[2]) == ["AssertionError"], result.notebook.cells[2].outputs




def test_what_a_test_cell_binds_reaches_later_cells_and_the_student_keeps_their_names(one):
    # the fresh scope must not change honest semantics: a test's helper is visible later, a
    # student's own global survives the test, and no flag is raised
    nb = new_notebook(cells=[
        new_code_cell("count = 0\ndef bump():\n    global count\n    count += 1\n    return count\n"),
        _test_cell("def helper(x):\n    return x * 2\nassert bump() == 1", "t1"),
        new_code_cell("assert count == 1, count\nassert helper(2) == 4"),
        _test_cell("assert helper(3) == 6 and bump() == 2", "t2")])
    result = one.run(nb)
    assert result.status == "ok", result.message
    for i in (1, 2, 3):
        assert _errors(result.notebook.cells[i]) == [], (i, result.notebook.cells[i].outputs)
    assert result.tampered == ()


def test_plain_data_a_demo_cell_left_cannot_be_edited_in_place_before_the_test(one):
    # lab 05's pattern: a locked demo cell leaves REORG (plain data); the student's cell edits
    # it in place to match a wrong answer; the test sees the demo's values
    nb = new_notebook(cells=[
        _setup_cell("REORG = {'fork': 'f00d', 'blocks': ['a', 'b']}", "demo"),
        new_code_cell("REORG['fork'] = 'mine'\nREORG['blocks'].append('c')\n"
                      "def fork_point():\n    return 'mine'\n"),
        _test_cell("assert fork_point() == REORG['fork'], REORG", "t1"),
        _test_cell("assert REORG['blocks'] == ['a', 'b'], REORG", "t2")])
    result = one.run(nb)
    assert result.status == "ok", result.message
    assert _errors(result.notebook.cells[2]) == ["AssertionError"], result.notebook.cells[2].outputs
    assert _errors(result.notebook.cells[3]) == [], result.notebook.cells[3].outputs


# --- the test's namespace reached behind the guard's back (issue #10, item 1 of the 2nd pass) --
# Each student function below rebinds the test's own `expected` while the test runs, by a
# different road to the test's globals; before the fix each test passed with the wrong answer.
_REBIND_THE_TEST = "expected = 'right'\ngot = answer()\nassert got == expected, (got, expected)"


def _run_answer(one, answer_source: str):
    nb = new_notebook(cells=[new_code_cell(answer_source), _test_cell(_REBIND_THE_TEST)])
    result = one.run(nb)
    assert result.status == "ok", result.message
    return result, _errors(result.notebook.cells[1])


@pytest.mark.parametrize("rebind", [
    "globals()['expected'] = 'x'",                          # closed by guard.Scope
    "get_ipython().user_ns['expected'] = 'x'",              # closed by guard._Watch (failed before)
    "import sys\n    vars(sys.modules['__main__'])['expected'] = 'x'",
], ids=["globals", "user_ns", "sys.modules-main"])
def test_a_test_global_rebound_while_the_test_runs_changes_nothing_and_is_flagged(one, rebind):
    result, errors = _run_answer(one, f"def answer():\n    {rebind}\n    return 'x'\n")
    assert errors == ["AssertionError"], result.notebook.cells[1].outputs
    assert any("'expected' was rebound while the test ran" in why for why in result.tampered), result.tampered


FRAME_ROADS = {
    "sys._getframe": "import sys\ndef answer():\n    sys._getframe(1).f_globals['expected'] = 'x'\n    return 'x'\n",
    "inspect.currentframe": "import inspect\ndef answer():\n"
                            "    inspect.currentframe().f_back.f_globals['expected'] = 'x'\n    return 'x'\n",
    "tb_frame": "def answer():\n    try:\n        raise ValueError\n    except ValueError as e:\n"
                "        e.__traceback__.tb_frame.f_back.f_globals['expected'] = 'x'\n    return 'x'\n",
    "gc": "import gc\ndef answer():\n    for d in gc.get_referrers(answer):\n"
          "        if type(d) is dict and d.get('expected') == 'right':\n            d['expected'] = 'x'\n"
          "    return 'x'\n",
}


def test_a_student_function_that_takes_a_frame_while_the_test_runs_fails_the_test(one):
    # frames cannot be hidden from Python code: the guard's audit hook sees the student's code
    # take one (or search the heap) while a test runs, fails that test and flags the submission
    for road, source in FRAME_ROADS.items():
        result, errors = _run_answer(one, source)
        assert errors == ["TamperedRuntime"], (road, result.notebook.cells[1].outputs)
        assert any(road.split(".")[0] in why and "while the test ran" in why for why in result.tampered), \
            (road, result.tampered)


def test_honest_warnings_logging_and_tracebacks_in_a_solution_raise_no_alarm(one):
    nb = new_notebook(cells=[
        new_code_cell("import warnings, logging, traceback\ndef answer():\n"
                      "    warnings.warn('slow path')\n    logging.getLogger('x').warning('hi')\n"
                      "    try:\n        {}['k']\n    except KeyError:\n        traceback.format_exc()\n"
                      "    return 'right'\n"),
        _test_cell(_REBIND_THE_TEST)])
    result = one.run(nb)
    assert result.status == "ok", result.message
    assert _errors(result.notebook.cells[1]) == [], result.notebook.cells[1].outputs
    assert result.tampered == ()


def test_a_method_a_student_put_on_an_instructor_object_is_removed_before_the_test(one):
    nb = new_notebook(cells=[
        _setup_cell("class Checker:\n    def ok(self, x):\n        return x == 42\nchecker = Checker()"),
        new_code_cell("checker.ok = lambda x: True\ndef answer():\n    return 0\n"),
        _test_cell("assert checker.ok(answer())")])
    result = one.run(nb)
    assert result.status == "ok", result.message
    assert _errors(result.notebook.cells[2]) == ["AssertionError"], result.notebook.cells[2].outputs
    assert any("checker.ok" in why for why in result.tampered), result.tampered


def test_a_test_cell_ending_in_an_expression_still_shows_it_from_the_tests_namespace(one):
    # IPython runs such a cell as two execs (the body, then the last expression): both must
    # run in the test's namespace although the shell points at the notebook's between them
    nb = new_notebook(cells=[new_code_cell("value = 'student'"),
                             _test_cell("value = 'test'\nvalue")])
    result = one.run(nb)
    assert result.status == "ok", result.message
    shown = [o["data"]["text/plain"] for o in result.notebook.cells[1].outputs if o.get("output_type") == "execute_result"]
    assert shown == ["'test'"], result.notebook.cells[1].outputs
    assert result.tampered == ()


def test_a_patch_made_between_back_to_back_tests_fails_the_later_test(one):
    # the check before a test is skipped when the previous test's after-check found nothing
    # and no cell ran since (guard.install): a student's timer that patches in that gap must
    # still be caught by the later test's after-check, which fails that test
    nb = new_notebook(cells=[
        new_code_cell("import threading, time, labchain.crypto as c\n"
                      "fired = threading.Event()\n"
                      "def later():\n"
                      "    time.sleep(0.3)\n"
                      "    c.sha256 = lambda data: b'x' * 32\n"
                      "    fired.set()\n"
                      "def answer():\n"
                      "    threading.Thread(target=later, daemon=True).start()\n"
                      "    return 1\n"),
        _test_cell("assert answer() == 1", grade_id="t1"),
        _test_cell("import time\ntime.sleep(0.8)\nassert fired.is_set()", grade_id="t2")])
    result = one.run(nb)
    assert result.status == "ok", result.message
    assert _errors(result.notebook.cells[2]) == ["TamperedRuntime"], result.notebook.cells[2].outputs
    assert any("labchain.crypto.sha256" in why for why in result.tampered), result.tampered
