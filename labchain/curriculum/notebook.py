"""Read what the curriculum needs from a lab notebook in nbgrader *source* format.

nbgrader keeps its flags in each cell's ``metadata.nbgrader``: ``grade_id``, ``points``,
``grade``, ``solution``, ``locked``. An *autograded test cell* is a code cell with
``grade: true`` and ``solution: false``: it holds asserts and earns its points when it runs
without error.

Objective tagging (our convention): the first line of an autograded test cell is a comment
naming the learning objectives it assesses, by their ids in ``course.yaml``::

    # objectives: merkle-root, merkle-proof

The comment is visible to students in the released notebook, which is intended: they see
which objective each test checks.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

OBJECTIVES_LINE = re.compile(r"^#\s*objectives?\s*:\s*(?P<ids>.*)$", re.IGNORECASE)

#: region markers nbgrader understands (in source notebooks)
MARKERS = (("### BEGIN SOLUTION", "### END SOLUTION"), ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"))


@dataclass(frozen=True, slots=True)
class GradedCell:
    """A cell with nbgrader metadata that matters for grading."""

    index: int                  # position in the notebook (0-based)
    grade_id: str
    cell_type: str
    points: float
    grade: bool
    solution: bool
    locked: bool
    source: str
    objectives: tuple[str, ...] | None   # None when the tag line is missing

    @property
    def autograded_test(self) -> bool:
        return self.cell_type == "code" and self.grade and not self.solution

    @property
    def has_hidden_tests(self) -> bool:
        return "### BEGIN HIDDEN TESTS" in self.source


class NotebookError(ValueError):
    """The file is not a readable Jupyter notebook (message says why)."""


def read_cells(path: Path) -> list[GradedCell]:
    """All cells carrying ``metadata.nbgrader``, in notebook order."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NotebookError(f"cannot read the notebook: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise NotebookError(f"not valid JSON (line {exc.lineno}): {exc.msg}") from exc
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        raise NotebookError("not a Jupyter notebook in nbformat 4")
    cells = []
    for index, cell in enumerate(nb["cells"]):
        meta = (cell.get("metadata") or {}).get("nbgrader")
        if not isinstance(meta, dict):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        points = meta.get("points", 0) or 0
        cells.append(GradedCell(
            index=index,
            grade_id=str(meta.get("grade_id", "")),
            cell_type=str(cell.get("cell_type", "")),
            points=points if isinstance(points, (int, float)) else float("nan"),
            grade=bool(meta.get("grade")),
            solution=bool(meta.get("solution")),
            locked=bool(meta.get("locked")),
            source=source,
            objectives=objective_tags(source),
        ))
    return cells


def objective_tags(source: str) -> tuple[str, ...] | None:
    """The ids in the first non-blank line ``# objectives: a, b``; None when absent."""
    for line in source.splitlines():
        if line.strip():
            match = OBJECTIVES_LINE.match(line.strip())
            if not match:
                return None
            return tuple(i.strip() for i in match["ids"].split(",") if i.strip())
    return None


def marker_problems(cell: GradedCell) -> list[str]:
    """Unbalanced or misplaced nbgrader region markers in one cell."""
    problems = []
    for begin, end in MARKERS:
        depth = 0
        for line in cell.source.splitlines():
            text = line.strip()
            if text == begin:
                depth += 1
                if depth > 1:
                    problems.append(f"nested {begin!r}")
            elif text == end:
                depth -= 1
                if depth < 0:
                    problems.append(f"{end!r} without {begin!r}")
                    depth = 0
        if depth > 0:
            problems.append(f"{begin!r} is never closed by {end!r}")
    if "### BEGIN HIDDEN TESTS" in cell.source and not cell.autograded_test:
        problems.append("hidden tests only belong in autograded test cells")
    return problems
