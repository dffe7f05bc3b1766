"""Every class-wide step isolates each item (issue #18) and feedback tells the truth while
hiding only hidden tests (issue #10 section 4). Real nbgrader, real kernels (OS sandbox).

One class of lab-a submissions is graded once per module (~10 kernel runs, one 3 s
timeout); each test copies that course and poisons it for its step: the poisoned item is
reported with a reason, every other one gets its result, and a re-run after the fix
completes the poisoned one without redoing the others.
"""
from __future__ import annotations

import csv
import json
import re
import zipfile

import nbformat
import pytest
from grading_corpus import COUNT_OK, OK_A, OK_B, SHA_OK, Case, build
from grading_kit import copy_course

from grading import api
from grading.gradebook import gradebook

LIMITS = {"timeout_per_cell": 3, "timeout_total": 30}
MARKERS = ("# ### BEGIN HIDDEN TESTS in my notes\nNOTE = '### BEGIN HIDDEN TESTS'\n"
           "OTHER = '### BEGIN SOLUTION ### END SOLUTION ### END HIDDEN TESTS'\n")
LEAK = ("print(_ih[-2])\n"       # the previous cell's source: test_sha_hex_hidden, hidden tests included
        "get_ipython().events.register('pre_run_cell', lambda info: display("
        "{'text/plain': info.raw_cell}, raw=True))\n")
CLASS = [
    Case("lab-a", "s1-correct", 10, OK_A),
    Case("lab-a", "s2-markers", 10, {"sha_hex": MARKERS + SHA_OK, "count_words": COUNT_OK + MARKERS}),
    Case("lab-a", "s3-wrong-sha", 5, {"sha_hex": "def sha_hex(data):\n    return 'x'\n", "count_words": COUNT_OK}),
    Case("lab-a", "s4-untouched", 0, {}),
    Case("lab-a", "s5-timeout", 5, {"sha_hex": SHA_OK, "count_words": "while True:\n    pass\n"}),
    Case("lab-a", "s6-leaky", 10, {"sha_hex": SHA_OK, "count_words": COUNT_OK + LEAK}),
    Case("lab-b", "s1-correct", 8, OK_B),
]
HIDDEN_TEXT = ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "The the THE cat")


def _write(course, cases, dest):
    for case in cases:
        release = nbformat.read(str(course.release(case.lab, case.lab)), as_version=4)
        path = dest / case.student / case.lab / f"{case.lab}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(build(case, release))
    return dest


@pytest.fixture(scope="module")
def graded(course_template, tmp_path_factory):
    course = copy_course(course_template, tmp_path_factory.mktemp("batch") / "course")
    incoming = _write(course, CLASS, course.root.parent / "incoming")
    (incoming / "s1-correct" / "lab-a" / "timestamp.txt").write_text("2026-11-30 12:00:00.000000 UTC\n")
    roster = course.root.parent / "roster.csv"
    roster.write_text("id,lms_user_id\n" + "".join(f"{c.student},{2000 + n}\n" for n, c in enumerate(CLASS[:6])))
    late = course.root.parent / "canvas.zip"
    release_b = nbformat.read(str(course.release("lab-b", "lab-b")), as_version=4)
    with zipfile.ZipFile(late, "w") as zf:      # s2-markers hands lab-b in late through Canvas
        zf.writestr(zipfile.ZipInfo("markers_late_2001_77_lab-b.ipynb", (2026, 12, 1, 9, 30, 0)),
                    build(Case("lab-b", "s2-markers", 8, OK_B), release_b))
    assert api.collect(course, incoming, roster=roster).summary.exit_code == 0
    assert api.collect(course, late).imported == [("s2-markers", "lab-b", "lab-b")]
    summary = api.autograde(course, workers=2, sandbox="os", limits=LIMITS)
    assert {o.status for o in summary.outcomes} == {"graded"}, summary.table()
    return course


@pytest.fixture
def course(graded, tmp_path):
    return copy_course(graded.root, tmp_path / "course")


