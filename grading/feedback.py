"""Per-student HTML feedback through nbgrader's ``GenerateFeedback``, hidden tests withheld.

nbgrader's feedback shows the restored hidden tests and their tracebacks to students
(nbgrader issues #917, #1363). Unless the instructor passes ``show_hidden=True``, the
``WithholdHiddenTests`` preprocessor runs first. Terminology: a *hidden-test cell* is an
instructor test cell (nbgrader grade cell, not a solution) holding a ``### BEGIN HIDDEN
TESTS`` ... ``### END HIDDEN TESTS`` region. For each of them it

- removes the hidden region from the source (what nbgrader's ``ClearHiddenTests`` does);
- replaces every output of the cell (stream, display_data, execute_result, error) by one
  line that tells the truth without showing hidden text: the visible test's error and
  message when the failing line (from the traceback's line number in this cell) is outside
  the hidden region; "not implemented" for a ``NotImplementedError``; "did not run because
  cell '<id>' timed out" for a test the grader never ran; "A hidden test failed" only when
  the failure was raised inside the hidden region (or its line cannot be found);
- and removes any hidden-region line found in any other cell's outputs.

Marker text in a student's own cells (a solution cell, a Markdown answer, an output) is
data: only instructor test cells are searched for hidden regions, so such text neither
fails rendering nor hides anything. Points stay as graded.

Each (lab, student) is one item of a ``grading.batch`` run: a failure rendering one
student's feedback writes a page for that student saying feedback could not be rendered
and why, is reported in the summary (``feedback/feedback-summary.json``), and is retried on
the next run; students whose autograded notebook and grades did not change are skipped.
"""
from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader import utils as nbutils
from nbgrader.preprocessors import NbGraderPreprocessor

from grading import batch
from grading.course import Course
from grading.errors import CourseError

HIDDEN_FAILED = "A hidden test failed. Hidden tests check cases the visible tests do not show."
NOT_IMPLEMENTED = ("NotImplementedError: not implemented yet (the code this test calls still "
                   "raises NotImplementedError).")
REDACTED = "[hidden test text removed]"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
#: hidden lines shorter than this are not searched for in outputs (")" would match anything)
MIN_REDACT = 6
#: bump when the rendering changes, so the next run re-renders every page
FEEDBACK_VERSION = "2"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: a traceback frame of an IPython cell: "Cell In[5], line 7" (IPython 8+) or
#: "Input In [5], in <cell line: 7>()" (IPython 7.3x)
FRAME = re.compile(r"In\s*\[(\d+)\],?\s*(?:line (\d+)|in <cell line: (\d+)>)")


def is_test_cell(cell: NotebookNode) -> bool:
    """An instructor's autograder test cell (the only place hidden tests can be)."""
    return cell.cell_type == "code" and nbutils.is_grade(cell) and not nbutils.is_solution(cell)


def hidden_region(source: str) -> tuple[str, set[int], list[str]]:
    """(source without the hidden region, 1-based hidden line numbers, hidden lines; both
    with the marker lines). A BEGIN with no END hides the rest of the cell (hide more, never less)."""
    kept, hidden_nos, hidden = [], set(), []
    inside = False
    for no, line in enumerate(source.split("\n"), start=1):
        if BEGIN_HIDDEN in line:
            inside = True
            hidden_nos.add(no)
            hidden.append(line)
        elif END_HIDDEN in line and inside:
            inside = False
            hidden_nos.add(no)
            hidden.append(line)
        elif inside:
            hidden_nos.add(no)
            hidden.append(line)
        else:
            kept.append(line)
    return "\n".join(kept), hidden_nos, hidden


def failing_line(traceback: list[str], execution_count) -> int | None:
    """Line number, in the cell run as ``In[execution_count]``, of its innermost frame."""
    line = None
    for entry in traceback or []:
        for m in FRAME.finditer(ANSI.sub("", str(entry))):
            if execution_count is not None and int(m[1]) == int(execution_count):
                line = int(m[2] or m[3])
    return line


