"""``labchain-grade worker``: a Celery worker that executes notebooks in warm sandboxes.

One worker process is today's local grading pool: ``sandboxes`` warm sandboxes (one
``grading.sandbox`` executor) shared by ``PREPARE_AHEAD x sandboxes`` Celery threads, so
a sandbox never waits while a thread receives the next notebook or returns the last one.

A task carries (``payload``): the sanitized notebook, the lab's data files, the limits, the
sandbox kind and the coordinator's paths to hide; it returns the executed notebook and the
sandbox's verdict (``grading.sandbox.ExecResult`` as JSON). It never raises for a
submission: any failure is a result with ``status: "error"`` and no cell run, which the
coordinator records as "not graded, retry next run" (grading.pipeline.execute).

The executor is created on the first task of a configuration (limits, kind, hidden paths)
and kept warm for the next tasks with it. A redelivered task whose result is already stored
(the worker died after storing, before acknowledging) returns that result without running.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import socket
import threading

from grading.autograde import PREPARE_AHEAD
from grading.queue.app import QUEUE, TASK, VISIBILITY_TIMEOUT, QueueError, make_app

log = logging.getLogger("labchain.grading.queue")

#: keys a task payload must carry, and their JSON types
PAYLOAD = {"notebook": dict, "files": dict, "limits": dict, "sandbox": str,
           "hide_paths": list, "allow_unsandboxed": bool}


def check_payload(payload) -> dict:
    """``payload`` if it is a well-formed task, else :class:`QueueError` naming what is wrong."""
    if not isinstance(payload, dict):
        raise QueueError(f"a task payload must be an object, got {type(payload).__name__}", payload)
    for key, kind in PAYLOAD.items():
        if not isinstance(payload.get(key), kind):
            raise QueueError(f"task payload field {key!r} must be a {kind.__name__}", payload.get(key))
    if payload["sandbox"] not in ("auto", "os", "container"):
        raise QueueError(f"task payload asks for an unknown sandbox {payload['sandbox']!r}", payload["sandbox"])
    return payload


def decode_files(files: dict) -> dict[str, bytes]:
    try:
        return {str(name): base64.b64decode(data, validate=True) for name, data in files.items()}
    except (binascii.Error, TypeError, ValueError) as exc:
        raise QueueError(f"task payload files are not base64: {exc}", files) from exc


def encode_files(files: dict[str, bytes]) -> dict[str, str]:
    return {name: base64.b64encode(data).decode() for name, data in files.items()}


class Sandboxes:
    """The worker's warm executors, one per configuration (normally exactly one)."""

    KEEP = 2   # configurations kept warm at once (a run's; the previous run's until it drains)

    def __init__(self, sandboxes: int, hide_paths: list[str], allow_unsandboxed: bool):
        self.sandboxes, self.hide_paths = sandboxes, list(hide_paths)
        self.allow_unsandboxed = allow_unsandboxed
        self._executors: dict[str, object] = {}
        self._lock = threading.Lock()

    def get(self, payload: dict):
        from grading.sandbox import Limits, make_executor

        # the coordinator's paths that exist here (same machine, shared disk) are hidden too
        hide = sorted({*self.hide_paths, *(p for p in payload["hide_paths"] if os.path.exists(p))})
        limits = Limits.from_json(payload["limits"])
        key = json.dumps([payload["sandbox"], limits.to_json(), hide, payload["allow_unsandboxed"]],
                         sort_keys=True)
        with self._lock:
            executor = self._executors.get(key)
            if executor is None:
                while len(self._executors) >= self.KEEP:
                    old = self._executors.pop(next(iter(self._executors)))
                    old.close()
                executor = make_executor(kind=payload["sandbox"], workers=self.sandboxes, limits=limits,
                                         hide_paths=hide,
                                         allow_unsandboxed=self.allow_unsandboxed and payload["allow_unsandboxed"])
                self._executors[key] = executor
            return executor

    def close(self) -> None:
        with self._lock:
            while self._executors:
                self._executors.popitem()[1].close()


def execute(payload, sandboxes: Sandboxes) -> dict:
    """Run one task: the executed notebook and the sandbox's verdict, as JSON."""
    import nbformat

    try:
        payload = check_payload(payload)
        files = decode_files(payload["files"])
        nb = nbformat.from_dict(payload["notebook"])
        executor = sandboxes.get(payload)
        result = executor.run(nb, resources={"files": files})
    except Exception as exc:  # noqa: BLE001 - the engine's failure, reported as such
        log.exception("task failed before the notebook ran")
        return {"notebook": None, "status": "error", "kind": "?", "seconds": 0.0,
                "message": f"worker {socket.gethostname()} could not run it ({type(exc).__name__}: {exc})",
                "kernel_reused_zygote": False, "tampered": [], "unsandboxed": ""}
    return {"notebook": result.notebook, "status": result.status, "message": result.message,
            "seconds": result.seconds, "kernel_reused_zygote": result.kernel_reused_zygote,
            "kind": result.kind, "tampered": list(result.tampered),
            "unsandboxed": getattr(executor, "unsandboxed", "")}


def reusable(meta: dict | None) -> bool:
    """True for a stored result that may stand for a rerun of its task: it succeeded and the
    sandbox ran the notebook (an engine failure is tried again)."""
    result = (meta or {}).get("result")
    return ((meta or {}).get("status") == "SUCCESS" and isinstance(result, dict)
            and result.get("status") != "error" and isinstance(result.get("notebook"), dict))


def register(app, sandboxes: Sandboxes):
    """Register the task on ``app``; it runs in ``sandboxes``."""

    @app.task(name=TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
    def execute_task(self, payload):
        stored = self.backend.get_task_meta(self.request.id)
        if reusable(stored):                      # redelivered after its result was stored
            return stored["result"]
        return execute(payload, sandboxes)

    return execute_task


def run_worker(url: str, *, sandboxes: int = 0, hide_paths: list[str] = (), name: str | None = None,
               allow_unsandboxed: bool = False, visibility_timeout: float = VISIBILITY_TIMEOUT,
               loglevel: str = "WARNING") -> int:
    """Serve tasks from the queue at ``url`` until stopped (SIGTERM/SIGINT: warm shutdown)."""
    from grading.queue.app import ping_broker

    sandboxes = sandboxes or os.cpu_count() or 1
    if sandboxes < 1:
        raise QueueError(f"--sandboxes must be at least 1, got {sandboxes}", sandboxes)
    app = make_app(url, visibility_timeout=visibility_timeout)
    ping_broker(app, url)
    pool = Sandboxes(sandboxes, list(hide_paths), allow_unsandboxed)
    register(app, pool)
    try:
        app.worker_main(["worker", "--pool", "threads", "--concurrency", str(PREPARE_AHEAD * sandboxes),
                         "--queues", QUEUE, "--hostname", name or f"labchain@{socket.gethostname()}",
                         "--prefetch-multiplier", "1", "--without-gossip", "--without-mingle",
                         "--loglevel", loglevel])
    finally:
        pool.close()
    return 0
