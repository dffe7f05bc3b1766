"""Autograde options as data: every option has a default and a one-sentence description.

``labchain-grade autograde --help`` and docs/grading.md show these descriptions; a course may
override any of them in ``COURSE/grading.json`` (``{"timeout": 60, ...}``), the command line
overrides the file.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from grading.errors import CourseError


def _opt(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True, slots=True)
class AutogradeOptions:
    workers: int = _opt(0, "parallel sandboxes (0 = one per CPU core)")
    sandbox: str = _opt("auto", "sandbox kind: auto (container if a Docker engine is up, else os), os or container")
    limits: dict = _opt(None, "sandbox limits by name, e.g. {\"timeout_per_cell\": 10}; "
                        "see grading.sandbox.Limits for names, defaults and descriptions")
    max_output_lines: int = _opt(1000, "stream output lines kept per cell (nbgrader LimitOutput)")
    max_traceback_lines: int = _opt(100, "traceback lines kept per error (nbgrader LimitOutput)")
    restore_deleted_cells: bool = _opt(True, "put back test and solution cells a student deleted")
    force: bool = _opt(False, "regrade submissions that were already graded")
    allow_unsandboxed: bool = _opt(False, "grade even where the OS sandbox cannot isolate kernels "
                                   "(grader not root: kernels run as the grader, with network and "
                                   "gradebook); the summary then says so")

    def sandbox_limits(self):
        """The ``grading.sandbox.Limits`` these options ask for (its defaults otherwise)."""
        from grading.sandbox.limits import Limits

        try:
            return Limits(**(self.limits or {}))
        except TypeError as exc:
            known = ", ".join(Limits.describe())
            raise CourseError(f"unknown sandbox limit in {self.limits}; known: {known}", self.limits) from exc
        except ValueError as exc:
            raise CourseError(str(exc), self.limits) from exc

    @classmethod
    def describe(cls) -> list[tuple[str, object, str]]:
        """(name, default, description) of every option, for --help and the docs."""
        return [(f.name, f.default, f.metadata["help"]) for f in dataclasses.fields(cls)]

    @classmethod
    def load(cls, course_root: Path | None = None, **overrides) -> "AutogradeOptions":
        """Defaults, then ``COURSE/grading.json``, then ``overrides`` whose value is not None."""
        values: dict = {}
        path = Path(course_root) / "grading.json" if course_root else None
        if path and path.is_file():
            try:
                values.update(json.loads(path.read_text()))
            except json.JSONDecodeError as exc:
                raise CourseError(f"{path} is not valid JSON: {exc}", path) from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise CourseError(f"unknown autograde option(s) {', '.join(sorted(unknown))}; "
                              f"known: {', '.join(sorted(known))}", unknown)
        return cls(**values)
