"""The student's side of the class server's assignment flow: fetch, submit, read feedback (docs/hub.md).

Terminology: a *release* is the student version of a lab (``labchain-grade generate``) that the
instructor put on the hub with ``labchain hub release``; the *outbox* is the student's own
submission volume; *feedback* is the HTML page ``labchain-grade feedback`` renders per student
and ``labchain hub return-feedback`` hands back. Three mounts in each lab container:

* ``/srv/release/<lab>/`` -- one course-wide volume, read-only in every lab container;
  :func:`fetch` copies a lab from there into the student's home (``~/labs/<lab>``) and never
  writes over a folder that already holds other work: it then fetches into ``<lab>-2``
  (``-3``...) and says so.
* ``/srv/submit/<lab>/<stamp>/<lab>.ipynb`` -- the student's outbox volume (read-write, theirs
  only); :func:`submit` adds one timestamped submission each time and keeps the earlier ones.
* ``/srv/feedback/<lab>/`` -- the student's feedback volume, read-only in their container and
  mounted in no other; :func:`feedback` copies it into ``~/labs/feedback/<lab>/`` where
  JupyterLab's file browser shows it.

Why volumes and not nbgrader's exchange folder: every lab container runs as the same uid, so a
shared exchange would let one student read or replace another's files (the host side,
:mod:`labchain.deploy.hub.volumes`, explains more). Sentences a student reads come in English
or Chinese (``LABCHAIN_LANG``; ``exchange.zh-CN.yaml`` beside this module).

Simplifications versus nbgrader's exchange: one notebook per lab, named ``<lab>.ipynb``; the
submission stamp is the student container's clock (a claim, as nbgrader's ``timestamp.txt``
is: what counts is what exists when the instructor gathers); no size quota beyond the volume's.
"""
from __future__ import annotations

import filecmp
import os
import re
import shutil
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from labchain.deploy.hub.settings import HubError

RELEASE = "/srv/release"
OUTBOX = "/srv/submit"
FEEDBACK = "/srv/feedback"
LABS_HOME = "/home/student/labs"
LAB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: a submission folder's name: its UTC time, sortable (20261202T144100.123456Z)
STAMP = re.compile(r"^\d{8}T\d{6}\.\d{6}Z$")
STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
#: nbgrader's timestamp.txt (what ``labchain-grade collect`` reads)
NBGRADER_STAMP = "%Y-%m-%d %H:%M:%S.%f UTC"


@lru_cache(maxsize=None)
def _catalog(language: str) -> dict[str, str]:
    import yaml

    path = Path(__file__).with_name(f"exchange.{language}.yaml")
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}


def say(template: str, **values) -> str:
    """``template`` filled with ``values``, in the student's language (LABCHAIN_LANG)."""
    from labchain.i18n import current_language

    return _catalog(current_language()).get(template, template).format(**values)


class ExchangeError(HubError):
    """A fetch, submit or feedback request that cannot be done; the sentence says why, in the
    student's language (``.message`` stays English)."""

    def __init__(self, template: str, obj=None, **values) -> None:
        super().__init__(template.format(**values), obj)
        self.template, self.values = template, values

    def __str__(self) -> str:
        return say(self.template, **self.values)


def check_lab(lab: str) -> str:
    if not isinstance(lab, str) or not LAB_NAME.match(lab) or ".." in lab:
        raise ExchangeError("{lab!r} is not a lab name (letters, digits, '_', '-', '.')", lab, lab=lab)
    return lab


def regular_files(folder: Path) -> list[Path]:
    """Regular files under ``folder`` (relative), no symlinks followed, no hidden names."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(root, d)))
        for name in sorted(files):
            path = Path(root, name)
            if not name.startswith(".") and path.is_file() and not path.is_symlink():
                found.append(path.relative_to(folder))
    return found


def copy_tree(source: Path, target: Path, files: list[Path]) -> None:
    """Copy ``files`` (relative to ``source``) into a hidden sibling of ``target``, then rename
    it to ``target`` (a half-copied folder is never seen); FileExistsError if ``target`` holds files."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    for rel in files:
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, tmp / rel)
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(tmp, target)          # replaces an empty folder, fails on one with files
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise FileExistsError(target) from None