def _scores(course):
    from grading.export import collect_scores
    return {(lab, sid): e["score"] for sid, s in collect_scores(course)["students"].items()
            for lab, e in s["labs"].items()}


def _statuses(summary):
    return {r.item: (r.status, r.reason) for r in summary.results}


def _page(course, student, lab="lab-a"):
    return (course.dir("feedback") / student / lab / f"{lab}.html").read_text()


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html).replace("&#39;", "'").replace("&quot;", '"')


# --- autograde ---------------------------------------------------------------------------

@pytest.mark.slow
def test_marker_text_in_a_solution_cell_is_graded_as_code(graded):
    scores = _scores(graded)
    assert {s: scores[("lab-a", s)] for s in ("s1-correct", "s2-markers", "s5-timeout")} == \
        {"s1-correct": 10, "s2-markers": 10, "s5-timeout": 5}
    data = json.loads((graded.dir("autograded") / "autograde-summary.json").read_text())
    assert data["counts"] == {"done": 8, "skipped": 0, "failed": 0}
    assert {i["item"] for i in data["items"]} >= {"lab-a/s2-markers", "lab-b/s1-correct"}
    timeout = next(i for i in data["items"] if i["item"] == "lab-a/s5-timeout")
    assert "timeout" in timeout["flags"] and "cell 'count_words' ran longer than 3 s" in timeout["message"]


@pytest.mark.slow
def test_autograde_regrades_a_submission_whose_gradebook_row_is_missing(course):
    with gradebook(course.db_url) as gb:
        gb.remove_submission("lab-a", "s4-untouched")
    (course.submitted("lab-a", "s3-wrong-sha", "lab-a")).write_text("{ not json")
    api.autograde(course, ["lab-a"], workers=1, sandbox="os", limits=LIMITS, force=True,
                  students=["s3-wrong-sha"])
    summary = api.autograde(course, ["lab-a"], workers=1, sandbox="os", limits=LIMITS)
    by = {o.student: o for o in summary.outcomes}
    assert by["s4-untouched"].status == "graded"                    # its row was missing: graded again
    assert by["s3-wrong-sha"].status == "failed" and "unreadable" in by["s3-wrong-sha"].flags
    assert {s for s, o in by.items() if o.status == "skipped"} == {"s1-correct", "s2-markers", "s5-timeout",
                                                                   "s6-leaky"}
    data = json.loads((course.dir("autograded") / "autograde-summary.json").read_text())
    failed = [i for i in data["items"] if i["status"] == "failed"]
    assert [i["item"] for i in failed] == ["lab-a/s3-wrong-sha"] and "not a readable notebook" in failed[0]["reason"]
    assert data["exit_code"] == 1


# --- feedback ----------------------------------------------------------------------------

@pytest.mark.slow
def test_feedback_tells_the_truth_and_hides_only_hidden_tests(course):
    summary = api.feedback(course, ["lab-a"])
    assert summary.counts() == {"done": 6, "skipped": 0, "failed": 0}, summary.table()
    pages = {s: _page(course, s) for s in ("s1-correct", "s2-markers", "s3-wrong-sha",
                                           "s4-untouched", "s5-timeout", "s6-leaky")}
    for student, html in pages.items():
        for hidden in HIDDEN_TEXT:
            assert hidden not in html, (student, hidden)
        if student != "s2-markers":
            assert "BEGIN HIDDEN TESTS" not in html, student
    # marker text in the student's own cell is shown as written, not cut
    assert "'### BEGIN HIDDEN TESTS'" in _text(pages["s2-markers"])
    assert "### BEGIN HIDDEN TESTS in my notes" in _text(pages["s2-markers"])
    # a failure raised inside the hidden region: one line; the visible test keeps its traceback
    wrong = _text(pages["s3-wrong-sha"])
    assert wrong.count("A hidden test failed") == 1 and "assert r == 'ba7816bf" in wrong
    # an unsolved exercise says so
    assert "not implemented yet" in _text(pages["s4-untouched"])
    assert "A hidden test failed" not in _text(pages["s4-untouched"])
    # a test that never ran names the cell that timed out by its nbgrader id
    # (both count_words tests, the one with hidden tests too)
    assert _text(pages["s5-timeout"]).count("did not run because cell 'count_words' timed out") == 2
    # a real hidden failure: one line, no traceback
    with gradebook(course.db_url) as gb:
        assert gb.find_grade("test_count_words_hidden", "lab-a", "lab-a", "s5-timeout").score == 0
    # the leaky student printed the hidden tests: removed, the rest of the output kept
    assert "[hidden test text removed]" in _text(pages["s6-leaky"])


