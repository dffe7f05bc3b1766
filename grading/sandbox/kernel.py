"""The driver's side of one forked kernel: jupyter_client and nbclient plumbing.

``ZygoteProvisioner`` is a jupyter_client kernel provisioner whose "launch" is a ``spawn``
request to the worker's zygote instead of a ``Popen``; poll/kill go to the zygote too, so the
same code drives a kernel on the host and one inside a container (where host pids mean
nothing). ``SandboxClient`` is nbclient's ``NotebookClient`` plus an output cap.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import os
import signal
import time
from queue import Empty
from typing import Any, Protocol

import zmq
import zmq.asyncio
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase
from jupyter_core.utils import ensure_async
from nbclient import NotebookClient
from nbclient.util import run_hook

from grading.sandbox import guard



class KernelHost(Protocol):
    """What the provisioner needs from the process that owns the zygote (the sandbox worker):
    a narrow interface, so this module does not import ``worker`` (which imports this one)."""

    def spawn_kernel(self, scratch: str, driver_connection_file: str) -> int: ...

    def request(self, op: str, **fields: Any) -> dict[str, Any]: ...

SIGNAL_WORDS = {"SIGSEGV": "a segmentation fault", "SIGABRT": "an abort (fatal error in C code)",
                "SIGKILL": "SIGKILL (killed by a limit or by the grader)",
                "SIGBUS": "a bus error", "SIGFPE": "a floating-point exception",
                "SIGXFSZ": "writing a file larger than the file-size limit"}


class ZygoteProvisioner(KernelProvisionerBase):  # type: ignore[misc]
    """Launches the kernel by asking the worker's zygote to fork one."""

    worker: KernelHost
    scratch: str
    _running: bool = False
    last_status: dict[str, Any] | None = None

    @property
    def has_process(self) -> bool:
        return self._running

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        km = self.parent
        km.write_connection_file()
        kwargs.pop("extra_arguments", None)
        return {"cmd": [], **kwargs}

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        km = self.parent
        self.worker.spawn_kernel(self.scratch, km.connection_file)
        self._running = True
        return km.get_connection_info()

    async def poll(self) -> int | None:
        if not self._running:
            return self._exit_code()
        status = self.worker.request("poll")
        if status.get("running"):
            return None
        self._running = False
        self.last_status = status
        return self._exit_code()

    def _exit_code(self) -> int | None:
        status = self.last_status or {}
        if status.get("signal"):
            return -int(signal.Signals[status["signal"]])
        return status.get("exitcode") or 0

    async def wait(self) -> int | None:
        while (code := await self.poll()) is None:
            await asyncio.sleep(0.05)
        return code

    async def send_signal(self, signum: int) -> None:
        if signum in (signal.SIGKILL, signal.SIGTERM):
            await self.kill()
        # other signals (SIGINT interrupts) are not forwarded: timeouts kill the kernel

    async def kill(self, restart: bool = False) -> None:
        if self._running:
            self.last_status = self.worker.request("kill")
            self._running = False

    async def terminate(self, restart: bool = False) -> None:
        await self.kill(restart)

    async def cleanup(self, restart: bool = False) -> None:
        pass

    def get_shutdown_wait_time(self, recommended: float = 5.0) -> float:
        return 0.5   # nothing to save in a grading kernel; do not wait 5 s for it


def kernel_manager(worker: KernelHost, scratch: str) -> AsyncKernelManager:
    """A kernel manager whose kernel talks over unix sockets inside ``scratch``."""
    km = AsyncKernelManager(transport="ipc", ip=os.path.join(scratch, "kernel"),
                            connection_file=os.path.join(scratch, "driver.json"),
                            cache_ports=False, shutdown_wait_time=0.5,
                            context=driver_context())
    provisioner = ZygoteProvisioner(kernel_id=os.path.basename(scratch), parent=km)
    provisioner.worker, provisioner.scratch = worker, scratch
    km.provisioner = provisioner
    return km


