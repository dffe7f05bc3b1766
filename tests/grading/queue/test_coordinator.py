"""autograde --queue: a coordinator and real Celery workers on loopback (real Redis, real
nbgrader, real sandboxes) grade like local grading (the kill test: test_coordinator_kill.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from grading_corpus import CORPUS, LOCK_FILE
from grading_kit import TEST_LIMITS, copy_course, scores, write_submissions

from grading import api

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


@pytest.mark.long     # over half a minute on 2 cores: `make test-long` (README)
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
