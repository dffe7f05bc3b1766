"""A worker SIGKILLed mid-batch (real Redis, real worker processes, real nbgrader): every task
it held is redelivered and finished by the other worker; every submission is graded exactly
once (summary, gradebook rows, logs)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from grading_corpus import OK_A, Case
from grading_kit import TEST_VISIBILITY, scores, write_submissions

from grading.gradebook import done_rows, gradebook

pytestmark = pytest.mark.slow


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


SLOW = "import time\ntime.sleep(0.5)\n"       # keeps tasks in flight long enough to kill one
CASES = [Case("lab-a", f"s{i:02d}", 10 if i % 2 else 5,
              {"sha_hex": SLOW + OK_A["sha_hex"] if i % 2 else SLOW + "def sha_hex(d):\n    return ''\n",
               "count_words": OK_A["count_words"]}) for i in range(16)]
TASK_LINE = re.compile(r"Task labchain\.grading\.execute\[(lcg-[0-9a-f]+)\] (received|succeeded)")


def _tasks(log: Path, what: str) -> set[str]:
    return {m[1] for m in TASK_LINE.finditer(log.read_text(errors="replace")) if m[2] == what}


@pytest.mark.long     # over half a minute on 2 cores: `make test-long` (README)
def test_worker_killed_mid_batch_loses_nothing_and_grades_each_submission_once(
        course, queue_url, start_worker):
    write_submissions(course, CASES)
    doomed, survivor = start_worker("doomed"), start_worker("survivor")
    cmd = [sys.executable, "-m", "grading.cli", "autograde", "--course", str(course.root),
           "--queue", queue_url, "--visibility-timeout", str(TEST_VISIBILITY), "--sandbox", "os", "--no-progress",
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
