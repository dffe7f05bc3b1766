"""The execution engine with real forked IPython kernels: results, hostile notebooks, isolation.

Every hostile notebook must give its status and sentence, and the NEXT submission on the same
worker must still run normally (``assert_still_works``).
"""
from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import uuid

import pytest
from needs import needs_root   # skips without root, fails under LABCHAIN_REQUIRE_ALL=1
from sandbox_helpers import IS_ROOT, LIMITS, connect_source, notebook, outputs, text

from grading.sandbox import STATUSES, Limits, make_executor
from grading.sandbox.executor import Executor, OsLauncher

pytestmark = pytest.mark.slow   # real kernels


def assert_still_works(executor) -> None:
    result = executor.run(notebook("print(6 * 7)"))
    assert (result.status, outputs(result)) == ("ok", ["42\n"]), result.message


# -- ordinary submissions --------------------------------------------------------------------

def test_correct_notebook_executes_with_outputs(one):
    nb = notebook("x = 41", "print(x + 1)", "x * 2", "import numpy as np\nint(np.arange(3).sum())")
    result = one.run(nb)
    assert result.status == "ok" and result.message == ""
    assert outputs(result) == ["42\n", "82", "3"]
    assert result.notebook.cells[2].execution_count == 2
    assert result.kernel_reused_zygote and result.kind == "os" and one.kind == "os"
    assert nb.cells[1].get("outputs", []) == []   # the caller's notebook is not modified


def test_cell_errors_are_outputs_of_an_ok_run(one):
    result = one.run(notebook("assert 1 == 2, 'wrong answer'", "print('next cell runs')"))
    assert result.status == "ok"
    assert outputs(result) == ["AssertionError: wrong answer", "next cell runs\n"]


def test_a_hidden_error_still_becomes_an_error_output(one):
    """A custom exception handler can stop the kernel from publishing the traceback, but the
    execute_reply still says "error": the cell must get an error output (nbgrader's rule)."""
    result = one.run(notebook("get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)",
                              "assert 1 == 2, 'hidden'", "print('next cell runs')"))
    assert result.status == "ok"
    errors = [out for out in result.notebook.cells[2].outputs if out.output_type == "error"]
    assert [(e.ename, e.evalue) for e in errors] == [("AssertionError", "hidden")]
    assert outputs(result)[-1] == "next cell runs\n"


def test_matplotlib_figure_is_captured(one):
    result = one.run(notebook("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"))
    assert result.status == "ok"
    assert any("image/png" in out.get("data", {}) for out in result.notebook.cells[1].outputs)


def test_resource_files_are_in_the_scratch_directory(one):
    result = one.run(notebook("print(open('data/in.csv').read())"),
                     resources={"files": {"data/in.csv": b"a,b\n1,2"}})
    assert (result.status, text(result)) == ("ok", "a,b\n1,2\n")
    escape = one.run(notebook("print(1)"), resources={"files": {"../escape.txt": b"x"}})
    assert escape.status == "error" and "outside the scratch directory" in escape.message


def test_invalid_notebook_is_an_error_not_an_exception(one):
    bad = notebook("print(1)")
    bad.cells[1]["cell_type"] = "spreadsheet"
    result = one.run(bad)
    assert result.status == "error" and "not a valid notebook" in result.message
    assert_still_works(one)


def test_limits_are_validated_and_described():
    with pytest.raises(ValueError, match="memory_mb"):
        Limits(memory_mb=0)
    descriptions = Limits.describe()
    assert set(descriptions) == {f.name for f in dataclasses.fields(Limits)}
    assert all(len(d) > 20 for d in descriptions.values())
    assert set(STATUSES) == {"ok", "timeout", "crashed", "error"}


# -- hostile submissions ---------------------------------------------------------------------

