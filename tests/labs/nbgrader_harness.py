"""Run a lab through nbgrader's own machinery in a throw-away course directory.

One :class:`LabCourse` per lab: ``source/<lab>/`` is a copy of ``labs/<lab>/``; nbgrader's
:class:`~nbgrader.apps.api.NbGraderAPI` generates the student version into ``release/``;
submissions are written to ``submitted/<student>/<lab>/`` and autograded in process, with a
real Jupyter kernel, into ``autograded/``; scores are read back from the SQLite gradebook.

Submissions are built the way a student would make them: start from the *released* notebook
and type code into its solution cells (:func:`fill_solutions`). The reference submission
types the source notebook's solutions; a "wrong" submission replaces some of them.
"""
from __future__ import annotations

import copy
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.apps.api import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

REPO = Path(__file__).resolve().parents[2]
LABS_DIR = REPO / "labs"
#: typical wrong solutions, one YAML file per lab (see docs/labs.md)
WRONG_DIR = Path(__file__).resolve().parent / "wrong"
#: lab id -> seconds the reference submission took to autograde (printed after the run)
REFERENCE_SECONDS: dict[str, float] = {}

SOLUTION_MARKERS = {"### BEGIN SOLUTION", "### END SOLUTION"}
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
#: errors an unsolved exercise may raise in the student version (stub, then failing asserts)
EXPECTED_STUDENT_ERRORS = {"NotImplementedError", "AssertionError"}


@dataclass
class GradeResult:
    """Outcome of one autograde: total, per-test-cell scores, the executed notebook, time."""

    score: float
    max_score: float
    cells: dict[str, tuple[float, float]]          # grade_id -> (auto_score, max_score)
    notebook: dict
    seconds: float
    log: str = field(repr=False, default="")

    def lost(self) -> set[str]:
        """grade ids of autograded cells that earned less than their maximum."""
        return {gid for gid, (got, most) in self.cells.items() if got < most}


def nbgrader_cells(nb: dict):
    """(cell, metadata.nbgrader) for every cell carrying nbgrader metadata."""
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta:
            yield cell, meta


def source_text(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def hidden_blocks(nb: dict) -> dict[str, list[str]]:
    """grade_id -> the text of each hidden-test region (markers excluded) in that cell."""
    blocks: dict[str, list[str]] = {}
    for cell, meta in nbgrader_cells(nb):
        inside: list[str] | None = None
        for line in source_text(cell).splitlines():
            if line.strip() == HIDDEN_BEGIN:
                inside = []
            elif line.strip() == HIDDEN_END and inside is not None:
                blocks.setdefault(meta["grade_id"], []).append("\n".join(inside).strip())
                inside = None
            elif inside is not None:
                inside.append(line)
    return blocks


def cell_sources(nb: dict) -> dict[str, str]:
    """grade_id -> source, for cells with nbgrader metadata."""
    return {meta["grade_id"]: source_text(cell) for cell, meta in nbgrader_cells(nb)}


def solution_sources(source_nb: dict) -> dict[str, str]:
    """grade_id -> source of each solution cell with the region markers removed."""
    out = {}
    for cell, meta in nbgrader_cells(source_nb):
        if meta.get("solution"):
            kept = [ln for ln in source_text(cell).splitlines() if ln.strip() not in SOLUTION_MARKERS]
            out[meta["grade_id"]] = "\n".join(kept)
    return out


def fill_solutions(release_nb: dict, answers: dict[str, str]) -> dict:
    """A copy of the released notebook with the given solution cells' sources typed in."""
    nb = copy.deepcopy(release_nb)
    unknown = set(answers)
    for cell, meta in nbgrader_cells(nb):
        gid = meta.get("grade_id")
        if meta.get("solution") and gid in answers:
            cell["source"] = answers[gid]
            unknown.discard(gid)
    if unknown:
        raise KeyError(f"no solution cells named {sorted(unknown)} in the released notebook")
    return nb


class LabCourse:
    """A temporary nbgrader course holding one lab as its only assignment."""

    def __init__(self, root: Path, lab_dir: Path, cell_timeout: int = 120) -> None:
        self.root = root
        self.lab_id = lab_dir.name
        shutil.copytree(lab_dir, root / "source" / self.lab_id,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        config = Config()
        config.CourseDirectory.root = str(root)
        config.CourseDirectory.course_id = "labchain-test"
        config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
        config.Exchange.root = str(root / "exchange")
        config.Execute.timeout = cell_timeout
        # Kernels talk over unix sockets, not TCP ports: a port picked free can be taken by a
        # testnet node (port 0) before the kernel binds it ("Address already in use").
        (root / "ipc").mkdir()
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(root / "ipc" / "kernel")
        self.api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)

    @property
    def source_path(self) -> Path:
        return self.root / "source" / self.lab_id / f"{self.lab_id}.ipynb"

    @property
    def release_path(self) -> Path:
        return self.root / "release" / self.lab_id / f"{self.lab_id}.ipynb"

    def generate(self) -> dict:
        """``generate_assignment``; returns nbgrader's result dict (success, log, error)."""
        return self.api.generate_assignment(self.lab_id, force=True, create=True)

    def source(self) -> dict:
        return json.loads(self.source_path.read_text(encoding="utf-8"))

    def release(self) -> dict:
        return json.loads(self.release_path.read_text(encoding="utf-8"))

    def autograde(self, student: str, nb: dict) -> GradeResult:
        """Submit ``nb`` as ``student`` and autograde it; raises if nbgrader reports failure."""
        folder = self.root / "submitted" / student / self.lab_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{self.lab_id}.ipynb").write_text(json.dumps(nb), encoding="utf-8")
        started = time.perf_counter()
        result = self.api.autograde(self.lab_id, student, force=True, create=True)
        seconds = time.perf_counter() - started
        if not result["success"]:
            raise AssertionError(f"autograde of {student} failed:\n{result.get('error')}\n{result.get('log')}")
        executed_path = self.root / "autograded" / student / self.lab_id / f"{self.lab_id}.ipynb"
        executed = json.loads(executed_path.read_text(encoding="utf-8"))
        with Gradebook(self.api.coursedir.db_url, "labchain-test") as gb:
            sub = gb.find_submission_notebook(self.lab_id, self.lab_id, student)
            cells = {g.name: (g.auto_score or 0.0, g.max_score) for g in sub.grades
                     if g.auto_score is not None or not g.needs_manual_grade}
            score, max_score = sub.score, sub.max_score
        return GradeResult(score, max_score, cells, executed, seconds, result.get("log", ""))


def cell_errors(nb: dict) -> list[tuple[str, str, str]]:
    """(grade_id or 'cell #i', error name, first line of message) of each failing executed cell."""
    found = []
    for i, cell in enumerate(nb["cells"]):
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell #{i}"
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append((gid, out.get("ename", ""), str(out.get("evalue", "")).splitlines()[:1]))
    return found