def _error_line(text: str) -> NotebookNode:
    ename, _, evalue = text.partition(": ")
    return new_output("error", ename=ename, evalue=evalue, traceback=[text])


def explain_failure(cell: NotebookNode, error: dict, hidden_nos: set[int], redact) -> NotebookNode:
    """The one output that replaces a hidden-test cell's outputs when it failed."""
    ename, evalue = str(error.get("ename", "")), str(error.get("evalue", ""))
    if ename in ("NotExecuted", "TimeoutError", "DeadKernelError"):   # the grader's own words
        return _error_line(f"{ename}: {redact(evalue)}")
    if ename == "NotImplementedError":
        return _error_line(NOT_IMPLEMENTED)
    line = failing_line(error.get("traceback", []), cell.get("execution_count"))
    if line is None or line in hidden_nos:
        return new_output("error", ename="HiddenTestFailed", evalue="", traceback=[HIDDEN_FAILED])
    code = cell.source.split("\n")[line - 1].strip() if line <= len(cell.source.split("\n")) else ""
    text = f"{ename}: {redact(evalue)}" if evalue else ename
    return new_output("error", ename=ename, evalue=redact(evalue),
                      traceback=[text, f"in the visible test, line {line}: {redact(code)}"])


class Redactor:
    """Removes every hidden-region line of a notebook from any text."""

    def __init__(self, hidden_lines: list[str]):
        self.needles = sorted({ln.strip() for ln in hidden_lines if len(ln.strip()) >= MIN_REDACT},
                              key=len, reverse=True)

    def __call__(self, text):
        if not isinstance(text, str) or not self.needles:
            return text
        for needle in self.needles:
            if needle in text:
                text = text.replace(needle, REDACTED)
        return text

    def output(self, out: NotebookNode) -> None:
        if "text" in out:
            out["text"] = self._any(out["text"])
        if "data" in out:
            for mime, value in out["data"].items():
                if not mime.startswith("image/") or mime == "image/svg+xml":
                    out["data"][mime] = self._any(value)
        if "evalue" in out:
            out["evalue"] = self(out["evalue"])
        if "traceback" in out:
            out["traceback"] = [self._line(t) for t in out["traceback"]]

    def _line(self, entry):
        plain = ANSI.sub("", str(entry))     # colour codes may split a hidden line
        return self(plain) if any(n in plain for n in self.needles) else entry

    def _any(self, value):
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self._any(v) for v in value]
        if isinstance(value, dict):
            return {k: self._any(v) for k, v in value.items()}
        return value


def notebook_redactor(path) -> Redactor:
    """A :class:`Redactor` for the hidden regions of the notebook at ``path`` (none if unreadable)."""
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
        return Redactor([ln for c in nb.cells if is_test_cell(c) for ln in hidden_region(c.source)[2]])
    except Exception:  # noqa: BLE001 - an unreadable notebook has nothing to redact by
        return Redactor([])


class WithholdHiddenTests(NbGraderPreprocessor):
    """Strip hidden test code and anything it printed from an autograded notebook."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        regions = {}
        for index, cell in enumerate(nb.cells):
            if is_test_cell(cell):
                visible, hidden_nos, hidden = hidden_region(cell.source)
                if hidden_nos:
                    regions[index] = (visible, hidden_nos, hidden)
        redact = Redactor([ln for _, _, hidden in regions.values() for ln in hidden])
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if index in regions:
                visible, hidden_nos, _ = regions[index]
                errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
                cell.outputs = [explain_failure(cell, errors[0], hidden_nos, redact)] if errors else []
                cell.source = visible
            else:
                for out in cell.get("outputs", []):
                    redact.output(out)
        return nb, resources


class _Capture(logging.Handler):
    """Keeps the last line of the last traceback nbgrader logs (the real reason)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.reason = ""

    def emit(self, record):
        text = record.getMessage()
        if text.startswith("Traceback"):
            lines = [ln for ln in text.strip().splitlines() if ln.strip()]
            self.reason = lines[-1].strip() if lines else text


