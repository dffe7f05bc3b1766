"""The trusted side does not trust the sandbox (issue #10, section 2): what a submission
leaves in its scratch directory cannot make the driver read other files or hang, the
sandbox's view of the file system holds nothing of the instructor's and is read-only but
for the submission's own directories, and the CPU limit is per submission.

Real zygotes and kernels (OS sandbox, and the container sandbox where a test says so).
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

import pytest
from needs import needs_root, unavailable
from sandbox_helpers import LIMITS, notebook, outputs, search_source

from grading.sandbox import docker_available, make_executor

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
    # (appended to the file itself: ipykernel forwards fd 2 through a pipe and a thread,
    # which os._exit may outrun)
    result = one.run(notebook("import os\nwith open('kernel.log', 'a') as f:\n"
                              "    f.write('fatal: the last words\\n')\nos._exit(9)"))
    assert result.status == "crashed" and "(kernel log: fatal: the last words)" in result.message


# -- the file system a submission sees -------------------------------------------------------

REPO = Path(__file__).resolve().parents[3]
#: hidden-test lines of the repository's own material (a fixture lab, a real lab)
REPO_NEEDLES = ["r = count_words('The the THE cat')", "_rng = random.Random(12)"]
SEARCH_LIMITS = dataclasses.replace(LIMITS, timeout_per_cell=240, timeout_total=300, cpu_seconds=240)


@pytest.fixture(scope="module")
def instructor():
    """A course outside /tmp whose ``source/lab-y`` is a symlink to a world-readable labs
    directory elsewhere (as ``labchain-grade init`` links a checkout's labs/), each with
    hidden tests carrying a unique token."""
    root = Path(f"/var/lib/labchain-test-{uuid.uuid4().hex[:12]}")
    tokens = [f"hiddentoken{uuid.uuid4().hex}" for _ in range(2)]
    course, labs = root / "course", root / "labs"
    (course / "source" / "lab-x").mkdir(parents=True)
    (labs / "lab-y").mkdir(parents=True)
    for path, token in ((course / "source/lab-x/lab-x.ipynb", tokens[0]),
                        (labs / "lab-y/lab-y.ipynb", tokens[1])):
        path.write_text(f'{{"cells": [{{"source": "### BEGIN HIDDEN TESTS\\nassert {token}\\n"}}]}}')
    (course / "source" / "lab-y").symlink_to(labs / "lab-y")
    os.chmod(root, 0o755)
    yield course, tokens
    shutil.rmtree(root)


def _search(executor, needles):
    result = executor.run(notebook(search_source(needles)), limits=SEARCH_LIMITS)
    assert result.status == "ok", result.message
    report = json.loads(outputs(result)[-1])
    assert report["files"] > 1000, report   # it did read the file system
    return report


@needs_root
def test_os_sandbox_sees_no_hidden_tests_and_writes_only_its_own_dirs(instructor):
    course, tokens = instructor
    assert REPO_NEEDLES[0] in (REPO / "tests/grading/fixtures/labs/lab-a/lab-a.ipynb").read_text()
    with make_executor("os", workers=1, limits=LIMITS, hide_paths=[str(course)]) as executor:
        report = _search(executor, [*tokens, *REPO_NEEDLES])
    assert report["hits"] == [] and report["writable"] == [], report


@pytest.mark.docker
def test_container_sandbox_sees_no_hidden_tests_and_writes_only_its_own_dirs(instructor):
    reason = docker_available()
    if reason is not None:
        unavailable("docker", f"containers cannot be used: {reason}")
    course, tokens = instructor
    with make_executor("container", workers=1, limits=LIMITS) as executor:
        report = _search(executor, [*tokens, *REPO_NEEDLES])
    assert report["hits"] == [] and report["writable"] == [], report


@needs_root
def test_nothing_written_outside_scratch_survives_into_the_next_submission(one):
    name = f"labchain-left-{uuid.uuid4().hex[:8]}"
    writes = one.run(notebook(
        "import os\nleft = []\n"
        f"for d in ('/run/lock', '/var/lock', '/dev/mqueue', '/var/crash', '/var/cache'):\n"
        f"    try:\n        open(os.path.join(d, {name!r}), 'w').write('x')\n        left.append(d)\n"
        "    except OSError:\n        pass\nprint(left)"))
    reads = one.run(notebook(
        f"import glob\nprint(glob.glob('/*/{name}') + glob.glob('/*/*/{name}'))"))
    assert outputs(writes) == ["[]\n"] and outputs(reads) == ["[]\n"], (outputs(writes), outputs(reads))


# -- CPU time is per submission ----------------------------------------------------------------

BUSY_CHILDREN = '''\
import os
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        while True:
            pass
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
print("all children ended")
'''


@needs_root
def test_cpu_limit_counts_every_process_of_a_submission(one):
    """Each of 4 busy children stays under RLIMIT_CPU (3 s each) for a while; together they
    pass the submission's 3 s long before: the submission is stopped, as a CPU timeout.
    (Before: each child died of its own SIGXCPU at 3 s and the cell ended normally.)"""
    limits = dataclasses.replace(LIMITS, cpu_seconds=3, timeout_per_cell=200, timeout_total=240)
    result = one.run(notebook(BUSY_CHILDREN, "print('never')"), limits=limits)
    assert result.status == "timeout" and "CPU" in result.message, (result.status, result.message)
    assert "all children ended\n" not in outputs(result) and "never\n" not in outputs(result)
    assert outputs(one.run(notebook("print(6 * 7)"))) == ["42\n"]


@pytest.mark.docker
def test_cpu_limit_counts_every_process_in_a_container():
    reason = docker_available()
    if reason is not None:
        unavailable("docker", f"containers cannot be used: {reason}")
    limits = dataclasses.replace(LIMITS, cpu_seconds=3, timeout_per_cell=200, timeout_total=240)
    with make_executor("container", workers=1, limits=LIMITS) as executor:
        result = executor.run(notebook(BUSY_CHILDREN, "print('never')"), limits=limits)
    assert result.status == "timeout" and "CPU" in result.message, (result.status, result.message)


# -- no silent degradation -------------------------------------------------------------------

@needs_root
def test_without_root_the_os_sandbox_refuses_unless_allowed(tmp_path):
    """In a process of an unprivileged user (a grader not run as root: forked and setuid,
    because that user cannot run this venv's interpreter under /root), making an OS sandbox
    fails with the reason, unless allow_unsandboxed; the executor then says why."""
    import pwd
    from grading.sandbox import SandboxError
    from grading.sandbox.oslevel import SandboxUser, drop_privileges
    entry = pwd.getpwnam("labchain-sandbox")
    scratch = tempfile.mkdtemp(prefix="labchain-unprivileged-")   # tmp_path's parents are 0700
    os.chmod(scratch, 0o777)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:   # the unprivileged grader
        try:
            drop_privileges(SandboxUser(entry.pw_name, entry.pw_uid, entry.pw_gid))
            try:
                make_executor("os", workers=1, scratch_dir=scratch)
                lines = ["built"]
            except SandboxError as exc:
                lines = [f"refused: {exc}"]
            executor = make_executor("os", workers=1, scratch_dir=scratch, allow_unsandboxed=True)
            lines.append(f"allowed: {executor.unsandboxed}")
            executor.close()
            os.write(write, "\n".join(lines).encode())
        except BaseException as exc:
            os.write(write, f"child failed: {exc!r}".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        lines = f.read().splitlines()
    os.waitpid(pid, 0)
    shutil.rmtree(scratch, ignore_errors=True)
    assert len(lines) == 2, lines
    assert lines[0].startswith("refused: refusing to grade without a real sandbox: the grader is not root")
    assert "--allow-unsandboxed" in lines[0]
    assert lines[1].startswith("allowed: the grader is not root")


def test_the_summary_says_when_grading_was_not_sandboxed():
    from grading.autograde import Summary
    assert "WARNING" not in Summary("os").table()
    table = Summary("os", unsandboxed="the grader is not root").table()
    assert "graded WITHOUT a sandbox: the grader is not root" in table