def _same(source: Path, target: Path, files: list[Path]) -> bool:
    return all((target / rel).is_file() and filecmp.cmp(source / rel, target / rel, shallow=False)
               for rel in files)


def fetch(lab: str, home: str | os.PathLike = LABS_HOME, release: str | os.PathLike = RELEASE) -> Path:
    """Copy the released ``lab`` into ``home/<lab>`` (or ``<lab>-2``... if that folder holds
    something else: nothing of the student's is overwritten); prints what it did, returns the folder."""
    check_lab(lab)
    source = Path(release) / lab
    files = regular_files(source) if source.is_dir() and not source.is_symlink() else []
    if not files:
        raise ExchangeError("lab {lab} has not been released yet (nothing in {folder}); ask your instructor",
                            lab, lab=lab, folder=str(source))
    first = Path(home) / lab
    for n in range(1, 100):
        target = first if n == 1 else first.with_name(f"{lab}-{n}")
        if target.exists() and _same(source, target, files):
            print(say("{lab} is already in {folder}, the same as the release; nothing to fetch",
                      lab=lab, folder=str(target)))
            return target
        try:
            copy_tree(source, target, files)
        except FileExistsError:
            continue
        if n == 1:
            print(say("fetched {lab} into {folder}", lab=lab, folder=str(target)))
        else:
            print(say("{existing} already holds your work on {lab}; the released version is in "
                      "{folder} (nothing of yours was changed)", existing=str(first), lab=lab,
                      folder=str(target)))
        return target
    raise ExchangeError("{folder} and 98 more folders named after {lab} exist; remove some and fetch again",
                        lab, lab=lab, folder=str(first))


def submit(lab: str, notebook: str | os.PathLike, outbox: str | os.PathLike = OUTBOX) -> Path:
    """Add ``notebook`` to the outbox as a new submission ``<lab>/<stamp>/<lab>.ipynb`` (earlier
    ones are kept; the instructor's gather takes the newest); the path written."""
    check_lab(lab)
    source = Path(notebook)
    if not source.is_file():
        raise ExchangeError("cannot submit {path}: no such notebook", str(source), path=str(source))
    now = datetime.now(timezone.utc)
    folder = Path(outbox) / lab
    folder.mkdir(parents=True, exist_ok=True)
    while (folder / now.strftime(STAMP_FORMAT)).exists():     # two submits in one microsecond
        now = now.replace(microsecond=(now.microsecond + 1) % 1_000_000)
    target = folder / now.strftime(STAMP_FORMAT)
    tmp = folder / f".{target.name}.tmp"              # gather skips it until it is renamed
    tmp.mkdir()
    shutil.copyfile(source, tmp / f"{lab}.ipynb")
    (tmp / "timestamp.txt").write_text(now.strftime(NBGRADER_STAMP) + "\n", encoding="utf-8")
    os.rename(tmp, target)
    return target / f"{lab}.ipynb"


def submissions(lab: str, outbox: str | os.PathLike = OUTBOX) -> list[str]:
    """The stamps of the student's submissions of ``lab``, oldest first."""
    folder = Path(outbox) / check_lab(lab)
    return sorted(p.name for p in folder.iterdir() if STAMP.match(p.name)) if folder.is_dir() else []


def feedback(lab: str, home: str | os.PathLike = LABS_HOME, returned: str | os.PathLike = FEEDBACK) -> list[Path]:
    """Copy the feedback returned on ``lab`` into ``home/feedback/<lab>/`` (replacing an older
    copy: the original stays, read-only, in /srv/feedback); the pages copied."""
    check_lab(lab)
    source = Path(returned) / lab
    files = [rel for rel in regular_files(source) if rel.suffix == ".html"] \
        if source.is_dir() and not source.is_symlink() else []
    if not files:
        raise ExchangeError("no feedback on {lab} has been returned to you yet", lab, lab=lab)
    target = Path(home) / "feedback" / lab
    target.mkdir(parents=True, exist_ok=True)
    for rel in files:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, target / rel)
    print(say("your feedback on {lab} is in {folder}; open it from the file browser", lab=lab,
              folder=str(target)))
    return [target / rel for rel in files]
