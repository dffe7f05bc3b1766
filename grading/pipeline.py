"""The autograde pipeline: an ordered list of small named steps around the sandbox.

Mirrors ``nbgrader autograde`` (sanitize, execute, save grades) and reuses nbgrader's own
preprocessors through its Python API. Where each step runs:

- sanitize steps run in the trusted parent, on the submitted file;
- ``execute`` hands the sanitized notebook to ``grading.sandbox`` (the only step that runs
  student code, in isolation; it never sees the gradebook);
- ``save_grades`` runs in the single gradebook writer (see ``grading.autograde``).

Each step is ``step(nb, ctx) -> nb``; ``ctx`` (:class:`Context`) carries the submission's
identity, the executor, the flags found so far (``tampered``, ``timeout``...) and its logger.
``STEPS`` is the list ``run_steps`` walks; ``describe_steps()`` prints it for the docs.
"""
from __future__ import annotations

import copy
import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import nbformat
from nbformat import NotebookNode
from nbgrader import utils as nbutils
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearOutput,
                                    DeduplicateIds, LimitOutput, OverwriteCells, SaveAutoGrades)

from grading.errors import SubmissionError
from grading.instructor import InstructorNotebook
from grading.options import AutogradeOptions

#: ExecResult statuses of grading.sandbox, and the flag each sets on a submission
STATUS_FLAGS = {"timeout": "timeout", "crashed": "crashed", "error": "failed"}


@dataclass
class Context:
    """One submission on its way through the pipeline."""

    lab: str
    student: str
    notebook: str            # nbgrader notebook id (file stem)
    db_url: str
    release: NotebookNode    # the instructor's student version (trusted copy in COURSE/release)
    options: AutogradeOptions
    log: logging.Logger
    executor: object = None  # a grading.sandbox executor
    files: dict = field(default_factory=dict)   # data files the notebook may open (name -> bytes)
    check_cells: frozenset = frozenset()        # grade cells scored by live-chain checks instead
    instructor: InstructorNotebook | None = None  # the gradebook's record of the notebook (cached)
    flags: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    exec_status: str = ""
    exec_message: str = ""
    exec_seconds: float = 0.0
    exec_waited: float = 0.0   # time spent waiting for a free sandbox (not the submission's)

    def flag(self, flag: str, why: str) -> None:
        self.flags.add(flag)
        self.problems.append(why)
        self.log.warning("%s: %s", flag, why)

    def instructor_notebook(self) -> InstructorNotebook:
        """The gradebook's record of this notebook: the cached snapshot ``autograde`` read
        once per lab, else read now."""
        if self.instructor is None:
            self.instructor = InstructorNotebook.from_url(self.db_url, self.notebook, self.lab)
        return self.instructor

    @property
    def resources(self) -> dict:
        return {"nbgrader": {"notebook": self.notebook, "assignment": self.lab,
                             "student": self.student, "db_url": self.db_url}}


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    description: str
    run: Callable[[NotebookNode, Context], NotebookNode]
    where: str = "parent"    # "parent", "sandbox" or "writer"


def _nbgrader(cls, **traits) -> Callable[[NotebookNode, Context], NotebookNode]:
    """Wrap one of nbgrader's preprocessors as a step (a fresh instance per submission)."""

    def run(nb: NotebookNode, ctx: Context) -> NotebookNode:
        pp = cls(**traits)
        pp.log = ctx.log
        nb, _ = pp.preprocess(nb, ctx.resources)
        return nb

    run.__name__ = cls.__name__
    return run


# --- tampering ---------------------------------------------------------------------------

def _graded_ids(nb: NotebookNode) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if "grade_id" in c.metadata.get("nbgrader", {})]


