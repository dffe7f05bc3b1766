"""The corpus of correct, partial, broken and malicious submissions gets its expected scores.

One autograde run (real nbgrader, real kernels, both fixture labs) per gradebook backend;
each corpus case is then checked on its own: total score, flags, gradebook integrity.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from grading_kit import TEST_LIMITS, copy_course, sandbox_kinds, scores, write_submissions
from grading_corpus import CORPUS, LOCK_FILE, RUNTIME_TAMPER

from grading import api
from grading.gradebook import done_rows, gradebook


@pytest.fixture(scope="module", params=sandbox_kinds())
def graded(request, course_template, tmp_path_factory):
    course = copy_course(course_template, tmp_path_factory.mktemp(f"corpus-{request.param}") / "course")
    write_submissions(course, CORPUS)
    # a28 checks that a27's file cannot cross submissions IN THIS RUN: a copy left on the host by
    # an older run (or an older checkout's grader) would make it score 10 for the wrong reason
    for d in ("/run/lock", "/var/tmp", "/dev/shm"):
        Path(d, LOCK_FILE).unlink(missing_ok=True)
    summary = api.autograde(course, workers=2, sandbox=request.param, limits=TEST_LIMITS)
    assert summary.sandbox == request.param
    return course, summary


@pytest.mark.slow
@pytest.mark.parametrize("case", CORPUS, ids=[c.student for c in CORPUS])
def test_submission_gets_expected_score(graded, case, request):
    if case.known_issue:
        request.applymarker(pytest.mark.xfail(reason=case.known_issue, strict=False))
    course, summary = graded
    got = scores(course)[(case.lab, case.student)]
    outcome = next(o for o in summary.outcomes if o.student == case.student)
    assert got == case.expected, f"{case.student}: {case.why} ({outcome.flags} {outcome.message})"
    assert case.flags <= outcome.flags, outcome.message
    for flag in ("tampered", "tampered-runtime"):   # no false alarm on honest submissions
        if flag not in case.flags:
            assert flag not in outcome.flags, (flag, outcome.message)


@pytest.mark.slow
def test_summary_counts_every_submission_once(graded):
    course, summary = graded
    assert sorted((o.lab, o.student) for o in summary.outcomes) == \
        sorted((c.lab, c.student) for c in CORPUS)
    counts = summary.counts()
    assert counts["failed"] == sum(1 for c in CORPUS if c.raw is not None)
    assert counts["tampered"] == sum(1 for c in CORPUS if "tampered" in c.flags)
    assert counts["timed out"] >= sum(1 for c in CORPUS if "timeout" in c.flags)
    with gradebook(course.db_url) as gb:
        rows = done_rows(gb)
    assert set(rows) == {(c.lab, c.student) for c in CORPUS}


@pytest.mark.slow
def test_hidden_tests_are_restored_and_graded(graded):
    course, _ = graded
    import nbformat
    nb = nbformat.read(str(course.autograded("lab-a", "a02-no-lowercase", "lab-a")), as_version=4)
    hidden = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_count_words_hidden"]
    assert len(hidden) == 1 and "### BEGIN HIDDEN TESTS" in hidden[0].source
    assert any(o.get("output_type") == "error" for o in hidden[0].outputs)


@pytest.mark.slow
def test_rerun_grades_nothing_again(graded):
    course, first = graded
    before = scores(course)
    summary = api.autograde(course, workers=2, sandbox=first.sandbox, limits=TEST_LIMITS)
    graded_again = [o for o in summary.outcomes if o.status == "graded"]
    assert graded_again == []
    # the unreadable notebook is retried (and fails again); everything else is skipped
    assert all(o.status in ("skipped", "failed") for o in summary.outcomes)
    assert scores(course) == before


@pytest.mark.slow
def test_student_code_finds_neither_gradebook_nor_hidden_tests(graded):
    import nbformat
    course, _ = graded
    nb = nbformat.read(str(course.autograded("lab-a", "a23-snoop", "lab-a")), as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "found []" in printed, printed[:500]


@pytest.mark.slow
def test_runtime_tamper_cases_end_by_the_guard_not_by_a_timeout(graded):
    # r04-r08 (a globally patched `type`/`sorted`) hung the unguarded kernel until the cell
    # timeout; under the guard every runtime-tamper case must end with its tests run and
    # failed, well within the cell timeout: graded, flagged, never timed out or crashed
    _, summary = graded
    for case in RUNTIME_TAMPER:
        outcome = next(o for o in summary.outcomes if o.student == case.student)
        assert outcome.status == "graded", (case.student, outcome.status, outcome.message)
        assert not outcome.flags & {"timeout", "crashed"}, (case.student, outcome.flags, outcome.message)
        assert "tampered-runtime" in outcome.flags, (case.student, outcome.message)