@pytest.mark.slow
def test_a_visible_failure_vs_a_hidden_one_is_told_by_line_number(course):
    from grading.feedback import failing_line

    nb_path = course.autograded("lab-a", "s3-wrong-sha", "lab-a")
    nb = nbformat.read(str(nb_path), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_sha_hex_hidden")
    error = next(o for o in cell.outputs if o.output_type == "error")     # the real kernel's traceback
    hidden_line = cell.source.split("\n").index(next(ln for ln in cell.source.split("\n")
                                                     if ln.startswith("assert r == 'e3b0"))) + 1
    assert failing_line(error.traceback, cell.execution_count) == hidden_line
    # the same traceback pointing at line 2, the visible guard: now a visible failure
    error.traceback = [re.sub(rf"line {hidden_line}\b", "line 2", t) for t in error.traceback]
    error.evalue = "builtins were tampered with"
    nbformat.write(nb, str(nb_path))
    api.feedback(course, ["lab-a"], students=["s3-wrong-sha"])
    text = _text(_page(course, "s3-wrong-sha"))
    assert "AssertionError: builtins were tampered with" in text and "in the visible test, line 2" in text
    assert "A hidden test failed" not in text and "e3b0c442" not in text


@pytest.mark.slow
def test_one_unrenderable_notebook_gets_a_page_saying_why_and_is_retried(course):
    nb_path = course.autograded("lab-a", "s1-correct", "lab-a")
    good = nb_path.read_bytes()
    broken = json.loads(good)
    for cell in broken["cells"]:
        if cell["cell_type"] == "markdown":
            cell["source"] = {"not": "text"}         # nbformat reads it, nbconvert cannot render it
    nb_path.write_text(json.dumps(broken))
    nbformat.read(str(nb_path), as_version=4)
    first = api.feedback(course, ["lab-a"])
    status = _statuses(first)
    assert status["lab-a/s1-correct"][0] == "failed" and "could not be rendered" in status["lab-a/s1-correct"][1]
    assert {k: v[0] for k, v in status.items() if k != "lab-a/s1-correct"} == \
        {f"lab-a/{s}": "done" for s in ("s2-markers", "s3-wrong-sha", "s4-untouched", "s5-timeout", "s6-leaky")}
    assert first.exit_code == 1
    page = _page(course, "s1-correct")
    assert "could not be rendered" in page and "Why:" in page
    data = json.loads((course.dir("feedback") / "feedback-summary.json").read_text())
    assert data["counts"] == {"done": 5, "skipped": 0, "failed": 1}
    nb_path.write_bytes(good)                               # the cause is fixed
    second = api.feedback(course, ["lab-a"])
    status = _statuses(second)
    assert status["lab-a/s1-correct"][0] == "done" and second.exit_code == 0
    assert {v for k, v in status.items() if k != "lab-a/s1-correct"} == {("skipped", "unchanged since the last run")}
    assert "could not be rendered" not in _page(course, "s1-correct")


# --- export ------------------------------------------------------------------------------

@pytest.mark.slow
def test_export_reports_a_submission_missing_from_the_gradebook_and_bad_ids(course, tmp_path):
    with gradebook(course.db_url) as gb:
        gb.remove_submission("lab-a", "s4-untouched")
        gb.add_student("=HYPERLINK(\"http://x\")")
        gb.update_or_create_student("s1-correct", first_name="Ann", last_name="=cmd|' /C calc'!A0")
    out, report, summary = api.export(course, "canvas")
    status = _statuses(summary)
    assert status["s4-untouched"][0] == "failed" and "no grade in the gradebook" in status["s4-untouched"][1]
    assert status['=HYPERLINK("http://x")'][0] == "failed" and "not a valid student id" in status['=HYPERLINK("http://x")'][1]
    assert {k for k, v in status.items() if v[0] == "done"} == {"s1-correct", "s2-markers", "s3-wrong-sha",
                                                               "s5-timeout", "s6-leaky"}
    rows = list(csv.reader(out.open()))
    by_id = {r[2]: r for r in rows[2:]}
    assert set(by_id) == {"s1-correct", "s2-markers", "s3-wrong-sha", "s4-untouched", "s5-timeout", "s6-leaky"}
    assert by_id["s1-correct"][0] == "'=cmd|' /C calc'!A0, Ann"       # not a formula
    assert not any(cell.startswith("=") for r in rows for cell in r)
    assert by_id["s4-untouched"][5] == "" and by_id["s2-markers"][5:] == ["10", "8"]
    saved = json.loads(out.with_name("grades-canvas-summary.json").read_text())
    assert saved["exit_code"] == 1 and saved["counts"]["failed"] == 2
    api.autograde(course, ["lab-a"], workers=1, sandbox="os", limits=LIMITS)   # the fix: grade it
    _, _, again = api.export(course, "canvas")
    assert _statuses(again)["s4-untouched"] == ("done", "")
    rows = {r[2]: r for r in csv.reader(out.open())}
    assert rows["s4-untouched"][5] == "0" and rows["s2-markers"][5] == "10"


@pytest.mark.slow
def test_late_marker_and_timestamps_reach_the_gradebook_and_the_export(graded, tmp_path):
    meta = json.loads((graded.dir("submitted") / "s2-markers" / "lab-b" / "labchain.json").read_text())
    assert meta["late"] is True and meta["timestamp"] == "2026-12-01T09:30:00+00:00"
    assert (graded.dir("submitted") / "s2-markers" / "lab-b" / "timestamp.txt").read_text().startswith(
        "2026-12-01 09:30:00")
    _, report, _ = api.export(graded, "moodle", tmp_path / "m.csv")
    labs = json.loads(report.read_text())["students"]
    assert labs["s2-markers"]["labs"]["lab-b"]["late"] is True
    assert labs["s2-markers"]["labs"]["lab-b"]["timestamp"].startswith("2026-12-01T09:30:00")
    assert labs["s1-correct"]["labs"]["lab-a"]["timestamp"].startswith("2026-11-30T12:00:00")
    assert labs["s1-correct"]["labs"]["lab-a"]["late"] is False
    out, _, _ = api.export(graded, "csv", tmp_path / "n.csv")       # nbgrader's own export has it too
    rows = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(out.open())}
    assert rows[("lab-b", "s2-markers")]["timestamp"].startswith("2026-12-01 09:30:00")


# --- report ------------------------------------------------------------------------------

@pytest.mark.slow
def test_report_failure_of_one_lab_leaves_the_other_and_is_retried(course):
    reports = course.dir("reports")
    (reports / "lab-a-scores.png").mkdir(parents=True)       # cannot be written: a folder is there
    first = api.report(course)
    status = _statuses(first)
    assert status["lab-a"][0] == "failed" and "lab-a-scores.png" in status["lab-a"][1]
    assert status["lab-b"][0] == "done" and first.exit_code == 1
    assert (reports / "lab-b-cells.png").read_bytes()[:4] == b"\x89PNG"
    (reports / "lab-a-scores.png").rmdir()
    second = api.report(course)
    assert _statuses(second) == {"lab-a": ("done", ""), "lab-b": ("skipped", "unchanged since the last run")}
    assert (reports / "lab-a-scores.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((reports / "report-summary.json").read_text())["exit_code"] == 0
