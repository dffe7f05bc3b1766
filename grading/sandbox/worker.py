"""One worker: a warm zygote (on the host or in a container) and the loop that drives it.

A worker runs one submission at a time. ``Worker.run`` may be called from any thread: the
notebook is executed on the worker's own asyncio loop thread (nbclient is asynchronous), so
callers inside a running event loop (Jupyter) work too.
"""
from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import copy
import json
import os
import secrets
import shutil
import socket
import threading
import time
from typing import Any, Protocol

import nbformat

from grading.errors import GradingError
from grading.sandbox.kernel import (SIGNAL_WORDS, SandboxClient, close_context, error_output,
                                    kernel_manager)
from grading.sandbox.limits import ExecResult, Limits
from grading.sandbox.oslevel import read_sandbox_file


class SandboxError(GradingError):
    """The sandbox itself failed (zygote did not start, spawn refused); not the student's fault."""


class Launcher(Protocol):
    """Starts a zygote serving ``<root>/zygote.sock`` and maps host paths to its paths."""

    kind: str

    def start(self, root: str) -> Any: ...
    def alive(self, handle: Any) -> bool: ...
    def stop(self, handle: Any) -> None: ...
    def inside(self, root: str, host_path: str) -> str: ...


#: seconds one request to the zygote may take (spawn and kill wait for forks and exits)
REQUEST_TIMEOUT = 120
#: seconds past a submission's total time limit after which the driver gives up on it (the
#: submission's own timers normally end it long before; this bounds a driver-side hang)
RUN_GRACE = 60


