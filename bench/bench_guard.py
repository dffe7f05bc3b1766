"""Cost of the grade-cell runtime guard (grading/sandbox/guard.py) against a notebook's grading.

Timing ``bench_grading.py`` with and without the guard is too noisy on a loaded machine, so this
measures the guard's own work in isolation, inside a real sandboxed kernel, and sets it against
the wall time of grading a notebook in the same sandbox in the same run:

  * ``install``: ``Snapshot(kernel)``, once per kernel (per submission);
  * ``check``: one ``Snapshot.restore()`` with nothing to restore; a grade cell costs two
    (before and after the cell);
  * ``scope``: ``Scope.enter_grade`` + swap back + ``Scope.leave_grade`` (the fresh namespace);
  * per grade cell = 2 x check + scope; per notebook = install + grade cells x per cell;
  * against: the wall time of ``executor.run`` of the fixture lab A (4 grade cells, the
    reference solutions) in the OS sandbox, one worker, sequential.

End to end (``--ab N``, the throughput budget of issue #10: the integrity checks may cost at
most 10 % of grading throughput): the same notebooks graded N times each with the guard on
(installed in the kernel, test cells marked, the audit hook watching) and off (no guard key:
what the grader did before the guard), interleaved on/off so that a drifting load on the
machine hits both alike; medians and the ratio. The notebooks: fixture lab A and the
reference solutions of labs 01 and 03 (the instructor's sources, all their grade cells). The
"off" runs replace the worker module's ``secrets`` in the bench process; the grader has no
switch that turns the guard off.

Prints figures only (no assertions): ``python bench/bench_guard.py [--notebooks 20] [--ab 10]``.
The probe runs in an ordinary (unguarded) cell of the same kernel the guard is installed in,
so its snapshot has the same size as the guard's.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from grading.sandbox import Limits, make_executor  # noqa: E402

LAB_A = os.path.join(ROOT, "tests", "grading", "fixtures", "labs", "lab-a", "lab-a.ipynb")
PROBE = '''\
import json, time
from grading.sandbox.guard import Scope, Snapshot
_k = get_ipython().kernel
_t = time.perf_counter(); _snap = Snapshot(_k); _install = time.perf_counter() - _t
_scope = Scope(_k.shell)
_scope.trusted["_b"] = __builtins__
_found = len(_snap.restore())
_t = time.perf_counter()
for _ in range({n}):
    _snap.restore()
_check = (time.perf_counter() - _t) / {n}
_t = time.perf_counter()
for _ in range({n}):
    _st = _scope.enter_grade()
    _k.shell.user_module, _k.shell.user_ns = _st[0], _st[1]
    _scope.leave_grade(_st)
_sc = (time.perf_counter() - _t) / {n}
print("GUARD" + json.dumps({{"install": _install, "check": _check, "scope": _sc, "found": _found,
                            "classes": len(_snap.classes), "modules": len(_snap.modules),
                            "entries": sum(len(d) for d in _snap.modules.values())
                            + sum(len(d) for _, d in _snap.classes.values())}}))
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notebooks", type=int, default=20, help="graded notebooks to time")
    ap.add_argument("--repeat", type=int, default=50, help="guard steps per probe")
    ap.add_argument("--ab", type=int, default=0,
                    help="also grade each notebook N times with the guard on and N times off")
    args = ap.parse_args()
    lab_a = nbformat.read(LAB_A, as_version=4)
    grade_cells = sum(1 for c in lab_a.cells if c.metadata.get("nbgrader", {}).get("grade")
                      and not c.metadata.get("nbgrader", {}).get("solution"))
    probe = new_notebook(cells=[new_code_cell(PROBE.format(n=args.repeat))])
    load_before = os.getloadavg()
    limits = Limits(timeout_per_cell=60, timeout_total=300)
    with make_executor("os", workers=1, limits=limits) as executor:
        executor.warm_up()
        walls = []
        for _ in range(args.notebooks):
            began = time.perf_counter()
            result = executor.run(lab_a)
            walls.append(time.perf_counter() - began)
            if result.status != "ok":
                raise SystemExit(f"lab A did not grade: {result.status} {result.message}")
        figures = []
        for _ in range(5):
            result = executor.run(probe)
            text = "".join(o.get("text", "") for o in result.notebook.cells[0].outputs)
            if "GUARD" not in text:
                raise SystemExit(f"the probe failed: {result.notebook.cells[0].outputs}")
            figures.append(json.loads(text.split("GUARD", 1)[1].splitlines()[0]))
    load_after = os.getloadavg()

    def med(key: str) -> float:
        return statistics.median(f[key] for f in figures)

    per_cell = 2 * med("check") + med("scope")
    per_nb = med("install") + grade_cells * per_cell
    wall = statistics.median(walls)
    f = figures[0]
    print(f"snapshot: {f['modules']} modules, {f['classes']} classes, {f['entries']} entries "
          f"(found on a clean kernel: {f['found']})")
    print(f"install {med('install') * 1e3:.2f} ms, check {med('check') * 1e3:.2f} ms, "
          f"scope {med('scope') * 1e3:.3f} ms (medians of 5 probes x {args.repeat})")
    print(f"per grade cell {per_cell * 1e3:.2f} ms; per lab-A notebook ({grade_cells} grade cells) "
          f"{per_nb * 1e3:.1f} ms")
    print(f"lab A graded in the OS sandbox: median {wall * 1e3:.0f} ms over {args.notebooks} "
          f"(min {min(walls) * 1e3:.0f}, max {max(walls) * 1e3:.0f})")
    print(f"guard / grading = {per_nb / wall * 100:.1f} % of the median, "
          f"{per_nb / min(walls) * 100:.1f} % of the fastest run")
    print(f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} "
          f"({os.cpu_count()} CPUs)")
    if args.ab:
        end_to_end(args.ab, limits)


AB_NOTEBOOKS = (LAB_A, os.path.join(ROOT, "labs", "01-hashes-merkle", "01-hashes-merkle.ipynb"),
                os.path.join(ROOT, "labs", "03-utxo-transactions", "03-utxo-transactions.ipynb"))


def end_to_end(rounds: int, limits: Limits) -> None:
    """Each notebook graded ``rounds`` times guarded and ``rounds`` times unguarded, alternating."""
    import contextlib
    import secrets
    import types
    from unittest import mock

    from grading.sandbox import worker

    # the worker module's view of `secrets` only: an empty guard key = no guard
    unguarded = types.SimpleNamespace(token_bytes=lambda n: b"", token_hex=secrets.token_hex)

    print(f"end to end, {rounds} on/off pairs per notebook (OS sandbox, one worker):")
    total = {"on": 0.0, "off": 0.0}
    load_before = os.getloadavg()
    with make_executor("os", workers=1, limits=limits) as executor:
        executor.warm_up()
        for path in AB_NOTEBOOKS:
            nb = nbformat.read(path, as_version=4)
            walls: dict[str, list[float]] = {"on": [], "off": []}
            for i in range(2 * rounds):
                mode = ("on", "off")[(i + i // 2) % 2]   # on off off on on off ...: no order bias
                patch = (mock.patch.object(worker, "secrets", unguarded) if mode == "off"
                         else contextlib.nullcontext())
                with patch:
                    began = time.perf_counter()
                    result = executor.run(nb)
                    walls[mode].append(time.perf_counter() - began)
                if result.status != "ok":
                    raise SystemExit(f"{path} did not grade ({mode}): {result.status} {result.message}")
                if mode == "on" and result.tampered:
                    raise SystemExit(f"the guard flagged a reference solution: {result.tampered}")
            on, off = statistics.median(walls["on"]), statistics.median(walls["off"])
            total["on"] += on
            total["off"] += off
            print(f"  {os.path.relpath(path, ROOT)}: guard on {on * 1e3:.0f} ms, off {off * 1e3:.0f} ms"
                  f" (medians) -> {(on / off - 1) * 100:+.1f} %")
    load_after = os.getloadavg()
    print(f"  all three: on {total['on']:.2f} s, off {total['off']:.2f} s -> throughput cost "
          f"{(1 - total['off'] / total['on']) * 100:.1f} % (budget 10 %)")
    print(f"  load average before {load_before[0]:.1f}, after {load_after[0]:.1f}")


if __name__ == "__main__":
    main()
