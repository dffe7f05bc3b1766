"""matplotlib figures to spot broken or too-hard exercises.

For each lab: ``reports/<lab>-scores.png`` (histogram of total scores) and
``reports/<lab>-cells.png`` (per grade cell: share of students with full, partial and no
points). A test cell nobody passes is usually a broken test, not a hard exercise.
"""
from __future__ import annotations

from pathlib import Path

from grading.course import Course
from grading.export import collect_scores


def make_report(course: Course, out_dir: str | Path | None = None) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir) if out_dir else course.dir("reports")
    out_dir.mkdir(parents=True, exist_ok=True)
    data = collect_scores(course)
    written: list[Path] = []
    for lab, max_score in sorted(data["labs"].items()):
        entries = [s["labs"][lab] for s in data["students"].values() if lab in s["labs"]]
        if not entries:
            continue
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist([e["score"] for e in entries], bins=max(1, min(20, int(max_score) + 1)),
                range=(0, max_score or 1), color="#4477aa", edgecolor="white")
        ax.set(title=f"{lab}: total score ({len(entries)} submissions)", xlabel="score",
               ylabel="students")
        path = out_dir / f"{lab}-scores.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)

        cells = sorted({c for e in entries for c in e["cells"]})
        full, partial, none = [], [], []
        for cell in cells:
            got = [e["cells"][cell] for e in entries if cell in e["cells"]]
            full.append(sum(g["score"] >= g["max_score"] for g in got) / len(got))
            none.append(sum(g["score"] <= 0 for g in got) / len(got))
            partial.append(1 - full[-1] - none[-1])
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(cells) + 1.5))
        ax.barh(cells, full, color="#228833", label="full points")
        ax.barh(cells, partial, left=full, color="#ccbb44", label="partial")
        ax.barh(cells, none, left=[f + p for f, p in zip(full, partial)], color="#ee6677", label="none")
        ax.set(title=f"{lab}: points per grade cell", xlabel="share of submissions", xlim=(0, 1))
        ax.legend(loc="lower right", fontsize="small")
        path = out_dir / f"{lab}-cells.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