class Worker:
    def __init__(self, launcher: Launcher, limits: Limits, scratch_parent: str, workers: int,
                 env: dict[str, str] | None = None, start_timeout: float = 120) -> None:
        self.launcher, self.limits, self.workers = launcher, limits, workers
        self.active = limits   # the limits of the submission being run
        self.env = dict(env or {})
        self.start_timeout = start_timeout
        self.root = _private_dir(scratch_parent)
        self.handle: Any = None
        self.conn: socket.socket | None = None
        self.buffer = b""
        self.info: dict[str, Any] = {}
        self.handed_over: str | None = None   # scratch directory the zygote cleans up
        self.guard_key = b""   # the submission's key for the runtime guard (guard.py)
        self.tampered: tuple[str, ...] = ()   # what the guard found in the last run
        self.lock = threading.Lock()
        self.generation = 0   # bumped when a hung run is abandoned (see ``run``)
        self._start_loop()

    def _start_loop(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="labchain-sandbox-worker")
        self.thread.start()

    # -- zygote life cycle -----------------------------------------------------------------
    def ensure_started(self) -> bool:
        """Start the zygote if it is not running; True when it was already warm."""
        if self.conn is not None and self.launcher.alive(self.handle):
            return True
        self.stop_zygote()
        sock_path = os.path.join(self.root, "zygote.sock")
        self.handle = self.launcher.start(self.root)
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conn.connect(sock_path)
                break
            except OSError:
                conn.close()
                if not self.launcher.alive(self.handle) or time.monotonic() > deadline:
                    self.stop_zygote()
                    raise SandboxError(f"the {self.launcher.kind} sandbox's zygote did not start")
                time.sleep(0.02)
        conn.settimeout(REQUEST_TIMEOUT)   # every wait on the zygote has a deadline
        self.conn, self.buffer = conn, b""
        self.info = self.request("info")
        return False

    def stop_zygote(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.handle is not None:
            self.launcher.stop(self.handle)
            self.handle = None
        for name in os.listdir(self.root):
            path = os.path.join(self.root, name)
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.unlink(path)

    def close(self) -> None:
        self.stop_zygote()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        if not self.thread.is_alive():   # a blocked loop thread is left to die with us
            self.loop.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """One request/reply with the zygote (the connection is used by one submission)."""
        if self.conn is None:
            raise SandboxError("the zygote is not running")
        try:
            self.conn.sendall((json.dumps({"op": op, **fields}) + "\n").encode())
            while b"\n" not in self.buffer:
                data = self.conn.recv(65536)
                if not data:
                    break
                self.buffer += data
        except TimeoutError:
            self.conn.close()   # the reply may still come: this connection is out of step
            self.conn = None
            raise SandboxError(f"the zygote did not answer {op!r} within {REQUEST_TIMEOUT} s") from None
        if b"\n" not in self.buffer:
            raise SandboxError("the zygote closed its connection")
        line, self.buffer = self.buffer.split(b"\n", 1)
        reply = json.loads(line)
        if not reply.get("ok"):
            raise SandboxError(f"the zygote refused {op!r}: {reply.get('error')}")
        return reply

    def spawn_kernel(self, scratch: str, driver_connection_file: str) -> int:
        """Write the kernel's connection file (paths as the zygote sees them), then fork."""
        with open(driver_connection_file) as f:
            info = json.load(f)
        info["ip"] = self.launcher.inside(self.root, info["ip"])
        kernel_file = os.path.join(scratch, "kernel.json")
        with open(kernel_file, "w") as f:
            json.dump(info, f)
        reply = self.request("spawn", connection_file=self.launcher.inside(self.root, kernel_file),
                             scratch=self.launcher.inside(self.root, scratch),
                             limits=self.active.to_json(), env=self.env, workers=self.workers,
                             deadline=self.active.timeout_total + 30,
                             guard_key=self.guard_key.hex())
        self.handed_over = scratch   # the zygote removes it after `finish`
        return int(reply["pid"])

    # -- one submission --------------------------------------------------------------------
    def run(self, nb: nbformat.NotebookNode, resources: dict[str, Any] | None = None,
            limits: Limits | None = None) -> ExecResult:
        with self.lock:
            self.active = limits or self.limits
            started = time.monotonic()
            try:
                warm = self.ensure_started()
            except SandboxError as exc:
                return ExecResult(nb, "error", str(exc), time.monotonic() - started, False,
                                  self.launcher.kind)
            self.tampered = ()
            future = asyncio.run_coroutine_threadsafe(
                self._run(nb, resources or {}, self.generation), self.loop)
            deadline = self.active.timeout_total + RUN_GRACE
            try:
                notebook, status, message = future.result(timeout=deadline)
            except concurrent.futures.TimeoutError:
                # The run's own timers did not end it: the loop thread is blocked (it must
                # never be, see oslevel.read_sandbox_file). Abandon that thread and its
                # zygote (which kills the submission); the next run gets fresh ones.
                future.cancel()
                self.generation += 1
                self.stop_zygote()
                self._start_loop()
                notebook, status, message = nb, "error", (
                    f"sandbox failure: the grader got no result within {deadline:g} s; "
                    f"the kernel was killed")
            except Exception as exc:   # a grader-side failure (disk full...): this one only
                self.stop_zygote()
                notebook, status, message = nb, "error", f"sandbox failure: {exc!r}"
            return ExecResult(notebook, status, message, time.monotonic() - started, warm,
                              self.launcher.kind, self.tampered)

    async def _run(self, nb: nbformat.NotebookNode, resources: dict[str, Any], generation: int
                   ) -> tuple[nbformat.NotebookNode, str, str]:
        nb = copy.deepcopy(nb)
        try:
            nbformat.validate(nb)
        except Exception as exc:
            return nb, "error", f"not a valid notebook: {str(exc).splitlines()[0]}"
        files = {str(name): data for name, data in (resources.get("files") or {}).items()}
        for name in files:
            if os.path.isabs(name) or ".." in name.split("/"):
                return nb, "error", f"resource file {name!r} points outside the scratch directory"
        scratch = os.path.join(self.root, secrets.token_hex(16))
        os.mkdir(scratch, 0o700)
        for name, data in files.items():
            path = os.path.join(scratch, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data if isinstance(data, bytes) else str(data).encode())
        km = kernel_manager(self, scratch)
        self.guard_key = secrets.token_bytes(32)
        client = SandboxClient(nb, km, self.active.max_output_bytes, guard_key=self.guard_key,
                               timeout=self.active.timeout_per_cell, startup_timeout=60,
                               allow_errors=True, interrupt_on_timeout=False,
                               shutdown_kernel="immediate", kernel_name="python3")
        task = asyncio.ensure_future(client.async_execute())
        expired = []   # nbclient turns a cancellation into DeadKernelError: remember why
        timer = asyncio.get_running_loop().call_later(
            self.active.timeout_total, lambda: (expired.append(True), task.cancel()))
        try:
            await task
            status, message = "ok", ""
        except (Exception, asyncio.CancelledError) as exc:   # each failure becomes a status
            status, message = self._explain(exc, client, km, bool(expired))
            if status in ("crashed", "error") and (last := _last_log_line(scratch, self._owners())):
                message += f" (kernel log: {last})"
        finally:
            timer.cancel()
            atexit.unregister(client._cleanup_kernel)   # nbclient leaves it after a failed start
            try:
                if generation == self.generation:   # else `run` gave up on this one
                    self.request("finish")
            except (SandboxError, OSError):
                self.stop_zygote()   # a broken zygote is replaced before the next submission
            # Once the zygote has the scratch directory it removes it after replying, while
            # this thread goes on (removing it here too made both wait on each other's
            # rmdir: ~8 ms per submission). stop_zygote() empties the whole worker root.
            if self.handed_over != scratch:
                shutil.rmtree(scratch, ignore_errors=True)
            self.handed_over = None
            await _cancel_leftover_tasks()
            close_context(km)
        self.tampered = tuple(client.tampered)
        return nb, status, message

    def _explain(self, exc: BaseException, client: SandboxClient, km: Any, expired: bool
                 ) -> tuple[str, str]:
        from nbclient.exceptions import CellTimeoutError
        if isinstance(exc, SandboxError):
            return "error", str(exc)
        prov = km.provisioner
        ended = (prov.last_status if prov is not None else None) or self._poll_quietly()
        cell_index = _current_cell(client)
        where = f"cell {cell_index}" if cell_index is not None else "the notebook"
        if client.flooded:
            return "error", (f"{where} printed more than {self.active.max_output_bytes} bytes of "
                             f"output; the kernel was stopped")
        if isinstance(exc, CellTimeoutError):
            _mark(client, cell_index, "TimeoutError",
                  f"cell did not finish within {self.active.timeout_per_cell:g} s")
            return "timeout", f"{where} ran longer than {self.active.timeout_per_cell:g} s"
        if expired:
            _mark(client, cell_index, "TimeoutError",
                  f"notebook did not finish within {self.active.timeout_total:g} s")
            return "timeout", f"the notebook ran longer than {self.active.timeout_total:g} s in total"
        signame = (ended or {}).get("signal")
        cpu = (ended or {}).get("cpu") or 0
        if (ended or {}).get("cpu_exceeded") or signame == "SIGXCPU" or (
                signame == "SIGKILL" and cpu >= self.active.cpu_seconds):
            _mark(client, cell_index, "TimeoutError", "CPU time limit exceeded")
            return "timeout", (f"the submission used more than {self.active.cpu_seconds} s of CPU "
                               f"time (all its processes together)")
        if ended and (ended.get("error") or not ended.get("running", True)):
            if ended.get("error"):
                return "error", ended["error"]
            if signame:
                reason = f"was killed by {SIGNAL_WORDS.get(signame, signame)}"
            else:
                reason = (f"exited with code {ended.get('exitcode')} "
                          f"(os._exit, or a fatal error in the kernel)")
            _mark(client, cell_index, "DeadKernelError", f"the kernel {reason}")
            return "crashed", f"the kernel {reason} during {where}"
        return "error", f"{type(exc).__name__}: {exc}"

    def _owners(self) -> tuple[int, ...]:
        """Who may own a file the kernel wrote: the sandbox user (as the zygote reports
        it), else the grader itself."""
        uid = self.info.get("uid")
        return (os.getuid(),) if uid is None else (int(uid), os.getuid())

    def _poll_quietly(self) -> dict[str, Any] | None:
        try:
            return self.request("poll")
        except (SandboxError, OSError):
            return None


async def _cancel_leftover_tasks() -> None:
    """nbclient leaves its output-polling task behind when a kernel dies; end it here."""
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


def _last_log_line(scratch: str, owners: tuple[int, ...]) -> str:
    """The kernel's last stderr line (a fatal Python error, a startup failure), if any.
    The kernel can replace its log (symlink, FIFO...): read only through
    ``oslevel.read_sandbox_file``."""
    data = read_sandbox_file(scratch, "kernel.log", 4096, owners)
    lines = [ln.strip() for ln in (data or b"").decode(errors="replace").splitlines()]
    lines = [ln for ln in lines if ln]
    return lines[-1][:300] if lines else ""


def _current_cell(client: SandboxClient) -> int | None:
    """Index of the last code cell that was sent to the kernel."""
    count = getattr(client, "code_cells_executed", 0)
    seen = 0
    for index, cell in enumerate(client.nb.cells):
        if cell.cell_type == "code" and cell.source.strip():
            seen += 1
            if seen == count:
                return index
    return None


def _mark(client: SandboxClient, cell_index: int | None, ename: str, evalue: str) -> None:
    """Record why a cell stopped as an error output, as nbgrader would show it."""
    if cell_index is not None:
        client.nb.cells[cell_index].setdefault("outputs", []).append(error_output(ename, evalue))


def _private_dir(parent: str) -> str:
    """A directory only its owner may list (0711): scratch names inside are unguessable."""
    os.makedirs(parent, exist_ok=True)
    path = os.path.join(parent, f"labchain-sandbox-{secrets.token_hex(6)}")
    os.mkdir(path, 0o711)
    os.chmod(path, 0o711)
    return path
