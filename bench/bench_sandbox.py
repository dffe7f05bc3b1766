"""Per-notebook overhead of the sandboxed execution engine (grading.sandbox).

Runs the same small notebooks (a few cells, numpy) three ways, one after the other:
  (a) a fresh kernel per notebook: jupyter_client's KernelManager starts
      ``python -m ipykernel_launcher`` and nbclient executes (what nbgrader does, no sandbox);
  (b) the forked-zygote OS sandbox, one worker (sequential, so comparable to (a));
  (c) the same with one worker per core, notebooks submitted with ``map``;
  (d) (c) in the container sandbox, when Docker and the labchain/lab image are there.
Prints figures only (no assertions): ``python bench/bench_sandbox.py [--notebooks 40]``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import machine_note  # noqa: E402
from grading.sandbox import Limits, docker_available, make_executor  # noqa: E402


def small_notebook(i: int):
    return new_notebook(cells=[
        new_code_cell("import numpy as np"),
        new_code_cell(f"def answer(n):\n    return np.arange(n).sum()\nanswer({i})"),
        new_code_cell(f"assert answer({i}) == {i * (i - 1) // 2}\nprint('passed')"),
    ])


def fresh_kernels(notebooks) -> float:
    began = time.perf_counter()
    for nb in notebooks:
        NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True).execute()
    return time.perf_counter() - began


def zygote(notebooks, workers: int, limits: Limits, kind: str = "os") -> tuple[float, float, int]:
    with make_executor(kind, workers=workers, limits=limits) as executor:
        began = time.perf_counter()
        executor.warm_up()
        warm = time.perf_counter() - began
        began = time.perf_counter()
        if workers == 1:
            results = [executor.run(nb) for nb in notebooks]
        else:
            results = [r for _, r in executor.map(notebooks)]
        elapsed = time.perf_counter() - began
        zygote_rss = _rss_kib(executor._all[0].handle.pid) if kind == "os" else 0
        summary = executor.describe()
    bad = [r for r in results if r.status != "ok" or "passed" not in str(r.notebook.cells[2].outputs)]
    if bad:
        raise SystemExit(f"{len(bad)} notebooks did not pass: {bad[0].status} {bad[0].message}")
    print(f"    sandbox: {summary}")
    return elapsed, warm, zygote_rss


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notebooks", type=int, default=40)
    args = parser.parse_args()
    n = args.notebooks
    notebooks = [small_notebook(i) for i in range(n)]
    workers = os.cpu_count() or 1
    print(f"{n} small notebooks (3 cells each); {machine_note()}")

    fresh = fresh_kernels(notebooks)
    one, warm1, rss = zygote(notebooks, 1, Limits())
    many, warm_n, _ = zygote(notebooks, workers, Limits())

    print(f"(a) fresh jupyter_client kernel per notebook : {fresh / n * 1000:7.0f} ms/notebook "
          f"({n / fresh * 60:5.0f}/min)")
    print(f"(b) forked zygote, OS sandbox, 1 worker      : {one / n * 1000:7.0f} ms/notebook "
          f"({n / one * 60:5.0f}/min)  {fresh / one:.1f}x faster than (a)")
    print(f"(c) forked zygote, OS sandbox, {workers} workers     : {many / n * 1000:7.0f} ms/notebook "
          f"({n / many * 60:5.0f}/min)  {fresh / many:.1f}x faster than (a)")
    print(f"    zygote start-up (once per worker): {warm1:.2f} s; zygote RSS {rss / 1024:.0f} MiB")
    reason = docker_available()
    if reason is None:
        boxed, warm_c, _ = zygote(notebooks, workers, Limits(), kind="container")
        print(f"(d) forked zygote, containers, {workers} workers     : {boxed / n * 1000:7.0f} ms/notebook "
              f"({n / boxed * 60:5.0f}/min)  {fresh / boxed:.1f}x faster than (a); "
              f"containers warm in {warm_c:.1f} s")
    else:
        print(f"(d) container sandbox not measured: {reason}")


if __name__ == "__main__":
    main()
