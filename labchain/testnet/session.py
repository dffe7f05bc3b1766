"""The testnet a lab session (``make lab``, ``labchain lab``) started, found without flags.

Terminology
-----------
session record
    ``lab-testnet.json`` in the runtime directory (``$LABCHAIN_RUNTIME_DIR``, else
    ``$XDG_RUNTIME_DIR/labchain``, else ``~/.labchain``): ``{"testnet": "<abs path of its
    testnet.json>", "owner_pid": <pid of the lab session>, "view": "student"|"instructor"}``.
    The lab session writes it once its nodes are up and removes it when it ends.
live
    A record is live while its owner process exists and its ``testnet.json`` is there. A record
    left by a killed session (its nodes exit with it: ``--parent-pid``) is stale and ignored.

``labchain testnet status|kill|partition|heal|logs|down`` look for the testnet in ``--dir``,
else ``$LABCHAIN_TESTNET``, else the live session record, else the default directory; a second
lab session refuses to start while a live record exists (it would share or kill the first one's
nodes). Simplification: a process id can be reused after a crash; the record also needs the
state file to exist, and the worst case is a refusal message naming the pid.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RECORD_NAME = "lab-testnet.json"


def runtime_dir() -> Path:
    """Where the session record lives (per user, outside any checkout)."""
    if os.environ.get("LABCHAIN_RUNTIME_DIR"):
        return Path(os.environ["LABCHAIN_RUNTIME_DIR"])
    if os.environ.get("XDG_RUNTIME_DIR"):
        return Path(os.environ["XDG_RUNTIME_DIR"]) / "labchain"
    return Path.home() / ".labchain"


def record_path() -> Path:
    return runtime_dir() / RECORD_NAME


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` exists (ours or another user's)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True


def record(state_file: str | os.PathLike, owner_pid: int, view: str) -> Path:
    """Write the session record for the testnet whose ``testnet.json`` is ``state_file``."""
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"testnet": str(Path(state_file).resolve()),
                               "owner_pid": int(owner_pid), "view": view}))
    os.replace(tmp, path)
    return path


def live_record() -> dict[str, Any] | None:
    """The live session record, or None (none written, unreadable, or its session is gone)."""
    try:
        data = json.loads(record_path().read_text())
        state, pid = str(data["testnet"]), int(data["owner_pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not pid_alive(pid) or not Path(state).is_file():
        return None
    return data


def recorded_testnet() -> str | None:
    """The ``testnet.json`` path of the live lab session, if there is one."""
    data = live_record()
    return data["testnet"] if data else None


def forget(owner_pid: int) -> None:
    """Remove the record if the session ``owner_pid`` wrote it (never another session's)."""
    path = record_path()
    try:
        if int(json.loads(path.read_text())["owner_pid"]) == int(owner_pid):
            path.unlink()
    except (OSError, ValueError, KeyError, TypeError):
        pass


__all__ = ["RECORD_NAME", "runtime_dir", "record_path", "record", "live_record",
           "recorded_testnet", "forget", "pid_alive"]
