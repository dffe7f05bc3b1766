"""``Executor``: a pool of warm workers behind ``run`` / ``map``; the two launchers.

``OsLauncher`` starts each worker's zygote as a host process (root: separate user and
namespaces; otherwise rlimits only). ``ContainerLauncher`` starts it as the main process of a
container kept warm per worker (``network_mode="none"``, memory/CPU/pids limits).
"""
from __future__ import annotations

import concurrent.futures
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import nbformat

from grading.sandbox.limits import ExecResult, Limits
from grading.sandbox import oslevel
from grading.sandbox.oslevel import DEFAULT_HIDDEN
from grading.sandbox.worker import Launcher, SandboxError, Worker

_GRADING_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_REPO_ROOT = os.path.dirname(_GRADING_DIR)


def _is_checkout(path: str) -> bool:
    """A source tree (this repository), not an installed package: it holds the labs, the
    tests and their fixtures, i.e. the instructor's hidden tests."""
    return any(os.path.exists(os.path.join(path, name)) for name in (".git", "labs", "tests"))


def hidden_paths(hide_paths: Iterable[str] = (), follow_depth: int = 3) -> tuple[str, ...]:
    """Every directory the OS sandbox covers: the home directories, ``hide_paths`` (the
    course directory), each by its own path and its real path, the real path of every
    directory symlink found in them down to ``follow_depth`` levels (``source/<lab>`` may
    point into a checkout's ``labs/``), and the checkout this package runs from (an
    editable install: its labs, tests and fixtures). What kernels must import from under
    them (the virtualenv, the labchain package) is re-attached read-only by the zygote."""
    found = list(DEFAULT_HIDDEN)
    for top in hide_paths:
        top = os.path.abspath(top)
        found += [top, os.path.realpath(top)]
        for path, dirs, _files in os.walk(top):
            if path[len(top):].count(os.sep) >= follow_depth:
                dirs.clear()
            for name in dirs:
                link = os.path.join(path, name)
                if os.path.islink(link):
                    found.append(os.path.realpath(link))
    if _is_checkout(_REPO_ROOT):
        found += [_REPO_ROOT, os.path.realpath(_REPO_ROOT)]
    return tuple(dict.fromkeys(p for p in found if p != "/"))


class OsLauncher:
    """The zygote as a host process; ``hidden_paths(hide_paths)`` are covered by an empty
    tmpfs inside, and everything else but the scratch directory is read-only."""

    kind = "os"

    def __init__(self, hide_paths: Iterable[str] = (), namespaces: bool = True) -> None:
        self.hide_paths = hidden_paths(hide_paths)
        self.namespaces = namespaces

    def start(self, root: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "grading.sandbox.zygote",
               "--socket", os.path.join(root, "zygote.sock")]
        for path in self.hide_paths:
            cmd += ["--hide", os.path.abspath(path)]
        if not self.namespaces:
            cmd.append("--no-namespaces")
        env = {**os.environ, "MALLOC_ARENA_MAX": "2",
               "PYTHONPATH": os.pathsep.join(filter(None, [_REPO_ROOT, os.environ.get("PYTHONPATH")]))}
        with open(os.path.join(root, "zygote.log"), "ab") as log:
            return subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True, cwd=root)

    def alive(self, handle: subprocess.Popen) -> bool:
        return handle.poll() is None

    def stop(self, handle: subprocess.Popen) -> None:
        # closing the control socket already makes the zygote kill its kernel and exit
        try:
            handle.wait(timeout=10)
        except subprocess.TimeoutExpired:
            handle.kill()
            handle.wait()

    def inside(self, root: str, host_path: str) -> str:
        return host_path


def default_image() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return f"labchain/lab:{version('labchain')}"
    except PackageNotFoundError:
        return "labchain/lab:latest"


