"""The coordinator side: an executor for ``grading.autograde`` that runs notebooks on workers.

``autograde(..., executor_factory=executor_factory(URL))`` is the whole distributed run:
``grading.autograde`` keeps its grader threads, its ``grading.batch`` runner (progress bar,
summary, ``autograde-summary.json``) and its one gradebook writer; only the pipeline's
``execute`` step goes through :class:`QueueExecutor`, whose ``run`` has the signature of
``grading.sandbox.Executor.run``.

Exactly once in the gradebook:

- each task's id is its *task key* (:func:`task_key`): (assignment, student, notebook,
  fingerprint of what is executed). The first result stored under a key is the one used;
  a duplicate delivery (a worker killed before acknowledging) finds it and returns it; a
  rerun of a killed coordinator finds it in the result store and does not execute again;
- the gradebook writer saves each submission once per run, and the completion row
  (``labchain_autograde``) makes a rerun skip it (as in local grading).

:class:`QueueExecutor` never raises: a broker failure or a task that no worker answered
within its deadline comes back as an ``error`` result with no cell run, which the pipeline
reports as a failed submission that is *not* recorded and is retried on the next run.

Results arrive through ONE thread (:class:`_Collector`) subscribed to the result store's
notifications (Redis pub/sub, as Celery's Redis backend publishes each stored result) and
sweeping for what it may have missed; the grader threads only wait on events. (Celery's
``AsyncResult.get`` shares one pub/sub connection per backend; calling it from many threads
at once is not safe.)
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time

from grading.autograde import PREPARE_AHEAD
from grading.queue.app import (QUEUE, TASK, VISIBILITY_TIMEOUT, QueueError, make_app, ping_broker,
                               worker_sandboxes)
from grading.queue.worker import encode_files, reusable
from grading.sandbox.limits import ExecResult

log = logging.getLogger("grading.queue")

SWEEP_SECONDS = 1.0   # how often the collector also reads pending results directly


def task_key(lab: str, student: str, notebook: str, payload: dict, salt: str = "") -> str:
    """The task id: (assignment, student, notebook, fingerprint of the payload)."""
    fingerprint = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"),
                                            default=str).encode()).hexdigest()
    ident = json.dumps([lab, student, notebook, fingerprint, salt])
    return "lcg-" + hashlib.sha256(ident.encode()).hexdigest()[:40]


class _Slot:
    __slots__ = ("event", "meta")

    def __init__(self):
        self.event, self.meta = threading.Event(), None


class _Collector(threading.Thread):
    """Delivers each stored result to the threads waiting for its task id."""

    def __init__(self, app):
        super().__init__(name="queue-results", daemon=True)
        self.backend = app.backend
        self.client = app.backend.client
        self.prefix = self.backend.get_key_for_task("x")[:-1]   # Celery: task_keyprefix
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.psubscribe(self.prefix + b"*")
        self.waiting: dict[str, list[_Slot]] = {}
        self.armed: set[str] = set()     # task ids sent (the sweep reads only these)
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def wait(self, task_id: str, send, timeout: float, resend_after: float | None = None):
        """The stored result (Celery meta dict) of ``task_id``; ``send()`` publishes the task
        unless a result is already stored or another thread sent it. None after ``timeout``.
        With ``resend_after`` (< ``timeout``), the thread that sent the task sends it once more
        when no result came by then: a message can be lost in the broker for good (kombu's
        Redis transport pops it, then records it as unacknowledged; a worker SIGKILLed between
        the two takes it along, and no visibility timeout ever brings it back: seen in CI).
        The task id is the task key, so a second run finds the first one's result."""
        slot = _Slot()
        with self.lock:
            first = task_id not in self.waiting
            self.waiting.setdefault(task_id, []).append(slot)
        try:
            sent = False
            if first and not self._deliver_stored([task_id], stored_before=True):
                self.client.delete(self.backend.get_key_for_task(task_id))  # a stale failure
                send()
                sent = True
                with self.lock:
                    self.armed.add(task_id)
            if sent and resend_after is not None and resend_after < timeout:
                if not slot.event.wait(resend_after):
                    log.warning("no result for task %s after %.0f s: sending it again (a lost message)",
                                task_id, resend_after)
                    send()
                    slot.event.wait(timeout - resend_after)
            else:
                slot.event.wait(timeout)
            return slot.meta
        finally:
            with self.lock:
                slots = self.waiting.get(task_id, [])
                if slot in slots:
                    slots.remove(slot)
                    if not slots:
                        del self.waiting[task_id]
                if task_id not in self.waiting:
                    self.armed.discard(task_id)

    def _deliver(self, task_id: str, raw, stored_before: bool = False) -> bool:
        meta = self.backend.decode_result(raw)
        if meta.get("status") not in ("SUCCESS", "FAILURE", "REVOKED") or (stored_before and not reusable(meta)):
            return False
        with self.lock:
            slots = self.waiting.pop(task_id, [])
            self.armed.discard(task_id)
        for slot in slots:
            slot.meta = meta
            slot.event.set()
        return True

    def _deliver_stored(self, task_ids: list[str], stored_before: bool = False) -> bool:
        """Deliver the stored results of ``task_ids``; ``stored_before``: only one that may
        stand for a new run of the task (``reusable``), the others are sent again."""
        values = self.client.mget([self.backend.get_key_for_task(t) for t in task_ids])
        found = False
        for task_id, raw in zip(task_ids, values):
            if raw is not None:
                found |= self._deliver(task_id, raw, stored_before)
        return found

    def on_stored(self, task_id: str) -> None:
        """A result of ``task_id`` was stored (Redis announced it). Delivered only if this
        coordinator sent the task, and read back from the store rather than taken from the
        announcement: an announcement can be older than the send (a stale engine failure that
        ``wait`` deleted before sending again; seen in CI), and a stale one must never answer
        the new run. A result stored before the task is armed is found by the sweep."""
        with self.lock:
            armed = task_id in self.armed
        if armed:
            self._deliver_stored([task_id])

    def run(self) -> None:
        last_sweep = time.monotonic()
        while not self.stopping.is_set():
            try:
                msg = self.pubsub.get_message(timeout=0.2)
                if msg and msg.get("type") == "pmessage":
                    self.on_stored(msg["channel"][len(self.prefix):].decode())
                if time.monotonic() - last_sweep > SWEEP_SECONDS:
                    last_sweep = time.monotonic()
                    with self.lock:
                        pending = [t for t in self.waiting if t in self.armed]
                    if pending:
                        self._deliver_stored(pending)
            except Exception:  # noqa: BLE001 - broker hiccup: waiters time out or the sweep finds it
                time.sleep(0.5)

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)
        try:
            self.pubsub.close()
        except Exception:  # noqa: BLE001
            pass


