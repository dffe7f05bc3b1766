"""Autograding speed: plain sequential ``nbgrader autograde`` vs ``labchain-grade autograde``.

Both grade the same N submissions of one fixture lab (tests/grading/fixtures) in the same
run, each on its own copy of the course, and must give the same score to every submission.
The mix cycles through the corpus cases that plain nbgrader can be trusted to run and
that it scores like LabChain: correct, partially correct, broken (syntax error,
exception), tricks (``__eq__``, shadowed builtins, sys.exit) and edited test cells.
Timeouts and crashes are left out (they measure the timeout, not the grader; patching
``builtins.type`` hangs IPython itself until the cell timeout) and so is everything malicious (plain nbgrader has no sandbox: a fork bomb would take the machine).

Prints: wall time of each, the ratio, seconds per submission, labchain-grade's mean
sandbox time per submission, and the peak memory (sum of RSS over the process tree).

    python bench/bench_grading.py [--n 200] [--workers 0] [--sandbox auto|os|container]

``--guard-ab K`` measures the cost of the grade-cell runtime guard instead (issue #10's budget:
the integrity checks may cost at most 10 % of throughput): no nbgrader run; the same
``labchain-grade autograde`` of the same submissions, K times with the guard and K times
without it (alternating on/off/off/on..., each on a fresh copy of the course, so that a
drifting load hits both alike). "Without" is the same CLI in a process whose sandbox worker
gets an empty guard key (``secrets`` replaced in ``grading.sandbox.worker`` only): the
grader itself has no switch that turns the guard off.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "grading" / "fixtures"))

from grading_corpus import CORPUS, build  # noqa: E402

MIX = ("a01-correct", "a02-no-lowercase", "a03-upper-hex", "a04-untouched", "a05-syntax-error",
       "a06-exception", "a07-eq-trick", "a09-shadow-names", "a11-sys-exit",
       "a19-edited-tests", "a22-other-kernel")


class PeakRss(threading.Thread):
    """Samples the summed RSS of a process and all its descendants."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self.stop = pid, every, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self._tree_rss())
            self.stop.wait(self.every)

    def _tree_rss(self) -> int:
        parents, rss = {}, {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                parents[int(pid)] = int(fields[1])
                rss[int(pid)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError, ValueError):
                continue
        total = 0
        for pid in rss:
            p, seen = pid, 0
            while p and p != self.pid and seen < 64:
                p, seen = parents.get(p, 0), seen + 1
            if p == self.pid:
                total += rss[pid]
        return total


def timed(cmd: list[str], cwd: Path) -> tuple[float, int, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = PeakRss(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    sampler.stop.set()
    sampler.join()
    return seconds, sampler.peak, subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def lab_scores(course) -> dict[str, float]:
    from grading.export import collect_scores
    data = collect_scores(course)
    return {sid: s["labs"]["lab-a"]["score"] for sid, s in data["students"].items() if "lab-a" in s["labs"]}


def _sandbox_seconds(log: Path) -> float:
    """The sandbox's own time for one submission, from its log line ``sandbox os: ok in X s``."""
    import re
    m = re.search(r"sandbox \S+: \S+ in ([\d.]+) s", log.read_text())
    return float(m.group(1)) if m else 0.0


def make_course(root: Path, n: int):
    """A course of fixture lab-a with ``n`` submissions cycling through ``MIX``:
    (course, the cases, {student: expected score}). Also used by bench/bench_queue.py."""
    import nbformat

    from grading import api

    template = api.init(root, ROOT / "tests/grading/fixtures/labs", copy=True, labs=["lab-a"])
    api.generate(template)
    release = nbformat.read(str(template.release("lab-a", "lab-a")), as_version=4)
    cases = [c for c in CORPUS if c.student in MIX]
    expected = {}
    for i in range(n):
        case = cases[i % len(cases)]
        student = f"s{i:04d}-{case.student}"
        path = template.submitted("lab-a", student, "lab-a")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(build(case, release))
        expected[student] = float(case.expected)
    return template, cases, expected


UNGUARDED = ("import secrets, sys, types\n"
             "from grading.sandbox import worker\n"
             "worker.secrets = types.SimpleNamespace(token_bytes=lambda n: b'', token_hex=secrets.token_hex)\n"
             "from grading.cli import main\n"
             "sys.exit(main(sys.argv[1:]))\n")


def guard_ab(template, expected: dict[str, float], pairs: int, lc_args: list[str], tmp: Path) -> int:
    """Throughput of autograde with and without the runtime guard (see the module docstring)."""
    import statistics

    from grading.course import Course

    walls: dict[str, list[float]] = {"on": [], "off": []}
    wrong = 0
    for i in range(2 * pairs):
        mode = ("on", "off")[(i + i // 2) % 2]
        root = tmp / f"ab-{i}-{mode}"
        shutil.copytree(template.root, root, symlinks=True)
        prefix = [sys.executable, "-m", "grading.cli"] if mode == "on" else [sys.executable, "-c", UNGUARDED]
        seconds, _, out = timed(prefix + ["autograde", "lab-a", "--course", str(root)] + lc_args, ROOT)
        if out.returncode not in (0, 1):
            print(out.stderr[-3000:])
            raise SystemExit(f"labchain-grade autograde failed (guard {mode})")
        got = lab_scores(Course.open(root))
        wrong += sum(1 for s in expected if got.get(s) != expected[s])
        walls[mode].append(seconds)
        print(f"  run {i + 1}: guard {mode:3s} {seconds:6.1f} s ({len(expected) / seconds:.1f} submissions/s)",
              flush=True)
        shutil.rmtree(root, ignore_errors=True)
    on, off = statistics.median(walls["on"]), statistics.median(walls["off"])
    print(f"guard on  median {on:6.1f} s   {len(expected) / on:5.1f} submissions/s")
    print(f"guard off median {off:6.1f} s   {len(expected) / off:5.1f} submissions/s")
    print(f"throughput cost of the guard: {(1 - off / on) * 100:.1f} % (budget 10 %); "
          f"load {os.getloadavg()[0]:.1f}; scores as expected: {'yes' if not wrong else f'NO ({wrong} wrong)'}")
    return 0 if not wrong else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="number of submissions (default 200)")
    parser.add_argument("--workers", type=int, default=0, help="labchain-grade workers (0: one per core)")
    parser.add_argument("--sandbox", default="auto", help="auto, os or container")
    parser.add_argument("--guard-ab", type=int, default=0, metavar="K",
                        help="instead: K runs with and K without the runtime guard (no nbgrader)")
    args = parser.parse_args()

    from grading.course import Course

    bindir = Path(sys.executable).parent
    tmp = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        template, cases, expected = make_course(tmp / "template", args.n)
        if args.guard_ab:
            lc_args = ["--sandbox", args.sandbox, "--no-progress"]
            lc_args += ["--workers", str(args.workers)] if args.workers else []
            return guard_ab(template, expected, args.guard_ab, lc_args, tmp)
        courses = {}
        for name in ("nbgrader", "labchain"):
            shutil.copytree(template.root, tmp / name, symlinks=True)
            courses[name] = Course.open(tmp / name)

        nb_s, nb_mem, nb_out = timed([str(bindir / "nbgrader"), "autograde", "lab-a", "--force"],
                                     courses["nbgrader"].root)
        if nb_out.returncode != 0:
            print(nb_out.stderr[-3000:])
            raise SystemExit("nbgrader autograde failed")
        lc_cmd = [sys.executable, "-m", "grading.cli", "autograde", "lab-a", "--course", str(courses["labchain"].root),
                  "--sandbox", args.sandbox, "--no-progress"]
        if args.workers:
            lc_cmd += ["--workers", str(args.workers)]
        lc_s, lc_mem, lc_out = timed(lc_cmd, ROOT)
        if lc_out.returncode not in (0, 1):
            print(lc_out.stderr[-3000:])
            raise SystemExit("labchain-grade autograde failed")

        got_nb, got_lc = lab_scores(courses["nbgrader"]), lab_scores(courses["labchain"])
        differ = {s: (got_nb.get(s), got_lc.get(s), expected[s]) for s in expected
                  if not (got_nb.get(s) == got_lc.get(s) == expected[s])}
        from grading.gradebook import done_rows, gradebook
        with gradebook(courses["labchain"].db_url) as gb:
            rows = done_rows(gb, "lab-a")
        total_mean = sum(r["seconds"] or 0 for r in rows.values()) / max(1, len(rows))
        sandbox_mean = sum(_sandbox_seconds(courses["labchain"].log_path("lab-a", s)) for s in expected) / args.n
        kind = {r["sandbox"] for r in rows.values()}

        print(f"submissions               {args.n} (lab-a, {len(cases)} kinds cycled), {os.cpu_count()} cores, "
              f"load {os.getloadavg()[0]:.1f}")
        print(f"nbgrader autograde        {nb_s:8.1f} s   {nb_s / args.n:6.3f} s/submission   "
              f"peak RSS {nb_mem / 2**20:7.0f} MiB")
        print(f"labchain-grade autograde  {lc_s:8.1f} s   {lc_s / args.n:6.3f} s/submission   "
              f"peak RSS {lc_mem / 2**20:7.0f} MiB   sandbox {','.join(sorted(kind))}")
        print(f"speed-up                  {nb_s / lc_s:8.1f} x")
        print(f"labchain per submission   {total_mean:8.3f} s in a worker = {sandbox_mean:.3f} s in the sandbox "
              f"(kernel fork + run) + {total_mean - sandbox_mean:.3f} s parent overhead (sanitize, save)")
        print(f"same scores               {'yes' if not differ else 'NO'} ({args.n - len(differ)}/{args.n})")
        for student, (a, b, want) in sorted(differ.items())[:10]:
            print(f"  {student}: nbgrader {a}, labchain {b}, expected {want}")
        return 0 if not differ else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
