"""`labchain lab` (make lab): the student view made by nbgrader's release step, the student's
work kept across sessions, nbgrader's instructor tools off in a real JupyterLab, and the
session's testnet found by `labchain testnet status` without flags (real nbgrader, real node
processes, real jupyter servers). Cost: 70-90 s on the loaded 2-core machine (two nbgrader
generate runs of one lab each, two short JupyterLab servers, two 2-node testnets)."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from labchain.deploy.lab import STUDENT_DISABLED, LabPaths, prepare_student_view, write_view_config
from labchain.testnet.session import pid_alive

REPO = Path(__file__).resolve().parents[2]
LAB1, LAB2 = "01-hashes-merkle", "02-keys-signatures"
TOKEN = "labviews-test"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A checkout-like folder with lab 01 only (lab 02 is added by a test)."""
    root = tmp_path_factory.mktemp("checkout")
    shutil.copytree(REPO / "labs" / LAB1, root / "labs" / LAB1)
    return root


def _env(root: Path) -> dict:
    env = dict(os.environ, LABCHAIN_RUNTIME_DIR=str(root / "run"),
               JUPYTER_RUNTIME_DIR=str(root / "jupyter-runtime"))
    env.pop("LABCHAIN_TESTNET", None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 60.0) -> tuple[int, str]:
    """GET ``url``, retrying while the server is starting; (status, body)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _page_config(html: str) -> dict:
    m = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S)
    assert m, "the /lab page carries no jupyter-config-data"
    return json.loads(m.group(1))


def test_student_view_has_no_solutions_and_keeps_the_students_work(root):
    paths = LabPaths(root)
    source = root / "labs" / LAB1 / f"{LAB1}.ipynb"
    source_bytes = source.read_bytes()
    added = prepare_student_view(paths)
    student = paths.student() / LAB1 / f"{LAB1}.ipynb"
    assert student in added
    text = student.read_text()
    assert "BEGIN SOLUTION" in source_bytes.decode() and "BEGIN HIDDEN TESTS" in source_bytes.decode()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS"):
        assert marker not in text
    assert "NotImplementedError" in text
    assert not (paths.student() / LAB1 / "i18n").exists()  # catalogs are not handed out

    nb = json.loads(text)  # the student works: an edited cell, saved
    nb["cells"][0]["source"] = "my own notes\n"
    student.write_text(json.dumps(nb))
    shutil.copytree(REPO / "labs" / LAB2, root / "labs" / LAB2)  # a new lab appears in the course
    added = prepare_student_view(paths)
    assert [p.relative_to(paths.student()).parts[0] for p in added] == [LAB2]
    assert json.loads(student.read_text())["cells"][0]["source"] == "my own notes\n"
    assert source.read_bytes() == source_bytes  # labs/ never touched


def test_instructor_view_keeps_formgrader_on(root, tmp_path):
    """The view config, in a real server: the instructor's has /formgrader, the student's
    (checked in the session test below) does not."""
    conf = write_view_config(LabPaths(root), "instructor")
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", str(tmp_path), "--no-browser",
                               f"--port={port}", f"--IdentityProvider.token={TOKEN}", "--allow-root"],
                              env=dict(_env(root), JUPYTER_CONFIG_DIR=str(conf)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        status, html = _get(f"http://127.0.0.1:{port}/lab?token={TOKEN}")
        assert status == 200
        assert not set(STUDENT_DISABLED) & set(_page_config(html)["disabledExtensions"])
        status, _ = _get(f"http://127.0.0.1:{port}/formgrader?token={TOKEN}")
        assert status != 404
    finally:
        server.terminate()
        server.wait(30)


def _labchain(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labchain.cli", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_lab_session_student_view_testnet_found_without_flags_and_not_killed_by_a_second(root):
    env = _env(root)
    port, explorer_port = _free_port(), _free_port()
    record = root / "run" / "lab-testnet.json"
    session = subprocess.Popen(
        [sys.executable, "-m", "labchain.cli", "lab", "--root", str(root), "--nodes", "2",
         "--explorer-port", str(explorer_port), "--",
         "--no-browser", f"--port={port}", f"--IdentityProvider.token={TOKEN}"],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status, html = _get(f"http://127.0.0.1:{port}/lab?token={TOKEN}", timeout=120)
        assert status == 200
        disabled = set(_page_config(html)["disabledExtensions"])
        assert set(STUDENT_DISABLED) <= disabled
        assert _get(f"http://127.0.0.1:{port}/formgrader?token={TOKEN}")[0] == 404
        assert record.is_file()
        explorer = _get(f"http://127.0.0.1:{explorer_port}/")  # the session's block explorer
        assert explorer[0] == 200 and "node1" in explorer[1]
        served = _get(f"http://127.0.0.1:{port}/api/contents/{LAB1}?token={TOKEN}")
        assert served[0] == 200 and f"{LAB1}.ipynb" in served[1]  # var/student, not labs/

        status_run = _labchain("testnet", "status", "--json", env=env)
        assert status_run.returncode == 0, status_run.stderr
        rows = json.loads(status_run.stdout)
        assert [r["running"] for r in rows] == [True, True]
        assert all(pid_alive(r["pid"]) for r in rows)

        second = _labchain("lab", "--root", str(root), "--", "--no-browser", env=env)
        assert second.returncode == 1
        assert "already running" in second.stderr and str(session.pid) in second.stderr
        again = json.loads(_labchain("testnet", "status", "--json", env=env).stdout)
        assert [r["running"] for r in again] == [True, True]  # the first session's nodes live on
    finally:
        session.send_signal(signal.SIGTERM)
        out = session.communicate(timeout=60)[0]
    assert session.returncode is not None, out
    assert not record.exists()  # the session's record goes with it
    assert not any(pid_alive(r["pid"]) for r in rows)  # the session stopped its nodes
    with pytest.raises(OSError):                        # ... and its explorer
        socket.create_connection(("127.0.0.1", explorer_port), timeout=2).close()


def test_session_record_of_a_dead_session_or_a_missing_testnet_is_ignored(tmp_path, monkeypatch):
    from labchain.testnet import session as sess

    monkeypatch.setenv("LABCHAIN_RUNTIME_DIR", str(tmp_path / "run"))
    state = tmp_path / "testnet.json"
    state.write_text("{}")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    sess.record(state, dead.pid, "student")
    assert sess.recorded_testnet() is None                  # its session is gone
    sess.record(tmp_path / "missing" / "testnet.json", os.getpid(), "student")
    assert sess.recorded_testnet() is None                  # no state file behind it
    sess.record(state, os.getpid(), "student")
    assert sess.recorded_testnet() == str(state.resolve())
    sess.forget(dead.pid)                                   # not its record: kept
    assert sess.record_path().exists()
    sess.forget(os.getpid())
    assert not sess.record_path().exists()
