"""The instructor's side of the assignment flow, on the hub host: release, gather, return feedback (docs/hub.md).

Terminology as in :mod:`labchain.deploy.hub.exchange` (the student's side). Volumes:

=========================  ==========================  =====================================
volume                     in the lab container        who writes
=========================  ==========================  =====================================
``<release_volume>``       ``/srv/release`` read-only   ``labchain hub release`` (root); one per hub
``lc-<id>-submit``         ``/srv/submit`` read-write   the student (their own only)
``lc-<id>-feedback``       ``/srv/feedback`` read-only  ``labchain hub return-feedback`` (root)
=========================  ==========================  =====================================

Decisions: a lab is released without rebuilding the image (the release volume is read at
``fetch`` time, so a corrected release reaches every student on their next fetch); a student's
feedback goes only into that student's feedback volume, which no other container mounts; each
submission is kept in its own stamped folder and :func:`gather` takes the newest.

The host reads and writes the volumes' mount points as root, and a student controls what is in
their outbox: every path there is opened without following symbolic links (``O_NOFOLLOW`` on
each component, through directory descriptors), so a planted link is skipped with a message
instead of being read; anything that is not a submission is skipped and listed too. The
release and feedback volumes are read-only in the containers; a link found there anyway is
left alone, also with a message.

Simplifications: one course per hub (one release volume); feedback only for students who have
an outbox on this hub (they logged in once); no quota, no deletion of old submissions.
"""
from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from labchain.deploy.hub.exchange import LAB_NAME, NBGRADER_STAMP, STAMP, STAMP_FORMAT, regular_files
from labchain.deploy.hub.settings import HubError
from labchain.testnet import docker as backend

LAB_UID = 10002                   # the `student` user of docker/lab/Dockerfile
ROLE_RELEASE = "hub-release"
#: text that only an instructor's source holds (nbgrader removes it from the student version)
INSTRUCTOR_MARKERS = ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS")


def outbox_volume(student: str) -> str:
    return f"lc-{backend.check_student(student)}-submit"


def feedback_volume(student: str) -> str:
    return f"lc-{backend.check_student(student)}-feedback"


def _labels(student: str) -> dict[str, str]:
    return {backend.LABEL_STUDENT: student, backend.LABEL_TESTNET: student}


def _prepare(volume, owner: int, mode: int):
    mountpoint = volume.attrs.get("Mountpoint")
    if mountpoint and os.path.isdir(mountpoint) and os.geteuid() == 0:
        os.chown(mountpoint, owner, owner)
        os.chmod(mountpoint, mode)
    return volume


def make_outbox(client, student: str):
    """The student's outbox (labelled like the home volume, so ``labchain class down`` removes
    it), owned by the lab user, 0700."""
    return _prepare(client.volumes.create(outbox_volume(student), labels=_labels(student)), LAB_UID, 0o700)


def make_feedback(client, student: str):
    """The student's feedback volume: root's, 0755 (read-only in their container)."""
    return _prepare(client.volumes.create(feedback_volume(student), labels=_labels(student)), 0, 0o755)


def make_release(client, name: str):
    """The hub's release volume (root's, 0755; read-only in every lab container)."""
    return _prepare(client.volumes.create(name, labels={backend.LABEL_ROLE: ROLE_RELEASE}), 0, 0o755)


def _mountpoint(volume) -> Path:
    return Path(volume.attrs["Mountpoint"])