def test_infinite_loop_times_out(one):
    result = one.run(notebook("print('start')", "while True:\n    pass", "print('never')"),
                     limits=dataclasses.replace(LIMITS, timeout_per_cell=2))
    assert result.status == "timeout" and "cell 2 ran longer than 2 s" in result.message
    assert outputs(result) == ["start\n", "TimeoutError: cell did not finish within 2 s"]
    assert_still_works(one)


def test_total_timeout(one):
    result = one.run(notebook(*["import time; time.sleep(1)"] * 6),
                     limits=dataclasses.replace(LIMITS, timeout_total=3))
    assert result.status == "timeout" and "3 s in total" in result.message
    assert_still_works(one)


def test_cpu_limit_stops_a_busy_kernel(one):
    result = one.run(notebook("while True:\n    pass"),
                     limits=dataclasses.replace(LIMITS, cpu_seconds=2, timeout_per_cell=60))
    assert result.status == "timeout" and "CPU time" in result.message
    assert_still_works(one)


def test_sys_exit_is_an_error_output_and_later_cells_run(one):
    result = one.run(notebook("import sys; sys.exit(3)", "print('after')"))
    assert result.status == "ok"
    assert outputs(result)[0].startswith("SystemExit: 3") and outputs(result)[-1] == "after\n"


@pytest.mark.parametrize("source, reason", [
    ("import os; os._exit(3)", "exited with code 3"),
    ("import ctypes; ctypes.string_at(0)", "segmentation fault"),
])
def test_kernel_crash_is_reported(one, source, reason):
    result = one.run(notebook("print('before')", source, "print('never')"))
    assert result.status == "crashed" and reason in result.message and "cell 2" in result.message
    assert outputs(result)[0] == "before\n" and outputs(result)[-1].startswith("DeadKernelError")
    assert_still_works(one)


def test_memory_limit_is_what_student_code_can_allocate(one):
    fits = int(LIMITS.memory_mb * 0.8) * 2**20
    result = one.run(notebook(f"ok = bytearray({fits})\nprint(len(ok) // 2**20)",
                              f"hog = bytearray({2 * LIMITS.memory_mb * 2**20})", "print('after')"))
    assert result.status == "ok"
    assert outputs(result) == [f"{fits // 2**20}\n", "MemoryError: ", "after\n"]
    assert_still_works(one)


def test_fork_bomb_is_contained(one):
    bomb = ("import os\nwhile True:\n    try:\n        os.fork()\n"
            "    except OSError:\n        pass")
    result = one.run(notebook(bomb), limits=dataclasses.replace(LIMITS, timeout_per_cell=4))
    assert result.status in ("timeout", "crashed"), result.message
    assert_still_works(one)


FLOOD_LIMITS = dataclasses.replace(LIMITS, max_output_bytes=50_000)


def test_display_flood_is_capped(one):
    result = one.run(notebook("from IPython.display import display\nwhile True:\n"
                              "    display('x' * 10_000)"), limits=FLOOD_LIMITS)
    kept = sum(len(t) for t in outputs(result))
    assert kept <= FLOOD_LIMITS.max_output_bytes + 20_000
    assert result.status == "error" and "bytes of output" in result.message
    assert_still_works(one)


@pytest.mark.parametrize("line", [10_000, 1_000_000])
def test_print_flood_is_capped(one, line):
    """ipykernel buffers prints between publishes; the sandboxed kernel flushes past the cap,
    so the flood always ends at the output cap, never at the memory limit (MemoryError or a
    crashed kernel, as it did before on a loaded machine)."""
    result = one.run(notebook(f"while True:\n    print('x' * {line})", "print('after')"),
                     limits=FLOOD_LIMITS)
    kept = sum(len(t) for t in outputs(result))
    assert kept <= FLOOD_LIMITS.max_output_bytes + line + 1_000
    assert (result.status, "bytes of output" in result.message) == ("error", True), result.message
    assert "after" not in text(result)
    assert_still_works(one)


