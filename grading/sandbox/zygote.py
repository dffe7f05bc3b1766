"""The zygote: a warm, single-threaded Python that forks one sandboxed kernel per submission.

Run as ``python -m grading.sandbox.zygote --socket PATH`` (one per worker, on the host or as
the main process of a worker's container). It imports ipykernel, IPython, numpy, matplotlib
(Agg) and labchain once, then serves JSON-line requests from exactly one driver on a unix
socket, one submission at a time:

``info``  -> the protections this zygote applies (user, namespaces, cgroup)
``spawn`` {connection_file, scratch, limits, env, deadline, workers} -> {pid}
``poll``  -> {running, exitcode, signal, cpu, error}
``kill``  -> kills the submission's whole process tree and reports how it ended
``finish``-> like kill; then (after replying) removes the cgroup and the scratch directory

Each spawn forks monitor -> init -> kernel (``grading/sandbox/child.py``). Killing init
(pid 1 of its pid namespace) makes Linux kill every process in the namespace; the cgroup and
the process group are killed as well, so nothing survives a submission.
The zygote never sees a notebook: cells reach the kernel over ZeroMQ from the driver.
The zygote exits when its driver disconnects, killing the current submission.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import select
import shutil
import signal
import site
import socket
import sys
import time
from typing import Any

# Before numpy/OpenBLAS are imported: one thread each, so a kernel's address space stays
# small and predictable under RLIMIT_AS.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ["MPLBACKEND"] = "Agg"
os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"   # debugpy's import-time warning

from grading.sandbox import oslevel  # noqa: E402
from grading.sandbox.cgroups import PidsCgroup, own_cpu_seconds  # noqa: E402
from grading.sandbox.child import INLINE_BACKEND, Sandbox, kernel_app_class, monitor  # noqa: E402
from grading.sandbox.limits import Limits  # noqa: E402

# What a started kernel imports (measured), so a forked kernel imports next to nothing.
PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger", "IPython",
           "IPython.core.completerlib", "IPython.core.debugger", "IPython.core.oinspect",
           "IPython.extensions.storemagic", "pdb", "sqlite3", "faulthandler", "cProfile",
           "tornado.platform.asyncio", "numpy", "matplotlib.pyplot", "labchain",
           # the modules tests import, so the runtime guard's snapshot has them pristine
           "labchain.chain", "labchain.miner", "labchain.wallet", "labchain.difficulty",
           "labchain.node", "labchain.testnet", "numpy.testing",
           # what IPython imports when it formats the first traceback (~30 ms otherwise, paid
           # by every submission with a failing test)
           "stack_data", "executing", "pure_eval", "asttokens", "pygments.formatters.terminal256",
           "pygments.styles", "IPython.core.logger")
# (not matplotlib_inline: it hooks into the IPython shell when imported, so the kernel must)
ACCEPT_TIMEOUT = 300   # seconds to wait for the driver that started this zygote


def preload(modules: tuple[str, ...]) -> list[str]:
    loaded = []
    for name in modules:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception:   # an optional module (labchain in a bare image) is simply not warm
            pass
    warm_lazy_state()
    return loaded


def warm_lazy_state() -> None:
    """Do once here what every kernel would otherwise do after the fork (measured):

    - numpy's first ``random.seed()`` initialises its seeding machinery (~6-9 ms); a kernel
      still reseeds from the OS after the fork, which then costs ~0.1 ms;
    - the first ``rcParams["backend"] = <inline backend>`` makes matplotlib scan the
      installed packages' entry points for backends (~5-10 ms of file reads); the value
      set here is exactly what every kernel sets (``child.INLINE_BACKEND``), and it does not
      import matplotlib_inline (that must happen in the kernel, see PRELOAD);
    - the kernel's application class (``child.kernel_app_class``), not an instance;
    - the caches behind IPython's traceback formatting (``_format_a_traceback``).
    All of it is the same for every submission and happens before any student code exists.
    Each step is optional: one that fails (a bare image) only leaves that part cold.
    """
    steps = []
    if "numpy" in sys.modules:
        steps.append(lambda: sys.modules["numpy"].random.seed())
    if "matplotlib" in sys.modules:
        steps.append(lambda: sys.modules["matplotlib"].rcParams.__setitem__("backend", INLINE_BACKEND))
    if "ipykernel.kernelapp" in sys.modules:
        steps += [kernel_app_class, _format_a_traceback]   # the class only, no instance
    for step in steps:
        try:
            step()
        except Exception:
            pass


def _format_a_traceback() -> None:
    """IPython's first traceback costs ~50-100 ms that later ones do not: pygments compiles
    the Python lexer's token regexes (cached on the class) and ``inspect.getmodule`` builds
    its file -> module cache. Both are filled here, with an exception of our own, without
    creating an IPython shell (the kernel must create the only one)."""
    from IPython.core import ultratb
    try:
        raise AssertionError("zygote warm-up")
    except AssertionError:
        etype, value, tb = sys.exc_info()
        for mode in ("Context", "Verbose"):
            ultratb.AutoFormattedTB(mode=mode).structured_traceback(etype, value, tb)


class Zygote:
    """Serves one driver; forks one submission at a time with the protections in ``sandbox``."""

    def __init__(self, sandbox: Sandbox, preloaded: list[str]) -> None:
        self.sandbox, self.preloaded = sandbox, preloaded
        self.child: dict[str, Any] | None = None
        self.leftovers: list[dict[str, Any]] = []   # finished submissions not yet cleaned up
        self.count = 0

    def info(self) -> dict[str, Any]:
        sb = self.sandbox
        return {"user": sb.user.name if sb.user else None,
                "uid": sb.user.uid if sb.user else os.getuid(), "namespaces": sb.namespaces,
                "cgroups": sb.cgroups, "hide_paths": list(sb.hide_paths),
                "preloaded": self.preloaded, "baseline_vm": sb.baseline_vm, "pid": os.getpid(),
                "python": sys.version.split()[0]}

    # -- one submission ------------------------------------------------------------------
    def spawn(self, req: dict[str, Any]) -> dict[str, Any]:
        self.finish({})
        self.count += 1
        limits = Limits.from_json(req["limits"])
        scratch = req["scratch"]
        user = self.sandbox.user
        if user:   # the kernel owns its scratch directory and the files put there for it
            for path, dirs, files in os.walk(scratch):
                for name in (".", *dirs, *files):
                    os.lchown(os.path.join(path, name), user.uid, user.gid)
        cgroup = None
        if self.sandbox.cgroups:
            cgroup = PidsCgroup(f"{os.getpid()}-{self.count}", limits.max_processes)
        read_fd, write_fd = os.pipe()
        me = os.getpid()
        pid = os.fork()
        if pid == 0:   # the monitor
            try:
                os.close(read_fd)
                monitor(self.sandbox, req, limits, cgroup, write_fd, me)
            finally:
                os._exit(70)
        os.close(write_fd)
        self.child = {"pid": pid, "init": None, "status": None, "pipe": read_fd,
                      "buffer": b"", "cgroup": cgroup, "scratch": scratch,
                      "deadline": time.monotonic() + float(req.get("deadline", 3600)),
                      "cpu_limit": limits.cpu_seconds, "cpu_used": self._cpu_meter(cgroup)}
        while self.child["init"] is None and self.child["status"] is None:
            self._read_pipe(block=True)
        if self.child["init"] is None:
            return {"ok": False, "error": self.child.get("error") or "the sandbox failed to start"}
        return {"ok": True, "pid": self.child["init"]}

    def _cpu_meter(self, cgroup: PidsCgroup | None):
        """A function giving the CPU seconds the submission has used, all its processes
        together: its cgroup's, or in a container (one submission at a time) the
        container's own since now; None when neither can be read (RLIMIT_CPU only)."""
        if cgroup is not None and cgroup.cpu_seconds() is not None:
            return cgroup.cpu_seconds
        if self.sandbox.exclusive_user and (start := own_cpu_seconds()) is not None:
            return lambda: (own_cpu_seconds() or start) - start
        return None

    def _read_pipe(self, block: bool) -> None:
        child = self.child
        if child is None or child["pipe"] is None:
            return
        if not block and not select.select([child["pipe"]], [], [], 0)[0]:
            return
        data = os.read(child["pipe"], 65536)
        if not data:   # the monitor is gone
            os.close(child["pipe"])
            child["pipe"] = None
            if child["status"] is None:
                _, status = os.waitpid(child["pid"], 0)
                child["status"] = status if child["init"] is None else signal.SIGKILL
            return
        child["buffer"] += data
        *lines, child["buffer"] = child["buffer"].split(b"\n")
        for line in lines:
            record = json.loads(line)
            if child["status"] is not None:   # the first report of how the kernel ended wins
                record.pop("status", None)
                record.pop("cpu", None)
            child.update(record)

    def poll(self, _req: dict[str, Any]) -> dict[str, Any]:
        child = self.child
        if child is None:
            return {"ok": True, "running": False, "exitcode": None, "signal": None}
        while child["pipe"] is not None and select.select([child["pipe"]], [], [], 0)[0]:
            self._read_pipe(block=False)
        status = child["status"]
        if status is None:
            return {"ok": True, "running": True, "exitcode": None, "signal": None}
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        cpu = max(child.get("cpu") or 0, child.get("cpu_exceeded") or 0) or child.get("cpu")
        return {"ok": True, "running": False, "signal": signal.Signals(signum).name if signum else None,
                "exitcode": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                "cpu": cpu, "cpu_exceeded": bool(child.get("cpu_exceeded")),
                "error": child.get("error")}

    def kill(self, _req: dict[str, Any]) -> dict[str, Any]:
        child = self.child
        if child is None:
            return self.poll({})
        self.poll({})   # a report already in the pipe (the kernel crashed) is kept
        if child["init"] and child["status"] is None:
            _signal(child["init"], signal.SIGKILL)  # pid 1 of its namespace: takes all with it
        _signal(-child["pid"], signal.SIGKILL)      # the process group (no namespaces)
        if child["cgroup"] and not self.sandbox.namespaces:
            child["cgroup"].kill_all()              # no pid namespace: daemons die here
        # The monitor exits once it has reaped init, and with namespaces init's exit
        # completes only after every process of its pid namespace has exited: so when the
        # pipe closes the namespace is empty and the cgroup sweep below finds nothing to
        # kill (before, it polled a still-dying cgroup with 10 ms sleeps).
        while child["pipe"] is not None:
            self._read_pipe(block=True)
        try:
            os.waitpid(child["pid"], 0)
        except ChildProcessError:
            pass
        if child["cgroup"]:   # normally empty by now: one read of cgroup.procs
            child["cgroup"].kill_all()
        sb = self.sandbox
        if sb.exclusive_user and sb.user and not sb.namespaces:
            _kill_all_of(sb.user)
        return self.poll({})

    def finish(self, _req: dict[str, Any]) -> dict[str, Any]:
        """Kill (before replying: nothing of the submission runs once the driver hears back),
        then leave the slower clean-up for after the reply (``cleanup``)."""
        child = self.child
        if child is None:
            return self.poll({})
        result = self.kill({})
        self.leftovers.append(child)
        self.child = None
        return result

    def cleanup(self) -> None:
        while self.leftovers:
            child = self.leftovers.pop()
            if child["cgroup"]:
                child["cgroup"].remove()
            shutil.rmtree(child["scratch"], ignore_errors=True)
        if self.child is None:
            _reap_strays()

    def check_deadline(self) -> None:
        """The per-submission CPU limit (checked at least once a second), and a safety net
        for the wall-clock limits the driver enforces: this catches a driver that hangs."""
        child = self.child
        if not child or child["status"] is not None:
            return
        if child["cpu_used"] and (used := child["cpu_used"]()) > child["cpu_limit"]:
            child["cpu_exceeded"] = round(used, 3)
            self.kill({})
        elif time.monotonic() > child["deadline"]:
            self.kill({})

    # -- serving -------------------------------------------------------------------------
    def serve(self, path: str) -> None:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        os.chmod(path, 0o600)
        server.listen(1)
        server.settimeout(ACCEPT_TIMEOUT)
        try:
            conn, _ = server.accept()
        except TimeoutError:   # the driver that started us is gone
            return
        conn.settimeout(None)
        server.close()
        handlers = {"info": lambda r: {"ok": True, **self.info()}, "spawn": self.spawn,
                    "poll": self.poll, "kill": self.kill, "finish": self.finish}
        buffer = b""
        try:
            while True:
                self.check_deadline()
                if b"\n" not in buffer:
                    if not select.select([conn], [], [], 1.0)[0]:
                        continue
                    data = conn.recv(65536)
                    if not data:
                        break
                    buffer += data
                    continue
                line, buffer = buffer.split(b"\n", 1)
                req = json.loads(line)
                try:
                    reply = handlers[req["op"]](req)
                except Exception as exc:
                    reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                conn.sendall((json.dumps(reply) + "\n").encode())
                self.cleanup()
        except (BrokenPipeError, ConnectionResetError):
            pass   # the driver is gone (killed mid-request): end its submission, then exit
        finally:
            self.finish({})
            self.cleanup()


