"""Every lab, through nbgrader: generate, autograde the reference, the blank and a wrong submission.

Parametrized over every folder ``labs/<id>/`` that holds ``<id>.ipynb`` (see ``conftest.py``).
Each lab also needs ``tests/labs/wrong/<id>.yaml``: a typical wrong solution (see docs/labs.md).
"""
from __future__ import annotations

import pytest
import yaml

from nbgrader_harness import (EXPECTED_STUDENT_ERRORS, REFERENCE_SECONDS, WRONG_DIR, GradeResult, LabCourse, cell_errors,
                              cell_sources, fill_solutions, hidden_blocks, nbgrader_cells, solution_sources,
                              source_text)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def released(lab: LabCourse) -> dict:
    assert lab.generate_result["success"], lab.generate_result.get("error")
    return lab.release()


@pytest.fixture(scope="module")
def reference(lab: LabCourse, released: dict) -> GradeResult:
    """The source notebook's solutions typed into the released notebook, autograded."""
    result = lab.autograde("reference", fill_solutions(released, solution_sources(lab.source())))
    REFERENCE_SECONDS[lab.lab_id] = result.seconds
    return result


@pytest.fixture(scope="module")
def blank(lab: LabCourse, released: dict) -> GradeResult:
    """The released notebook submitted untouched."""
    return lab.autograde("blank", released)


def test_generate_assignment_succeeds(lab: LabCourse, released: dict):
    assert lab.release_path.is_file()
    assert any(meta.get("solution") for _, meta in nbgrader_cells(released))
    for cell, meta in nbgrader_cells(released):
        if meta.get("solution") and cell["cell_type"] == "code":
            assert "### BEGIN SOLUTION" not in source_text(cell), meta["grade_id"]


def test_reference_solution_earns_full_marks(reference: GradeResult, record_property):
    record_property("reference_autograde_seconds", round(reference.seconds, 2))
    assert reference.max_score > 0
    assert reference.lost() == set(), cell_errors(reference.notebook)
    assert reference.score == reference.max_score


def test_reference_runs_without_any_error(reference: GradeResult):
    assert cell_errors(reference.notebook) == []


def test_student_version_earns_zero_without_crashing(lab: LabCourse, blank: GradeResult):
    assert blank.max_score > 0
    assert blank.score == 0, {gid: s for gid, s in blank.cells.items() if s[0]}
    solution_or_test = {meta["grade_id"] for _, meta in nbgrader_cells(lab.source())
                        if meta.get("solution") or meta.get("grade")}
    for where, ename, message in cell_errors(blank.notebook):
        # explanations, plots and widgets must survive unsolved exercises
        assert where in solution_or_test, f"{where} crashed in the student version: {ename} {message}"
        assert ename in EXPECTED_STUDENT_ERRORS, f"{where}: {ename} {message}"


def test_hidden_tests_absent_from_release_and_back_at_autograde(lab: LabCourse, released: dict,
                                                                 reference: GradeResult):
    hidden = hidden_blocks(lab.source())
    assert hidden, "a lab must have hidden tests"
    released_cells = cell_sources(released)
    released_text = "\n".join(source_text(c) for c in released["cells"])
    graded_cells = cell_sources(reference.notebook)
    for grade_id, blocks in hidden.items():
        assert grade_id in released_cells, f"test cell {grade_id} missing from the release"
        assert "HIDDEN TESTS" not in released_cells[grade_id]
        for block in blocks:
            assert block not in released_text, f"hidden tests of {grade_id} leaked into the release"
            assert block in graded_cells[grade_id], f"hidden tests of {grade_id} not restored at autograde"


@pytest.mark.long     # one full autograde per wrong solution (69 runs over 14 labs): `make test-long`
def test_typical_wrong_solutions_earn_partial_credit(lab: LabCourse, released: dict):
    path = WRONG_DIR / f"{lab.lab_id}.yaml"
    assert path.is_file(), f"every lab needs its typical wrong solutions in {path}"
    mistakes = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert mistakes, f"{path} lists no mistake"
    reference = solution_sources(lab.source())
    for n, spec in enumerate(mistakes):
        result = lab.autograde(f"wrong{n}", fill_solutions(released, reference | spec["replace"]))
        assert 0 < result.score < result.max_score, spec["mistake"]
        assert result.lost() == set(spec["loses"]), spec["mistake"]


@pytest.mark.long     # a second full run of every lab: `make test-long`
def test_reference_earns_full_marks_with_labchain_errors_in_chinese(lab: LabCourse, released: dict, monkeypatch):
    """The Chinese student view (``make lab LAB_LANG=zh-CN``) sets ``LABCHAIN_LANG=zh-CN``, so
    every LabChain error a lab's code and tests see reads in Chinese: no check may depend on the
    English wording (lab 07's replay test did, and failed every Chinese-reading student)."""
    monkeypatch.setenv("LABCHAIN_LANG", "zh-CN")
    result = lab.autograde("reference-zh", fill_solutions(released, solution_sources(lab.source())))
    assert result.lost() == set(), cell_errors(result.notebook)
    assert result.score == result.max_score