def test_big_file_write_is_stopped(one):
    result = one.run(notebook("open('big', 'wb').write(b'x' * (20 * 2**20))", "print('after')"))
    assert result.status in ("ok", "crashed")   # EFBIG error, or SIGXFSZ kills the kernel
    assert "after\n" in outputs(result) or "file-size limit" in result.message
    assert_still_works(one)


def test_detached_descendants_are_reaped(one):
    token = f"{uuid.uuid4().int % 10**6}.{uuid.uuid4().int % 10**6}"
    result = one.run(notebook(
        f"import subprocess\np = subprocess.Popen(['sleep', '{token}'], start_new_session=True)"
        "\nprint('started')"))
    assert result.status == "ok" and text(result) == "started\n"
    survivors = subprocess.run(["pgrep", "-f", f"sleep {token}"], capture_output=True, text=True)
    assert survivors.stdout == "", "a process started by the submission outlived it"


# -- isolation -------------------------------------------------------------------------------

def test_no_state_leaks_between_submissions(one):
    a = one.run(notebook(
        "import json, os, pathlib\nLEAK = 'global'\njson.LEAK = 'module'\n"
        "os.environ['LEAK'] = 'env'\npathlib.Path('leak.txt').write_text('cwd')\n"
        "pathlib.Path('/tmp/leak.txt').write_text('tmp')\n"
        "pathlib.Path(os.path.expanduser('~/leak.txt')).write_text('home')\n"
        "print(os.getcwd())"))
    assert a.status == "ok", a.message
    b = one.run(notebook(
        "import json, os, pathlib\n"
        "print('LEAK' in globals(), hasattr(json, 'LEAK'), 'LEAK' in os.environ,"
        " pathlib.Path('leak.txt').exists(), pathlib.Path('/tmp/leak.txt').exists(),"
        " pathlib.Path(os.path.expanduser('~/leak.txt')).exists())\nprint(os.getcwd())"))
    assert b.status == "ok" and b.kernel_reused_zygote
    flags, cwd = text(b).splitlines()
    assert flags == "False False False False False False"
    assert cwd != text(a).strip()   # a fresh scratch directory


@needs_root
def test_network_is_unreachable(one):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    with listener:
        result = one.run(notebook(connect_source("127.0.0.1", port)))
        with pytest.raises(TimeoutError):
            listener.accept()
    assert (result.status, text(result)) == ("ok", "refused\n")


@needs_root
def test_instructor_files_are_unreadable(one, tmp_path):
    secret = tmp_path / "gradebook.db"
    secret.write_text("hidden tests and grades")
    secret.chmod(0o600)
    home_secret = f"/root/.labchain-sandbox-test-{uuid.uuid4().hex}"
    with open(home_secret, "w") as f:
        f.write("root's file")
    try:
        result = one.run(notebook(*(
            f"try:\n    print(open({path!r}).read())\nexcept OSError as e:\n"
            f"    print(type(e).__name__)" for path in (str(secret), home_secret))))
    finally:
        os.unlink(home_secret)
    assert result.status == "ok"
    assert all(o.strip() in ("FileNotFoundError", "PermissionError") for o in outputs(result))


@needs_root
def test_sandbox_user_alone_denies_0600_files(tmp_path):
    """Without namespaces, the separate user is what protects the instructor's files."""
    secret = tmp_path / "secret.txt"
    secret.write_text("hidden")
    secret.chmod(0o600)
    tmp_path.chmod(0o755)
    with Executor(OsLauncher(namespaces=False), 1, LIMITS) as executor:
        result = executor.run(notebook(
            f"import os\nprint(os.getuid() != 0)\ntry:\n    open({str(secret)!r}).read()\n"
            "except OSError as e:\n    print(type(e).__name__)"))
        assert "NO network namespace" in executor.describe()
    assert outputs(result) == ["True\nPermissionError\n"]