class ContainerLauncher:
    """The zygote as the main process of a container kept warm per worker.

    The worker's scratch root is bind-mounted at ``/sandbox`` (kernels' unix sockets work
    across it), and this checkout's ``grading`` package read-only at
    ``/opt/labchain-sandbox/grading`` so the zygote always matches the driver.
    """

    kind = "container"
    MOUNT = "/sandbox"
    USER = "student"   # exists in the image (whose root file system is read-only)

    def __init__(self, limits: Limits, image: str | None = None) -> None:
        import docker
        self.image = image or default_image()
        self.limits = limits
        try:
            self.client = docker.from_env(timeout=30)
            self.client.ping()
        except Exception as exc:
            raise SandboxError(f"no Docker engine is reachable: {exc}") from exc
        try:
            self.client.images.get(self.image)
        except Exception as exc:
            raise SandboxError(f"the image {self.image} is not built (see docker/): {exc}") from exc

    def start(self, root: str) -> Any:
        return self.client.containers.run(
            self.image,
            ["python3", "-m", "grading.sandbox.zygote", "--socket", f"{self.MOUNT}/zygote.sock",
             "--exclusive-user", "--user", self.USER],
            detach=True, auto_remove=True, network_mode="none",
            mem_limit=f"{self.limits.memory_mb + 512}m",
            memswap_limit=f"{self.limits.memory_mb + 512}m",
            nano_cpus=10**9, pids_limit=self.limits.max_processes + 16,
            volumes={root: {"bind": self.MOUNT, "mode": "rw"},
                     _GRADING_DIR: {"bind": "/opt/labchain-sandbox/grading", "mode": "ro"}},
            environment={"PYTHONPATH": "/opt/labchain-sandbox", "MALLOC_ARENA_MAX": "2"},
            # SYS_ADMIN (NET_ADMIN: loopback) lets the zygote, trusted and root in the container,
            # give each kernel its own pid/mount/ipc/net namespaces as on the host; kernels run
            # as `student` with no capabilities and no_new_privs. Read-only image, empty tmpfs
            # over homes and /tmp.
            cap_drop=["ALL"], cap_add=["SETUID", "SETGID", "CHOWN", "KILL", "DAC_OVERRIDE",
                                       "FOWNER", "SYS_ADMIN", "NET_ADMIN"],
            read_only=True, tmpfs={"/tmp": "size=64m,mode=1777", "/var/tmp": "size=64m,mode=1777",
                                   "/home": "size=1m,mode=755", "/root": "size=1m,mode=700"},
            security_opt=["no-new-privileges"], labels={"org.labchain.sandbox": "zygote"},
            user="root")   # the zygote needs root in the container to setuid each kernel

    def alive(self, handle: Any) -> bool:
        try:
            handle.reload()
            return handle.status in ("created", "running")
        except Exception:
            return False

    def stop(self, handle: Any) -> None:
        try:
            handle.remove(force=True)
        except Exception:   # already gone (auto_remove)
            pass

    def inside(self, root: str, host_path: str) -> str:
        return self.MOUNT + host_path[len(root):]


