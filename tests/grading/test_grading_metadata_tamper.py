"""Edited nbgrader metadata on an instructor cell is restored and flagged; the rest is graded.

Before the fix an unknown key (or a fake ``score``) on a test cell failed nbgrader's schema
validation of the whole notebook: a correct submission scored 0, ``autograde`` exited 1 and
every later run retried it. Real ``labchain-grade`` processes, real nbgrader, the OS sandbox.
"""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from grading_kit import scores, write_submissions
from grading_corpus import OK_A, Case, _cells

from grading.gradebook import done_rows, gradebook


def _edit_test_cell(**changes):
    def run(nb):
        for cell in _cells(nb, "test_count_words"):     # a locked test cell worth 2 points
            cell.metadata.nbgrader.update(changes)
    return run


CASES = [
    Case("lab-a", "m1-unknown-key", 10, OK_A, edit=_edit_test_cell(evil_key=1), flags=frozenset({"tampered"})),
    Case("lab-a", "m2-more-points", 10, OK_A, edit=_edit_test_cell(points=100), flags=frozenset({"tampered"})),
    Case("lab-a", "m3-fake-score", 10, OK_A, edit=_edit_test_cell(score=100, locked=False),
         flags=frozenset({"tampered"})),
]


def _autograde(course):
    return subprocess.run([sys.executable, "-m", "grading.cli", "autograde", "lab-a", "--course", course.root,
                           "--workers", "1", "--sandbox", "os", "--limit", "timeout_per_cell=5"],
                          capture_output=True, text=True, timeout=300, cwd=course.root)


@pytest.mark.slow
def test_edited_metadata_is_restored_flagged_and_the_notebook_graded_once(course):
    write_submissions(course, CASES)
    out = _autograde(course)
    assert out.returncode == 0, out.stdout + out.stderr
    for line in (r"graded\s+3", r"failed\s+0", r"tampered\s+3"):
        assert re.search(f"^{line}$", out.stdout, re.M), out.stdout
    got = scores(course)
    for case in CASES:
        # the points come from the release (max 10), not the student's 100
        assert got[(case.lab, case.student)] == case.expected, out.stdout
        assert f"{case.student}: " in out.stdout and "tampered" in out.stdout
    with gradebook(course.db_url) as gb:
        assert {(c.lab, c.student) for c in CASES} <= set(done_rows(gb))
        sub = gb.find_submission_notebook("lab-a", "lab-a", "m2-more-points")
        assert sub.max_score == 10
    again = _autograde(course)                          # nothing left to retry
    assert again.returncode == 0, again.stdout + again.stderr
    assert re.search(r"^graded\s+0$", again.stdout, re.M), again.stdout
    assert re.search(r"^skipped\s+3$", again.stdout, re.M), again.stdout
