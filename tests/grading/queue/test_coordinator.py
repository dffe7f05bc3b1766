"""autograde --queue: a coordinator and real Celery workers on loopback (real Redis, real
nbgrader, real sandboxes) grade like local grading, and a worker SIGKILLed mid-batch loses
nothing and grades nothing twice."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from grading_corpus import CORPUS, LOCK_FILE, OK_A, Case
from grading_kit import TEST_LIMITS, copy_course, scores, write_submissions

from grading import api
from grading.gradebook import done_rows, gradebook

pytestmark = pytest.mark.slow

#: one corpus case of each kind (correct, partial, crash, timeout, tampering, snooping for the
#: gradebook and hidden tests, unreadable, runtime tampering, both labs): the whole corpus is
#: tests/grading/test_grading_corpus.py's; here each kind must score as locally
KINDS = ("a01-correct", "a02-no-lowercase", "a05-syntax-error", "a08-patch-builtins", "a12-os-exit",
         "a13-infinite-loop", "a17-deleted-tests", "a19-edited-tests", "a23-snoop", "a24-not-a-notebook",
         "a27-leave-answer-in-run-lock", "a28-take-answer-from-run-lock",
         "a30-search-filesystem-for-hidden-tests", "b01-correct", "b02-prime-of-one", "b06-recursion",
         "r01-input-transformer", "r14-fake-do-execute")
CLASS = [c for c in CORPUS if c.student in KINDS]


def _clear_cross_submission_files():
    # corpus case a28 checks that a27's file cannot cross submissions in this run (see
    # tests/grading/test_grading_corpus.py): leftovers of an earlier run must not count
    for d in ("/run/lock", "/var/tmp", "/dev/shm"):
        Path(d, LOCK_FILE).unlink(missing_ok=True)


def _gradebook_counts(course) -> tuple[dict, dict]:
    """(completion rows, {(lab, student): number of nbgrader submissions})."""
    from nbgrader.api import Assignment, Student, SubmittedAssignment

    with gradebook(course.db_url) as gb:
        rows = done_rows(gb)
        subs = (gb.db.query(Assignment.name, Student.id).select_from(SubmittedAssignment)
                .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
                .join(Student, SubmittedAssignment.student_id == Student.id).all())
    counts: dict = {}
    for key in subs:
        counts[tuple(key)] = counts.get(tuple(key), 0) + 1
    return rows, counts


def test_two_workers_grade_a_class_with_the_scores_of_local_grading(
        course_template, tmp_path, queue_url, start_worker):
    local = copy_course(course_template, tmp_path / "local")
    remote = copy_course(course_template, tmp_path / "remote")
    for course in (local, remote):
        write_submissions(course, CLASS, tmp_path / f"incoming-{course.root.name}")
    _clear_cross_submission_files()
    local_summary = api.autograde(local, workers=2, sandbox="os", limits=TEST_LIMITS)
    start_worker("w1")
    start_worker("w2")
    _clear_cross_submission_files()
    summary = api.autograde(remote, sandbox="os", limits=TEST_LIMITS, queue=queue_url)

    assert summary.sandbox == "os via queue"
    assert scores(remote) == scores(local)
    assert len(scores(remote)) == len(CLASS) == len(KINDS)
    assert {c.student: scores(remote)[(c.lab, c.student)] for c in CLASS} == \
        {c.student: c.expected for c in CLASS}
    by_item = {(o.lab, o.student): o for o in summary.outcomes}
    for o in local_summary.outcomes:
        got = by_item[(o.lab, o.student)]
        assert (got.status, got.score, got.flags) == (o.status, o.score, o.flags), o.student
    assert summary.counts() == local_summary.counts()
    # the same summary file as local grading, item by item
    written = json.loads((remote.root / "autograded" / "autograde-summary.json").read_text())
    local_written = json.loads((local.root / "autograded" / "autograde-summary.json").read_text())
    assert [(i["item"], i["status"], i["score"]) for i in written["items"]] == \
        [(i["item"], i["status"], i["score"]) for i in local_written["items"]]
    # a rerun grades nothing again (completion rows), as locally
    again = api.autograde(remote, sandbox="os", limits=TEST_LIMITS, queue=queue_url)
    assert again.counts()["graded"] == 0
    assert again.counts()["skipped"] == summary.counts()["graded"] == len(CLASS) - 1   # a24 is retried


SLOW = "import time\ntime.sleep(0.5)\n"       # keeps tasks in flight long enough to kill one
CASES = [Case("lab-a", f"s{i:02d}", 10 if i % 2 else 5,
              {"sha_hex": SLOW + OK_A["sha_hex"] if i % 2 else SLOW + "def sha_hex(d):\n    return ''\n",
               "count_words": OK_A["count_words"]}) for i in range(16)]
TASK_LINE = re.compile(r"Task labchain\.grading\.execute\[(lcg-[0-9a-f]+)\] (received|succeeded)")


def _tasks(log: Path, what: str) -> set[str]:
    return {m[1] for m in TASK_LINE.finditer(log.read_text(errors="replace")) if m[2] == what}


def test_worker_killed_mid_batch_loses_nothing_and_grades_each_submission_once(
        course, queue_url, start_worker):
    write_submissions(course, CASES)
    doomed, survivor = start_worker("doomed"), start_worker("survivor")
    cmd = [sys.executable, "-m", "grading.cli", "autograde", "--course", str(course.root),
           "--queue", queue_url, "--sandbox", "os", "--no-progress",
           "--limit", "timeout_per_cell=10", "--limit", "timeout_total=30"]
    coordinator = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # kill the worker while it holds a task it received and has not finished
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and coordinator.poll() is None:
            in_flight = _tasks(doomed.log, "received") - _tasks(doomed.log, "succeeded")
            if _tasks(doomed.log, "succeeded") and in_flight:
                break
            time.sleep(0.05)
        assert coordinator.poll() is None, "the batch finished before a worker could be killed"
        doomed.kill()
        lost = _tasks(doomed.log, "received") - _tasks(doomed.log, "succeeded")
        out, err = coordinator.communicate(timeout=300)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
    assert coordinator.returncode == 0, out + err
    assert lost, "the killed worker held no task"
    # every task the killed worker held was redelivered and finished by the other worker
    assert lost <= _tasks(survivor.log, "succeeded")

    summary = json.loads((course.root / "autograded" / "autograde-summary.json").read_text())
    items = [i["item"] for i in summary["items"]]
    assert sorted(items) == sorted(f"lab-a/{c.student}" for c in CASES)       # each exactly once
    assert summary["counts"] == {"done": 16, "failed": 0, "skipped": 0}
    rows, submissions = _gradebook_counts(course)
    assert set(rows) == {("lab-a", c.student) for c in CASES}
    assert all(r["status"] == "graded" for r in rows.values())
    assert submissions == {("lab-a", c.student): 1 for c in CASES}
    assert scores(course) == {("lab-a", c.student): c.expected for c in CASES}
    for c in CASES:       # one recorded grading per student in the per-submission log
        log = course.log_path("lab-a", c.student).read_text()
        assert log.count("recorded status=graded") == 1, log
