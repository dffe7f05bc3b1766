"""The zh-CN student version: same code, tests and points as the English one, same grades.

The Chinese release is made the way ``labchain-grade generate --lang zh-CN`` makes it: nbgrader
generates the release, then ``labchain.i18n.catalog.localize_release`` puts its Markdown in
Chinese. Then lab 01's reference solutions, typed into the Chinese release, earn full marks and
the untouched Chinese release earns zero. Cost: one generate + two autogrades of lab 01
(about 15-25 s on 2 loaded cores); the identical-cells check covers every lab (generate only).
"""
from __future__ import annotations

import copy
import json

import pytest

from labchain.i18n.catalog import localize_release, markdown_cells
from nbgrader_harness import LABS_DIR, LabCourse, cell_errors, fill_solutions, solution_sources

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
CJK = range(0x4E00, 0xA000)
#: every shipped lab (not imported from conftest: ``conftest`` names another module in a full run)
LAB_IDS = sorted(p.name for p in LABS_DIR.iterdir() if (p / f"{p.name}.ipynb").is_file())


def both_releases(root, lab_id):
    course = LabCourse(root, LABS_DIR / lab_id)
    result = course.generate()
    assert result["success"], result.get("error")
    english = course.release()
    localize_release(course.root / "source" / lab_id, course.release_path.parent, "zh-CN")
    return course, english, course.release()


def grading_view(nb: dict) -> list:
    """Everything of a notebook grading depends on: each code cell whole, each cell's type,
    id and nbgrader metadata (Markdown sources left out)."""
    out = []
    for cell in nb["cells"]:
        cell = copy.deepcopy(cell)
        if cell["cell_type"] == "markdown":
            cell.pop("source")
        out.append(cell)
    return out


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_zh_release_differs_from_en_only_in_markdown(tmp_path, lab_id, interpreter_bin_on_path):
    course, english, chinese = both_releases(tmp_path, lab_id)
    assert grading_view(chinese) == grading_view(english)
    assert chinese["nbformat"] == english["nbformat"]
    md = list(markdown_cells(chinese))
    assert md and all(any(ord(c) in CJK for c in cell.source) for cell in md if cell.source.strip())
    assert not (course.release_path.parent / "i18n").exists()     # catalogs are not handed out


@pytest.fixture(scope="module")
def lab01_zh(tmp_path_factory, interpreter_bin_on_path):
    course, _, chinese = both_releases(tmp_path_factory.mktemp("zh-01"), "01-hashes-merkle")
    return course, chinese


def test_zh_release_of_lab01_grades_full_marks_with_the_solutions(lab01_zh):
    course, chinese = lab01_zh
    result = course.autograde("reference-zh", fill_solutions(chinese, solution_sources(course.source())))
    assert result.max_score == 20
    assert result.score == result.max_score, cell_errors(result.notebook)


def test_zh_release_of_lab01_grades_zero_untouched(lab01_zh):
    course, chinese = lab01_zh
    result = course.autograde("blank-zh", json.loads(json.dumps(chinese)))
    assert result.max_score == 20 and result.score == 0


def test_labchain_grade_generate_lang_makes_the_chinese_student_version(tmp_path, interpreter_bin_on_path):
    """The instructor's command: ``labchain-grade init`` then ``generate --lang zh-CN``, then ``en``
    again (a language change regenerates even though the source did not change)."""
    import subprocess
    import sys

    def grade(*args):
        done = subprocess.run([sys.executable, "-m", "grading.cli", *args], capture_output=True, text=True,
                              timeout=240)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    course = tmp_path / "course"
    grade("init", str(course), "--labs-dir", str(LABS_DIR), "--lab", "01-hashes-merkle")
    release = course / "release" / "01-hashes-merkle" / "01-hashes-merkle.ipynb"
    grade("generate", "--course", str(course), "--lang", "zh-CN")
    chinese = json.loads(release.read_text(encoding="utf-8"))
    assert chinese["cells"][0]["source"].startswith("# 实验 01")
    assert chinese["metadata"]["labchain"] == {"language": "zh-CN"}
    grade("generate", "--course", str(course), "--lang", "en")
    english = json.loads(release.read_text(encoding="utf-8"))
    assert "".join(english["cells"][0]["source"]).startswith("# Lab 01")
    assert grading_view(english) == grading_view(chinese)
    assert (LABS_DIR / "01-hashes-merkle" / "i18n" / "zh-CN.yaml").is_file()   # source untouched
