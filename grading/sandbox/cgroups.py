"""A pids cgroup per submission: a process limit that is per submission (RLIMIT_NPROC is
per user, shared by every worker), a complete list of its processes for the final kill, and
the CPU time of all of them together (``cpu_seconds``: RLIMIT_CPU is per process, so 64
processes would get 64 x the limit; the zygote kills a submission whose total passes it).

Works with cgroup v2 (``/sys/fs/cgroup`` with the ``pids`` controller; ``cpu.stat`` is there
without enabling a controller) and v1 (``/sys/fs/cgroup/pids``, plus a twin cgroup in the
``cpuacct`` hierarchy). Needs root; ``PidsCgroup.available()`` says whether it works here.
In a container, where the zygote cannot make cgroups, ``own_cpu_seconds`` reads the
container's own cgroup, which holds one submission at a time.
"""
from __future__ import annotations

import os
import signal
import time

_V1 = "/sys/fs/cgroup/pids"
_V2 = "/sys/fs/cgroup"
_CPUACCT_V1 = ("/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct")
PARENT = "labchain-sandbox"


def _cpuacct_v1() -> str | None:
    return next((p for p in _CPUACCT_V1 if os.path.exists(os.path.join(p, "cpuacct.usage"))), None)


def read_cpu_seconds(path: str) -> float | None:
    """CPU seconds used by every process that ever was in the cgroup at ``path`` (v1
    ``cpuacct.usage`` in ns, or v2 ``cpu.stat`` ``usage_usec``); None if unreadable."""
    try:
        with open(os.path.join(path, "cpuacct.usage")) as f:
            return int(f.read()) / 1e9
    except OSError:
        pass
    try:
        with open(os.path.join(path, "cpu.stat")) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
    except (OSError, ValueError):
        pass
    return None


def own_cpu_seconds() -> float | None:
    """CPU seconds of the cgroup this process is in, as mounted for it (a container's)."""
    for path in (*_CPUACCT_V1, _V2):
        if (used := read_cpu_seconds(path)) is not None:
            return used
    return None


def _root() -> str | None:
    if os.path.exists(os.path.join(_V1, "cgroup.procs")):
        return _V1
    try:
        with open(os.path.join(_V2, "cgroup.controllers")) as f:
            if "pids" in f.read().split():
                return _V2
    except OSError:
        pass
    return None


class PidsCgroup:
    """``/…/labchain-sandbox/<name>`` with ``pids.max``; ``join()`` from the child."""

    def __init__(self, name: str, max_pids: int) -> None:
        root = _root()
        if root is None:
            raise OSError("no pids cgroup controller is mounted")
        parent = os.path.join(root, PARENT)
        os.makedirs(parent, exist_ok=True)
        if root == _V2:   # v2: controllers must be enabled for the children of each level
            for level in (root, parent):
                with open(os.path.join(level, "cgroup.subtree_control"), "w") as f:
                    f.write("+pids")
        self.path = os.path.join(parent, name)
        os.makedirs(self.path, exist_ok=True)
        with open(os.path.join(self.path, "pids.max"), "w") as f:
            f.write(str(max_pids))
        self.cpu_path: str | None = self.path if root == _V2 else None
        if root == _V1 and (cpuacct := _cpuacct_v1()):
            self.cpu_path = os.path.join(cpuacct, PARENT, name)
            os.makedirs(self.cpu_path, exist_ok=True)

    @staticmethod
    def available() -> bool:
        if os.geteuid() != 0 or _root() is None:
            return False
        try:
            PidsCgroup(f"probe-{os.getpid()}", 16).remove()
            return True
        except OSError:
            return False

    def join(self) -> None:
        """Move the calling process (and its future children) into this cgroup."""
        for path in dict.fromkeys(filter(None, (self.path, self.cpu_path))):
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write("0")

    def cpu_seconds(self) -> float | None:
        """CPU time of every process of the submission so far, the dead ones included."""
        return read_cpu_seconds(self.cpu_path) if self.cpu_path else None

    def pids(self) -> list[int]:
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                return [int(line) for line in f if line.strip()]
        except OSError:
            return []

    def kill_all(self, timeout: float = 5.0) -> None:
        """SIGKILL every process in the cgroup until it is empty (forks may race the kill)."""
        deadline = time.monotonic() + timeout
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)

    def remove(self) -> None:
        self.kill_all()
        for path in dict.fromkeys(filter(None, (self.path, self.cpu_path))):
            for _ in range(100):   # rmdir fails with EBUSY until the last zombie is reaped
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
