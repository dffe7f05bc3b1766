"""``labchain lab [--instructor] [--lang en|zh-CN]`` (``make lab`` / ``make lab-instructor``).

Terminology
-----------
student view (default)
    JupyterLab on ``var/student/`` (``var/student-<lang>/`` for another language): the student
    versions nbgrader's release step makes (``labchain-grade generate``, so no solutions and no
    hidden tests), copied there once per notebook. A notebook already in the working folder is
    never overwritten (the student's work); only labs added since are copied. Saving never
    touches ``labs/``. nbgrader's instructor tools are off (see ``STUDENT_DISABLED``).
instructor view (``--instructor``)
    JupyterLab on the nbgrader course ``var/lab-course/`` whose ``source/<lab>`` are symlinks to
    ``labs/<lab>`` (editing a source edits the tracked lab), with every nbgrader extension on
    (create-assignment toolbar, formgrader, which reads the course's ``nbgrader_config.py``).
view config
    Each view runs with its own ``JUPYTER_CONFIG_DIR`` (``var/jupyter/<view>/``): the student
    one holds ``labconfig/page_config.json`` (``disabledExtensions``: the nbgrader lab plugins)
    and ``jupyter_server_config.json`` (``jpserver_extensions``: the nbgrader server extensions
    false). A user's own ``~/.jupyter`` settings are therefore not read by a lab session.

Both views start a local testnet in ``var/lab-testnet/`` as before (nodes exit when the session
exits, even if it is killed), export ``LABCHAIN_TESTNET`` to the kernels and record the session
(``labchain.testnet.session``) so ``labchain testnet status`` finds it without flags. A second
session refuses to start while the first one's is alive, with a sentence naming it.

Layering: ``grading`` sits above ``labchain``, so the student versions are made by running
``python -m grading.cli init|generate`` (the grading API's own thin CLI, as ``labchain grade``
does), never by importing grading or copying its nbgrader steps.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import time
import sys
from dataclasses import dataclass
from pathlib import Path

from labchain.core.errors import LabchainError
from labchain.deploy.images import REPO_ROOT
from labchain.testnet import session

#: nbgrader 0.9 lab plugins a student must not see (validate-assignment stays: it only runs the
#: visible tests of the open notebook)
STUDENT_DISABLED = (
    "@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:course-list", "@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:menu",
)
#: nbgrader server extensions off in the student view (``/formgrader`` answers 404)
STUDENT_SERVER_OFF = (
    "nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.assignment_list",
)
LANGUAGES = ("en", "zh-CN")


class LabError(LabchainError):
    """A lab session cannot start; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class LabPaths:
    """Where a lab session keeps its files (all under ``var/``, which git ignores)."""

    root: Path

    @property
    def labs(self) -> Path:
        return self.root / "labs"

    @property
    def course(self) -> Path:
        return self.root / "var" / "lab-course"

    @property
    def testnet(self) -> Path:
        return self.root / "var" / "lab-testnet"

    def student(self, lang: str = "en") -> Path:
        return self.root / "var" / ("student" if lang == "en" else f"student-{lang}")

    def jupyter_config(self, view: str) -> Path:
        return self.root / "var" / "jupyter" / view


def _grading(*args: str, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "grading.cli", *args], cwd=cwd,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
        why = " / ".join(lines[-3:]) or f"exit code {proc.returncode}"
        raise LabError(f"could not make the student versions (labchain-grade {args[0]}): {why}")


def prepare_course(paths: LabPaths) -> Path:
    """The nbgrader course ``var/lab-course`` whose sources are links to ``labs/``."""
    _grading("init", str(paths.course), "--labs-dir", str(paths.labs), cwd=paths.root)
    return paths.course


def prepare_student_view(paths: LabPaths, lang: str = "en") -> list[Path]:
    """Generate the student versions (nbgrader release, in ``lang``) and copy into the working
    folder every file not there yet; returns the files added (a second run adds only new ones)."""
    if lang not in LANGUAGES:
        raise LabError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    prepare_course(paths)
    _grading("generate", "--course", str(paths.course), "--lang", lang, cwd=paths.root)
    release = paths.course / "release"
    work = paths.student(lang)
    added = []
    for src in sorted(release.rglob("*")):
        rel = src.relative_to(release)
        if not src.is_file() or len(rel.parts) < 2 or ".ipynb_checkpoints" in rel.parts:
            continue  # the summary json at the top, checkpoints
        dst = work / rel
        if dst.exists():
            continue  # the student's copy, possibly edited: never overwritten
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        added.append(dst)
    return added


def write_view_config(paths: LabPaths, view: str) -> Path:
    """The ``JUPYTER_CONFIG_DIR`` of ``view`` ("student" or "instructor")."""
    return write_jupyter_config(paths.jupyter_config(view), view)


