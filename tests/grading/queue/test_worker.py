"""The worker's task: validated payloads, real execution in a warm sandbox, stored results
reused instead of running a redelivered task twice."""
from __future__ import annotations

import nbformat
import pytest
from needs import unsandboxed_ok

from grading.queue.app import make_app
from grading.queue.worker import (QueueError, Sandboxes, check_payload, decode_files, encode_files,
                                  execute, register, reusable)


def payload(**change) -> dict:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(open('data.txt').read() * 2)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    base = {"notebook": nb, "files": encode_files({"data.txt": b"ab"}),
            "limits": {"timeout_per_cell": 10, "timeout_total": 30}, "sandbox": "os",
            "hide_paths": [], "allow_unsandboxed": unsandboxed_ok()}
    return {**base, **change}


@pytest.mark.parametrize("change, field", [
    ({"notebook": "not a notebook"}, "notebook"), ({"files": []}, "files"),
    ({"limits": None}, "limits"), ({"hide_paths": "/x"}, "hide_paths"),
    ({"allow_unsandboxed": "yes"}, "allow_unsandboxed")])
def test_a_payload_with_a_field_of_the_wrong_type_is_refused_naming_the_field(change, field):
    with pytest.raises(QueueError, match=f"field {field!r}"):
        check_payload(payload(**change))


def test_an_unknown_sandbox_and_a_non_object_payload_are_refused():
    with pytest.raises(QueueError, match="unknown sandbox 'vm'"):
        check_payload(payload(sandbox="vm"))
    with pytest.raises(QueueError, match="must be an object"):
        check_payload(["x"])


def test_files_round_trip_and_non_base64_is_refused():
    assert decode_files(encode_files({"a/b.bin": bytes(range(256))})) == {"a/b.bin": bytes(range(256))}
    with pytest.raises(QueueError, match="not base64"):
        decode_files({"x": "%%%"})


def test_a_task_runs_the_notebook_in_a_warm_sandbox_and_reuses_it():
    pool = Sandboxes(1, [], allow_unsandboxed=unsandboxed_ok())
    try:
        first = execute(payload(), pool)
        second = execute(payload(), pool)
        bad = execute(payload(limits={"timeout_per_cell": -1}), pool)
    finally:
        pool.close()
    assert first["status"] == "ok", first["message"]
    assert first["notebook"]["cells"][0]["outputs"][0]["text"] == "abab\n"
    assert second["kernel_reused_zygote"] is True and len(pool._executors) == 0   # closed
    # the engine's failure is a result, never an exception, and is not reused by a rerun
    assert bad["status"] == "error" and "timeout_per_cell" in bad["message"] and bad["notebook"] is None
    assert reusable({"status": "SUCCESS", "result": first}) and not reusable({"status": "SUCCESS", "result": bad})


def test_a_redelivered_task_whose_result_is_stored_returns_it_without_running(queue_url):
    app = make_app(queue_url)
    task = register(app, Sandboxes(1, [], allow_unsandboxed=False))
    stored = {"notebook": {"cells": []}, "status": "ok", "message": "", "seconds": 0.1,
              "kernel_reused_zygote": True, "kind": "os", "tampered": [], "unsandboxed": ""}
    app.backend.store_result("lcg-stored", stored, "SUCCESS")
    # the payload is malformed: running it would return an error result
    assert task.apply(args=[{"bad": 1}], task_id="lcg-stored").get() == stored
    assert task.apply(args=[{"bad": 1}], task_id="lcg-fresh").get()["status"] == "error"