def detect_tampering(nb: NotebookNode, ctx: Context) -> NotebookNode:
    """Flag deleted, duplicated and edited instructor cells (checksums as nbgrader computes them).

    The reference is the release notebook in the course folder, not the checksum stored in
    the submission's own metadata (which a student can edit).
    """
    reference = {c.metadata["nbgrader"]["grade_id"]: c for c in ctx.release.cells
                 if "grade_id" in c.metadata.get("nbgrader", {})}
    seen = Counter(_graded_ids(nb))
    for grade_id, count in seen.items():
        if count > 1 and grade_id in reference:
            ctx.flag("tampered", f"cell {grade_id!r} appears {count} times")
    for grade_id, ref in reference.items():
        if grade_id not in seen:
            ctx.flag("tampered", f"cell {grade_id!r} was deleted")
    done = set()
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        ref = reference.get(grade_id)
        if ref is None or grade_id in done or not nbutils.is_locked(ref):
            continue
        done.add(grade_id)
        probe = nbformat.from_dict(dict(cell, metadata=dict(cell.metadata, nbgrader=ref.metadata.nbgrader)))
        if cell.cell_type != ref.cell_type or nbutils.compute_checksum(probe) != nbutils.compute_checksum(ref):
            ctx.flag("tampered", f"locked cell {grade_id!r} was edited")
    restore_cell_metadata(nb, ctx, reference)
    drop_foreign_grade_ids(nb, ctx, reference)
    return nb


def drop_foreign_grade_ids(nb: NotebookNode, ctx: Context, reference: dict) -> None:
    """Strip the nbgrader metadata of every cell whose grade id the release does not have,
    and flag it: the instructor's cells are the only source of grade, solution and locked
    cells. A student cell marked ``grade``/``locked`` with a new id would otherwise be
    graded (points the lab does not have) or turned into a locked cell; it runs as a plain
    cell instead."""
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if grade_id in reference:
            continue
        del cell.metadata["nbgrader"]
        if any(meta.get(k) for k in ("grade", "solution", "locked", "task")) if isinstance(meta, dict) else True:
            ctx.flag("tampered", f"a cell with nbgrader metadata not in the release ({grade_id!r}) was ignored")


def restore_cell_metadata(nb: NotebookNode, ctx: Context, reference: dict) -> None:
    """Put back the release's nbgrader metadata of every instructor cell whose metadata the
    student edited (an unknown key, other points, a fake score, ``locked`` removed), and flag it.

    Without this, a key nbgrader's schema does not know fails validation of the whole
    notebook: a correct submission scored nothing and was retried on every run.
    Points and locks always come from the release, never from the submission.
    """
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        ref = reference.get(grade_id)
        if ref is None or dict(cell.metadata["nbgrader"]) == dict(ref.metadata.nbgrader):
            continue
        cell.metadata["nbgrader"] = copy.deepcopy(ref.metadata.nbgrader)
        if f"locked cell {grade_id!r} was edited" not in ctx.problems:
            ctx.flag("tampered", f"metadata of cell {grade_id!r} was edited")


def restore_deleted_cells(nb: NotebookNode, ctx: Context) -> NotebookNode:
    """Put back, from the release version, every nbgrader cell the student deleted.

    A restored cell goes right after the nearest preceding nbgrader cell that is present,
    so a test still runs after the solution it tests; its hidden tests are put back by
    ``overwrite_cells`` like everyone else's. A restored solution cell is the unanswered stub.
    """
    if not ctx.options.restore_deleted_cells:
        return nb
    present = set(_graded_ids(nb))
    order = [c for c in ctx.release.cells if "grade_id" in c.metadata.get("nbgrader", {})]
    for i, ref in enumerate(order):
        grade_id = ref.metadata.nbgrader["grade_id"]
        if grade_id in present:
            continue
        position = 0
        for prev in reversed(order[:i]):
            idx = _index_of(nb, prev.metadata.nbgrader["grade_id"])
            if idx is not None:
                position = idx + 1
                break
        nb.cells.insert(position, nbformat.from_dict(ref))
        present.add(grade_id)
    return nb