class QueueExecutor:
    """``run(nb, resources)`` like ``grading.sandbox.Executor``, executed by a queue worker."""

    def __init__(self, url: str, options, hide_paths: list[str], *,
                 visibility_timeout: float = VISIBILITY_TIMEOUT):
        self.url, self.options, self.hide_paths = url, options, list(hide_paths)
        self.app = make_app(url, visibility_timeout=visibility_timeout)
        ping_broker(self.app, url)
        limits = options.sandbox_limits()
        self.limits = limits.to_json()
        # a task may wait for Redis to hand it to another worker once, then run twice over
        self.deadline = visibility_timeout + 2 * limits.timeout_total + 60
        # ... and once it should have been redelivered and run, it is sent again (Collector.wait)
        self.resend_after = visibility_timeout + limits.timeout_total + 10
        self.kind = f"{options.sandbox} via queue"
        self.unsandboxed = ""
        self.salt = f"force-{time.time_ns()}" if options.force else ""
        self.collector = _Collector(self.app)
        self.collector.start()

    def run(self, nb, resources: dict | None = None, limits=None) -> ExecResult:
        resources = resources or {}
        ident = resources.get("nbgrader", {})
        payload = {"notebook": nb, "files": encode_files(resources.get("files", {})),
                   "limits": limits.to_json() if limits is not None else self.limits,
                   "sandbox": self.options.sandbox, "hide_paths": self.hide_paths,
                   "allow_unsandboxed": bool(self.options.allow_unsandboxed)}
        key = task_key(ident.get("assignment", ""), ident.get("student", ""), ident.get("notebook", ""),
                       payload, self.salt)
        start = time.monotonic()
        try:
            meta = self.collector.wait(
                key, lambda: self.app.send_task(TASK, args=[payload], task_id=key, queue=QUEUE),
                timeout=self.deadline, resend_after=self.resend_after)
        except Exception as exc:  # noqa: BLE001 - broker down: not the student's doing
            return self._engine_error(nb, f"the task queue at {self.url} failed ({type(exc).__name__}: {exc})")
        if meta is None:
            return self._engine_error(nb, f"no worker returned a result within {self.deadline:.0f} s")
        if meta.get("status") != "SUCCESS" or not isinstance(meta.get("result"), dict):
            return self._engine_error(nb, f"the worker's task ended {meta.get('status')}: {meta.get('result')}")
        return self._result(nb, meta["result"], time.monotonic() - start)

    def _result(self, nb, got: dict, waited: float) -> ExecResult:
        import nbformat

        if got.get("kind") and got["kind"] != "?":
            self.kind = f"{got['kind']} via queue"
        if got.get("unsandboxed"):
            self.unsandboxed = got["unsandboxed"]
        notebook = got.get("notebook")
        return ExecResult(notebook=nbformat.from_dict(notebook) if isinstance(notebook, dict) else nb,
                          status=str(got.get("status", "error")), message=str(got.get("message", "")),
                          seconds=float(got.get("seconds") or 0.0),
                          kernel_reused_zygote=bool(got.get("kernel_reused_zygote")),
                          kind=str(got.get("kind", "?")), tampered=tuple(got.get("tampered") or ()))

    @staticmethod
    def _engine_error(nb, message: str) -> ExecResult:
        return ExecResult(notebook=nb, status="error", message=message, seconds=0.0,
                          kernel_reused_zygote=False, kind="?")

    def close(self) -> None:
        self.collector.stop()


def executor_factory(url: str, *, visibility_timeout: float = VISIBILITY_TIMEOUT):
    """An ``ExecutorFactory`` for ``grading.autograde`` whose executor is the queue at ``url``."""

    def factory(options, workers: int, hide_paths: list[str]) -> QueueExecutor:
        return QueueExecutor(url, options, hide_paths, visibility_timeout=visibility_timeout)

    return factory


def remote_sandboxes(url: str, timeout: float = 1.0) -> int:
    """Sandboxes of all workers listening on ``url``; :class:`QueueError` if none answers."""
    app = make_app(url)
    ping_broker(app, url)
    found = worker_sandboxes(app, url, PREPARE_AHEAD, timeout)
    if not found:
        raise QueueError(f"no labchain-grade worker answers on {url}; start one with "
                         f"`labchain-grade worker --queue {url}`", url)
    return sum(found.values())
