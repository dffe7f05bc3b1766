"""A late submission gets the late penalty the course configured; an on-time one gets none.

Through the real pipeline (``api.autograde``: real nbgrader, the OS sandbox): the course's
nbgrader_config.py sets nbgrader's ``LateSubmissionPlugin.penalty_method = "zero"``, the lab
has a due date, ``collect``'s ``timestamp.txt`` says when each notebook came in. Before
``SaveGrades.assign_late_penalty`` the pipeline never ran nbgrader's ``AssignLatePenalties``
(``nbgrader autograde`` does), so a late submission kept its full score everywhere.
"""
from __future__ import annotations

import csv
import datetime as dt

import pytest
from grading_kit import TEST_LIMITS, write_submissions
from grading_corpus import OK_A, Case

from grading import api
from grading.gradebook import gradebook

DUE = dt.datetime(2026, 12, 1, 12, 0, 0)
STAMPS = {"s-late": "2026-12-01 12:00:01.000000 UTC", "s-on-time": "2026-12-01 11:59:59.000000 UTC"}


def _grade(course, penalty_method: str):
    with (course.root / "nbgrader_config.py").open("a") as f:
        f.write(f"c.LateSubmissionPlugin.penalty_method = {penalty_method!r}\n")
    write_submissions(course, [Case("lab-a", student, 10, OK_A) for student in STAMPS])
    for student, stamp in STAMPS.items():
        (course.dir("submitted") / student / "lab-a" / "timestamp.txt").write_text(stamp + "\n")
    with gradebook(course.db_url) as gb:
        gb.update_or_create_assignment("lab-a", duedate=DUE)
    summary = api.autograde(course, labs=["lab-a"], workers=1, sandbox="os", limits=TEST_LIMITS)
    assert {o.student: o.status for o in summary.outcomes} == {s: "graded" for s in STAMPS}, summary.outcomes
    with gradebook(course.db_url) as gb:
        return {s: (float(gb.find_submission("lab-a", s).score),
                    float(gb.find_submission("lab-a", s).late_submission_penalty)) for s in STAMPS}


@pytest.mark.slow
def test_a_late_submission_gets_the_configured_penalty_and_an_on_time_one_none(course, tmp_path):
    got = _grade(course, "zero")
    assert got == {"s-late": (10.0, 10.0), "s-on-time": (10.0, 0.0)}
    # nbgrader's own CSV export (what an instructor uploads) shows the penalised score
    out = tmp_path / "grades.csv"
    api.export(course, "csv", out)
    rows = {r["student_id"]: r for r in csv.DictReader(out.open())}
    assert float(rows["s-late"]["score"]) == 0.0 and float(rows["s-late"]["late_submission_penalty"]) == 10.0
    assert float(rows["s-on-time"]["score"]) == 10.0


@pytest.mark.slow
def test_without_a_configured_penalty_a_late_submission_keeps_its_score(course):
    # nbgrader's default method is "none": lateness is recorded (export's `late`), not punished
    assert _grade(course, "none") == {"s-late": (10.0, 0.0), "s-on-time": (10.0, 0.0)}
