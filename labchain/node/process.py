"""A handle on one node process, like Bitcoin Core's ``TestNode``.

``NodeProcess.start(datadir)`` launches ``python -m labchain.node ...`` in its own process
group, polls ``DATADIR/ready.json`` until the node listens, and gives back a handle with an
RPC proxy (``node.rpc.getblockcount()``), the log (``node.log_text()``, ``node.wait_for_log``)
and ``stop``/``kill``/``restart``. A node that fails to start raises :class:`NodeStartError`
with the exit code and the end of its log, instead of a timeout with no explanation.

The node gets ``--parent-pid`` of the process that started it (``parent_pid=None``: none), so
it exits by itself when that process dies, even by SIGKILL; ``atexit`` stops the rest
(``stop_at_exit=False``: a node meant to outlive its launcher, as ``labchain testnet up``).
"""
from __future__ import annotations

import atexit
import json
import os
import re
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path
from typing import Any

from labchain.core.errors import LabchainError
from labchain.node.rpc import RpcClient, RpcConnectionError

LOG_FILE = "node.log"
READY_FILE = "ready.json"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
STDERR_FILE = "stderr.log"

_live: weakref.WeakSet = weakref.WeakSet()


class NodeStartError(LabchainError):
    """The node process exited or did not become ready; the message ends with its log tail."""


class NodeProcess:
    """One running (or stopped) node process and how to reach it."""

    def __init__(self, datadir: Path, args: list[str], index: int = 0,
                 parent_pid: int | None | str = "self", stop_at_exit: bool = True) -> None:
        self.datadir = Path(datadir).resolve()
        self.args = args
        self.index = index
        #: the node exits when this process dies ("self": the process that starts it; None: never)
        self.parent_pid = os.getpid() if parent_pid == "self" else parent_pid
        self.stop_at_exit = stop_at_exit
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None
        self.ready: dict[str, Any] = {}
        self.rpc: RpcClient | None = None

    @classmethod
    def attach(cls, datadir: str | os.PathLike, index: int = 0) -> NodeProcess:
        """A handle on a node another process started (from its ``ready.json``)."""
        node = cls(Path(datadir), [], index, parent_pid=None, stop_at_exit=False)
        try:
            node.ready = json.loads((node.datadir / READY_FILE).read_text())
        except (OSError, ValueError):
            raise NodeStartError(f"node {index} in {datadir} is not running (no readable {READY_FILE})") from None
        node.pid = node.ready.get("pid")
        node.rpc = RpcClient(node.ready["rpc"], label=f"node{index}")
        return node

    # -- starting -----------------------------------------------------------------------------
    @classmethod
    def start(cls, datadir: str | os.PathLike, params: str = "regtest", peers: tuple[str, ...] = (),
              p2p_port: int = 0, rpc_port: int = 0, mining: str = "manual", index: int = 0,
              extra: tuple[str, ...] = (), parent_pid: int | None | str = "self",
              stop_at_exit: bool = True, timeout: float = START_TIMEOUT) -> NodeProcess:
        args = ["--params", params, "--p2p-port", str(p2p_port), "--rpc-port", str(rpc_port),
                "--mining", mining, "--node-index", str(index)]
        for peer in peers:
            args += ["--peer", peer]
        node = cls(Path(datadir), args + list(extra), index, parent_pid, stop_at_exit)
        node.launch(timeout)
        return node

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "labchain.node", "--datadir", str(self.datadir), *self.args]
        if self.parent_pid:
            cmd += ["--parent-pid", str(self.parent_pid)]
        return cmd

    def launch(self, timeout: float = START_TIMEOUT) -> None:
        """Start the process and wait until it is ready (raises NodeStartError)."""
        if self.running:
            raise NodeStartError(f"node {self.index} is already running (pid {self.pid})")
        self.datadir.mkdir(parents=True, exist_ok=True)
        (self.datadir / READY_FILE).unlink(missing_ok=True)
        stderr = open(self.datadir / STDERR_FILE, "ab")
        try:
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                start_new_session=True,  # its own process group: killpg reaches it and only it
            )
        finally:
            stderr.close()
        self.pid = self.proc.pid
        _live.add(self)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        ready_file = self.datadir / READY_FILE
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise NodeStartError(f"node {self.index} exited with code {self.proc.returncode} "
                                     f"before it was ready.\n{self.tail()}")
            try:
                info = json.loads(ready_file.read_text())
            except (OSError, ValueError):
                info = None
            if info and info.get("pid") == self.pid:
                self.ready = info
                self.rpc = RpcClient(info["rpc"], label=f"node{self.index}")
                return
            time.sleep(0.02)
        self.kill()
        raise NodeStartError(f"node {self.index} was not ready after {timeout:.0f} s.\n{self.tail()}")

    # -- state --------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and process_alive(self.pid)

    @property
    def rpc_url(self) -> str:
        return self.ready.get("rpc", "")

    @property
    def p2p_addr(self) -> str:
        return self.ready.get("p2p", "")

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"<NodeProcess {self.index} {state} rpc={self.rpc_url} p2p={self.p2p_addr}>"

    # -- logs ---------------------------------------------------------------------------------
    def log_text(self) -> str:
        try:
            return (self.datadir / LOG_FILE).read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 25) -> str:
        text = self.log_text().splitlines()[-lines:]
        try:
            err = (self.datadir / STDERR_FILE).read_text(errors="replace").strip().splitlines()[-lines:]
        except OSError:
            err = []
        out = "--- node.log (last lines) ---\n" + "\n".join(text)
        if err:
            out += "\n--- stderr ---\n" + "\n".join(err)
        return out

    def wait_for_log(self, pattern: str, timeout: float = 30.0, start: int = 0) -> re.Match:
        """Wait until ``node.log`` (from character ``start``) matches the regex ``pattern``."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.log_text(), start)
            if match:
                return match
            if time.monotonic() > deadline:
                raise AssertionError(f"node {self.index}: no log line matching {pattern!r} after "
                                     f"{timeout:.0f} s.\n{self.tail()}")
            time.sleep(0.05)

    # -- stopping -----------------------------------------------------------------------------
    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Ask the node to stop (SIGTERM), wait, and SIGKILL it if it does not; the exit code."""
        if not self.running:
            return self.proc.returncode if self.proc else None
        self._signal(signal.SIGTERM)
        if self._wait_gone(timeout):
            return self.proc.returncode if self.proc else 0
        self.kill()
        return self.proc.returncode if self.proc else None

    def _wait_gone(self, timeout: float) -> bool:
        if self.proc is not None:
            try:
                self.proc.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                return True
            time.sleep(0.05)
        return False

    def kill(self) -> None:
        """SIGKILL the node's process group (what a crash or a power cut does)."""
        if self.pid is None:
            return
        self._signal(signal.SIGKILL)
        self._wait_gone(5)
        if self.rpc:
            self.rpc.close()

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        self.stop()
        self.launch(timeout)

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True



def _stop_all_at_exit() -> None:
    for node in list(_live):
        if node.stop_at_exit and node.running:
            node.kill()


atexit.register(_stop_all_at_exit)

__all__ = ["NodeProcess", "NodeStartError", "RpcConnectionError"]