def driver_context() -> zmq.asyncio.Context:
    """The ZeroMQ context of one submission, shared by its kernel manager and client
    (jupyter_client's default is one context per manager and another per client) and
    destroyed, with every socket in it, when the submission ends (``close_context``).

    The client connects before the kernel has bound its sockets (the kernel is still
    starting): zmq then retries every RECONNECT_IVL ms and the first request waits for the
    next retry. Its default, 100 ms, cost ~80 ms per submission; 5 ms costs a few failed
    ``connect`` calls on a unix socket."""
    context = zmq.asyncio.Context()
    context.setsockopt(zmq.RECONNECT_IVL, 5)
    context.setsockopt(zmq.LINGER, 0)   # nothing to deliver to a kernel that is gone
    return context


def close_context(km: AsyncKernelManager) -> None:
    """Close every socket of the submission (jupyter_client leaves some open) at once."""
    km.context.destroy(linger=0)


def is_test_cell(cell: Any) -> bool:
    """An autograder test cell (nbgrader ``grade`` and not ``solution``): run guarded."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_setup_cell(cell: Any) -> bool:
    """A locked instructor code cell that is neither graded nor a solution (a setup cell):
    the guard records the names it binds (``guard.Scope``)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("locked")) \
        and not meta.get("grade") and not meta.get("solution")


