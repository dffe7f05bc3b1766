"""The trusted side does not trust the sandbox (issue #10, section 2): what a submission
leaves in its scratch directory cannot make the driver read other files or hang, the
sandbox's view of the file system holds nothing of the instructor's and is read-only but
for the submission's own directories, and the CPU limit is per submission.

Real zygotes and kernels (OS sandbox, and the container sandbox where a test says so).
"""
from __future__ import annotations

import dataclasses
import os
import threading

import pytest
from sandbox_helpers import LIMITS, notebook, outputs

pytestmark = pytest.mark.slow   # real kernels

SECRET = "labchain-test-secret-7f3a9c"


def _crash_after(source: str):
    """A notebook that runs ``source`` (which replaces its kernel.log), then crashes the
    kernel, so the driver looks at the log for the crash message."""
    return notebook("import os\n" + source, "os._exit(9)")


@pytest.mark.parametrize("target", ["secret", "/etc/shadow", "/proc/self/environ"])
def test_a_symlinked_kernel_log_leaks_nothing(one, tmp_path, target, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text(f"password={SECRET}\n")
    secret.chmod(0o600)
    monkeypatch.setenv("LABCHAIN_TEST_DRIVER_SECRET", SECRET)   # in the driver's environ
    path = str(secret) if target == "secret" else target
    result = one.run(_crash_after(f"os.unlink('kernel.log')\nos.symlink({path!r}, 'kernel.log')"))
    assert result.status == "crashed" and "exited with code 9" in result.message, result.message
    assert SECRET not in result.message and "root:" not in result.message
    assert "kernel log" not in result.message, result.message


def test_a_fifo_kernel_log_does_not_hang_the_worker(one):
    done = threading.Event()
    box = {}

    def run():
        box["result"] = one.run(_crash_after("os.unlink('kernel.log')\nos.mkfifo('kernel.log')"))
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(LIMITS.timeout_total), "the worker hung on a FIFO in the scratch directory"
    result = box["result"]
    assert result.status == "crashed" and "exited with code 9" in result.message, result.message
    assert outputs(one.run(notebook("print(6 * 7)"))) == ["42\n"]


def test_a_real_kernel_log_is_still_quoted(one):
    result = one.run(notebook("import os\nos.write(2, b'fatal: the last words\\n')\nos._exit(9)"))
    assert result.status == "crashed" and "(kernel log: fatal: the last words)" in result.message
