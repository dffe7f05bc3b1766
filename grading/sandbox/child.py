"""What runs in the processes forked for one submission: monitor -> init -> kernel.

    zygote --fork--> monitor: setsid, join pids cgroup, unshare(net, pid, mount, ipc, uts)
             --fork--> init (pid 1 of the new pid namespace): private /proc, /tmp, hidden
                       paths, lo up, setuid(sandbox user), no_new_privs; reaps orphans
                  --fork--> kernel: rlimits, chdir(scratch), clean environment -> IPKernelApp

Init reports its pid, then the kernel's wait status and CPU time, as JSON lines through a
pipe to the zygote (``send``). None of these functions return: each process ends in
``os._exit``. See docs/grading-sandbox.md for what each step protects.
"""
from __future__ import annotations

import functools
import json
import os
import signal
import socket
import sys
import traceback
from dataclasses import dataclass
from typing import Any

from grading.sandbox import guard, oslevel   # imported here, in the zygote: the kernel
                                             # may not see this checkout
from grading.sandbox.cgroups import PidsCgroup
from grading.sandbox.limits import Limits

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
# Address space a started kernel adds to the zygote's before running any cell (thread stacks,
# malloc arenas, ZeroMQ; measured ~140 MiB, virtual not resident), so that `memory_mb` is
# what student code can allocate.
KERNEL_VM = 192 * 2**20
ENV_KEEP = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "MALLOC_ARENA_MAX",
            "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "PYDEVD_DISABLE_FILE_VALIDATION")

@dataclass(frozen=True, slots=True)
class Sandbox:
    """The protections a zygote applies to every kernel it forks (decided at its start)."""

    user: oslevel.SandboxUser | None    # None: keep the zygote's own user (not root)
    namespaces: bool                    # new net/pid/mount/ipc/uts namespaces
    cgroups: bool                       # a pids cgroup per submission
    hide_paths: tuple[str, ...]         # covered by an empty tmpfs (needs namespaces)
    keep_paths: tuple[str, ...]         # re-attached under hidden paths (Python, packages)
    baseline_vm: int                    # the zygote's address space, bytes
    exclusive_user: bool = False        # only this zygote uses `user` here (a container)


def send(fd: int, record: dict[str, Any]) -> None:
    os.write(fd, (json.dumps(record) + "\n").encode())


def monitor(sb: Sandbox, req: dict[str, Any], limits: Limits, cgroup: PidsCgroup | None,
            report: int, zygote: int) -> None:
    """Runs in the zygote's child (``zygote`` is the zygote's pid), as root on the host side
    of the namespaces."""
    try:
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        oslevel.die_with_parent(parent=zygote)
        oslevel.set_process_name("sandbox-monitor")
        os.setsid()
        if cgroup:
            cgroup.join()
        if sb.namespaces:
            oslevel.unshare(oslevel.SANDBOX_NAMESPACES)
        lifeline, keep = os.pipe()   # init sees end of file on `lifeline` once we are gone
        init = os.fork()
    except Exception as exc:
        send(report, {"error": f"could not set up the sandbox: {exc}"})
        os._exit(71)
    if init == 0:
        os.close(keep)
        _init(sb, req, limits, report, lifeline)
    os.close(lifeline)
    send(report, {"init": init})
    _, status = os.waitpid(init, 0)
    send(report, {"status": status})   # used only if init died before reporting the kernel
    os._exit(0)


