"""Bilingual labs and messages: English (the source) and Simplified Chinese (``zh-CN``).

Terminology
    language     ``en`` (the language every source is written in) or ``zh-CN``; chosen by
                 ``LABCHAIN_LANG`` (:func:`current_language`) or a ``--lang`` option
    catalog      the translation of one lab notebook, ``labs/<id>/i18n/<lang>.yaml``: per
                 Markdown cell, the translated text and the hash of the English source it
                 translates (:mod:`.catalog`)
    cell key     the cell's nbformat 4.5 ``id``; a cell without one (notebooks still in
                 nbformat 4.4) is keyed ``md-<n>``, its position among the Markdown cells
    outdated     a catalog entry whose hash no longer matches the English cell
    glossary     ``docs/glossary.md``: the standard Chinese term of each English term, which
                 every translation must use (:mod:`.glossary`)
    messages     Chinese sentences for the labchain errors labs exercise (:mod:`.messages`)

Decisions (docs/labs.md, "Languages")
    * The notebook stays the single source of code, tests and points. Only Markdown cells are
      translated; code cells (comments, ``print`` text and ``# YOUR CODE HERE`` included) are
      byte-identical in every language, so nbgrader's checksums, grade ids and points, and
      therefore grading, are the same for both versions.
    * Catalogs are YAML, not gettext: a Markdown cell is a whole document, not a short message,
      and reviewers read the Chinese next to the hash it was written for.

Simplifications: two languages only; no plural forms; a missing or outdated translation is an
error at generation time, never a silent fallback to English.

This package imports nothing above labchain's core (``labchain.errors``).
"""
from __future__ import annotations

import os

from labchain.core.errors import LabchainError

#: the languages a lab and the course can be produced in; the first is the source language
LANGUAGES: tuple[str, ...] = ("en", "zh-CN")
SOURCE_LANGUAGE = "en"
ENV_VAR = "LABCHAIN_LANG"

_ALIASES = {"en": "en", "en-us": "en", "en-gb": "en", "english": "en",
            "zh-cn": "zh-CN", "zh_cn": "zh-CN", "zh": "zh-CN", "zh-hans": "zh-CN", "cn": "zh-CN"}


class LanguageError(LabchainError, ValueError):
    """A language code LabChain has no translation for."""


class TranslationError(LabchainError):
    """A lab's translation is missing, outdated or unreadable; ``.problems`` lists each."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message, problems)
        self.problems = problems or []


def normalize_language(code: str) -> str:
    """``"zh_CN"``, ``"zh"`` -> ``"zh-CN"``; ``"en-US"`` -> ``"en"``; anything else raises."""
    key = (code or "").strip().lower().split(".")[0]      # LANG-style "zh_CN.UTF-8"
    if key in _ALIASES:
        return _ALIASES[key]
    raise LanguageError(f"language {code!r} is not available; use one of {', '.join(LANGUAGES)}", code)


def current_language(environ: dict[str, str] | None = None) -> str:
    """The language chosen by ``LABCHAIN_LANG`` (default ``en``; an unknown value is ``en``).

    Lenient on purpose: it decides how error messages read, and a typo in an environment
    variable must not turn every error into a second error. Commands validate ``--lang``.
    """
    value = (os.environ if environ is None else environ).get(ENV_VAR, "")
    try:
        return normalize_language(value) if value.strip() else SOURCE_LANGUAGE
    except LanguageError:
        return SOURCE_LANGUAGE


__all__ = ["ENV_VAR", "LANGUAGES", "SOURCE_LANGUAGE", "LanguageError", "TranslationError",
           "current_language", "normalize_language"]
