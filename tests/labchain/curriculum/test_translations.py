"""``labchain curriculum check`` on a bilingual course: missing, outdated and off-glossary
translations fail with file and cell; ``build --lang zh-CN`` renders the Chinese syllabus."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from course_fixtures import CourseDir, base_course, lab_notebook
from labchain.curriculum import check_course, load_course, render_syllabus
from labchain.i18n.catalog import english_hash

REPO = Path(__file__).resolve().parents[3]
SHIPPED = REPO / "curriculum" / "course.yaml"
INTRO = "# Alpha\n\nEach **block** commits to a hash.\n"


def bilingual(course_dir: CourseDir, intro_zh: str = "# 甲\n\n每个**区块**都承诺一个哈希。\n") -> dict:
    """Make the fixture course bilingual and complete; returns its data for further breakage."""
    data = base_course()
    data["course"]["translations"] = ["zh-CN"]
    data["course"]["title_zh"] = "迷你课程"
    for module in data["modules"]:
        module["title_zh"] = "模块"
    for lab in data["labs"]:
        lab["title_zh"], lab["summary_zh"] = "实验", "摘要。"
        for obj in lab["objectives"]:
            obj["text_zh"] = "目标。"
    data["labs"][0]["objectives"][0]["text_zh"] = "计算一个哈希。"
    course_dir.write_yaml(data)
    (course_dir.root / "docs").mkdir(exist_ok=True)
    shutil.copy(REPO / "docs" / "glossary.md", course_dir.root / "docs" / "glossary.md")
    for lab_id, tests in {"01-alpha": [("alpha-test-1", 3, "hash"), ("alpha-test-2", 2, "why, hash")],
                          "02-beta": [("beta-test", 3, "break")]}.items():
        nb = lab_notebook(lab_id, tests)
        nb["cells"].insert(0, {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": INTRO})
        path = course_dir.write_notebook(lab_id, nb)
        write_catalog(path.parent, {"intro": (INTRO, intro_zh)})
    return data


def write_catalog(lab_dir: Path, entries: dict[str, tuple[str, str]]) -> None:
    (lab_dir / "i18n").mkdir(exist_ok=True)
    lines = ["language: zh-CN", "cells:"]
    for key, (english, text) in entries.items():
        lines += [f"  {key}:", f"    en_sha256: {english_hash(english)}", f"    text: {json.dumps(text, ensure_ascii=False)}"]
    (lab_dir / "i18n" / "zh-CN.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def text(problems) -> str:
    return "\n".join(str(p) for p in problems)


def test_complete_bilingual_fixture_passes(course_dir: CourseDir):
    bilingual(course_dir)
    assert check_course(course_dir.course) == []


def test_cell_without_translation_is_missing_with_file_and_cell(course_dir: CourseDir):
    bilingual(course_dir)
    write_catalog(course_dir.root / "labs" / "02-beta", {})
    problems = check_course(course_dir.course)
    assert [(p.file, p.where) for p in problems] == [("labs/02-beta/i18n/zh-CN.yaml", "cell 'intro'")]
    assert "MISSING" in problems[0].message


def test_lab_without_catalog_fails(course_dir: CourseDir):
    bilingual(course_dir)
    shutil.rmtree(course_dir.root / "labs" / "01-alpha" / "i18n")
    assert "lab 01-alpha has no zh-CN translation catalog (MISSING)" in text(check_course(course_dir.course))


def test_english_changed_since_translation_is_outdated(course_dir: CourseDir):
    bilingual(course_dir)
    path = course_dir.root / "labs" / "01-alpha" / "01-alpha.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["cells"][0]["source"] = INTRO + "\nA new paragraph.\n"
    path.write_text(json.dumps(nb), encoding="utf-8")
    problems = check_course(course_dir.course)
    assert [(p.file, p.where) for p in problems] == [("labs/01-alpha/i18n/zh-CN.yaml", "cell 'intro'")]
    assert "OUTDATED" in problems[0].message


def test_objective_without_chinese_text_is_reported_at_its_yaml_path(course_dir: CourseDir):
    data = bilingual(course_dir)
    del data["labs"][1]["objectives"][0]["text_zh"]
    course_dir.write_yaml(data)
    problems = check_course(course_dir.course)
    assert [p.where for p in problems] == ["labs[1].objectives[0].text_zh"]
    assert "missing the zh-CN translation" in problems[0].message and problems[0].line


def test_translation_that_avoids_the_glossary_term_is_reported(course_dir: CourseDir):
    bilingual(course_dir, intro_zh="# 甲\n\n每个**块**都承诺一个散列。\n")
    msgs = text(check_course(course_dir.course))
    assert "cell 'intro'" in msgs and "lacks the glossary term '区块'" in msgs and "'哈希'" in msgs


def test_monolingual_course_needs_no_translation(course_dir: CourseDir):
    assert check_course(course_dir.course) == []          # base fixture: no `translations`


def test_committed_chinese_syllabus_is_up_to_date_and_chinese():
    committed = (REPO / "curriculum" / "SYLLABUS.zh-CN.md").read_text(encoding="utf-8")
    assert committed == render_syllabus(load_course(SHIPPED), "zh-CN"), \
        "curriculum/SYLLABUS.zh-CN.md is stale: run `labchain curriculum build --lang zh-CN`"
    assert "# 区块链工程基础" in committed and "哈希与默克尔树" in committed
    assert "Hashes and Merkle trees" not in committed


def test_build_lang_writes_the_chinese_syllabus_beside_the_course(course_dir: CourseDir):
    bilingual(course_dir)
    done = subprocess.run([sys.executable, "-m", "labchain.cli", "curriculum", "build", "--lang", "zh-CN",
                           "--course", str(course_dir.course)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = (course_dir.course.parent / "SYLLABUS.zh-CN.md").read_text(encoding="utf-8")
    assert out.startswith("# 迷你课程") and "计算一个哈希。" in out
    assert not (course_dir.course.parent / "SYLLABUS.md").exists()