def _replace_folder(files: dict[Path, Path], target: Path) -> None:
    """Make ``target`` (a folder in a volume) hold exactly ``files`` ({relative: source}),
    readable by all, swapped in by renames: a reader sees the old folder or the new one."""
    tmp, old = target.with_name(f".{target.name}.new"), target.with_name(f".{target.name}.old")
    for stale in (tmp, old):
        shutil.rmtree(stale, ignore_errors=True)
    tmp.mkdir(mode=0o755)
    for rel, source in files.items():
        (tmp / rel).parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        shutil.copyfile(source, tmp / rel)
        os.chmod(tmp / rel, 0o644)
    if target.exists():
        os.rename(target, old)
    os.rename(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


def _is_plain_dir(path: Path) -> bool:
    return not path.is_symlink() and path.is_dir()


# --- release ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Released:
    lab: str
    files: tuple[str, ...]
    replaced: bool              # an earlier release of the lab was there


def release(course_dir: str | os.PathLike, lab: str, volume_name: str, client=None) -> Released:
    """Put ``COURSE/release/<lab>/`` (the student version) into the release volume as ``<lab>/``."""
    if not LAB_NAME.match(lab or "") or ".." in lab:
        raise HubError(f"{lab!r} is not a lab name (letters, digits, '_', '-', '.')", lab)
    source = Path(course_dir) / "release" / lab
    files = [rel for rel in regular_files(source) if not rel.name.endswith("-summary.json")] \
        if _is_plain_dir(source) else []
    if not any(rel.suffix == ".ipynb" for rel in files):
        raise HubError(f"{source} holds no student version of {lab}; run `labchain-grade generate "
                       f"--course {course_dir} {lab}` first", str(source))
    for rel in files:
        if rel.suffix == ".ipynb":
            text = (source / rel).read_text(encoding="utf-8", errors="replace")
            marker = next((m for m in INSTRUCTOR_MARKERS if m in text), None)
            if marker:
                raise HubError(f"{source / rel} still holds '{marker}': it is an instructor's source, "
                               "not a student version; nothing was released", str(source / rel))
    root = _mountpoint(make_release(client or backend.connect(), volume_name))
    target = root / lab
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise HubError(f"{target} in the release volume is not a folder; remove it and release again",
                       str(target))
    replaced = target.exists()
    _replace_folder({rel: source / rel for rel in files}, target)
    return Released(lab, tuple(str(rel) for rel in files), replaced)


# --- gather -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class GatheredLab:
    count: int                  # submissions kept in the outbox
    newest: str                 # the stamp of the one handed over


@dataclass(frozen=True, slots=True)
class Gathered:
    found: dict[str, dict[str, GatheredLab]] = field(default_factory=dict)   # student -> lab -> ...
    skipped: list[str] = field(default_factory=list)                         # one sentence each


def _open_dir(name: str, dir_fd: int | None = None) -> int:
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)


def _entries(fd: int) -> list[tuple[str, int]]:
    """(name, st_mode without following links) of a directory opened as ``fd``."""
    return sorted((name, os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode) for name in os.listdir(fd))


