"""Distributed grading: ``autograde --queue`` with 2 workers on loopback vs local ``autograde --workers 2``.

Both grade the same N submissions of fixture lab-a (the mix of bench/bench_grading.py) in
the same run, each on its own copy of the course, and must give every submission the same
score. The queue run uses a Redis server of its own (Debian's ``redis-server`` on a free
loopback port, no persistence) unless ``--queue URL`` is given, and ``--remote-workers``
``labchain-grade worker`` processes with ``--sandboxes`` warm sandboxes each, started
before the timer (workers are long-running services); their sandboxes warm up on the first
task, inside the timing, as the local run's do.

Prints both wall times, the throughput ratio (queue / local; goal >= 0.9), and seconds per
submission.

    python bench/bench_queue.py [--n 200] [--remote-workers 2] [--sandboxes 1] [--rounds 1]
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "grading" / "fixtures"))

from bench_grading import lab_scores, make_course, timed  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(tmp: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no", "--dir", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def start_workers(url: str, count: int, sandboxes: int, tmp: Path) -> list[subprocess.Popen]:
    from grading.queue.app import make_app, worker_sandboxes

    procs = [subprocess.Popen([sys.executable, "-m", "grading.cli", "worker", "--queue", url,
                               "--sandboxes", str(sandboxes), "--name", f"bench{i}@loopback"],
                              stdout=open(tmp / f"worker{i}.log", "wb"), stderr=subprocess.STDOUT,
                              start_new_session=True) for i in range(count)]
    app, deadline = make_app(url), time.monotonic() + 60
    while len(worker_sandboxes(app, url, 2, timeout=0.5)) < count:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise SystemExit("the workers did not come up: " + (tmp / "worker0.log").read_text()[-2000:])
    return procs


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` itself (its threads; not its sandbox processes)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="submissions (default 200)")
    parser.add_argument("--remote-workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--sandboxes", type=int, default=1, help="sandboxes per worker (default 1)")
    parser.add_argument("--local-workers", type=int, default=2, help="local --workers (default 2)")
    parser.add_argument("--rounds", type=int, default=1, help="local/queue pairs, alternating")
    parser.add_argument("--queue", help="an existing Redis URL (default: a private redis-server)")
    args = parser.parse_args()

    from grading.course import Course

    tmp = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    redis = None
    workers: list[subprocess.Popen] = []
    try:
        template, cases, expected = make_course(tmp / "template", args.n)
        if args.queue:
            url = args.queue
        else:
            redis, url = start_redis(tmp)
        workers = start_workers(url, args.remote_workers, args.sandboxes, tmp)
        print(f"submissions  {args.n} (lab-a, {len(cases)} kinds cycled), {os.cpu_count()} cores, "
              f"{args.remote_workers} workers x {args.sandboxes} sandbox(es) vs local --workers "
              f"{args.local_workers}, load {os.getloadavg()[0]:.1f}")
        ratios, same = [], True
        worker_cpu = sum(cpu_seconds(w.pid) for w in workers)
        for r in range(args.rounds):
            times = {}
            for mode in ("local", "queue"):
                dest = tmp / f"{mode}{r}"
                shutil.copytree(template.root, dest, symlinks=True)
                cmd = [sys.executable, "-m", "grading.cli", "autograde", "lab-a", "--course", str(dest),
                       "--sandbox", "os", "--no-progress"]
                cmd += ["--workers", str(args.local_workers)] if mode == "local" else ["--queue", url]
                seconds, peak, out = timed(cmd, ROOT)
                if out.returncode not in (0, 1):
                    print(out.stdout[-2000:], out.stderr[-3000:])
                    raise SystemExit(f"{mode} autograde failed")
                got = lab_scores(Course.open(dest))
                differ = [s for s in expected if got.get(s) != expected[s]]
                same &= not differ
                times[mode] = seconds
                print(f"round {r} {mode:<5}  {seconds:7.1f} s  {seconds / args.n:6.3f} s/submission  "
                      f"peak RSS (coordinator tree) {peak / 2**20:6.0f} MiB  same scores "
                      f"{args.n - len(differ)}/{args.n}")
            ratios.append(times["local"] / times["queue"])
            print(f"round {r} throughput queue/local  {ratios[-1]:.2f}x")
        worker_cpu = sum(cpu_seconds(w.pid) for w in workers) - worker_cpu
        print(f"worker processes' own CPU (Celery, Redis I/O, JSON and the sandbox drivers, which a local run has in its parent; not the kernels): "
              f"{worker_cpu:.1f} s = {worker_cpu / args.n / args.rounds * 1000:.0f} ms/submission")
        print(f"throughput queue/local  {', '.join(f'{x:.2f}' for x in ratios)} (goal >= 0.9); load "
              f"{os.getloadavg()[0]:.1f}")
        return 0 if same else 1
    finally:
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            try:
                w.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
        if redis is not None:
            redis.terminate()
            redis.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
