"""Per-item isolation of the steps that run no kernel (collect, generate), Canvas rosters,
and CLI errors as one sentence and an exit code (issues #18 and #10 section 5).
About 25 s: three nbgrader generate runs and eight short CLI processes."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import nbformat
import pytest
from grading_kit import LABS

from grading import api
from grading.batch import EXIT_SOME_FAILED
from grading.course import Course

STUDENTS = ("ann", "bob", "cyd", "dee", "eve")


def _release_bytes(course, lab="lab-a") -> bytes:
    return nbformat.writes(nbformat.read(str(course.release(lab, lab)), as_version=4)).encode()


def _tree(course, root, students):
    for s in students:
        p = root / s / "lab-a" / "lab-a.ipynb"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(_release_bytes(course))
    return root


def grade(*args):
    return subprocess.run([sys.executable, "-m", "grading.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def test_collect_fails_only_the_bad_student_id_and_a_rerun_imports_just_the_fix(course, tmp_path):
    incoming = _tree(course, tmp_path / "in", (*STUDENTS, "bad id;rm"))
    (incoming / "notes.txt").write_text("not a submission")
    first = api.collect(course, incoming)
    assert sorted(s for s, _, _ in first.imported) == sorted(STUDENTS)
    assert [(o.split("/in/")[1], why) for o, why in first.failed] == [
        ("bad id;rm/lab-a/lab-a.ipynb", "'bad id;rm' is not a valid student id (letters, digits and _ . @ + - "
                                        "only, starting with a letter or digit); rename it and collect again.")]
    assert [why for _, why in first.skipped] == ["not a <student>/<lab>/<notebook>.ipynb file"]
    assert first.summary.exit_code == EXIT_SOME_FAILED
    saved = json.loads((course.dir("submitted") / "collect-summary.json").read_text())
    assert saved["counts"] == {"done": 5, "skipped": 1, "failed": 1}
    shutil.move(incoming / "bad id;rm", incoming / "fay")            # the instructor fixes the name
    second = api.collect(course, incoming)
    assert second.imported == [("fay", "lab-a", "lab-a")] and not second.failed
    statuses = {r.item.split("/in/")[1]: (r.status, r.reason) for r in second.summary.results}
    assert all(statuses[f"{s}/lab-a/lab-a.ipynb"] == ("skipped", "already imported (unchanged).") for s in STUDENTS)
    assert course.submissions("lab-a") == sorted((*STUDENTS, "fay"))


def test_canvas_roster_export_is_a_roster_and_unknown_ids_are_reported(course, tmp_path):
    roster = tmp_path / "canvas-roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Lab A (123)\n"
                      "    Points Possible,,,,,10\n"
                      "\"Lee, Ann\",1001,S-1,alee,A,\n"
                      "\"Doe, Bob\",1002,,bdoe,B,\n")
    zpath = tmp_path / "subs.zip"
    import zipfile
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("leeann_1001_555_lab-a.ipynb", _release_bytes(course))
        zf.writestr("doebob_late_1002_556_lab-a.ipynb", _release_bytes(course))
        zf.writestr("ghost_1009_557_lab-a.ipynb", _release_bytes(course))
    result = api.collect(course, zpath, roster=roster)
    assert sorted(result.imported) == [("1002", "lab-a", "lab-a"), ("S-1", "lab-a", "lab-a")]
    assert dict(result.failed) == {"ghost_1009_557_lab-a.ipynb": "student '1009' is not in the roster; add them "
                                   "to roster.csv (or map their LMS id) and collect again."}
    rows = course.roster()
    assert {k: rows["S-1"][k] for k in ("first_name", "last_name", "lms_user_id", "sis_login_id", "section")} == \
        {"first_name": "Ann", "last_name": "Lee", "lms_user_id": "1001", "sis_login_id": "alee", "section": "A"}
    assert rows["1002"]["sis_user_id"] == "" and "Points Possible" not in json.dumps(rows)
    meta = json.loads((course.dir("submitted") / "1002" / "lab-a" / "labchain.json").read_text())
    assert meta["late"] is True
    assert json.loads((course.dir("submitted") / "S-1" / "lab-a" / "labchain.json").read_text())["late"] is False


@pytest.mark.slow
def test_generate_fails_one_broken_lab_and_the_rerun_only_redoes_it(tmp_path):
    labs = tmp_path / "labs"
    shutil.copytree(LABS, labs)
    (labs / "lab-c").mkdir()
    nb = nbformat.read(str(labs / "lab-a" / "lab-a.ipynb"), as_version=4)
    good = nbformat.writes(nb)
    for cell in nb.cells:
        cell.source = cell.source.replace("### END SOLUTION", "")      # an unbalanced solution region
    (labs / "lab-c" / "lab-c.ipynb").write_text(nbformat.writes(nb))
    course = api.init(tmp_path / "course", labs, copy=True)
    first = api.generate(course)
    status = {r.item: (r.status, r.reason) for r in first.results}
    assert status["lab-a"] == ("done", "") and status["lab-b"] == ("done", "")
    assert status["lab-c"][0] == "failed" and "could not generate lab-c" in status["lab-c"][1]
    assert "END SOLUTION" in status["lab-c"][1] or "end solution" in status["lab-c"][1].lower()
    assert first.exit_code == EXIT_SOME_FAILED and course.release("lab-a", "lab-a").is_file()
    (course.dir("source") / "lab-c" / "lab-c.ipynb").write_text(good)
    second = api.generate(course)
    assert {r.item: r.status for r in second.results} == {"lab-a": "skipped", "lab-b": "skipped", "lab-c": "done"}
    assert json.loads((course.dir("release") / "generate-summary.json").read_text())["exit_code"] == 0


def test_cli_errors_are_one_sentence_and_an_exit_code(course, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cases = [
        (("report", "--course", course.root, "--out", blocker / "reports"), "cannot write the report to"),
        (("feedback", "--course", course.root, "no-such-lab"), "no lab named no-such-lab"),
        (("checks", "--course", course.root, "no-such-lab"), "no lab named no-such-lab"),
        (("collect", "--course", course.root, tmp_path / "missing.zip"), "does not exist"),
        (("export", "--course", course.root, "--out", blocker / "x.csv"), "cannot write"),
    ]
    for args, words in cases:
        out = grade(*args)
        assert out.returncode == 2, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("labchain-grade: error: ") and words in lines[0], \
            (args, out.stderr)
    out = grade("--help")
    assert "exit codes: 0 every item done or skipped; 1 some items failed" in " ".join(out.stdout.split())


def test_cli_collect_reports_failures_with_exit_1_and_no_library_warnings(course, tmp_path):
    incoming = _tree(course, tmp_path / "in", ("ann", "bad id;rm"))
    out = grade("collect", "--course", course.root, incoming)
    assert out.returncode == 1, out.stderr
    assert "bad id;rm/lab-a/lab-a.ipynb: failed: 'bad id;rm' is not a valid student id" in out.stdout
    assert "Warning" not in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert Course.open(course.root).submissions("lab-a") == ["ann"]
    out = grade("autograde", "--course", course.root, "--sandbox", "os", "--workers", "1", "--no-progress")
    assert out.returncode == 0, out.stderr          # nbgrader's SAWarnings printed here before
    assert "Warning" not in out.stderr and "Traceback" not in out.stderr, out.stderr