class _DeduplicateIds(DeduplicateIds):
    """nbgrader's ``DeduplicateIds`` (the last cell of a grade id keeps it), dropping the
    emptied ``nbgrader`` metadata of the others, which ``OverwriteCells`` chokes on."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        nb, resources = super().preprocess(nb, resources)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader") == {}:
                del cell.metadata["nbgrader"]
        return nb, resources


def _index_of(nb: NotebookNode, grade_id: str) -> int | None:
    for i, cell in enumerate(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    return None


def overwrite_kernelspec(nb: NotebookNode, ctx: Context) -> NotebookNode:
    """nbgrader's ``OverwriteKernelspec``, reading the kernelspec from the cached snapshot."""
    kernelspec = ctx.instructor_notebook().kernelspec
    if kernelspec is not None:
        kernelspec = json.loads(kernelspec)
    if kernelspec:
        nb.metadata["kernelspec"] = kernelspec
    return nb


class _OverwriteCells(OverwriteCells):
    """nbgrader's ``OverwriteCells`` answered by the cached :class:`InstructorNotebook`
    instead of a new ``Gradebook`` per submission (same queries, same results)."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.gradebook = resources["labchain_instructor"]
        nb, resources = super(OverwriteCells, self).preprocess(nb, resources)
        if self.add_missing_cells:
            nb, resources = self.add_missing_grade_cells(nb, resources)
            nb, resources = self.add_missing_task_cells(nb, resources)
        return nb, resources


def overwrite_cells(nb: NotebookNode, ctx: Context) -> NotebookNode:
    pp = _OverwriteCells(add_missing_cells=True)
    pp.log = ctx.log
    nb, _ = pp.preprocess(nb, {**ctx.resources, "labchain_instructor": ctx.instructor_notebook()})
    _keep_release_markdown(nb, ctx)
    return nb


def _keep_release_markdown(nb: NotebookNode, ctx: Context) -> None:
    """Locked Markdown cells read as in the release the student got, not as in the gradebook.

    The gradebook holds the English source (nbgrader records it before ``generate --lang``
    translates the release), so ``OverwriteCells`` would turn a zh-CN submission's locked
    Markdown back into English in the autograded and feedback notebooks. The release is the
    trusted copy in the course folder: its text replaces the cell (an edit by the student is
    still undone, and flagged by ``detect_tampering``). Code cells are the same in every
    language, so they keep coming from the gradebook (hidden tests included).
    """
    text = {c.metadata.nbgrader["grade_id"]: c.source for c in ctx.release.cells
            if c.cell_type == "markdown" and "grade_id" in c.metadata.get("nbgrader", {})
            and nbutils.is_locked(c)}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "markdown" and grade_id in text:
            cell.source = text[grade_id]


# --- execution ---------------------------------------------------------------------------

def execute(nb: NotebookNode, ctx: Context) -> NotebookNode:
    """Run the sanitized notebook in the sandbox; a failed run keeps what did execute."""
    start = time.monotonic()
    # "nbgrader" names the submission (a queue executor keys its task by it; the sandbox ignores it)
    result = ctx.executor.run(nb, resources={"files": ctx.files, "nbgrader": ctx.resources["nbgrader"]})
    ctx.exec_status = result.status
    ctx.exec_message = name_cells(result.message or "", result.notebook or nb)
    ctx.exec_seconds = float(result.seconds or 0.0)
    ctx.exec_waited = max(0.0, time.monotonic() - start - ctx.exec_seconds)
    ctx.log.info("sandbox %s: %s in %.2f s %s", getattr(ctx.executor, "kind", "?"),
                 result.status, ctx.exec_seconds, ctx.exec_message)
    ran = any(c.get("execution_count") is not None for c in (result.notebook or nb).cells)
    if result.status == "error" and not ran:
        # the engine failed before any cell ran: not the student's doing, so nothing is
        # recorded and the next run tries this submission again
        raise SubmissionError(f"the sandbox could not run this submission: {ctx.exec_message}", ctx)
    for why in getattr(result, "tampered", ()):   # grading/sandbox/guard.py
        ctx.flag("tampered-runtime", why)
    if result.status != "ok":
        ctx.flag(STATUS_FLAGS.get(result.status, "failed"),
                 f"execution {result.status}: {ctx.exec_message}".strip())
    return result.notebook if result.notebook is not None else nb


def cell_name(nb: NotebookNode, index: int) -> str:
    """How feedback and logs name a cell: its nbgrader id, else its nbformat id, else its index."""
    if not 0 <= index < len(nb.cells):
        return f"number {index}"
    cell = nb.cells[index]
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    if grade_id:
        return repr(grade_id)
    return repr(cell["id"]) if cell.get("id") else f"number {index}"


def name_cells(message: str, nb: NotebookNode) -> str:
    """``cell 7`` in a sandbox message becomes ``cell 'test_fib'`` (its nbgrader id)."""
    return re.sub(r"\bcell (\d+)\b", lambda m: f"cell {cell_name(nb, int(m[1]))}", message)


#: error names the sandbox puts on the cell where execution stopped, and what happened there
STOPPED = {"TimeoutError": "timed out", "DeadKernelError": "crashed the kernel"}


def _why_not_run(nb: NotebookNode, ctx: Context) -> str:
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and out.get("ename") in STOPPED:
                return f"because cell {cell_name(nb, index)} {STOPPED[out['ename']]}"
    return f"({ctx.exec_message or ctx.exec_status or 'not executed'})"


def fail_unexecuted_tests(nb: NotebookNode, ctx: Context) -> NotebookNode:
    """A test cell that never ran (timeout, crash) earns nothing: give it an error output
    that says why, naming the cell where execution stopped by its nbgrader id.

    nbgrader awards full points to a test cell without an error output, so without this
    step a notebook that hangs before its tests would pass them.
    """
    why = _why_not_run(nb, ctx)
    for cell in nb.cells:
        if (cell.cell_type == "code" and nbutils.is_grade(cell) and not nbutils.is_solution(cell)
                and cell.get("execution_count") is None
                and not any(o.get("output_type") == "error" for o in cell.get("outputs", []))):
            cell.outputs = [nbformat.v4.new_output(
                "error", ename="NotExecuted", evalue=f"this test did not run {why}",
                traceback=[f"NotExecuted: this test did not run {why}"])]
    return nb


# --- saving ------------------------------------------------------------------------------

class DeferredCommits:
    """A gradebook stand-in whose ``db.commit()`` only flushes, so that all of one
    submission's grades commit together with its completion record (see autograde.py).
    ``DeferredCommits.Session(session)`` is such a session on its own."""

    class Session:
        def __init__(self, session):
            self._session = session

        def commit(self):
            self._session.flush()

        def __getattr__(self, name):
            return getattr(self._session, name)

    def __init__(self, gradebook):
        self._gradebook = gradebook
        self.db = self.Session(gradebook.db)

    def __getattr__(self, name):
        return getattr(self._gradebook, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _SubmittedNotebookRows(DeferredCommits):
    """``DeferredCommits`` that answers ``find_grade`` / ``find_comment`` for ONE submitted
    notebook from its grade and comment rows, loaded once, instead of a seven-table join
    per cell (what nbgrader's ``Gradebook`` does); the same rows, the same ``MissingEntry``."""

    def __init__(self, gradebook, ctx: "Context"):
        super().__init__(gradebook)
        submitted = gradebook.find_submission_notebook(ctx.notebook, ctx.lab, ctx.student)
        self._grades = {g.cell.name: g for g in submitted.grades}
        self._comments = {c.cell.name: c for c in submitted.comments}

    def find_grade(self, grade_cell: str, notebook: str, assignment: str, student: str):
        if grade_cell not in self._grades:
            raise MissingEntry()
        return self._grades[grade_cell]

    def find_comment(self, solution_cell: str, notebook: str, assignment: str, student: str):
        if solution_cell not in self._comments:
            raise MissingEntry()
        return self._comments[solution_cell]


class SaveGrades(SaveAutoGrades):
    """nbgrader's ``SaveAutoGrades`` writing through an already open gradebook (no commit)."""

    def save(self, nb: NotebookNode, ctx: Context, gradebook) -> None:
        self.notebook_id, self.assignment_id, self.student_id = ctx.notebook, ctx.lab, ctx.student
        self.gradebook = _SubmittedNotebookRows(gradebook, ctx)
        self.log = ctx.log
        for index, cell in enumerate(nb.cells):
            if cell.metadata.get("nbgrader", {}).get("grade_id") in ctx.check_cells:
                continue       # scored by `labchain-grade checks` (grading.checks)
            self.preprocess_cell(cell, ctx.resources, index)
        self.assign_late_penalty(ctx, gradebook)

    def assign_late_penalty(self, ctx: Context, gradebook) -> None:
        """nbgrader's ``AssignLatePenalties`` (which ``nbgrader autograde`` runs after saving the
        grades), on the open gradebook: a submission whose timestamp is past the lab's due date
        (plus any extension) gets the penalty of the configured plugin
        (``c.LateSubmissionPlugin.penalty_method``, or ``c.AssignLatePenalties.plugin_class``
        in the course's nbgrader_config.py), clamped to [0, score]; an on-time one gets none."""
        pp = AssignLatePenalties(config=self.config)
        pp.log = ctx.log
        pp.init_plugin()
        gradebook.db.flush()
        submission = gradebook.find_submission(ctx.lab, ctx.student)
        notebook = gradebook.find_submission_notebook(ctx.notebook, ctx.lab, ctx.student)
        gradebook.db.expire(notebook)       # its score is a SQL sum of the grades just saved
        notebook.late_submission_penalty = None
        late = submission.total_seconds_late
        if late > 0:
            penalty = pp.plugin_inst.late_submission_penalty(ctx.student, notebook.score, late)
            if penalty is not None:
                notebook.late_submission_penalty = pp._check_late_penalty(notebook, penalty)
            ctx.log.info("%s/%s is %.0f s late: penalty %s", ctx.lab, ctx.student, late,
                         notebook.late_submission_penalty)


SANITIZE = [
    Step("detect_tampering", "flag deleted, duplicated or edited instructor cells by nbgrader checksum",
         detect_tampering),
    Step("restore_deleted_cells", "put deleted test/solution cells back from the release version",
         restore_deleted_cells),
    Step("clear_output", "drop outputs the student saved (nbgrader ClearOutput)", _nbgrader(ClearOutput)),
    Step("deduplicate_ids", "keep one of the cells sharing a grade id (nbgrader DeduplicateIds)",
         _nbgrader(_DeduplicateIds)),
    Step("overwrite_kernelspec", "use the instructor's kernel (nbgrader OverwriteKernelspec)",
         overwrite_kernelspec),
    Step("overwrite_cells", "restore locked cells, hidden tests and points from the gradebook "
         "(nbgrader OverwriteCells)", overwrite_cells),
    Step("check_cell_metadata", "validate nbgrader metadata (nbgrader CheckCellMetadata)",
         _nbgrader(CheckCellMetadata)),
]
EXECUTE = [
    Step("execute", "run the notebook in the sandbox (grading.sandbox)", execute, where="sandbox"),
    Step("fail_unexecuted_tests", "a test cell that did not run gets an error, hence no points",
         fail_unexecuted_tests),
]


def limit_output_step(options: AutogradeOptions) -> Step:
    return Step("limit_output", "truncate long outputs and tracebacks (nbgrader LimitOutput)",
                _nbgrader(LimitOutput, max_lines=options.max_output_lines,
                          max_traceback=options.max_traceback_lines))


def steps(options: AutogradeOptions) -> list[Step]:
    """Every step up to (not including) saving grades, in order."""
    return [*SANITIZE, *EXECUTE, limit_output_step(options)]


def run_steps(nb: NotebookNode, ctx: Context, step_list: list[Step]) -> NotebookNode:
    for step in step_list:
        ctx.log.debug("step %s", step.name)
        nb = step.run(nb, ctx)
    return nb


def describe_steps(options: AutogradeOptions | None = None) -> list[tuple[str, str, str]]:
    """(name, where, description) of each step, including the final save."""
    rows = [(s.name, s.where, s.description) for s in steps(options or AutogradeOptions())]
    rows.append(("save_grades", "writer", "store scores in nbgrader's gradebook (nbgrader SaveAutoGrades), "
                 "atomically per submission (queued submissions share a commit)"))
    return rows
