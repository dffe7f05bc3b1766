"""The execution engine of the autograder: run ONE notebook in isolation with a real kernel.

The caller (``grading.pipeline``) hands over an already sanitized nbformat notebook whose hidden
tests are restored; the engine executes it in a sandboxed IPython kernel and returns the
executed notebook. It knows nothing of nbgrader's gradebook.

Interface::

    from grading.sandbox import Limits, make_executor

    limits = Limits(timeout_per_cell=30, timeout_total=120, memory_mb=512, cpu_seconds=60,
                    max_processes=64, max_output_bytes=1_000_000, max_file_mb=64)
    with make_executor(kind="auto", workers=os.cpu_count(), limits=limits,
                       hide_paths=[course_dir],                   # "auto" | "os" | "container"
                       env={"NBGRADER_EXECUTION": "autograde"}) as executor:
        print(executor.kind, executor.describe())   # which sandbox, for the summary table
        result = executor.run(notebook, resources={"files": {"data.csv": b"..."}},
                              limits=None)           # per-submission override (e.g. per lab)
        result.notebook      # executed copy (the argument is not modified)
        result.status        # "ok" | "timeout" | "crashed" | "error"   (see STATUSES)
        result.message       # a sentence for the per-submission log ("" when ok)
        result.seconds       # wall time, kernel start included
        result.kernel_reused_zygote   # True: forked from a warm zygote, no interpreter start
        for index, result in executor.map(notebooks):   # completion order, `workers` at once
            ...

- ``run`` is thread-safe: call it from a ThreadPoolExecutor with ``workers`` threads (it
  blocks until a worker is free), or use ``map``. It never raises for anything the notebook
  does; cell errors (failed asserts, MemoryError, SystemExit) are error outputs of an ``ok``
  run, exactly as in nbgrader (``allow_errors``). A timed-out or crashed cell gets an error
  output naming the reason; later cells are not run.
- ``resources``: only ``files`` is used ({relative path: bytes}, copied into the kernel's
  scratch directory, which is its cwd and $HOME); other keys (nbconvert's) are ignored.
- ``env``: extra environment variables for every kernel (the rest is a clean environment).
- ``hide_paths``: directories covered by an empty tmpfs inside the OS sandbox (give the course
  directory: gradebook, source, other submissions). /root, /home, the real paths of the
  hidden paths and of directory symlinks in them, and the grader's own checkout are always
  hidden; everything but the scratch directory and a private /tmp is read-only. A container
  sees no host files but its worker's scratch directory.
- ``allow_unsandboxed``: without root the OS sandbox is rlimits only; ``make_executor``
  refuses (``SandboxError``) unless this is True, and ``executor.unsandboxed`` says why.
- Every submission runs in a fresh process forked from a per-worker zygote that has already
  imported ipykernel, IPython, numpy, matplotlib (Agg) and labchain: no state can leak between
  submissions, and kernel start-up costs a fork instead of an interpreter start.

Design, guarantees and limits: docs/grading-sandbox.md.
"""
from __future__ import annotations

from typing import Any

from grading.sandbox.limits import STATUSES, ExecResult, Limits

__all__ = ["STATUSES", "ExecResult", "Executor", "Limits", "SandboxError", "docker_available",
           "make_executor"]


def __getattr__(name: str) -> Any:
    # Lazy: the zygote imports grading.sandbox.* inside a container that needs neither
    # nbclient's driver side nor the docker SDK.
    if name in ("Executor", "make_executor", "docker_available"):
        from grading.sandbox import executor
        return getattr(executor, name)
    if name == "SandboxError":
        from grading.sandbox.worker import SandboxError
        return SandboxError
    raise AttributeError(f"module 'grading.sandbox' has no attribute {name!r}")
