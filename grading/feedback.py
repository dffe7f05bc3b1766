"""Per-student HTML feedback through nbgrader's ``GenerateFeedback``, hidden tests withheld.

nbgrader's feedback shows the restored hidden tests and their tracebacks to students
(nbgrader issues #917, #1363). Unless the instructor passes ``show_hidden=True``, the
``WithholdHiddenTests`` preprocessor runs first: it removes the hidden region from each test
cell's source (nbgrader's ``ClearHiddenTests``) and replaces the error output of a cell that
had hidden tests by one line saying that a hidden test failed. Points stay as graded.
"""
from __future__ import annotations

import copy

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

from grading.course import Course
from grading.errors import CourseError

HIDDEN_FAILED = "A hidden test failed. Hidden tests check cases the visible tests do not show."


class WithholdHiddenTests(NbGraderPreprocessor):
    """Strip hidden test code and its tracebacks from an autograded notebook."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        clear = ClearHiddenTests()
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            probe = copy.deepcopy(cell)
            if clear._remove_hidden_test_region(probe):
                errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
                cell.source = probe.source
                cell.outputs = [o for o in cell.outputs if o.get("output_type") not in ("error", "stream")]
                if errors:
                    cell.outputs.append(new_output("error", ename="HiddenTestFailed", evalue="",
                                                   traceback=[HIDDEN_FAILED]))
        return nb, resources


def generate_feedback(course: Course, labs: list[str] | None = None, *, show_hidden: bool = False,
                      students: list[str] | None = None) -> dict[str, list[str]]:
    """Write ``feedback/<student>/<lab>/<notebook>.html``; returns {lab: [students]}."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.preprocessors import GetGrades
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor

    cfg = course.config()
    cfg.HTMLExporter.template_name = "feedback"
    pre = [GetGrades, CSSHTMLHeaderPreprocessor]
    cfg.GenerateFeedback.preprocessors = pre if show_hidden else [WithholdHiddenTests, *pre]
    done: dict[str, list[str]] = {}
    for lab in labs or course.labs():
        graded = sorted(p.name for p in course.dir("autograded").iterdir() if (p / lab).is_dir()) \
            if course.dir("autograded").is_dir() else []
        for student in graded:
            if students and student not in students:
                continue
            cd = course.coursedir()
            cd.assignment_id, cd.student_id = lab, student
            app = GenerateFeedback(coursedir=cd, config=cfg)
            app.force = True
            try:
                app.start()
            except Exception as exc:  # noqa: BLE001
                raise CourseError(f"feedback for {student}/{lab} failed: {exc}", (student, lab)) from exc
            done.setdefault(lab, []).append(student)
    return done
