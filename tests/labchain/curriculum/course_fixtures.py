"""A small, valid course on disk that each test breaks in one way (imported by the tests)."""
from __future__ import annotations

import json
from pathlib import Path

import yaml


def notebook(cells: list[dict]) -> dict:
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def code_cell(source: str, **nbgrader) -> dict:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
    if nbgrader:
        cell["metadata"]["nbgrader"] = {"schema_version": 3, "locked": False, "task": False,
                                        "grade": False, "solution": False} | nbgrader
    return cell


def graded_cell(grade_id: str, points: int, objectives: str | None, hidden: bool = True) -> dict:
    first = f"# objectives: {objectives}\n" if objectives is not None else ""
    body = "assert f() == 1\n"
    if hidden:
        body += "### BEGIN HIDDEN TESTS\nassert f() + 1 == 2\n### END HIDDEN TESTS\n"
    return code_cell(first + body, grade=True, solution=False, locked=True, grade_id=grade_id, points=points)


def solution_cell(grade_id: str) -> dict:
    return code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n",
                     solution=True, grade_id=grade_id)


def lab_notebook(lab_id: str, tests: list[tuple[str, int, str]]) -> dict:
    cells = [solution_cell(f"{lab_id}-solution")]
    cells += [graded_cell(gid, pts, objs) for gid, pts, objs in tests]
    return notebook(cells)


def base_course() -> dict:
    """Two labs, two modules, three competency areas; valid as it stands."""
    return {
        "course": {"id": "mini", "title": "Mini course", "version": "1"},
        "competency_areas": [{"id": "architecture-design", "title": "Architecture design"},
                             {"id": "underlying-technology", "title": "Underlying technology"},
                             {"id": "system-testing", "title": "System testing"}],
        "modules": [{"id": "one", "title": "One", "labs": ["01-alpha"]},
                    {"id": "two", "title": "Two", "labs": ["02-beta"]}],
        "labs": [
            {"id": "01-alpha", "title": "Alpha", "summary": "First.", "prerequisites": [],
             "estimated_minutes": 30, "points": 5, "competencies": ["underlying-technology", "architecture-design"],
             "objectives": [{"id": "hash", "bloom": "apply", "text": "Compute a hash."},
                            {"id": "why", "bloom": "understand", "text": "Explain why it is one-way."}]},
            {"id": "02-beta", "title": "Beta", "summary": "Second.", "prerequisites": ["01-alpha"],
             "estimated_minutes": 45, "points": 3, "competencies": ["system-testing"],
             "objectives": [{"id": "break", "bloom": "analyze", "text": "Break a weak scheme."}]},
        ],
    }


BASE_NOTEBOOKS = {
    "01-alpha": [("alpha-test-1", 3, "hash"), ("alpha-test-2", 2, "why, hash")],
    "02-beta": [("beta-test", 3, "break")],
}


class CourseDir:
    """A course folder: ``curriculum/course.yaml`` and ``labs/<id>/<id>.ipynb``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.course = root / "curriculum" / "course.yaml"
        self.course.parent.mkdir(parents=True)
        self.write_yaml(base_course())
        for lab_id, tests in BASE_NOTEBOOKS.items():
            self.write_notebook(lab_id, lab_notebook(lab_id, tests))

    def write_yaml(self, data: dict) -> None:
        self.course.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")

    def write_notebook(self, lab_id: str, nb: dict) -> Path:
        path = self.root / "labs" / lab_id / f"{lab_id}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(nb), encoding="utf-8")
        return path

