"""One per-item batch runner for every class-wide step (generate, collect, autograde,
feedback, export, report): the failure of one item is recorded and reported, never stops
the rest.

Terminology: an *item* is what a step processes one at a time (a lab for ``generate`` and
``report``, a file for ``collect``, a ``lab/student`` pair for ``autograde`` and
``feedback``, a student for ``export``). Each item ends ``done``, ``skipped`` (with why) or
``failed`` (with a one-sentence reason). The step's :class:`BatchSummary` is printed as a
table and written as JSON next to the step's outputs (``<step>-summary.json``), so scripts
can act on it.

Retrying: a step may give each item a *fingerprint* (a hash of its inputs). An item that was
``done`` in the previous summary with the same fingerprint, and whose recorded outputs still
exist, is skipped ("unchanged since the last run"); a failed item, or one whose inputs
changed, is processed again. ``force=True`` redoes everything.

Simplifications: items run one at a time unless the step passes ``workers`` (autograde);
the previous summary is trusted as written by this grader (it is not signed).
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from grading.errors import GradingError

STATUSES = ("done", "skipped", "failed")
#: exit code of a step: every item done or skipped / some item failed (the rest are recorded)
EXIT_OK, EXIT_SOME_FAILED = 0, 1
SUMMARY_SUFFIX = "-summary.json"
#: reasons of items skipped because nothing changed (counted in the table, not listed)
UNCHANGED = ("unchanged since the last run", "already imported (unchanged)")


class Skip(Exception):
    """Raised by a step's work function: this item is skipped, for the reason given."""


def sentence(exc: BaseException) -> str:
    """A one-sentence reason for a failure: our own errors as written, others with their type."""
    text = str(exc).strip() if isinstance(exc, (GradingError, Skip)) else \
        f"{type(exc).__name__}: {str(exc).strip() or 'no message'}"
    text = " ".join(text.split())          # one line, whatever nbgrader or nbconvert printed
    if len(text) > 300:
        text = text[:297] + "..."
    return text if text.endswith((".", "!", "?", "...")) else text + "."


@dataclass(frozen=True, slots=True)
class ItemResult:
    item: str
    status: str                       # done | skipped | failed
    reason: str = ""                  # why skipped or failed (one sentence)
    fingerprint: str = ""
    outputs: tuple[str, ...] = ()     # files this item wrote (a skip requires them to exist)
    detail: dict = field(default_factory=dict, hash=False, compare=False)

    def to_json(self) -> dict:
        return {"item": self.item, "status": self.status, "reason": self.reason,
                "fingerprint": self.fingerprint, "outputs": list(self.outputs), **self.detail}


@dataclass
class BatchSummary:
    step: str
    results: list[ItemResult] = field(default_factory=list)
    wall_seconds: float = 0.0
    path: Path | None = None          # where the JSON summary was written

    def counts(self) -> dict[str, int]:
        c = Counter(r.status for r in self.results)
        return {s: c[s] for s in STATUSES}

    @property
    def failed(self) -> list[ItemResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def exit_code(self) -> int:
        return EXIT_SOME_FAILED if self.failed else EXIT_OK

    def table(self, show: tuple[str, ...] = ("failed", "skipped")) -> str:
        """Every failed and skipped item with its reason (items skipped only because they
        are unchanged are counted, not listed), then the counts."""
        lines = [f"  {r.item}: {r.status}: {r.reason}" for r in self.results
                 if r.status in show and not r.reason.startswith(UNCHANGED)]
        counts = self.counts()
        lines += [f"{k:<8}  {v:>5}" for k, v in counts.items()]
        if self.path is not None:
            lines.append(f"summary   {self.path}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"step": self.step, "counts": self.counts(), "wall_seconds": round(self.wall_seconds, 3),
                "exit_code": self.exit_code, "items": [r.to_json() for r in self.results]}

    def write(self, path: str | os.PathLike) -> Path:
        """Write the JSON summary atomically (a crash never leaves half a file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True, default=str))
        os.replace(tmp, path)
        self.path = path
        return path


def previous_results(path: str | os.PathLike | None) -> dict[str, dict]:
    """Items of the summary a previous run wrote at ``path`` (empty if none or unreadable)."""
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text())
        return {str(i["item"]): i for i in data.get("items", []) if isinstance(i, dict) and "item" in i}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def _unchanged(prev: dict | None, fingerprint: str) -> bool:
    return bool(prev and fingerprint and prev.get("status") in ("done", "skipped")
                and prev.get("fingerprint") == fingerprint
                and all(Path(p).exists() for p in prev.get("outputs", [])))


def run(step: str, items: Iterable, work: Callable, *, name: Callable[[object], str] = str,
        fingerprint: Callable[[object], str] | None = None, summary_path: str | os.PathLike | None = None,
        force: bool = False, workers: int = 1, progress: bool = False) -> BatchSummary:
    """Process each item with ``work(item)``, one failure never stopping the others.

    ``work`` returns ``None``, a list of output paths, or an :class:`ItemResult`; it raises
    :class:`Skip` to skip the item, any other exception to fail it (with :func:`sentence`).
    Results keep the order of ``items``. The summary is written to ``summary_path``.
    """
    from tqdm import tqdm

    items = list(items)
    before = previous_results(summary_path)
    start = time.monotonic()

    def one(item) -> ItemResult:
        key = name(item)
        fp = ""
        try:
            fp = fingerprint(item) if fingerprint else ""
            if not force and _unchanged(before.get(key), fp):
                return ItemResult(key, "skipped", "unchanged since the last run", fp,
                                  tuple(before[key].get("outputs", [])))
            got = work(item)
        except Skip as exc:
            return ItemResult(key, "skipped", sentence(exc), fp)
        except Exception as exc:  # noqa: BLE001 - recorded per item, the batch goes on
            return ItemResult(key, "failed", sentence(exc), fp)
        if isinstance(got, ItemResult):
            return got if got.fingerprint or not fp else _with_fingerprint(got, fp)
        return ItemResult(key, "done", "", fp, tuple(str(p) for p in (got or ())))

    summary = BatchSummary(step)
    bar = tqdm(total=len(items), desc=step, unit="item", disable=not progress)
    if workers <= 1:
        for item in items:
            summary.results.append(one(item))
            bar.update(1)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=step) as pool:
            for result in pool.map(one, items):
                summary.results.append(result)
                bar.update(1)
    bar.close()
    summary.wall_seconds = time.monotonic() - start
    if summary_path is not None:
        summary.write(summary_path)
    return summary


def _with_fingerprint(result: ItemResult, fp: str) -> ItemResult:
    return ItemResult(result.item, result.status, result.reason, fp, result.outputs, result.detail)


def file_digest(*paths: str | os.PathLike, extra: str = "") -> str:
    """sha256 over files' bytes (a missing file counts as empty) and ``extra``."""
    import hashlib

    h = hashlib.sha256(extra.encode())
    for p in paths:
        h.update(str(p).encode() + b"\0")
        try:
            h.update(Path(p).read_bytes())
        except OSError:
            h.update(b"<missing>")
    return h.hexdigest()
