"""``oslevel.die_with_parent``: a child must end with its parent, also when the parent exits
before the child's ``PR_SET_PDEATHSIG`` and when the child is pid 1 of a pid namespace.
The autograde-interrupt test found it: a grader killed while the zygote was replying left a
submission's init and idle kernel alive for ever."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
from needs import needs_root

# The parent forks, then exits at once; the child waits until the parent is gone and only
# then asks to die with it, which is the losing side of the race, made certain.
RACE = """
import os, select, sys, time
from grading.sandbox import oslevel
out, how = sys.argv[1], sys.argv[2]
r, w = os.pipe()
parent = os.getpid()
child = os.fork()
if child == 0:
    os.close(w)
    select.select([r], [], [])            # end of file: the parent has exited (or is exiting)
    while how == "plain" and os.getppid() == parent:
        time.sleep(0.01)                  # plain prctl: make sure the parent is really gone
    if how == "plain":
        oslevel.prctl(oslevel.PR_SET_PDEATHSIG, 9)
    elif how == "parent":
        oslevel.die_with_parent(parent=parent)
    else:
        oslevel.die_with_parent(lifeline=r)
    open(out, "w").write("survived")
    os._exit(0)
print(child, flush=True)
os._exit(0)
"""


def _run_race(tmp_path, how: str, script: str = RACE) -> bool:
    """True if the orphaned child lived on after asking to die with its parent."""
    out = tmp_path / f"{how}.txt"
    proc = subprocess.run([sys.executable, "-c", script, str(out), how], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    child = int(proc.stdout)
    deadline = time.monotonic() + 20
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _running(child), "the child neither died nor finished"
    return out.exists()


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for whoever adopted it to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_plain_pdeathsig_after_the_parent_exited_leaves_an_orphan(tmp_path):
    """The race exists: this is what die_with_parent must close."""
    assert _run_race(tmp_path, "plain") is True


@pytest.mark.parametrize("how", ["parent", "lifeline"])
def test_die_with_parent_ends_a_child_whose_parent_already_exited(tmp_path, how):
    assert _run_race(tmp_path, how) is False


# The parent enters a new pid namespace and forks its pid 1, which asks to die with it and
# tells the parent so; the parent then exits. (Signals to a namespace's init are special: it
# ignores those it has no handler for, except SIGKILL from an ancestor namespace.)
NAMESPACE_INIT = """
import os, sys, time
from grading.sandbox import oslevel
out, how = sys.argv[1], sys.argv[2]
oslevel.unshare(oslevel.CLONE_NEWPID)
r, w = os.pipe()
child = os.fork()
if child == 0:
    os.close(r)
    oslevel.die_with_parent()
    os.write(w, str(os.getpid()).encode())
    time.sleep(2)
    open(out, "w").write("survived")
    os._exit(0)
os.close(w)
assert os.read(r, 16) == b"1", "the child is not pid 1 of a new pid namespace"
print(child, flush=True)
os._exit(0)
"""


@needs_root   # a new pid namespace needs root
def test_a_pid_namespace_init_dies_with_its_parent(tmp_path):
    """What the submission's init relies on (its exit then ends the whole namespace)."""
    assert _run_race(tmp_path, "namespace-init", NAMESPACE_INIT) is False
