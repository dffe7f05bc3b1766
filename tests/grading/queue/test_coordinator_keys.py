"""The coordinator's task keys and its reuse of stored results (a real Redis, no worker)."""
from __future__ import annotations

import nbformat
import redis

from grading.options import AutogradeOptions
from grading.queue.app import QUEUE
from grading.queue.coordinator import QueueExecutor, _Slot, task_key


def test_task_key_names_assignment_student_notebook_and_content():
    p = {"notebook": {"cells": [1]}}
    key = task_key("lab-a", "s1", "lab-a", p)
    assert key == task_key("lab-a", "s1", "lab-a", {"notebook": {"cells": [1]}})
    others = {task_key("lab-b", "s1", "lab-a", p), task_key("lab-a", "s2", "lab-a", p),
              task_key("lab-a", "s1", "nb2", p), task_key("lab-a", "s1", "lab-a", {"notebook": {"cells": [2]}}),
              task_key("lab-a", "s1", "lab-a", p, salt="force-1")}
    assert key not in others and len(others) == 5


def _executor(url) -> QueueExecutor:
    ex = QueueExecutor(url, AutogradeOptions(sandbox="os"), ["/nonexistent-course"])
    ex.deadline = 1.5
    return ex


def _key(ex, nb):
    resources = {"nbgrader": {"assignment": "lab-a", "student": "s1", "notebook": "lab-a"}}
    payload = {"notebook": nb, "files": {}, "limits": ex.limits, "sandbox": "os",
               "hide_paths": ex.hide_paths, "allow_unsandboxed": False}
    return resources, task_key("lab-a", "s1", "lab-a", payload)


def test_a_result_stored_by_an_earlier_run_is_used_and_nothing_is_sent(queue_url):
    ex = _executor(queue_url)
    try:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
        resources, key = _key(ex, nb)
        done = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", execution_count=1)])
        ex.app.backend.store_result(key, {"notebook": done, "status": "ok", "message": "", "seconds": 0.2,
                                          "kernel_reused_zygote": True, "kind": "os", "tampered": []}, "SUCCESS")
        got = ex.run(nb, resources)
    finally:
        ex.close()
    assert got.status == "ok" and got.notebook.cells[0].execution_count == 1 and got.seconds == 0.2
    assert ex.kind == "os via queue"
    assert redis.Redis.from_url(queue_url).llen(QUEUE) == 0


def test_a_stored_engine_failure_is_sent_again_and_no_answer_is_an_engine_error(queue_url):
    ex = _executor(queue_url)
    try:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
        resources, key = _key(ex, nb)
        ex.app.backend.store_result(key, {"notebook": None, "status": "error", "message": "no sandbox",
                                          "seconds": 0, "kernel_reused_zygote": False, "kind": "?",
                                          "tampered": []}, "SUCCESS")
        got = ex.run(nb, resources)
    finally:
        ex.close()
    assert redis.Redis.from_url(queue_url).llen(QUEUE) == 1          # sent again, nobody took it
    assert got.status == "error" and "no worker returned a result within 2 s" in got.message
    assert got.notebook is nb and all(c.get("execution_count") is None for c in got.notebook.cells)


def test_an_announced_stale_failure_never_answers_a_run_that_has_not_sent_its_task(queue_url):
    """The race CI met: a stored engine failure is announced on Redis's channel while a new run
    already waits for the same task id but has not yet deleted it and sent the task again. The
    announcement must not answer that run; the result stored after the send does."""
    ex = _executor(queue_url)
    collector, task = ex.collector, "lab-a-s1-lab-a-stale"
    slot = _Slot()
    try:
        with collector.lock:
            collector.waiting[task] = [slot]            # waiting, not yet armed (not sent)
        stale = {"notebook": None, "status": "error", "message": "no sandbox", "seconds": 0,
                 "kernel_reused_zygote": False, "kind": "?", "tampered": []}
        ex.app.backend.store_result(task, stale, "SUCCESS")     # stored and announced
        assert not slot.event.wait(2.5), f"a stale failure answered the run: {slot.meta}"
        ex.app.backend.client.delete(ex.app.backend.get_key_for_task(task))   # what wait() does
        with collector.lock:
            collector.armed.add(task)                   # ... then it sends the task
        fresh = dict(stale, status="ok", message="", seconds=0.3, kind="os")
        ex.app.backend.store_result(task, fresh, "SUCCESS")
        assert slot.event.wait(10), "the result stored after the send was not delivered"
        assert slot.meta["result"]["status"] == "ok"
    finally:
        ex.close()


def test_a_task_message_lost_in_the_broker_is_sent_again_once_its_result_is_overdue(queue_url, caplog):
    """The loss CI met: a worker SIGKILLed between kombu's pop of a message and its record as
    unacknowledged takes the message along; no visibility timeout brings it back, and the run
    waited its whole deadline for nothing. Here the message is removed from the queue by hand
    (no worker runs): once the result is overdue the coordinator sends the task again, once."""
    import threading
    import time

    ex = _executor(queue_url)
    ex.deadline, ex.resend_after = 4.0, 1.5
    queue = redis.Redis.from_url(queue_url)
    got = {}
    try:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
        resources, _ = _key(ex, nb)
        runner = threading.Thread(target=lambda: got.update(r=ex.run(nb, resources)))
        with caplog.at_level("WARNING", logger="grading.queue"):
            runner.start()
            end = time.monotonic() + 1.0
            while queue.llen(QUEUE) == 0 and time.monotonic() < end:
                time.sleep(0.01)
            assert queue.delete(QUEUE) == 1                    # the message is lost
            runner.join(10)
    finally:
        ex.close()
    assert queue.llen(QUEUE) == 1                              # sent again (nobody took it)
    assert "sending it again" in caplog.text
    assert got["r"].status == "error" and "no worker returned a result within 4 s" in got["r"].message
