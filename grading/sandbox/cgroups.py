"""A pids cgroup per submission: a process limit that is per submission (RLIMIT_NPROC is
per user, shared by every worker) and a complete list of its processes for the final kill.

Works with cgroup v2 (``/sys/fs/cgroup`` with the ``pids`` controller) and v1
(``/sys/fs/cgroup/pids``). Needs root; ``PidsCgroup.available()`` says whether it works here.
"""
from __future__ import annotations

import os
import signal
import time

_V1 = "/sys/fs/cgroup/pids"
_V2 = "/sys/fs/cgroup"
PARENT = "labchain-sandbox"


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
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write("0")

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
        for _ in range(100):   # rmdir fails with EBUSY until the last zombie is reaped
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)
