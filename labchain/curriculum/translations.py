"""The translation rules of ``labchain curriculum check`` (for a course with ``translations``).

For every language in ``course.translations`` (today only ``zh-CN``):

* course-wide: the course title, every module title, and every lab's title, summary and
  objectives have their ``*_zh`` text (``labs[0].objectives[2].text_zh: missing ...``);
* per notebook: ``labs/<id>/i18n/<lang>.yaml`` exists and translates every Markdown cell with
  the hash of its current English text: a cell without one is reported MISSING, one whose
  English changed since is OUTDATED, both with file and cell key; an entry no cell uses is
  reported too;
* glossary: each translated text (cells and course texts) uses the Chinese term of every
  ``docs/glossary.md`` term its English uses (skipped when the repository has no glossary).

Code cells are not translated, so they are not checked here (see ``labchain.i18n``).
"""
from __future__ import annotations

import json
from pathlib import Path

from labchain.curriculum.model import Course, Lab, Problem
from labchain.i18n import TranslationError
from labchain.i18n import catalog as cat
from labchain.i18n import glossary as gl

GLOSSARY = Path("docs") / "glossary.md"


def _terms(course: Course) -> tuple[gl.Term, ...] | Problem | None:
    path = course.root / GLOSSARY
    if not path.is_file():
        return None
    try:
        return gl.load_glossary(path)
    except TranslationError as exc:
        return Problem(str(GLOSSARY), "", str(exc))


def course_rules(course: Course) -> list[Problem]:
    if "zh-CN" not in course.translations:
        return []
    terms = _terms(course)
    p: list[Problem] = [terms] if isinstance(terms, Problem) else []
    terms = terms if isinstance(terms, tuple) else ()

    def need(where: str, english: str, chinese: str) -> None:
        if not chinese.strip():
            p.append(course.problem(where, f"missing the zh-CN translation ({where}) of {english[:60]!r}"))
            return
        for term in gl.violations(terms, english, chinese):
            p.append(course.problem(where, f"uses {'/'.join(term.english)!r} but its zh-CN text lacks the "
                                           f"glossary term {term.chinese!r} ({GLOSSARY}:{term.line})"))

    need("course.title_zh", course.title, course.title_zh)
    if course.description:
        need("course.description_zh", course.description, course.description_zh)
    if course.audience:
        need("course.audience_zh", course.audience, course.audience_zh)
    for mi, module in enumerate(course.modules):
        need(f"modules[{mi}].title_zh", module.title, module.title_zh)
    for lab in course.labs:
        base = f"labs[{lab.index}]"
        need(f"{base}.title_zh", lab.title, lab.title_zh)
        need(f"{base}.summary_zh", lab.summary, lab.summary_zh)
        for oi, obj in enumerate(lab.objectives):
            need(f"{base}.objectives[{oi}].text_zh", obj.text, obj.text_zh)
    return p


def notebook_rules(course: Course, lab: Lab) -> list[Problem]:
    nb_path = course.notebook_path(lab.id)
    if "zh-CN" not in course.translations or not nb_path.is_file():
        return []
    try:
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []                                # the notebook rules report it
    path = cat.catalog_path(nb_path.parent, "zh-CN")
    file = course.relative(path)
    if not path.is_file():
        return [Problem(file, "", f"lab {lab.id} has no zh-CN translation catalog (MISSING); "
                                  f"every Markdown cell of {course.relative(nb_path)} needs one")]
    try:
        catalog = cat.load_catalog(path)
    except TranslationError as exc:
        return [Problem(file, "", str(exc).removeprefix(f"{path}: "))]
    p = [Problem(file, f"cell {problem.key!r}", problem.message) for problem in cat.catalog_problems(nb, catalog)]
    terms = _terms(course)
    if isinstance(terms, tuple):
        by_key = {cell.key: cell for cell in cat.markdown_cells(nb)}
        for cell in by_key.values():
            entry = next((catalog.entries[k] for k in cell.keys if k in catalog.entries), None)
            if entry is None:
                continue
            for term in gl.violations(terms, cell.source, entry.text):
                p.append(Problem(file, f"cell {entry.key!r}",
                                 f"the English uses {'/'.join(term.english)!r} but the translation lacks the "
                                 f"glossary term {term.chinese!r} ({GLOSSARY}:{term.line})"))
    return p
