"""The queue's entry points refuse what cannot work with one sentence and exit code 2."""
from __future__ import annotations

import subprocess
import sys

import pytest

from grading.errors import GradingError
from grading.queue.app import QueueError, check_url, make_app


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379/0", "127.0.0.1:6379", "", "redis://"])
def test_a_url_that_is_not_redis_is_refused_naming_it(url):
    with pytest.raises(QueueError, match="is not a Redis URL") as err:
        check_url(url)
    assert err.value.obj == url and isinstance(err.value, GradingError)


def test_the_app_accepts_json_only_and_acknowledges_late():
    conf = make_app("redis://127.0.0.1:1/0").conf
    assert conf.accept_content == ["json"] and conf.result_accept_content == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1


def _grade(course, *args):
    return subprocess.run([sys.executable, "-m", "grading.cli", "autograde", "--course", str(course.root),
                           "--no-progress", *args], capture_output=True, text=True, timeout=120)


def test_autograde_without_a_broker_exits_2_with_one_sentence(course):
    got = _grade(course, "--queue", "redis://127.0.0.1:1/0")
    assert got.returncode == 2, got.stderr
    assert got.stderr.startswith("labchain-grade: error: cannot reach the task queue at redis://127.0.0.1:1/0")
    assert "Traceback" not in got.stderr and len(got.stderr.strip().splitlines()) == 1


def test_autograde_with_no_worker_listening_exits_2_and_says_how_to_start_one(course, queue_url):
    got = _grade(course, "--queue", queue_url)
    assert got.returncode == 2, got.stderr
    assert f"no labchain-grade worker answers on {queue_url}" in got.stderr
    assert f"labchain-grade worker --queue {queue_url}" in got.stderr


def test_worker_refuses_a_bad_url_with_exit_2():
    got = subprocess.run([sys.executable, "-m", "grading.cli", "worker", "--queue", "amqp://x"],
                         capture_output=True, text=True, timeout=60)
    assert got.returncode == 2 and "is not a Redis URL" in got.stderr, got.stderr