class Executor:
    """Runs sanitized notebooks in sandboxed kernels, ``workers`` at a time.

    ``run`` is thread-safe (it blocks until a worker is free); ``map`` runs many and yields
    ``(index, ExecResult)`` in completion order.
    """

    def __init__(self, launcher: Launcher, workers: int, limits: Limits, *,
                 scratch_dir: str | None = None, env: dict[str, str] | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.limits, self.workers, self.launcher = limits, workers, launcher
        parent = scratch_dir or tempfile.gettempdir()
        self._all = [Worker(launcher, limits, parent, workers, env) for _ in range(workers)]
        self._idle: queue.Queue[Worker] = queue.Queue()
        for worker in self._all:
            self._idle.put(worker)
        self._closed = False
        self._close_lock = threading.Lock()
        self.unsandboxed = ""   # why kernels are not isolated (set by make_executor), or ""

    @property
    def kind(self) -> str:
        return self.launcher.kind

    def warm_up(self) -> None:
        """Start every worker's zygote now (in parallel) instead of on first use."""
        with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
            list(pool.map(lambda w: w.ensure_started(), self._all))

    def describe(self) -> str:
        """One sentence for the grading summary: which sandbox, with which protections."""
        self.warm_up()
        info = self._all[0].info
        if self.kind == "container":
            where = f"container sandbox ({getattr(self.launcher, 'image', '?')}, no network)"
        else:
            where = "OS sandbox"
        parts = [f"user {info['user']}" if info.get("user") else "the grader's own user (not root)"]
        if info.get("namespaces"):
            parts.append("new net/pid/mount/ipc namespaces (no network)")
        elif self.kind == "os":
            parts.append("NO network namespace (network is reachable)")
        if info.get("cgroups"):
            parts.append("pids cgroup")
        parts.append("rlimits")
        return f"{where}: " + ", ".join(parts) + f"; {self.workers} warm worker(s)"

    def run(self, notebook: nbformat.NotebookNode, resources: dict[str, Any] | None = None,
            limits: Limits | None = None) -> ExecResult:
        """Execute one notebook; never raises for anything the notebook does.

        ``resources`` may hold ``files`` ({relative path: bytes}) copied into the scratch
        directory, e.g. data files a lab reads. ``limits`` overrides the executor's limits
        for this submission (e.g. per lab); a container's memory limit stays as started.
        """
        if self._closed:
            raise SandboxError("the executor is closed")
        worker = self._idle.get()
        try:
            return worker.run(notebook, resources, limits)
        finally:
            self._idle.put(worker)

    def map(self, notebooks: Iterable[nbformat.NotebookNode],
            resources: dict[str, Any] | None = None, limits: Limits | None = None
            ) -> Iterator[tuple[int, ExecResult]]:
        with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
            futures = {pool.submit(self.run, nb, resources, limits): i
                       for i, nb in enumerate(notebooks)}
            for future in concurrent.futures.as_completed(futures):
                yield futures[future], future.result()

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        for worker in self._all:
            worker.close()

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def docker_available(image: str | None = None) -> str | None:
    """None when containers can be used, else the reason they cannot."""
    try:
        ContainerLauncher(Limits(), image)
        return None
    except ImportError as exc:
        return f"the docker Python SDK is missing: {exc}"
    except SandboxError as exc:
        return str(exc)


def make_executor(kind: str = "auto", workers: int | None = None, limits: Limits = Limits(), *,
                  hide_paths: Iterable[str] = (), scratch_dir: str | None = None,
                  env: dict[str, str] | None = None, image: str | None = None,
                  allow_unsandboxed: bool = False) -> Executor:
    """An executor of the requested kind (``auto``: container if Docker and the image are
    there, else the OS sandbox). See the package docstring.

    The OS sandbox needs root; without it (``unsandboxed_reason``) this raises
    ``SandboxError`` unless ``allow_unsandboxed``, and the executor's ``unsandboxed`` then
    says why, for the grading summary."""
    workers = workers or os.cpu_count() or 1
    if kind == "auto":
        kind = "container" if docker_available(image) is None else "os"
    unsandboxed = ""
    if kind == "container":
        launcher: Launcher = ContainerLauncher(limits, image)
    elif kind == "os":
        unsandboxed = unsandboxed_reason()
        if unsandboxed and not allow_unsandboxed:
            raise SandboxError(f"refusing to grade without a real sandbox: {unsandboxed}; run the "
                               f"grader as root (or use the container sandbox), or pass "
                               f"--allow-unsandboxed (allow_unsandboxed=True) to grade anyway")
        launcher = OsLauncher(hide_paths)
    else:
        raise ValueError(f"unknown sandbox kind {kind!r}: use 'auto', 'os' or 'container'")
    executor = Executor(launcher, workers, limits, scratch_dir=scratch_dir, env=env)
    executor.unsandboxed = unsandboxed
    return executor


def unsandboxed_reason() -> str:
    """Why the OS sandbox could not isolate kernels here ("" when it can): without root it is
    rlimits only (the kernel runs as the grader, with the network and the gradebook)."""
    if os.geteuid() != 0:
        return ("the grader is not root, so kernels would run as the grader's own user, with "
                "the network and every file the grader can read (the gradebook included)")
    if not oslevel.probe_namespaces():
        return ("this machine does not let the grader create namespaces, so kernels would "
                "have the network and see the host's files")
    return ""