def write_jupyter_config(conf: Path, view: str) -> Path:
    """Jupyter config files of ``view`` in ``conf``: the lab plugins and nbgrader server extensions
    a student must not have, off. Also run at image build (docker/lab/Dockerfile) into the lab
    image's ``{sys.prefix}/etc/jupyter``, so a hub student's server has the same view; there the
    ``jupyter_server_config.json`` wins over nbgrader's ``jupyter_server_config.d/nbgrader.json``."""
    conf = Path(conf)
    (conf / "labconfig").mkdir(parents=True, exist_ok=True)
    disabled = {name: True for name in STUDENT_DISABLED} if view == "student" else {}
    server = {name: False for name in STUDENT_SERVER_OFF} if view == "student" else {}
    (conf / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": disabled}, indent=1))
    (conf / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": server}}, indent=1))
    return conf


def check_no_session(paths: LabPaths) -> None:
    """Refuse when another lab session's testnet is alive (starting would kill or share it)."""
    live = session.live_record()
    if live:
        raise LabError(f"a lab session (process {live['owner_pid']}, {live.get('view', 'student')} "
                       f"view) is already running with its testnet in {Path(live['testnet']).parent}; "
                       "use that JupyterLab, or stop it (Ctrl-C in its terminal) and run this again")
    state = paths.testnet / "testnet.json"
    if state.is_file():
        from labchain.testnet.testnet import Testnet

        try:
            running = Testnet.connect(state).running_indexes()
        except LabchainError:
            running = []
        if running:
            raise LabError(f"a testnet is already running in {paths.testnet} (nodes "
                           f"{', '.join(map(str, running))}) that no lab session owns; stop it with "
                           f"`labchain testnet down --dir {paths.testnet}` and run this again")


def start_explorer(testnet_dir: Path, port: int = 8088, timeout: float = 20.0,
                   env: dict[str, str] | None = None) -> tuple[subprocess.Popen | None, str]:
    """``labchain explorer`` on the session's testnet, as a child process; (process, URL), or
    (None, why) when it could not start (a port in use): the lab session goes on without it."""
    import urllib.request

    url = f"http://127.0.0.1:{port}/"
    child = subprocess.Popen([sys.executable, "-m", "labchain.cli", "explorer", "--testnet",
                              str(testnet_dir), "--port", str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            why = (child.stderr.read() or b"").decode(errors="replace").strip().splitlines()
            return None, why[-1] if why else f"it exited with status {child.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return child, url
        except OSError:
            time.sleep(0.2)
    child.terminate()
    return None, f"it did not answer on {url} within {timeout:.0f} s"


def run(instructor: bool = False, lang: str = "en", root: Path = REPO_ROOT, nodes: int = 4,
        params: str = "regtest", jupyter_args: list[str] | None = None,
        explorer_port: int = 8088) -> int:
    """A whole lab session: views, testnet, block explorer, JupyterLab until it exits; the exit code."""
    from labchain.testnet.testnet import Testnet

    if lang not in LANGUAGES:
        raise LabError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    paths = LabPaths(Path(root).resolve())
    view = "instructor" if instructor else "student"
    check_no_session(paths)
    if instructor:
        folder = prepare_course(paths)
    else:
        added = prepare_student_view(paths, lang)
        folder = paths.student(lang)
        print(f"student view in {folder}: {len(added)} new file(s); your earlier work is kept")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(write_view_config(paths, view)))
    if lang != "en":
        env["LABCHAIN_LANG"] = lang
    net = Testnet.start(nodes=nodes, params=params, dir=paths.testnet, owner_pid=os.getpid())
    env["LABCHAIN_TESTNET"] = net.env_value
    session.record(net.env_value, os.getpid(), view)
    print(net.table())
    print(f"Notebooks reach the testnet through LABCHAIN_TESTNET={net.env_value}; "
          "`labchain testnet status` shows it")
    explorer, where = start_explorer(paths.testnet, explorer_port, env=env)
    print(f"block explorer: {where}" if explorer else f"the block explorer did not start ({where}); "
          "the lab works without it")
    cmd = [sys.executable, "-m", "jupyter", "lab", str(folder), *(jupyter_args or [])]
    if os.geteuid() == 0 and "--allow-root" not in cmd:
        cmd.append("--allow-root")  # containers and CI run as root
    try:
        child = subprocess.Popen(cmd, env=env)
        previous = signal.signal(signal.SIGINT, lambda *_: None)  # Ctrl-C is JupyterLab's to handle
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        try:
            return child.wait()
        finally:
            signal.signal(signal.SIGINT, previous)
    finally:
        if explorer is not None:
            explorer.terminate()
        session.forget(os.getpid())
        net.down()


def register(subparsers) -> None:
    p = subparsers.add_parser("lab", help="open JupyterLab on the labs with a testnet (student view)",
                              description="Open JupyterLab on the student versions of the labs "
                              "(var/student/), or on the sources with --instructor, with a local "
                              "testnet that `labchain testnet ...` finds without flags.")
    p.add_argument("--instructor", action="store_true",
                   help="open the sources (labs/, through var/lab-course) with nbgrader's instructor tools")
    p.add_argument("--lang", choices=LANGUAGES, default="en",
                   help="language of the student versions and of labchain's errors (default en)")
    p.add_argument("--nodes", type=int, default=4, help="testnet nodes (default 4)")
    p.add_argument("--config", "--params", dest="params", default="regtest", metavar="CHAIN",
                   help="chain configuration of the testnet (default regtest)")
    p.add_argument("--explorer-port", type=int, default=8088,
                   help="port of the block explorer the session opens (default 8088)")
    p.add_argument("--root", type=Path, default=REPO_ROOT,
                   help="checkout whose labs/ and var/ to use (default: this one)")
    p.add_argument("jupyter_args", nargs=argparse.REMAINDER, metavar="-- JUPYTER_ARGS",
                   help="passed to `jupyter lab` (e.g. -- --port 8899 --no-browser)")
    p.set_defaults(func=lambda a: run(a.instructor, a.lang, root=a.root, nodes=a.nodes, params=a.params,
                                      jupyter_args=[x for x in a.jupyter_args if x != "--"],
                                      explorer_port=a.explorer_port))


__all__ = ["run", "start_explorer", "prepare_student_view", "prepare_course", "write_view_config",
           "check_no_session", "LabPaths", "LabError", "STUDENT_DISABLED", "register",
           "write_jupyter_config"]
