"""The explorer's interface strings in English and Simplified Chinese.

Same mechanism as the rest of ``labchain.i18n``: English is the source language, written in the
templates as ``{{ _("Recent blocks") }}``; ``ui.zh-CN.yaml`` beside this module maps each English
string to its Chinese one, using the terms of ``docs/glossary.md`` (区块, 交易, 内存池, 分叉...).
Languages and their codes come from :mod:`labchain.i18n` (``normalize_language``).

A string with no entry is an error when the catalog is checked (:func:`missing`, run by the
tests over every template), not a silent English fallback; at run time an unknown string is
shown in English rather than breaking the page.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from labchain.i18n import LANGUAGES, SOURCE_LANGUAGE, TranslationError, normalize_language

HERE = Path(__file__).resolve().parent
TEMPLATE_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
_STRING = re.compile(r'''_\(\s*"((?:[^"\\]|\\.)*)"\s*[,)]''')


@lru_cache(maxsize=None)
def catalog(language: str) -> dict[str, str]:
    """English string -> its ``language`` translation (empty for English)."""
    language = normalize_language(language)
    if language == SOURCE_LANGUAGE:
        return {}
    path = HERE / f"ui.{language}.yaml"
    try:
        table = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise TranslationError(f"{path}: cannot read the explorer's interface strings: {exc}") from exc
    if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in table.items()):
        raise TranslationError(f"{path}: must map each English string to a {language} string")
    return table


def translator(language: str):
    """``_(text, **values)`` for ``language``: the translation, ``{name}`` filled with values."""
    table = catalog(language)

    def _(text: str, **values: object) -> str:
        out = table.get(text, text)
        return out.format(**values) if values else out

    return _


def used_strings() -> set[str]:
    """Every ``_("...")`` string in the templates and the static JavaScript."""
    found: set[str] = set()
    for path in list(TEMPLATE_DIR.glob("*.html")) + list(STATIC_DIR.glob("*.js")):
        found.update(m.group(1) for m in _STRING.finditer(path.read_text(encoding="utf-8")))
    return found


def missing(language: str) -> list[str]:
    """Used strings with no ``language`` entry (empty means the UI is fully translated)."""
    table = catalog(language)
    return sorted(s for s in used_strings() if s not in table) if table or language != SOURCE_LANGUAGE else []


__all__ = ["LANGUAGES", "catalog", "missing", "translator", "used_strings"]
