"""The explorer's Chinese interface: every string the templates use is translated, with the
glossary's terms and the same placeholders, and nothing in the catalog is unused."""
from __future__ import annotations

import re
from pathlib import Path

from labchain.explorer.i18n import catalog, missing, translator, used_strings
from labchain.i18n.glossary import load_glossary, violations

GLOSSARY = Path(__file__).resolve().parents[3] / "docs" / "glossary.md"


def test_every_string_the_templates_use_has_a_chinese_entry():
    assert len(used_strings()) > 60
    assert missing("zh-CN") == []


def test_the_catalog_has_no_entry_the_templates_do_not_use():
    assert sorted(set(catalog("zh-CN")) - used_strings()) == []


def test_translations_keep_the_placeholders():
    for english, chinese in catalog("zh-CN").items():
        assert set(re.findall(r"\{(\w+)\}", english)) == set(re.findall(r"\{(\w+)\}", chinese)), english


def test_translations_use_the_glossary_terms():
    terms = load_glossary(GLOSSARY)
    bad = {en: [t.chinese for t in violations(terms, re.sub(r"\{\w+\}", "", en), zh)]  # {node}: a value
           for en, zh in catalog("zh-CN").items()}
    assert {en: v for en, v in bad.items() if v} == {}


def test_translator_fills_values_and_english_is_the_source():
    zh = translator("zh")
    assert zh("{n} transactions waiting on {node}", n=3, node="node0") == "node0 上有 3 笔交易在等待"
    assert translator("en")("Recent blocks") == "Recent blocks"
    assert zh("a string nobody translated") == "a string nobody translated"
