"""The pipeline's own steps on real nbgrader notebooks, without running a kernel."""
from __future__ import annotations

import json
import logging

import nbformat
import pytest
from grading_corpus import CORPUS, build

from grading.errors import CourseError
from grading.options import AutogradeOptions
from grading.pipeline import SANITIZE, Context, describe_steps, fail_unexecuted_tests, run_steps


def _ctx(course, lab="lab-a", student="x"):
    release = nbformat.read(str(course.release(lab, lab)), as_version=4)
    return Context(lab=lab, student=student, notebook=lab, db_url=course.db_url, release=release,
                   options=AutogradeOptions(), log=logging.getLogger("test"))


def _sanitized(course, student):
    case = next(c for c in CORPUS if c.student == student)
    ctx = _ctx(course, case.lab, student)
    nb = nbformat.reads(build(case, ctx.release).decode(), as_version=4)
    return run_steps(nb, ctx, SANITIZE), ctx


def _grade_ids(nb):
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "grade_id" in c.metadata.get("nbgrader", {})]


def test_untampered_submission_is_not_flagged_and_gets_hidden_tests(course):
    nb, ctx = _sanitized(course, "a01-correct")
    assert ctx.flags == set()
    hidden = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_sha_hex_hidden"]
    assert "### BEGIN HIDDEN TESTS" in hidden[0].source


@pytest.mark.parametrize("student, problem", [
    ("a17-deleted-tests", "cell 'test_sha_hex' was deleted"),
    ("a18-duplicated-test", "cell 'test_count_words' appears 2 times"),
    ("a19-edited-tests", "locked cell 'test_sha_hex' was edited"),
    ("a20-edited-points", "metadata of cell 'test_count_words' was edited"),
    ("a21-deleted-solution-and-test", "cell 'sha_hex' was deleted"),
])
def test_tampering_is_flagged_and_instructor_cells_restored(course, student, problem):
    nb, ctx = _sanitized(course, student)
    assert "tampered" in ctx.flags and problem in ctx.problems
    reference = _ctx(course)
    assert _grade_ids(nb) == _grade_ids(reference.release)          # every cell once, in order
    from nbgrader.api import Gradebook
    with Gradebook(course.db_url) as gb:
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            if gid.startswith("test_"):
                assert cell.source.endswith(gb.find_source_cell(gid, "lab-a", "lab-a").source)
                assert cell.metadata.nbgrader["points"] == gb.find_graded_cell(gid, "lab-a", "lab-a").max_score


def test_tests_that_never_ran_get_an_error_output(course):
    ctx = _ctx(course)
    ctx.exec_status, ctx.exec_message = "timeout", "cell 3 ran longer than 5 s"
    nb = fail_unexecuted_tests(nbformat.from_dict(ctx.release), ctx)
    from nbgrader.utils import determine_grade, is_grade
    assert all(determine_grade(c)[0] == 0 for c in nb.cells if is_grade(c) and c.cell_type == "code")


def test_options_come_from_defaults_file_and_overrides_with_clear_errors(tmp_path):
    assert AutogradeOptions.load(tmp_path).workers == 0
    (tmp_path / "grading.json").write_text(json.dumps({"workers": 3, "limits": {"timeout_per_cell": 9}}))
    opts = AutogradeOptions.load(tmp_path, workers=None, force=True)
    assert opts.workers == 3 and opts.force and opts.sandbox_limits().timeout_per_cell == 9
    (tmp_path / "grading.json").write_text(json.dumps({"wrokers": 3}))
    with pytest.raises(CourseError, match="unknown autograde option"):
        AutogradeOptions.load(tmp_path)
    with pytest.raises(CourseError, match="unknown sandbox limit"):
        AutogradeOptions(limits={"timeout": 3}).sandbox_limits()
    assert [r[0] for r in describe_steps()][-1] == "save_grades"