def _reap_strays() -> None:
    """Reap exited children the zygote did not fork itself. ``kill`` ends a submission's
    monitor together with its process group, so the submission's init is re-parented to the
    zygote when the zygote is pid 1 of a container (on a host, the system's init reaps it).
    Unreaped, each would stay a zombie and count against the container's pids limit: after
    ~70 submissions no kernel could start. Called only between submissions, so the status
    of a current submission's monitor is never taken."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _import_paths(modules: list[str]) -> tuple[str, ...]:
    """Directories the kernel must still read inside the sandbox even when they lie under a
    hidden path: the Python installation, site-packages, and the preloaded packages
    themselves (not their parent directories, not the working directory: a checkout or a
    home directory may hold more than code)."""
    paths = {sys.prefix, sys.base_prefix, *site.getsitepackages()}
    for name in modules:
        top = sys.modules.get(name.split(".")[0])
        paths.update(os.path.abspath(p) for p in getattr(top, "__path__", None) or ())
    return tuple(sorted(p for p in paths if os.path.isdir(p)))


def _vm_size() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _kill_all_of(user: oslevel.SandboxUser) -> None:
    """kill(-1) as the sandbox user: every process of that user (escaped daemons too)."""
    pid = os.fork()
    if pid == 0:
        try:
            oslevel.drop_privileges(user)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--socket", required=True, help="unix socket to serve the driver on")
    parser.add_argument("--user", default=oslevel.DEFAULT_USER,
                        help="unprivileged user kernels run as (root only; '' = keep own user)")
    parser.add_argument("--no-namespaces", action="store_true",
                        help="do not unshare net/pid/mount namespaces")
    parser.add_argument("--no-cgroups", action="store_true", help="do not use a pids cgroup")
    parser.add_argument("--exclusive-user", action="store_true",
                        help="no other zygote uses the sandbox user in this pid namespace (a "
                             "container): after each submission kill every process of that user")
    parser.add_argument("--hide", action="append", default=list(oslevel.DEFAULT_HIDDEN),
                        help="directory to cover with an empty tmpfs inside the sandbox")
    parser.add_argument("--preload", default=",".join(PRELOAD),
                        help="comma-separated modules to import before forking")
    args = parser.parse_args(argv)
    # SIGPIPE stays ignored (Python's default): a reply to a driver that died mid-request is
    # a BrokenPipeError, after which ``serve`` still kills the submission and cleans up.
    # (With the default action the zygote died on the spot and left the submission running.)
    oslevel.set_process_name("sandbox-zygote")
    user = oslevel.sandbox_user(args.user) if args.user else None
    preloaded = preload(tuple(m for m in args.preload.split(",") if m))
    # Keep the warm heap out of the garbage collector: a collection in a forked kernel would
    # otherwise walk (and copy, page by page) every object the zygote imported.
    gc.collect()
    gc.freeze()
    sandbox = Sandbox(
        user=user,
        namespaces=os.geteuid() == 0 and not args.no_namespaces and oslevel.probe_namespaces(),
        cgroups=not args.no_cgroups and PidsCgroup.available(),
        hide_paths=tuple(args.hide), keep_paths=_import_paths(preloaded),
        baseline_vm=_vm_size(), exclusive_user=args.exclusive_user)
    Zygote(sandbox, preloaded).serve(args.socket)

if __name__ == "__main__":
    main()
