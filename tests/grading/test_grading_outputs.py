"""feedback (hidden tests withheld), export (Canvas, Moodle, CSV, JSON) and report figures."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from grading_kit import TEST_LIMITS, copy_course, write_submissions
from grading_corpus import CORPUS

from grading import api

PICK = ("a01-correct", "a02-no-lowercase", "a19-edited-tests", "b01-correct")


@pytest.fixture(scope="module")
def graded(course_template, tmp_path_factory):
    course = copy_course(course_template, tmp_path_factory.mktemp("outputs") / "course")
    roster = course.root.parent / "roster.csv"
    roster.write_text("id,first_name,last_name,email,lms_user_id,sis_user_id,sis_login_id,section\n"
                      "a01-correct,Ann,Lee,ann@uni.edu,1001,S-1,alee,A\n")
    write_submissions(course, [c for c in CORPUS if c.student in PICK])
    api.collect(course, course.root.parent / "incoming", roster=roster)
    api.autograde(course, workers=2, sandbox="os", limits=TEST_LIMITS)
    return course


@pytest.mark.slow
def test_feedback_withholds_hidden_tests_unless_asked(graded):
    done = api.feedback(graded, ["lab-a"])
    assert [r.item for r in done.results if r.status == "done"] == \
        ["lab-a/a01-correct", "lab-a/a02-no-lowercase", "lab-a/a19-edited-tests"]
    html = (graded.dir("feedback") / "a02-no-lowercase" / "lab-a" / "lab-a.html").read_text()
    assert "a b a" in html                       # the visible test is shown
    assert "The the THE cat" not in html and "BEGIN HIDDEN TESTS" not in html
    assert "A hidden test failed" in html
    api.feedback(graded, ["lab-a"], show_hidden=True, students=["a02-no-lowercase"])
    html = (graded.dir("feedback") / "a02-no-lowercase" / "lab-a" / "lab-a.html").read_text()
    assert "The the THE cat" in html


@pytest.mark.slow
def test_canvas_export_has_canvas_columns_and_scores(graded):
    out, report, _ = api.export(graded, "canvas")
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "lab-a", "lab-b"]
    assert rows[1][0].strip() == "Points Possible" and rows[1][5:] == ["10", "8"]
    by_sis = {r[2]: r for r in rows[2:]}
    assert by_sis["S-1"][:5] == ["Lee, Ann", "1001", "S-1", "alee", "A"]
    assert by_sis["S-1"][5] == "10"
    assert by_sis["a02-no-lowercase"][5:] == ["7", ""]
    data = json.loads(report.read_text())
    a19 = data["students"]["a19-edited-tests"]["labs"]["lab-a"]
    assert a19["score"] == 5 and "tampered" in a19["flags"]
    assert a19["cells"]["test_sha_hex"] == {"score": 0.0, "max_score": 2.0}


@pytest.mark.slow
def test_moodle_and_csv_exports(graded, tmp_path):
    out, _, _ = api.export(graded, "moodle", tmp_path / "moodle.csv")
    rows = list(csv.DictReader(out.open()))
    assert {r["ID number"]: r["lab-b"] for r in rows}["b01-correct"] == "8"
    assert {r["ID number"]: r["Email address"] for r in rows}["a01-correct"] == "ann@uni.edu"
    out, _, _ = api.export(graded, "csv", tmp_path / "nbgrader.csv")
    rows = list(csv.DictReader(out.open()))
    assert {"assignment", "student_id", "raw_score", "score", "max_score"} <= set(rows[0])
    assert {(r["assignment"], r["student_id"]): float(r["score"]) for r in rows}[("lab-a", "a02-no-lowercase")] == 7


@pytest.mark.slow
def test_report_writes_png_figures_per_lab(graded, tmp_path):
    paths = [p for r in api.report(graded, tmp_path / "reports").results for p in map(Path, r.outputs)]
    assert sorted(p.name for p in paths) == ["lab-a-cells.png", "lab-a-scores.png", "lab-b-cells.png", "lab-b-scores.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 2000