def _init(sb: Sandbox, req: dict[str, Any], limits: Limits, report: int, lifeline: int) -> None:
    """The submission's init (pid 1 of its pid namespace): sets up mounts and network,
    drops root, forks the kernel, reaps orphans, and reports how the kernel ended.

    The kernel is not pid 1 itself because Linux ignores default-action signals such as
    SIGXCPU (the CPU limit) for a namespace's init and expects init to reap orphans.
    When init exits the namespace dies: every process left in it is killed."""
    step = "start"
    try:
        oslevel.die_with_parent(lifeline=lifeline)   # the monitor, outside our pid namespace
        oslevel.set_process_name("sandbox-init")
        scratch = req["scratch"]
        if sb.namespaces:
            step = "private mounts"
            oslevel.private_mounts(scratch, sb.hide_paths, sb.keep_paths)
            step = "loopback"
            try:
                oslevel.loopback_up()
            except OSError:   # no CAP_NET_ADMIN: no loopback either, still no network
                pass
            socket.sethostname("sandbox")
        else:
            oslevel.prctl(oslevel.PR_SET_CHILD_SUBREAPER, 1)   # orphans come back to us
        step = "kernel log"
        log = os.open(os.path.join(scratch, "kernel.log"),
                      os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if sb.user:
            os.fchown(log, sb.user.uid, sb.user.gid)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        for low, high in _ranges_without(3, 65536, sorted((report, lifeline))):
            os.closerange(low, high)
        nproc = _nproc(sb, req, limits)
        step = "dropping privileges"
        if sb.user:
            oslevel.drop_privileges(sb.user)
            oslevel.die_with_parent(lifeline=lifeline)   # a uid change cleared it
        os.close(lifeline)
        oslevel.prctl(oslevel.PR_SET_NO_NEW_PRIVS, 1)
        init = os.getpid()   # 1 in a new pid namespace
        kernel = os.fork()
    except BaseException as exc:
        send(report, {"error": f"could not set up the sandbox ({step}): {exc!r}"})
        os._exit(71)
    if kernel == 0:
        try:
            _become_kernel(sb, req, limits, nproc, report, init)
        except BaseException as exc:   # reported, then the kernel process ends
            try:
                traceback.print_exc()   # into kernel.log
                send(report, {"error": f"could not start the kernel: {exc!r}"})
            finally:
                os._exit(72)
    while True:
        try:
            pid, status, usage = os.wait4(-1, 0)
        except ChildProcessError:
            os._exit(0)
        if pid == kernel:
            send(report, {"status": status, "cpu": round(usage.ru_utime + usage.ru_stime, 3)})
            os._exit(0)


def _ranges_without(low: int, high: int, keep: list[int]) -> list[tuple[int, int]]:
    """``[low, high)`` as ``closerange`` arguments that leave the sorted fds ``keep`` open."""
    ranges = []
    for fd in keep:
        ranges.append((low, fd))
        low = fd + 1
    return ranges + [(low, high)]


def _nproc(sb: Sandbox, req: dict[str, Any], limits: Limits) -> int | None:
    """RLIMIT_NPROC, which counts every process and thread of the user machine-wide."""
    if sb.user is None:      # the grader's own user: leave room for what already runs
        return oslevel.count_user_processes(os.getuid()) + limits.max_processes
    if sb.cgroups or sb.exclusive_user:   # a pids cgroup / the container's pids limit
        return None                       # counts per submission; a per-user limit would
                                          # let other graders' kernels starve this one
    return limits.max_processes * int(req.get("workers", 1))   # shared by the workers


def _become_kernel(sb: Sandbox, req: dict[str, Any], limits: Limits, nproc: int | None,
                   report: int, init: int) -> None:
    scratch = req["scratch"]
    oslevel.die_with_parent(parent=init)
    oslevel.set_process_name("sandbox-kernel")
    oslevel.set_rlimits(address_space=sb.baseline_vm + KERNEL_VM + limits.memory_mb * 2**20,
                        cpu_seconds=int(limits.cpu_seconds), nproc=nproc,
                        fsize=limits.max_file_mb * 2**20)
    os.chdir(scratch)
    os.umask(0o077)
    env = {k: os.environ[k] for k in ENV_KEEP if k in os.environ}
    env.update(HOME=scratch, TMPDIR=scratch if not sb.namespaces else "/tmp",
               IPYTHONDIR=os.path.join(scratch, ".ipython"),
               MPLCONFIGDIR=os.path.join(scratch, ".matplotlib"), MPLBACKEND=INLINE_BACKEND,
               JPY_SESSION_NAME="submission.ipynb")
    env.update(req.get("env") or {})
    os.environ.clear()
    os.environ.update(env)
    os.close(report)
    # the key leaves the request (no frame on the stack keeps it): only the guard has it
    _start_ipykernel(req["connection_file"], pending_output=min(limits.max_output_bytes, 2**20),
                     guard_key=bytes.fromhex(req.pop("guard_key", "")))
    os._exit(0)


def _start_ipykernel(connection_file: str, pending_output: int, guard_key: bytes = b"") -> None:
    """Become a real IPython kernel (what ``python -m ipykernel_launcher -f FILE`` does)."""
    try:
        import numpy
        numpy.random.seed()   # a fresh process would seed from the OS, not share the zygote's
    except ImportError:
        pass
    from traitlets.config import Config
    if "matplotlib" in sys.modules:   # what a freshly started kernel would use (resolved lazily)
        sys.modules["matplotlib"].rcParams["backend"] = INLINE_BACKEND
    sys.argv = ["ipykernel_launcher", "-f", connection_file]   # as student code would see it
    # No history database (not even in memory: sqlite set-up per start); no banner in kernel.log
    config = Config({"IPKernelApp": {"connection_file": connection_file, "log_level": "CRITICAL"},
                     "HistoryManager": {"enabled": False}})
    app = kernel_app_class().instance(config=config)
    app.initialize([])
    for stream in (sys.stdout, sys.stderr):
        bound_pending_output(stream, pending_output)
    if guard_key:   # before the first message, so before any student code
        guard.install(app.kernel, guard_key)
    del guard_key
    app.start()


def bound_pending_output(stream: Any, limit: int) -> None:
    """Make ``print`` wait for the kernel's IOPub thread once ``limit`` characters are waiting.

    ipykernel's ``OutStream`` collects writes in memory and publishes them every 0.2 s; a
    ``while True: print(...)`` loop fills that buffer faster than the memory limit allows, so
    the kernel died of ``MemoryError`` (in the cell, or in its own I/O thread: a crash) before
    the grader ever saw the output cap reached. Flushing synchronously past ``limit`` gives
    back-pressure: memory stays bounded and the grader sees the flood, stops the kernel and
    reports "printed more than N bytes of output" every time."""
    write = stream.write
    pending = 0

    def bounded_write(text: str) -> int | None:
        nonlocal pending
        written = write(text)   # raises for anything but a str, as ipykernel's does
        pending += len(text)
        if pending > limit:
            pending = 0
            stream.flush()   # blocks until the I/O thread has published the buffer
        return written

    stream.write = bounded_write


@functools.cache
def kernel_app_class() -> type:
    """IPKernelApp configured with a ``Config`` object instead of a command line: the same
    settings (they take precedence over config files exactly as command-line options do),
    without building an argparse parser over every configurable class for each kernel."""
    from ipykernel.kernelapp import IPKernelApp

    class GradingKernelApp(IPKernelApp):  # type: ignore[misc]
        def parse_command_line(self, argv: Any = None) -> None:
            self.argv, self.extra_args = [], []

    return GradingKernelApp
