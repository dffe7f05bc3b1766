"""Fixtures of the distributed-grading tests: a Redis database of its own per test, and real
``labchain-grade worker`` processes on loopback (killed with their process group afterwards)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from grading_kit import TEST_VISIBILITY
from needs import redis_url, require



@pytest.fixture
def queue_url():
    """A Redis URL on the test server with a database no other test uses meanwhile."""
    require("redis")
    import redis

    base = redis_url().rsplit("/", 1)[0]
    lock = redis.Redis.from_url(f"{base}/0")
    deadline = time.monotonic() + 120
    while True:
        for db in range(1, 16):
            if lock.set(f"labchain-test-db-{db}", os.getpid(), nx=True, ex=900):
                break
        else:
            assert time.monotonic() < deadline, "no free Redis database for the test"
            time.sleep(1)
            continue
        break
    url = f"{base}/{db}"
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()
    lock.delete(f"labchain-test-db-{db}")


class Worker:
    def __init__(self, proc: subprocess.Popen, name: str, log: Path):
        self.proc, self.name, self.log = proc, name, log

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)


@pytest.fixture
def start_worker(queue_url, tmp_path):
    """``start_worker(name)``: a real worker process serving ``queue_url`` (1 sandbox), ready."""
    from grading.queue.app import make_app, worker_sandboxes
    started: list[Worker] = []

    def start(name: str, sandboxes: int = 1) -> Worker:
        log = tmp_path / f"{name}.log"
        cmd = [sys.executable, "-m", "grading.cli", "worker", "--queue", queue_url,
               "--sandboxes", str(sandboxes), "--name", f"{name}@test", "--loglevel", "INFO",
               "--visibility-timeout", str(TEST_VISIBILITY)]
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        worker = Worker(proc, f"{name}@test", log)
        started.append(worker)
        app = make_app(queue_url)
        deadline = time.monotonic() + 60
        while worker.name not in worker_sandboxes(app, queue_url, 2, timeout=0.5):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"worker {name} did not come up: {log.read_text()[-3000:]}"
        return worker

    yield start
    for worker in started:
        worker.kill()


@pytest.fixture(autouse=True, scope="module")
def _drop_celery_after_fork_hooks():
    """Celery and kombu register ``multiprocessing`` after-fork hooks on every app, channel and
    result consumer; in a child forked later by the same pytest process (the miner's workers in
    tests/labchain/test_miner.py) those hooks close a Redis pub/sub inherited from the parent and
    wait for its reply forever (seen in CI: forked miner workers stuck in a recv on the Redis
    socket). The coordinator's process never forks after grading; the test process does, so the
    hooks of these tests' apps go when the module ends."""
    yield
    import multiprocessing.util as mp_util

    for key in list(mp_util._afterfork_registry.keys()):
        func = key[-1]
        if getattr(func, "__module__", "").split(".")[0] in ("celery", "kombu", "billiard"):
            mp_util._afterfork_registry.pop(key, None)
