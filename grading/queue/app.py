"""The Celery application shared by the coordinator and the workers, and its settings.

Every setting that makes the queue lose nothing is here, with its reason:

- ``task_acks_late``: a task's message is acknowledged after the task returned and its
  result is stored, so a worker killed mid-task leaves the message unacknowledged and the
  broker delivers it again (Celery: ``acks_late``).
- ``task_reject_on_worker_lost``: a pool process that dies mid-task puts the message back
  instead of acknowledging it (Celery's default acknowledges it as failed).
- ``worker_prefetch_multiplier = 1``: a worker reserves no more messages than it has threads,
  so a killed worker strands few and the others get the rest.
- ``visibility_timeout``: how long Redis waits for an acknowledgement before it delivers the
  message again (kombu's Redis transport); it must exceed the longest task including its wait
  for a free sandbox, or a slow task is run twice (harmless: the result is keyed, see
  ``grading.queue.worker``, but wasted).
- JSON only (``accept_content``): no pickle ever crosses the queue.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from grading.errors import GradingError

TASK = "labchain.grading.execute"        # Celery task name
QUEUE = "labchain-grading"               # Celery queue name (Redis list)
#: seconds before Redis hands an unacknowledged message to another worker (kombu: visibility_timeout)
VISIBILITY_TIMEOUT = 600
#: seconds a stored result is kept (Celery: result_expires); reused by a rerun within that time
RESULT_EXPIRES = 24 * 3600


class QueueError(GradingError):
    """The task queue cannot be used (bad URL, no broker, no worker)."""


def check_url(url: str) -> str:
    """``url`` if it is a Redis URL Celery can use, else :class:`QueueError`."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise QueueError(f"--queue {url!r} is not a Redis URL (redis://HOST:PORT/DB)", url)
    return url


def make_app(url: str, *, visibility_timeout: float = VISIBILITY_TIMEOUT):
    """A Celery app on the Redis server at ``url`` (broker and result backend)."""
    from celery import Celery

    check_url(url)
    app = Celery("labchain-grade", broker=url, backend=url, set_as_current=False)
    sweep = max(1, min(10, int(visibility_timeout // 4)))
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True, task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        result_expires=RESULT_EXPIRES,
        result_extended=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        redis_socket_connect_timeout=5,
        broker_transport_options={
            "visibility_timeout": visibility_timeout,       # kombu: visibility_timeout
            "unacked_restore_interval": sweep,              # kombu: seconds between sweeps
            "unacked_restore_throttle": 1,                  # kombu: sweep every interval
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    return app


def ping_broker(app, url: str) -> None:
    """:class:`QueueError` with the reason unless the Redis server at ``url`` answers."""
    try:
        app.backend.client.ping()
    except Exception as exc:  # noqa: BLE001 - refused, DNS, auth: one sentence either way
        raise QueueError(f"cannot reach the task queue at {url}: {exc}", url) from exc


def worker_sandboxes(app, url: str, prepare_ahead: int, timeout: float = 2.0) -> dict[str, int]:
    """{worker name: sandboxes} of every worker that answers within ``timeout`` seconds."""
    stats = app.control.inspect(timeout=timeout).stats() or {}
    return {name: max(1, int(s.get("pool", {}).get("max-concurrency", prepare_ahead)) // prepare_ahead)
            for name, s in stats.items()}