def _graded_students(course: Course, lab: str) -> list[str]:
    root = course.dir("autograded")
    return sorted(p.name for p in root.iterdir() if (p / lab).is_dir()) if root.is_dir() else []


def fallback_page(lab: str, notebook: str, reason: str) -> str:
    """The page a student gets when their feedback could not be rendered."""
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(lab)}: feedback unavailable</title></head><body>\n"
            f"<h1>Feedback for {html.escape(lab)} ({html.escape(notebook)}) could not be rendered</h1>\n"
            f"<p>Why: {html.escape(reason)}</p>\n"
            "<p>Your grade is recorded as usual. Your instructor has been told and will send "
            "this feedback once it can be rendered.</p>\n</body></html>\n")


def generate_feedback(course: Course, labs: list[str] | None = None, *, show_hidden: bool = False,
                      students: list[str] | None = None, force: bool = False,
                      progress: bool = False) -> batch.BatchSummary:
    """Write ``feedback/<student>/<lab>/<notebook>.html`` for each autograded submission;
    returns the batch summary (items ``<lab>/<student>``)."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.converters import GenerateFeedback
    from nbgrader.preprocessors import GetGrades

    from grading.gradebook import gradebook

    labs = course.select_labs(labs)
    cfg = course.config()
    cfg.HTMLExporter.template_name = "feedback"
    pre = [GetGrades, CSSHTMLHeaderPreprocessor]
    cfg.GenerateFeedback.preprocessors = pre if show_hidden else [WithholdHiddenTests, *pre]
    items = [(lab, s) for lab in labs for s in _graded_students(course, lab)
             if not students or s in students]
    log = logging.getLogger("labchain.grading.feedback")
    log.propagate = False

    def page(lab, student, notebook) -> Path:
        return course.dir("feedback") / student / lab / f"{notebook}.html"

    with gradebook(course.db_url) as gb:
        def fingerprint(item) -> str:
            lab, student = item
            try:
                sub = gb.find_submission(lab, student)
                grades = sorted((g.name, g.score) for nb in sub.notebooks for g in nb.grades)
            except Exception:  # noqa: BLE001 - no gradebook row: rendered (and reported) anyway
                gb.db.rollback()
                grades = None
            gb.db.rollback()
            extra = json.dumps([FEEDBACK_VERSION, show_hidden, grades], default=str)
            return batch.file_digest(*(course.autograded(lab, student, nb) for nb in course.notebooks(lab)),
                                     extra=extra)

        def render(item):
            lab, student = item
            outputs = [page(lab, student, nb) for nb in course.notebooks(lab)]
            cd = course.coursedir()
            cd.assignment_id, cd.student_id = lab, student
            capture = _Capture()
            log.handlers = [capture]
            app = GenerateFeedback(coursedir=cd, config=cfg)
            app.log = log
            app.force = True
            try:
                app.start()
                missing = [p.name for p in outputs if not p.is_file()]
                if missing:
                    raise CourseError(f"nbgrader wrote no {', '.join(missing)}")
            except Exception as exc:  # noqa: BLE001 - the student still gets a page
                reason = capture.reason or batch.sentence(exc)
                if not show_hidden:       # an error message may quote a hidden test
                    for nb in course.notebooks(lab):
                        reason = notebook_redactor(course.autograded(lab, student, nb))(reason)
                for nb, path in zip(course.notebooks(lab), outputs):
                    if not path.is_file():
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_text(fallback_page(lab, nb, reason), encoding="utf-8")
                raise CourseError(f"feedback could not be rendered ({reason}); the student got a "
                                  f"page saying so", item) from exc
            return outputs

        return batch.run("feedback", items, render, name=lambda i: f"{i[0]}/{i[1]}",
                         fingerprint=fingerprint, force=force, progress=progress,
                         summary_path=course.dir("feedback") / f"feedback{batch.SUMMARY_SUFFIX}")