def test_describe_names_the_protections(one):
    summary = one.describe()
    if IS_ROOT:
        assert "user labchain-sandbox" in summary and "namespaces" in summary
    else:
        assert "not root" in summary


# -- parallel --------------------------------------------------------------------------------

PARALLEL_CASES = [
    notebook("print(sum(range(10)))"),
    notebook("import hashlib\nprint(hashlib.sha256(b'lab').hexdigest()[:16])"),
    notebook("raise ValueError('student bug')", "print('still runs')"),
    notebook("import os; os._exit(1)"),
    notebook("import labchain\nprint(labchain.__name__)"),
    notebook("import sys; sys.exit(0)", "print(1 + 1)"),
]


def test_parallel_runs_give_the_same_results_as_sequential(one, pool):
    sequential = [one.run(nb) for nb in PARALLEL_CASES]
    parallel = dict(pool.map(PARALLEL_CASES))
    assert sorted(parallel) == list(range(len(PARALLEL_CASES)))
    for i, expected in enumerate(sequential):
        assert (parallel[i].status, outputs(parallel[i])) == (expected.status, outputs(expected))
    assert [r.status for r in sequential] == ["ok", "ok", "ok", "crashed", "ok", "ok"]


def test_run_is_thread_safe(pool):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(4) as threads:
        results = list(threads.map(pool.run, [notebook(f"print({i} ** 2)") for i in range(6)]))
    assert [outputs(r) for r in results] == [[f"{i ** 2}\n"] for i in range(6)]


def test_a_dead_zygote_is_replaced(one):
    zygote = one._all[0].handle   # the worker's zygote process (OsLauncher: a Popen)
    zygote.kill()
    zygote.wait()
    again = one.run(notebook("print(2)"))
    assert (again.status, outputs(again), again.kernel_reused_zygote) == ("ok", ["2\n"], False)
    assert one.run(notebook("print(3)")).kernel_reused_zygote


def _processes() -> dict[int, tuple[str, int, bytes]]:
    """pid -> (comm, parent pid, command line) of every live (not zombie) process."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                comm, rest = fh.read()[:-1].split(" (", 1)[1].rsplit(") ", 1)
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except (OSError, ValueError):
            continue
        state, ppid = rest.split()[:2]
        if state != "Z":
            found[int(pid)] = (comm, int(ppid), cmdline)
    return found


@needs_root
def test_a_zygote_killed_mid_submission_takes_the_submission_with_it():
    """SIGKILL the zygote while a kernel runs: monitor, init and kernel must all go (init once
    lost its parent-death signal when it dropped root, and lived on with an idle kernel)."""
    import threading
    import time

    def zygotes() -> dict[int, bytes]:   # the test's own zygotes (`one` and `pool` too)
        return {pid: cmd for pid, (comm, ppid, cmd) in _processes().items()
                if comm == "sandbox-zygote" and ppid == os.getpid()}

    before = zygotes()
    with make_executor("os", workers=1, limits=LIMITS) as executor:
        executor.warm_up()
        [(zygote, cmdline)] = [(pid, cmd) for pid, cmd in zygotes().items() if pid not in before]
        runner = threading.Thread(target=executor.run, args=(notebook("import time; time.sleep(60)"),))
        runner.start()

        def ours(name: str) -> list[int]:
            return [pid for pid, (comm, _, cmd) in _processes().items() if comm == name and cmd == cmdline]

        deadline = time.monotonic() + 30
        while not ours("sandbox-kernel") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ours("sandbox-kernel"), "the submission's kernel never started"
        os.kill(zygote, 9)
        deadline = time.monotonic() + 20
        while any(ours(n) for n in ("sandbox-monitor", "sandbox-init", "sandbox-kernel")) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        left = {n: ours(n) for n in ("sandbox-monitor", "sandbox-init", "sandbox-kernel")}
        assert left == {"sandbox-monitor": [], "sandbox-init": [], "sandbox-kernel": []}
        runner.join(60)
