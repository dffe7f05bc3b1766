"""The static "tests a student cannot fool" rule (labchain.curriculum.testcells) on small cells.

No kernel: these check what the rule accepts and refuses. The harness (test_labs.py) proves the
shipped labs' cheating fixtures lose their points; ``labchain curriculum check`` applies this
rule to every lab (tests/labchain/curriculum runs it on the shipped course).
"""
from __future__ import annotations

import pytest

from labchain.curriculum.notebook import GradedCell
from labchain.curriculum.testcells import exercise_names, untrusted_reads


def _cell(source: str, solution: bool = False) -> GradedCell:
    return GradedCell(index=0, grade_id="x", cell_type="code", points=0 if solution else 1, grade=not solution,
                      solution=solution, locked=not solution, source=source, objectives=("o",))


SOLUTION = _cell("B58 = 'abc'\ndef my_root(ids):\n    ### BEGIN SOLUTION\n    return b''\n    ### END SOLUTION\n"
                 "helper = 1\n", solution=True)
EXERCISE = exercise_names([SOLUTION])


def _problems(test_source: str) -> list[str]:
    return untrusted_reads(_cell("# objectives: o\n# 1 point\n" + test_source), EXERCISE)


def test_exercise_names_are_the_solution_cells_bindings_without_given_constants():
    assert EXERCISE == {"my_root", "helper"}


@pytest.mark.parametrize("source, name", [
    ("assert my_root([]) == merkle_root([])\n", "merkle_root"),              # a setup-cell import
    ("assert math.isclose(1.0, 1.0)\n", "math"),                            # a module the setup imported
    ("assert rejection(broken) is not None\n", "rejection"),                # a given helper as oracle
    ("assert my_root([]) == B58\n", "B58"),                                 # a constant the student can edit
    ("def _check():\n    return sha256(b'')\n_check()\n", "sha256"),        # inside the test's own function
    ("_x = [merkle_proof(i) for i in range(3)]\n", "merkle_proof"),          # inside a comprehension
    ("_r = my_root([])\nfrom labchain.merkle import merkle_root\nassert _r == merkle_root([])\n"
     "_s = sha256\n", "sha256"),
])
def test_a_name_the_student_can_rebind_is_reported(source, name):
    problems = _problems("from builtins import *\n" + source)
    assert any(f"{name!r}" in p and "rebind" in p for p in problems), problems


def test_builtins_need_the_builtins_import_first():
    problems = _problems("assert type(my_root([])) is bytes\nfrom builtins import *\nassert len([]) == 0\n")
    assert len(problems) == 2 and all("shadow" in p for p in problems), problems
    assert "'type'" in problems[0] and "'bytes'" in problems[1]


def test_imports_own_definitions_and_exercise_names_are_trusted():
    assert _problems(
        "from builtins import *\n"
        "import random\n"
        "from labchain.merkle import merkle_root as _reference\n"
        "def _check(n, key=lambda t: t):\n"
        "    ids = [random.Random(n).randbytes(32) for _ in range(n)]\n"
        "    r = my_root(ids)\n"
        "    assert type(r) is bytes and r == _reference(ids) and helper == 1\n"
        "    return sorted(ids, key=key)\n"
        "for _n in range(3):\n"
        "    _check(_n)\n"
        "try:\n    my_root(None)\nexcept TypeError as _exc:\n    _e = _exc\n"
        "%matplotlib inline\n") == []


def test_a_trusts_line_names_reviewed_exceptions_and_needs_a_reason():
    assert _problems("# trusts: tn, REORG - the live testnet of the setup cell\nfrom builtins import *\n"
                     "assert my_root(tn.nodes) == REORG['fork']\n") == []
    problems = _problems("# trusts: tn\nfrom builtins import *\nassert my_root(tn.nodes)\n")
    assert any("must read '# trusts: name, name - why" in p for p in problems), problems
    assert any("'tn'" in p and "rebind" in p for p in problems), problems
