"""Resource limits for one submission and the result of running it.

Both are plain frozen records so a course can keep them as data (YAML, CLI flags) and so
they cross the process boundary to the zygote as JSON (``Limits.to_json``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import nbformat

#: Every ``ExecResult.status`` value, with what it means for the caller.
STATUSES = {
    "ok": "every cell ran (cells may have raised errors: they are recorded as error outputs)",
    "timeout": "a wall-clock or CPU-time limit stopped the kernel; later cells did not run",
    "crashed": "the kernel process died (os._exit, segfault, killed by a limit)",
    "error": "the engine refused or stopped the submission (bad notebook, output flood, sandbox failure)",
}


def _opt(default: Any, description: str) -> Any:
    return field(default=default, metadata={"description": description})


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits applied to every submission; each field carries its description."""

    timeout_per_cell: float = _opt(
        30, "wall-clock seconds one cell may run before the kernel is killed (nbgrader: 30)")
    timeout_total: float = _opt(
        120, "wall-clock seconds for the whole notebook, kernel start included")
    memory_mb: int = _opt(
        512, "memory (MiB) student code may allocate on top of the ready kernel (RLIMIT_AS; "
             "a container's memory limit is this plus 512 MiB for the kernel)")
    cpu_seconds: int = _opt(
        60, "CPU seconds for the whole submission, all its processes and threads together "
            "(its cgroup, checked each second; RLIMIT_CPU per process as a backstop)")
    max_processes: int = _opt(
        64, "processes+threads of one submission (pids cgroup or container pids limit; "
            "RLIMIT_NPROC per user otherwise); the kernel itself needs about 10")
    max_output_bytes: int = _opt(
        1_000_000, "total bytes of cell outputs kept; beyond it the kernel is killed")
    max_file_mb: int = _opt(
        64, "largest file the submission may write (RLIMIT_FSIZE)")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{f.name} must be a positive number, got {value!r}")
        if self.max_processes < 16:
            raise ValueError("Limits.max_processes must be at least 16: the kernel alone "
                             "runs about 10 threads")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Limits":
        return cls(**data)

    @classmethod
    def describe(cls) -> dict[str, str]:
        """``{field name: description}``, e.g. for ``--help`` texts."""
        return {f.name: f.metadata["description"] for f in dataclasses.fields(cls)}


@dataclass(frozen=True, slots=True)
class ExecResult:
    """What happened to one submission.

    ``notebook`` is the executed notebook (outputs of the cells that ran), ``status`` one of
    ``STATUSES``, ``message`` a sentence for the instructor's log (empty when ``ok``),
    ``seconds`` the wall time including kernel start, ``kernel_reused_zygote`` True when the
    kernel was forked from a worker's already warm zygote (no interpreter start-up paid),
    ``kind`` the sandbox that ran it (``"os"`` or ``"container"``).
    """

    notebook: "nbformat.NotebookNode"
    status: str
    message: str
    seconds: float
    kernel_reused_zygote: bool
    kind: str = "os"
    #: what the runtime guard found changed before or during test cells (grading/sandbox/guard.py)
    tampered: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"
