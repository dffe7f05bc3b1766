"""How submissions travel from a student's lab server to ``labchain-grade collect`` (docs/hub.md).

Decision: one *outbox* volume per student (``lc-<id>-submit``), mounted read-write at
``/srv/submit`` in that student's lab container only, instead of nbgrader's shared exchange
folder. Every lab container runs as the same uid, so a shared, world-writable exchange would let
a student read or overwrite another's submission unless the filesystem had per-student
ownership (the NFS/RWX trap of Z2JH #174, nbgrader #1212). A volume per student keeps the
isolation Docker already gives (student B's container has no mount of A's volume), needs no
service, and survives the server's stop and cull like the home volume.

* Student side (in the kernel, or a notebook cell): :func:`submit` copies a notebook to
  ``/srv/submit/<lab>/<lab>.ipynb`` atomically (a half-written file is never collected), with
  a ``timestamp.txt`` in nbgrader's format.
* Instructor side (on the hub host, as root): :func:`gather` copies every outbox into a
  ``<student>/<lab>/<lab>.ipynb`` tree, the layout ``labchain-grade collect COURSE TREE`` imports
  (``labchain hub gather OUT``).

Simplifications versus nbgrader's exchange: no "fetch" through the exchange (released labs are
in the image's ``labs/`` folder), no feedback return, one submission per lab (a new submit
replaces the old one; ``timestamp.txt`` says when), no size quota beyond the Docker volume's.
"""
from __future__ import annotations

import os
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

from labchain.deploy.hub.settings import HubError
from labchain.testnet import docker as backend

OUTBOX = "/srv/submit"
LAB_UID = 10002                   # the `student` user of docker/lab/Dockerfile
LAB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def outbox_volume(student: str) -> str:
    return f"lc-{backend.check_student(student)}-submit"


def make_outbox(client, student: str):
    """Create (or find) the student's outbox volume, labelled like the home volume, owned by
    the lab user (a new volume's root is root's, and the lab container runs as ``student``)."""
    volume = client.volumes.create(outbox_volume(student), labels={
        backend.LABEL_STUDENT: student, backend.LABEL_TESTNET: student})
    mountpoint = volume.attrs.get("Mountpoint")
    if mountpoint and os.path.isdir(mountpoint) and os.geteuid() == 0:
        os.chown(mountpoint, LAB_UID, LAB_UID)
        os.chmod(mountpoint, 0o700)
    return volume


def check_lab(lab: str) -> str:
    if not isinstance(lab, str) or not LAB_NAME.match(lab) or ".." in lab:
        raise HubError(f"{lab!r} is not a lab name (letters, digits, '_', '-', '.')", lab)
    return lab


def submit(lab: str, notebook: str | os.PathLike, outbox: str | os.PathLike = OUTBOX) -> Path:
    """Put ``notebook`` in the outbox as ``<lab>/<lab>.ipynb``; the path written."""
    check_lab(lab)
    source = Path(notebook)
    if not source.is_file():
        raise HubError(f"cannot submit {source}: no such notebook", str(source))
    folder = Path(outbox) / lab
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{lab}.ipynb"
    tmp = folder / f".{lab}.ipynb.tmp"
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
    (folder / "timestamp.txt").write_text(stamp + "\n", encoding="utf-8")
    return target


def gather(out_dir: str | os.PathLike, client=None) -> dict[str, list[str]]:
    """Copy every student's outbox into ``out_dir/<student>/<lab>/``; {student: [labs]}."""
    client = client or backend.connect()
    out = Path(out_dir)
    found: dict[str, list[str]] = {}
    for volume in client.volumes.list(filters={"label": backend.LABEL_STUDENT}):
        student = volume.attrs.get("Labels", {}).get(backend.LABEL_STUDENT, "")
        if volume.name != f"lc-{student}-submit":
            continue
        root = Path(volume.attrs["Mountpoint"])
        labs = []
        for lab_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()) if root.is_dir() else ():
            notebook = lab_dir / f"{lab_dir.name}.ipynb"
            if not LAB_NAME.match(lab_dir.name) or not notebook.is_file() or notebook.is_symlink():
                continue                       # a student's stray folder or a planted link
            dest = out / student / lab_dir.name
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(notebook, dest / notebook.name)
            stamp = lab_dir / "timestamp.txt"
            if stamp.is_file() and not stamp.is_symlink():
                shutil.copyfile(stamp, dest / "timestamp.txt")
            labs.append(lab_dir.name)
        if labs:
            found[student] = labs
    return found
