"""The container sandbox: the same engine with each worker's zygote in a warm container
(``labchain/lab:<version>``, ``network_mode="none"``). Skipped with the reason when no Docker
engine or no image is there, unless LABCHAIN_REQUIRE_DOCKER=1 (CI), where that fails."""
from __future__ import annotations

import dataclasses
import os
import socket

import pytest
from needs import unavailable
from sandbox_helpers import LIMITS, connect_source, notebook, outputs, text

from grading.sandbox import docker_available, make_executor

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def boxed():
    reason = docker_available()
    if reason is not None:
        unavailable("docker", f"the container sandbox cannot be used: {reason}")
    with make_executor("container", workers=1, limits=LIMITS) as executor:
        executor.warm_up()
        yield executor


def test_container_runs_a_notebook(boxed):
    result = boxed.run(notebook("x = 20", "print(x + 22)",
                                "import labchain, os\nprint(os.getuid() != 0, os.listdir('/home'))"))
    assert (result.status, outputs(result)) == ("ok", ["42\n", "True []\n"]), result.message
    assert result.kind == boxed.kind == "container" and result.kernel_reused_zygote
    assert "container sandbox" in boxed.describe() and "namespaces" in boxed.describe()


def test_container_has_no_network(boxed):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    with listener:
        result = boxed.run(notebook(connect_source("127.0.0.1", port),
                                    connect_source("1.1.1.1", 53)))
    assert (result.status, text(result)) == ("ok", "refused\nrefused\n")


def test_container_crash_and_no_leak(boxed):
    crash = boxed.run(notebook("import json, os\njson.LEAK = 1\nos.environ['LEAK'] = '1'\n"
                               "open('leak.txt', 'w').write('x')\nos._exit(9)"))
    assert crash.status == "crashed" and "exited with code 9" in crash.message
    after = boxed.run(notebook("import json, os\nprint(hasattr(json, 'LEAK'), 'LEAK' in os.environ,"
                               " os.path.exists('leak.txt'))"))
    assert (after.status, text(after)) == ("ok", "False False False\n")


def test_container_detached_processes_are_reaped(boxed):
    first = boxed.run(notebook("import subprocess\n"
                               "subprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
                               "print('started')"))
    assert first.status == "ok"
    after = boxed.run(notebook("import os\nprint(sum(1 for p in os.listdir('/proc') if p.isdigit()"
                               " and b'sleep' in open(f'/proc/{p}/cmdline', 'rb').read()))"))
    assert (after.status, text(after)) == ("ok", "0\n")


def test_no_zombie_is_left_in_the_warm_container(boxed):
    """The zygote is pid 1 of its container: orphaned submission processes are re-parented to
    it, and unreaped zombies count against the container's pids limit (once, after about 70
    submissions, no kernel could start any more)."""
    import docker

    for _ in range(4):
        assert boxed.run(notebook("x = 1")).status == "ok"
    client = docker.from_env()
    [container] = client.containers.list(filters={"label": "org.labchain.sandbox=zygote"})
    out = container.exec_run(["sh", "-c", "grep -l '^State:.*Z' /proc/[0-9]*/status | wc -l"]).output
    assert int(out.decode().strip()) <= 1, "zombies pile up in the warm container"


def test_container_print_flood_ends_at_the_output_cap(boxed):
    """The back-pressure on the kernel's stdout works inside the container too: the flood is
    stopped by the output cap, not by the container's memory limit."""
    limits = dataclasses.replace(LIMITS, max_output_bytes=50_000)
    result = boxed.run(notebook("while True:\n    print('x' * 10_000)"), limits=limits)
    assert (result.status, "bytes of output" in result.message) == ("error", True), result.message
    after = boxed.run(notebook("print(6 * 7)"))
    assert (after.status, text(after)) == ("ok", "42\n")
