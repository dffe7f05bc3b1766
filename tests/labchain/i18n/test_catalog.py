"""labchain.i18n: catalogs find missing and outdated translations; localizing touches Markdown only."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from labchain.core.errors import LabchainError
from labchain.i18n import LanguageError, TranslationError, current_language, normalize_language
from labchain.i18n import catalog as cat
from labchain.i18n import glossary as gl

REPO = Path(__file__).resolve().parents[3]


def nb(*cells):
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def md(source, cid=None):
    cell = {"cell_type": "markdown", "metadata": {}, "source": source}
    if cid:
        cell["id"] = cid
    return cell


def code(source, cid=None):
    cell = {"cell_type": "code", "metadata": {"nbgrader": {"grade_id": "t", "points": 2, "grade": True}},
            "execution_count": None, "outputs": [], "source": source}
    if cid:
        cell["id"] = cid
    return cell


def write(tmp_path: Path, notebook: dict, entries: dict[str, tuple[str, str]]) -> tuple[Path, Path]:
    """A lab folder with a notebook and a zh-CN catalog of ``key -> (english it was made for, text)``."""
    (tmp_path / "i18n").mkdir(exist_ok=True)
    nb_path = tmp_path / "lab.ipynb"
    nb_path.write_text(json.dumps(notebook), encoding="utf-8")
    lines = ["language: zh-CN", "cells:"]
    for key, (english, text) in entries.items():
        lines += [f"  {key}:", f"    en_sha256: {cat.english_hash(english)}", f"    text: {json.dumps(text)}"]
    cat_path = tmp_path / "i18n" / "zh-CN.yaml"
    cat_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return nb_path, cat_path


def test_language_codes_normalize_and_unknown_ones_are_refused_in_a_sentence():
    assert normalize_language("zh_CN.UTF-8") == "zh-CN" and normalize_language("EN") == "en"
    with pytest.raises(LanguageError, match="language 'fr' is not available; use one of en, zh-CN"):
        normalize_language("fr")
    assert issubclass(LanguageError, LabchainError)
    assert current_language({"LABCHAIN_LANG": "zh-CN"}) == "zh-CN"
    assert current_language({"LABCHAIN_LANG": "klingon"}) == "en"      # errors must still print
    assert current_language({}) == "en"


def test_complete_catalog_has_no_problems_and_localizes_markdown_only(tmp_path):
    source = nb(md("# Hashes\n", "a"), code("# YOUR CODE HERE\nprint('hi')", "b"), md("Blocks.", "c"))
    nb_path, cat_path = write(tmp_path, source, {"a": ("# Hashes\n", "# 哈希\n"), "c": ("Blocks.", "区块。")})
    catalog = cat.load_catalog(cat_path)
    assert cat.catalog_problems(source, catalog) == []
    out = cat.localize(source, catalog)
    assert [c["source"] for c in out["cells"]] == ["# 哈希\n", "# YOUR CODE HERE\nprint('hi')", "区块。"]
    assert out["cells"][1] == source["cells"][1]                      # code cell byte-identical
    assert [c.get("id") for c in out["cells"]] == ["a", "b", "c"]
    assert source["cells"][0]["source"] == "# Hashes\n"               # input not mutated


def test_missing_and_outdated_translations_are_reported_with_cell_key(tmp_path):
    source = nb(md("Intro, changed.", "a"), md("Second.", "b"), md("", "empty"))
    _, cat_path = write(tmp_path, source, {"a": ("Intro.", "介绍。"), "gone": ("Old.", "旧。")})
    problems = cat.catalog_problems(source, cat.load_catalog(cat_path))
    assert [(p.kind, p.key) for p in problems] == [("outdated", "a"), ("missing", "b"), ("unused", "gone")]
    assert "OUTDATED" in problems[0].message and "'a' (#0)" in problems[0].message
    assert "MISSING" in problems[1].message


def test_localize_refuses_a_half_translated_notebook(tmp_path):
    source = nb(md("One.", "a"), md("Two.", "b"))
    _, cat_path = write(tmp_path, source, {"a": ("One.", "一。")})
    with pytest.raises(TranslationError, match="1 cell\\(s\\) lack a current translation") as info:
        cat.localize(source, cat.load_catalog(cat_path))
    assert "'b'" in info.value.problems[0]


def test_cells_without_ids_are_keyed_by_markdown_position(tmp_path):
    source = nb(md("One."), code("x = 1"), md("Two."))
    _, cat_path = write(tmp_path, source, {"md-0": ("One.", "一。"), "md-1": ("Two.", "二。")})
    out = cat.localize(source, cat.load_catalog(cat_path))
    assert [c["source"] for c in out["cells"]] == ["一。", "x = 1", "二。"]
    # a notebook that later gains ids still finds its md-<n> entries (the hash decides)
    with_ids = nb(md("One.", "x1"), code("x = 1"), md("Two.", "x2"))
    assert cat.catalog_problems(with_ids, cat.load_catalog(cat_path)) == []


def test_broken_catalog_gets_one_sentence(tmp_path):
    (tmp_path / "i18n").mkdir()
    bad = tmp_path / "i18n" / "zh-CN.yaml"
    bad.write_text("language: zh-CN\ncells:\n  a: {text: ''}\n", encoding="utf-8")
    with pytest.raises(TranslationError, match="cells.a: needs a non-empty 'text' and the 'en_sha256'"):
        cat.load_catalog(bad)
    bad.write_text("cells: [unclosed\n", encoding="utf-8")
    with pytest.raises(TranslationError, match="not valid YAML"):
        cat.load_catalog(bad)


def test_stamp_hashes_new_entries_keeps_reviewed_ones_and_round_trips_text(tmp_path):
    source = nb(md("One.\n", "a"), md("Two.", "b"))
    nb_path, cat_path = write(tmp_path, source, {})
    text_a = "第一行\n\n  * 缩进的列表 `code`\n"
    cat_path.write_text("language: zh-CN\ncells:\n  b:\n    en_sha256: stale\n    text: 二\n"
                        f"  a:\n    text: {json.dumps(text_a)}\n", encoding="utf-8")
    cat.stamp(nb_path, "zh-CN")
    catalog = cat.load_catalog(cat_path)
    assert list(catalog.entries) == ["a", "b"]                       # notebook order
    assert catalog.entries["a"].text == text_a and catalog.entries["a"].en_sha256 == cat.english_hash("One.\n")
    assert catalog.entries["b"].en_sha256 == "stale"                 # not re-hashed unless accepted
    cat.stamp(nb_path, "zh-CN", accept=("b",))
    assert cat.catalog_problems(source, cat.load_catalog(cat_path)) == []


def test_glossary_flags_a_translation_without_the_standard_term():
    terms = gl.load_glossary(REPO / "docs" / "glossary.md")
    by_chinese = {t.chinese for t in terms}
    assert {"区块链", "共识", "智能合约", "组织", "信任根", "背书", "存证", "默克尔树", "双花", "国密"} <= by_chinese
    bad = gl.violations(terms, "A **Merkle tree** commits to every transaction.", "一棵 Merkle 树承诺每一笔交易。")
    assert [t.chinese for t in bad] == ["默克尔树"]
    assert gl.violations(terms, "The hash rate of `hash(x)`.", "算力。") == []   # code spans and longer terms
    assert gl.violations(terms, "Two double-spends.", "两次双花。") == []


def test_localize_labs_makes_chinese_copies_once_and_keeps_a_students_work(tmp_path):
    """``make lab LAB_LANG=zh-CN``: every shipped lab in Chinese; a second run loses no edit."""
    out = tmp_path / "lab-zh-CN"
    written = cat.localize_labs(REPO / "labs", out, "zh-CN")
    labs = sorted(p.name for p in (REPO / "labs").iterdir() if (p / f"{p.name}.ipynb").is_file())
    assert sorted(p.parent.name for p in written) == labs
    first = out / labs[0] / f"{labs[0]}.ipynb"
    nb = json.loads(first.read_text(encoding="utf-8"))
    assert nb["cells"][0]["source"].startswith("# 实验 01") and not (out / labs[0] / "i18n").exists()
    nb["cells"][1]["source"] = "# my work"
    first.write_text(json.dumps(nb), encoding="utf-8")
    assert cat.localize_labs(REPO / "labs", out, "zh-CN") == []
    assert json.loads(first.read_text(encoding="utf-8"))["cells"][1]["source"] == "# my work"
