"""The parent's throughput shortcuts give exactly what nbgrader's own code gives.

- ``InstructorNotebook`` (the gradebook's record of a notebook, read once per run) answers
  like nbgrader's ``Gradebook``, and sanitizing with it yields the same notebook as
  nbgrader's ``OverwriteKernelspec`` + ``OverwriteCells`` opening the gradebook themselves.
- The gradebook writer's group commit: one submission that cannot be saved costs only
  itself; the others of its batch are committed and recorded.
"""
from __future__ import annotations

import copy
import logging
import queue

import nbformat
import pytest
from sqlalchemy import inspect as sa_inspect
from grading_corpus import CORPUS, build
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import OverwriteCells, OverwriteKernelspec

from grading.autograde import Outcome, _Writer
from grading.gradebook import done_rows, gradebook
from grading.instructor import InstructorNotebook
from grading.options import AutogradeOptions
from grading.pipeline import SANITIZE, Context, run_steps


def _ctx(course, student, lab="lab-a", instructor=None):
    release = nbformat.read(str(course.release(lab, lab)), as_version=4)
    return Context(lab=lab, student=student, notebook=lab, db_url=course.db_url, release=release,
                   options=AutogradeOptions(), log=logging.getLogger("test"), instructor=instructor)


def test_snapshot_answers_like_the_gradebook(course):
    with Gradebook(course.db_url) as gb:
        snap = InstructorNotebook.load(gb, "lab-a", "lab-a")
        real = gb.find_notebook("lab-a", "lab-a")
        assert snap.kernelspec == real.kernelspec
        assert [c.name for c in snap.source_cells] == [c.name for c in real.source_cells]
        for cell in real.source_cells:
            mine = snap.find_source_cell(cell.name, "lab-a", "lab-a")
            assert (mine.checksum, mine.locked, mine.source, mine.cell_type) == \
                (cell.checksum, cell.locked, cell.source, cell.cell_type)
        for cell in [*real.grade_cells, *real.task_cells]:
            assert snap.find_graded_cell(cell.name, "lab-a", "lab-a").max_score == cell.max_score
    with pytest.raises(MissingEntry):
        snap.find_source_cell("no_such_cell", "lab-a", "lab-a")
    with pytest.raises(MissingEntry):
        snap.find_graded_cell("test_sha_hex", "lab-b", "lab-a")


@pytest.mark.parametrize("case", [c for c in CORPUS if c.raw is None],
                         ids=lambda c: c.student)
def test_sanitizing_with_the_snapshot_equals_nbgraders_own_steps(course, case):
    with Gradebook(course.db_url) as gb:
        snapshot = InstructorNotebook.load(gb, case.lab, case.lab)
    ctx = _ctx(course, case.student, case.lab, instructor=snapshot)
    submitted = nbformat.reads(build(case, ctx.release).decode(), as_version=4)  # (fixes cell ids once)
    ours = run_steps(copy.deepcopy(submitted), ctx, SANITIZE)

    # the same steps with nbgrader's preprocessors, each opening the gradebook itself
    theirs = copy.deepcopy(submitted)
    ref = _ctx(course, case.student, case.lab)
    for step in SANITIZE:
        if step.name == "overwrite_kernelspec":
            theirs, _ = OverwriteKernelspec().preprocess(theirs, ref.resources)
        elif step.name == "overwrite_cells":
            theirs, _ = OverwriteCells(add_missing_cells=True).preprocess(theirs, ref.resources)
        else:
            theirs = step.run(theirs, ref)
    assert ours == theirs
    assert ctx.flags == ref.flags


def test_a_failed_group_commit_leaves_no_object_whose_row_was_rolled_back(course):
    """After the rollback the writer's session holds only rows that exist: CI once failed a
    sound submission with ObjectDeletedError because the failed one's Student stayed in the
    identity map, expired and rowless, and the next save met it."""
    release = nbformat.read(str(course.release("lab-a", "lab-a")), as_version=4)
    blocked = course.autograded("lab-a", "w2", "lab-a").parent
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("a file where w2's folder should be")
    writer = _Writer(course, run_id="r1")
    batch = [((Outcome("lab-a", s), [(_ctx(course, s), nbformat.from_dict(release))]),
              queue.Queue(maxsize=1)) for s in ("w1", "w2")]
    with gradebook(course.db_url) as gb:
        writer._save_batch(gb, batch)
        assert batch[0][1].get_nowait() is None
        assert isinstance(batch[1][1].get_nowait(), OSError)
        for obj in list(gb.db.identity_map.values()):
            sa_inspect(obj).session.refresh(obj)      # raises ObjectDeletedError on a ghost


def test_a_submission_that_cannot_be_saved_costs_only_itself_in_a_group_commit(course):
    release = nbformat.read(str(course.release("lab-a", "lab-a")), as_version=4)
    students = ["w1", "w2", "w3"]
    blocked = course.autograded("lab-a", "w2", "lab-a").parent
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("a file where w2's folder should be")        # w2's notebook cannot be written
    writer = _Writer(course, run_id="r1")
    batch = [((Outcome("lab-a", s), [(_ctx(course, s), nbformat.from_dict(release))]),
              queue.Queue(maxsize=1)) for s in students]
    with gradebook(course.db_url) as gb:
        writer._save_batch(gb, batch)
    results = {s: done.get_nowait() for s, (_, done) in zip(students, batch)}
    assert results["w1"] is None and results["w3"] is None
    assert isinstance(results["w2"], OSError)
    with gradebook(course.db_url) as gb:
        rows = done_rows(gb, "lab-a")
        assert set(rows) == {("lab-a", "w1"), ("lab-a", "w3")}
        with pytest.raises(MissingEntry):
            gb.find_submission("lab-a", "w2")
    for s in ("w1", "w3"):
        assert course.autograded("lab-a", s, "lab-a").is_file()
