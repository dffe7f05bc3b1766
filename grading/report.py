"""matplotlib figures to spot broken or too-hard exercises.

For each lab: ``reports/<lab>-scores.png`` (histogram of total scores) and
``reports/<lab>-cells.png`` (per grade cell: share of students with full, partial and no
points). A test cell nobody passes is usually a broken test, not a hard exercise.

Each lab is one item of a ``grading.batch`` run (summary ``reports/report-summary.json``):
a lab whose figures cannot be made or written is reported with the reason and the other labs
still get theirs; a lab whose scores did not change since the last run (same fingerprint,
figures still there) is skipped.
"""
from __future__ import annotations

from pathlib import Path

import json

from grading import batch
from grading.course import Course
from grading.errors import CourseError
from grading.export import collect_scores

REPORT_VERSION = "1"


def make_report(course: Course, out_dir: str | Path | None = None, *, force: bool = False,
                progress: bool = False) -> batch.BatchSummary:
    """Figures per lab; returns the batch summary (each done item lists its two PNGs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir) if out_dir else course.dir("reports")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CourseError(f"cannot write the report to {out_dir}: {exc.strerror or exc}", out_dir) from exc
    data = collect_scores(course)
    entries_of = {lab: [s["labs"][lab] for _, s in sorted(data["students"].items()) if lab in s["labs"]]
                  for lab in data["labs"]}

    def fingerprint(lab: str) -> str:
        scores = [(e["score"], sorted((c, v["score"], v["max_score"]) for c, v in e["cells"].items()))
                  for e in entries_of[lab]]
        return batch.file_digest(extra=json.dumps([REPORT_VERSION, lab, data["labs"][lab], scores]))

    def draw(lab: str) -> list[Path]:
        max_score, entries = data["labs"][lab], entries_of[lab]
        if not entries:
            raise batch.Skip("no graded submission yet")
        fig, ax = plt.subplots(figsize=(6, 3.5))
        try:
            ax.hist([e["score"] for e in entries], bins=max(1, min(20, int(max_score) + 1)),
                    range=(0, max_score or 1), color="#4477aa", edgecolor="white")
            ax.set(title=f"{lab}: total score ({len(entries)} submissions)", xlabel="score",
                   ylabel="students")
            scores_png = out_dir / f"{lab}-scores.png"
            fig.tight_layout()
            fig.savefig(scores_png, dpi=100)
        finally:
            plt.close(fig)

        cells = sorted({c for e in entries for c in e["cells"]})
        full, partial, none = [], [], []
        for cell in cells:
            got = [e["cells"][cell] for e in entries if cell in e["cells"]]
            full.append(sum(g["score"] >= g["max_score"] for g in got) / len(got))
            none.append(sum(g["score"] <= 0 for g in got) / len(got))
            partial.append(1 - full[-1] - none[-1])
        labels = [c.replace("$", r"\$") for c in cells]       # a grade id is not mathtext
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(cells) + 1.5))
        try:
            ax.barh(labels, full, color="#228833", label="full points")
            ax.barh(labels, partial, left=full, color="#ccbb44", label="partial")
            ax.barh(labels, none, left=[f + p for f, p in zip(full, partial)], color="#ee6677", label="none")
            ax.set(title=f"{lab}: points per grade cell", xlabel="share of submissions", xlim=(0, 1))
            ax.legend(loc="lower right", fontsize="small")
            cells_png = out_dir / f"{lab}-cells.png"
            fig.tight_layout()
            fig.savefig(cells_png, dpi=100)
        finally:
            plt.close(fig)
        return [scores_png, cells_png]

    return batch.run("report", sorted(data["labs"]), draw, fingerprint=fingerprint, force=force,
                     progress=progress, summary_path=out_dir / f"report{batch.SUMMARY_SUFFIX}")