class SandboxClient(NotebookClient):  # type: ignore[misc]
    """nbclient with an output cap (past ``max_output_bytes`` outputs are dropped and the
    kernel is killed, so a print loop cannot exhaust the grader's memory) and guarded test
    cells: each is sent marked for the kernel's guard (``grading.sandbox.guard``), and its
    reply must carry the guard's proof for ``guard_key``; what the guard found, or a missing
    proof, is recorded in ``tampered`` (and a missing proof fails the cell)."""

    def __init__(self, nb: Any, km: AsyncKernelManager, max_output_bytes: int,
                 guard_key: bytes = b"", **kw: Any) -> None:
        super().__init__(nb, km=km, **kw)
        self.max_output_bytes = max_output_bytes
        self.output_bytes = 0
        self.flooded = False
        self.guard_key = guard_key
        self.guarding = False       # the cell being sent is a test cell
        self.setup = False          # ... a locked instructor setup cell
        self.tampered: list[str] = []

    def _execute(self, code: str, silent: bool = False, store_history: bool = True,
                 user_expressions: dict | None = None, allow_stdin: bool | None = None,
                 stop_on_error: bool = True) -> str:
        """jupyter_client's ``execute``, marking the request of a test cell for the guard."""
        content = {"code": code, "silent": silent, "store_history": store_history,
                   "user_expressions": user_expressions or {}, "allow_stdin": False,
                   "stop_on_error": stop_on_error}
        if self.guarding:
            content[guard.MARK] = 1
        elif self.setup:
            content[guard.MARK] = guard.SETUP
        msg = self.kc.session.msg("execute_request", content)
        self.kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    async def async_execute_cell(self, cell: Any, cell_index: int, *args: Any, **kw: Any) -> Any:
        self.guarding = bool(self.guard_key) and is_test_cell(cell)
        self.setup = bool(self.guard_key) and is_setup_cell(cell)
        try:
            return await super().async_execute_cell(cell, cell_index, *args, **kw)
        finally:
            self.guarding = self.setup = False

    def _check_guard(self, cell: Any, exec_reply: dict[str, Any]) -> None:
        """The reply of a test cell must carry the guard's proof for the code we sent."""
        content = exec_reply.get("content") or {}
        name = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or "?"
        report = content.get(guard.MARK)
        msg_id = str((exec_reply.get("parent_header") or {}).get("msg_id", ""))
        expected = guard.proof(self.guard_key, msg_id, cell.source, str(content.get("status")),
                               str(content.get("ename", "")))
        if not isinstance(report, dict) or not isinstance(report.get("proof"), str) \
                or not hmac.compare_digest(report["proof"], expected):
            self.tampered.append(f"test cell {name!r} did not run under the grader's guard "
                                 f"(the kernel's execution machinery was replaced)")
            cell.setdefault("outputs", []).append(error_output(
                guard.TAMPERED, "the grader could not confirm that this test ran as written"))
            return
        found = [str(what) for what in report.get("found") or []][:20]
        if found:
            self.tampered.append(f"before/while test cell {name!r}: " + "; ".join(found))

    async def async_start_new_kernel_client(self) -> Any:
        """nbclient's version, with a tighter readiness loop than jupyter_client's
        ``wait_for_ready`` (which spends 0.2 s waiting for IOPub whenever its subscriber joins
        late, as it usually does with a kernel that started a few milliseconds ago)."""
        # The manager's context (see ``driver_context``), not a new one per client.
        self.kc = self.km.client(context=self.km.context)
        # No heartbeat channel (a thread and a socket per kernel): liveness comes from the
        # zygote (``ZygoteProvisioner.poll``), which knows the kernel's exit status.
        await ensure_async(self.kc.start_channels(hb=False))
        try:
            await wait_until_ready(self.kc, self.startup_timeout)
        except Exception:
            await self._async_cleanup_kernel()
            raise
        self.kc.allow_stdin = False
        self.kc.execute = self._execute
        await run_hook(self.on_notebook_start, notebook=self.nb)
        return self.kc

    async def _check_raise_for_error(self, cell: Any, cell_index: int,
                                     exec_reply: dict[str, Any] | None) -> None:
        """A cell whose execute_reply says "error" must show an error output, even when the
        kernel published none (a student's ``set_custom_exc`` handler that hides
        tracebacks): nbgrader scores a cell by its error outputs. Same rule as nbgrader's
        own ``Execute`` preprocessor: add the reply's error unless an error output with the
        same name was recorded."""
        content = (exec_reply or {}).get("content") or {}
        if self.guarding and exec_reply is not None and not self.flooded:
            self._check_guard(cell, exec_reply)
        if content.get("status") == "error" and not self.flooded:
            ename = str(content.get("ename") or "Error")
            if not any(out.get("output_type") == "error" and out.get("ename") == ename
                       for out in cell.get("outputs", [])):
                cell.setdefault("outputs", []).append(error_output(
                    ename, str(content.get("evalue") or ""), content.get("traceback") or
                    [f"ERROR: the cell raised {ename} but its error output was suppressed"]))
        await super()._check_raise_for_error(cell, cell_index, exec_reply)

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        if self.flooded:
            return None
        self.output_bytes += len(json.dumps(msg["content"], default=str))
        if self.output_bytes > self.max_output_bytes:
            self.flooded = True
            outs.append(_stream_note(f"[output stopped: more than {self.max_output_bytes} bytes]"))
            asyncio.ensure_future(self.km.provisioner.kill())
            return None
        return super().output(outs, msg, display_id, cell_index)


async def wait_until_ready(kc: Any, timeout: float) -> None:
    """Until the kernel answers ``kernel_info`` on shell AND IOPub delivers to us."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kc.kernel_info()
        try:
            reply = await kc.shell_channel.get_msg(timeout=0.5)
        except Empty:
            reply = None
        if reply is not None and reply["msg_type"] == "kernel_info_reply":
            try:
                await kc.iopub_channel.get_msg(timeout=0.05)
            except Empty:
                continue   # the subscriber was not connected yet: ask again
            kc._handle_kernel_info_reply(reply)
            return
        if not await kc._async_is_alive():
            raise RuntimeError("Kernel died before replying to kernel_info")
    raise RuntimeError(f"the kernel did not become ready within {timeout:g} s")


def _stream_note(text: str) -> Any:
    from nbformat.v4 import new_output
    return new_output("stream", name="stderr", text=text + "\n")


def error_output(ename: str, evalue: str, traceback: list[str] | None = None) -> Any:
    from nbformat.v4 import new_output
    return new_output("error", ename=ename, evalue=evalue,
                      traceback=[str(line) for line in traceback or [f"{ename}: {evalue}"]])
