"""The glossary (``docs/glossary.md``): one standard Chinese term per English term.

The glossary's machine-readable part is the Markdown table whose header is
``| English | 中文 | ... |``. The English column may list variants separated by ``/``
(``double spend / double-spend``); the Chinese column holds exactly one term, the one every
translation must use.

Consistency rule (:func:`violations`): when an English term occurs in an English text (outside
code spans, code blocks, math and URLs; case-insensitive, whole words, plural ``s``/``es``
allowed), its translation must contain the glossary's Chinese term; a longer term hides the
shorter ones inside it. Synonyms are not accepted:
a course that says 散列 in one lab and 哈希 in the next confuses the students it is for.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from labchain.i18n import TranslationError

_CODE = re.compile(r"```.*?```|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$|https?://\S+", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Term:
    english: tuple[str, ...]
    chinese: str
    line: int
    pattern: re.Pattern = None  # type: ignore[assignment]

    def found_in(self, english_text: str) -> bool:
        return bool(self.pattern.search(english_text))


def _pattern(variants: tuple[str, ...]) -> re.Pattern:
    alts = []
    for v in variants:
        words = [re.escape(w) for w in re.split(r"[\s]+", v.strip())]
        alts.append(r"[\s-]+".join(words) + r"(?:s|es)?")
    return re.compile(r"(?<![\w-])(?:" + "|".join(alts) + r")(?![\w])", re.IGNORECASE)


def load_glossary(path: str | Path) -> tuple[Term, ...]:
    """Every row of the glossary table; a malformed table raises :class:`TranslationError`."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TranslationError(f"{path}: cannot read the glossary: {exc.strerror or exc}") from exc
    terms: list[Term] = []
    in_table = False
    for number, line in enumerate(lines, 1):
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.strip().startswith("|") else None
        if cells is None:
            in_table = False
            continue
        if cells[:2] == ["English", "中文"]:
            in_table = True
            continue
        if not in_table or set("".join(cells)) <= set("-: "):
            continue
        if len(cells) < 2 or not cells[0] or not cells[1]:
            raise TranslationError(f"{path}:{number}: a glossary row needs an English and a Chinese term")
        variants = tuple(v.strip() for v in cells[0].split("/") if v.strip())
        terms.append(Term(variants, cells[1], number, _pattern(variants)))
    if not terms:
        raise TranslationError(f"{path}: no table with the header '| English | 中文 |' was found")
    return tuple(terms)


def prose(text: str) -> str:
    """``text`` without code spans, code blocks, math and URLs (where terms stay English)."""
    return _CODE.sub(" ", text)


def violations(terms: tuple[Term, ...], english: str, translation: str) -> list[Term]:
    """The terms used in ``english`` whose Chinese term the ``translation`` lacks.

    Longer terms are matched first and hide the words they cover: "hash rate" asks for 算力,
    not also for 哈希; "block header" covers its "block" (区块头 contains 区块 anyway).
    """
    text = prose(english)
    found = []
    for term in sorted(terms, key=lambda t: -max(len(v) for v in t.english)):
        if term.found_in(text):
            if term.chinese not in translation:
                found.append(term)
            text = term.pattern.sub(lambda m: " " * len(m.group(0)), text)
    return sorted(found, key=lambda t: t.line)
