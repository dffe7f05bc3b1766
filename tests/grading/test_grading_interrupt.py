"""Kill an autograde run midway, run it again: every submission ends graded exactly once."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from grading_kit import scores, write_submissions
from grading_corpus import OK_A, Case

from grading.gradebook import done_rows, gradebook

SLOW = "import time\ntime.sleep(0.4)\n"   # keeps the run long enough to be killed midway
CASES = [Case("lab-a", f"s{i:02d}", 10 if i % 2 else 5,
              {"sha_hex": SLOW + OK_A["sha_hex"] if i % 2 else "def sha_hex(d):\n    return ''\n",
               "count_words": OK_A["count_words"]}) for i in range(16)]


def _autograde_cmd(course) -> list[str]:
    return [sys.executable, "-m", "grading.cli", "autograde", "--course", str(course.root),
            "--workers", "2", "--sandbox", "os", "--no-progress", "--limit", "timeout_per_cell=10"]


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if text.encode() in fh.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def _describe(pids: list[int]) -> str:
    """``ps`` lines of ``pids`` (state, parent, age, command) for the failure message."""
    if not pids:
        return ""
    lines = [subprocess.run(["ps", "-o", "pid,ppid,pgid,stat,etimes,comm,args", "-p",
                             ",".join(map(str, pids))], capture_output=True, text=True).stdout]
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                lines += [f"{pid} {line.strip()}" for line in fh if line.startswith(("NSpid", "SigCgt", "SigIgn", "SigPnd", "ShdPnd"))]
            lines.append(f"{pid} wchan={open(f'/proc/{pid}/wchan').read()}")
        except OSError:
            pass
    return "\n".join(lines)


def _rows(course) -> dict:
    with gradebook(course.db_url) as gb:
        return done_rows(gb)


@pytest.mark.slow
def test_killed_run_resumes_and_grades_each_submission_once(course):
    write_submissions(course, CASES)
    proc = subprocess.Popen(_autograde_cmd(course), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(_rows(course)) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, "the run finished before it could be interrupted"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    # the killed run's sandboxes (their command line names the hidden course dir) go too
    deadline = time.monotonic() + 15
    while _processes_mentioning(str(course.root)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_mentioning(str(course.root)) == [], _describe(_processes_mentioning(str(course.root)))
    first = _rows(course)
    assert 3 <= len(first) < len(CASES)
    run1 = {r["run_id"] for r in first.values()}
    assert len(run1) == 1

    second = subprocess.run(_autograde_cmd(course), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    rows = _rows(course)
    assert set(rows) == {("lab-a", c.student) for c in CASES}
    assert scores(course) == {("lab-a", c.student): float(c.expected) for c in CASES}
    for (lab, student), row in rows.items():
        log = course.log_path(lab, student).read_text()
        starts = re.findall(r"start lab=\S+ student=\S+ run=(\w+)", log)
        if row["run_id"] in run1:      # finished before the kill: never touched again
            assert starts == [row["run_id"]], student
        else:                          # graded by the second run, exactly once there
            assert starts.count(row["run_id"]) == 1, student
            assert set(starts) <= run1 | {row["run_id"]}