def _copy_regular(name: str, dir_fd: int, dest: Path) -> bool:
    """Copy the regular file ``name`` (not a link: O_NOFOLLOW) to ``dest``; False if it is not one."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as src:
        if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "wb") as out:
            shutil.copyfileobj(src, out)
    return True


def _gather_lab(student: str, lab: str, lab_fd: int, out: Path, skipped: list[str]) -> GatheredLab | None:
    stamps = []
    for name, mode in _entries(lab_fd):
        if STAMP.match(name) and stat.S_ISDIR(mode):
            stamps.append(name)
        elif not name.startswith("."):          # .<stamp>.tmp: a submit under way
            skipped.append(f"{student}: {lab}/{name} is not a submission (a {_kind(mode)}); skipped")
    for stamp in reversed(stamps):              # newest first; the first usable one is handed over
        sub_fd = _open_dir(stamp, lab_fd)
        try:
            dest = out / student / lab
            if _copy_regular(f"{lab}.ipynb", sub_fd, dest / f"{lab}.ipynb"):
                when = datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=timezone.utc)
                (dest / "timestamp.txt").write_text(when.strftime(NBGRADER_STAMP) + "\n", encoding="utf-8")
                return GatheredLab(len(stamps), stamp)
            skipped.append(f"{student}: {lab}/{stamp}/{lab}.ipynb is missing or not a regular file "
                           "(a symbolic link?); that submission is skipped")
        finally:
            os.close(sub_fd)
    return None


def _kind(mode: int) -> str:
    return "symbolic link" if stat.S_ISLNK(mode) else "folder" if stat.S_ISDIR(mode) else \
        "file" if stat.S_ISREG(mode) else "special file"


def gather(out_dir: str | os.PathLike, client=None) -> Gathered:
    """Copy each student's newest submission of each lab into ``out_dir/<student>/<lab>/``
    (``<lab>.ipynb`` + ``timestamp.txt``: the tree ``labchain-grade collect`` imports)."""
    client = client or backend.connect()
    out, result = Path(out_dir), Gathered()
    for volume in client.volumes.list(filters={"label": backend.LABEL_STUDENT}):
        student = volume.attrs.get("Labels", {}).get(backend.LABEL_STUDENT, "")
        if volume.name != f"lc-{student}-submit" or not os.path.isdir(_mountpoint(volume)):
            continue
        root_fd = _open_dir(str(_mountpoint(volume)))
        try:
            for lab, mode in _entries(root_fd):
                if not stat.S_ISDIR(mode) or not LAB_NAME.match(lab):
                    skipped = f"{student}: {lab} in the outbox is not a lab folder (a {_kind(mode)}); skipped"
                    result.skipped.append(skipped)
                    continue
                lab_fd = _open_dir(lab, root_fd)
                try:
                    got = _gather_lab(student, lab, lab_fd, out, result.skipped)
                finally:
                    os.close(lab_fd)
                if got:
                    result.found.setdefault(student, {})[lab] = got
        finally:
            os.close(root_fd)
    return result


# --- feedback -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Returned:
    delivered: dict[str, list[str]] = field(default_factory=dict)     # student -> labs
    skipped: list[str] = field(default_factory=list)


def _feedback_pages(student: str, lab_dir: Path, skipped: list[str]) -> dict[Path, Path]:
    pages = {}
    for entry in sorted(lab_dir.iterdir()):
        if entry.suffix == ".html" and entry.is_file() and not entry.is_symlink():
            pages[Path(entry.name)] = entry
        else:
            skipped.append(f"{student}: {entry} is not a feedback page (only regular .html files are "
                           "returned); skipped")
    return pages


def return_feedback(course_dir: str | os.PathLike, labs: list[str] | None = None, client=None) -> Returned:
    """Copy ``COURSE/feedback/<student>/<lab>/*.html`` into each student's own feedback volume
    as ``<lab>/`` (replacing what an earlier return put there)."""
    client = client or backend.connect()
    root, result = Path(course_dir) / "feedback", Returned()
    if not _is_plain_dir(root):
        raise HubError(f"{root} does not exist; run `labchain-grade feedback --course {course_dir}` first",
                       str(root))
    for student_dir in sorted(root.iterdir()):
        student = student_dir.name
        if not _is_plain_dir(student_dir):
            if student_dir.suffix != ".json":       # feedback-summary.json: the step's own summary
                result.skipped.append(f"{student_dir} is not a student's folder; skipped")
            continue
        if not backend.STUDENT_ID.match(student):
            result.skipped.append(f"{student!r} is not a hub student id; their feedback is not returned")
            continue
        try:
            client.volumes.get(outbox_volume(student))
        except Exception:  # noqa: BLE001 - docker.errors.NotFound
            result.skipped.append(f"{student} has no volumes on this hub (never logged in); "
                                  "their feedback is not returned")
            continue
        volume_root = _mountpoint(make_feedback(client, student))
        for lab_dir in sorted(student_dir.iterdir()):
            lab = lab_dir.name
            if labs and lab not in labs:
                continue
            if not _is_plain_dir(lab_dir) or not LAB_NAME.match(lab):
                result.skipped.append(f"{student}: {lab_dir} is not a lab's feedback folder; skipped")
                continue
            target = volume_root / lab
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                result.skipped.append(f"{student}: {lab} in their feedback volume is a symbolic link "
                                      "or a file, not a folder; left alone, feedback not returned")
                continue
            pages = _feedback_pages(student, lab_dir, result.skipped)
            if pages:
                _replace_folder(pages, target)
                result.delivered.setdefault(student, []).append(lab)
    return result
