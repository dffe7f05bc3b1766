"""A read-only snapshot of what the gradebook knows about a lab's notebooks.

nbgrader's ``OverwriteKernelspec`` and ``OverwriteCells`` open a new ``Gradebook`` (a new
SQLAlchemy engine) for every submission and query it once per cell. What they read, the
instructor's source cells, grade cells and kernelspec written by ``generate``, does not
change during a grading run, so ``autograde`` reads it once per lab and notebook into an
:class:`InstructorNotebook` and hands that to every submission (``Context.instructor``).

Terminology: a *source cell* is an instructor cell with its checksum and locked flag; a
*graded cell* is a grade cell (with ``max_score``) or a task cell. The snapshot answers the
few ``Gradebook`` methods those two preprocessors call, with the same ``MissingEntry`` error.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from nbgrader.api import MissingEntry

_SOURCE = ("name", "cell_type", "locked", "checksum", "source")
_GRADED = ("name", "cell_type", "max_score")


def _plain(row, fields: tuple[str, ...]) -> SimpleNamespace:
    return SimpleNamespace(**{f: getattr(row, f) for f in fields})


@dataclass(frozen=True)
class InstructorNotebook:
    """One notebook of one lab as the gradebook records it (``Gradebook.find_notebook``)."""

    name: str
    assignment: str
    kernelspec: str | None
    source_cells: tuple
    grade_cells: tuple
    solution_cells: tuple
    task_cells: tuple

    @classmethod
    def load(cls, gb, notebook: str, assignment: str) -> "InstructorNotebook":
        """Read the snapshot from an open nbgrader ``Gradebook``."""
        row = gb.find_notebook(notebook, assignment)
        snapshot = cls(
            name=notebook, assignment=assignment, kernelspec=row.kernelspec,
            source_cells=tuple(_plain(c, _SOURCE) for c in row.source_cells),
            grade_cells=tuple(_plain(c, _GRADED) for c in row.grade_cells),
            solution_cells=tuple(SimpleNamespace(name=c.name) for c in row.solution_cells),
            task_cells=tuple(_plain(c, _GRADED) for c in row.task_cells))
        gb.db.rollback()
        return snapshot

    @classmethod
    def from_url(cls, db_url: str, notebook: str, assignment: str) -> "InstructorNotebook":
        from grading.gradebook import gradebook

        with gradebook(db_url) as gb:
            return cls.load(gb, notebook, assignment)

    # --- the Gradebook methods nbgrader's OverwriteKernelspec / OverwriteCells call ----------

    def __enter__(self) -> "InstructorNotebook":
        return self

    def __exit__(self, *exc) -> bool:
        return False

    def _check(self, notebook: str, assignment: str) -> None:
        if (notebook, assignment) != (self.name, self.assignment):
            raise MissingEntry()

    def find_notebook(self, notebook: str, assignment: str) -> "InstructorNotebook":
        self._check(notebook, assignment)
        return self

    def find_source_cell(self, name: str, notebook: str, assignment: str):
        self._check(notebook, assignment)
        for cell in self.source_cells:
            if cell.name == name:
                return cell
        raise MissingEntry()

    def find_graded_cell(self, name: str, notebook: str, assignment: str):
        self._check(notebook, assignment)
        for cell in (*self.grade_cells, *self.task_cells):
            if cell.name == name:
                return cell
        raise MissingEntry()
