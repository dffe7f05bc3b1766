"""The schema of ``curriculum/course.yaml``, declared once as data.

Each record type is a tuple of :class:`Field`; :func:`validate` walks a parsed YAML value
against it and reports every mismatch with its path (``labs[1].objectives[0].bloom``).
``docs/labs.md`` documents the same fields for authors; :func:`describe` prints them.

Bloom levels follow the revised taxonomy (Anderson & Krathwohl, 2001). An objective's text
must start with a verb listed for its level, so "Explain ..." cannot be tagged ``create``.

Languages: English is the source. Each text a student reads has a parallel ``<name>_zh`` key in
Simplified Chinese (``title_zh``, ``summary_zh``, ``text_zh``...), the convention the competency
areas' ``title_zh`` already used; ``labchain curriculum check`` reports a missing one
(``labchain.curriculum.translations``) and ``build --lang zh-CN`` renders the Chinese syllabus.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

#: Bloom level -> verbs an objective of that level may start with (lower case).
BLOOM_VERBS: dict[str, tuple[str, ...]] = {
    "remember": ("recall", "define", "list", "name", "identify", "recognise", "recognize", "state"),
    "understand": ("explain", "describe", "summarise", "summarize", "interpret", "classify",
                   "compare", "illustrate", "discuss", "paraphrase"),
    "apply": ("apply", "use", "implement", "compute", "calculate", "execute", "operate",
              "solve", "demonstrate", "construct", "run", "configure"),
    "analyze": ("analyze", "analyse", "distinguish", "differentiate", "examine", "measure",
                "investigate", "debug", "attribute", "break", "diagnose"),
    "evaluate": ("evaluate", "assess", "judge", "critique", "justify", "compare", "test",
                 "verify", "defend", "argue"),
    "create": ("create", "design", "build", "construct", "develop", "compose", "formulate",
               "plan", "produce", "invent"),
}

#: languages a course may be translated into (English is the source)
TRANSLATION_LANGUAGES: tuple[str, ...] = ("zh-CN",)

#: Bloom levels from lowest to highest.
BLOOM_LEVELS: tuple[str, ...] = tuple(BLOOM_VERBS)

#: lab, module, objective and competency ids: lower-case words joined by '-' (labs may start with digits)
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a record: its YAML name, its type and what it means."""

    name: str
    kind: str            # "str", "int", "ids" (list of ids), "id", "record", "records", "enum", "langs"
    doc: str
    required: bool = True
    record: tuple["Field", ...] = ()
    choices: tuple[str, ...] = ()


OBJECTIVE = (
    Field("id", "id", "unique within the lab; test cells name it in `# objectives: ...`"),
    Field("bloom", "enum", "Bloom level", choices=BLOOM_LEVELS),
    Field("text", "str", "the objective, starting with a Bloom verb of its level"),
    Field("text_zh", "str", "the objective in Simplified Chinese (checked: required for a lab "
          "with a notebook)", required=False),
)

LAB = (
    Field("id", "id", "folder name under labs/ and notebook name labs/<id>/<id>.ipynb"),
    Field("title", "str", "short title"),
    Field("title_zh", "str", "the title in Simplified Chinese", required=False),
    Field("summary", "str", "two or three sentences for the syllabus"),
    Field("summary_zh", "str", "the summary in Simplified Chinese", required=False),
    Field("prerequisites", "ids", "ids of labs to do first (no cycles)"),
    Field("estimated_minutes", "int", "expected student time in minutes"),
    Field("points", "int", "sum of the notebook's autograded test-cell points"),
    Field("competencies", "ids", "competency area ids this lab trains"),
    Field("objectives", "records", "learning objectives", record=OBJECTIVE),
)

MODULE = (
    Field("id", "id", "module id"),
    Field("title", "str", "module title"),
    Field("title_zh", "str", "the module title in Simplified Chinese", required=False),
    Field("labs", "ids", "ids of the labs in this module, in teaching order"),
)

COMPETENCY = (
    Field("id", "id", "competency area id"),
    Field("title", "str", "English title"),
    Field("title_zh", "str", "title in the standard's own words", required=False),
)

COURSE = (
    Field("id", "id", "course id"),
    Field("title", "str", "course title"),
    Field("title_zh", "str", "the course title in Simplified Chinese", required=False),
    Field("version", "str", "course edition, e.g. 2026.11"),
    Field("language", "str", "teaching language", required=False),
    Field("translations", "langs", "languages the course is also taught in (e.g. [zh-CN]): each then "
          "needs every *_zh text and a catalog labs/<id>/i18n/<lang>.yaml per notebook", required=False),
    Field("audience", "str", "who the course is for", required=False),
    Field("audience_zh", "str", "the audience in Simplified Chinese", required=False),
    Field("description", "str", "one paragraph for the syllabus", required=False),
    Field("description_zh", "str", "the description in Simplified Chinese", required=False),
)

COURSE_FILE = (
    Field("course", "record", "course metadata", record=COURSE),
    Field("competency_areas", "records", "the competency areas labs may name", record=COMPETENCY),
    Field("modules", "records", "modules in teaching order; every lab in exactly one", record=MODULE),
    Field("labs", "records", "every lab of the course, planned or written", record=LAB),
)

Report = Callable[[str, str], None]   # (path, message)


def validate(value: Any, fields: tuple[Field, ...], path: str, report: Report) -> None:
    """Report every way ``value`` (a parsed YAML mapping) breaks the record ``fields``."""
    if not isinstance(value, dict):
        report(path, f"must be a mapping with keys {', '.join(f.name for f in fields)}; got {_kind(value)}")
        return
    known = {f.name for f in fields}
    for key in value:
        if key not in known:
            report(_join(path, str(key)), f"unknown key {key!r}; expected one of: {', '.join(sorted(known))}")
    for field in fields:
        where = _join(path, field.name)
        if field.name not in value or value[field.name] is None:
            if field.required:
                report(path, f"missing required key {field.name!r} ({field.doc})")
            continue
        _validate_field(value[field.name], field, where, report)


def _validate_field(value: Any, field: Field, where: str, report: Report) -> None:
    kind = field.kind
    if kind == "str":
        if not isinstance(value, str) or not value.strip():
            report(where, f"must be a non-empty string; got {_kind(value)}")
    elif kind == "int":
        if type(value) is not int or value < 0:
            report(where, f"must be a non-negative integer; got {value!r}")
    elif kind == "id":
        _validate_id(value, where, report)
    elif kind == "enum":
        if value not in field.choices:
            report(where, f"must be one of {', '.join(field.choices)}; got {value!r}")
    elif kind == "ids":
        if not isinstance(value, list):
            report(where, f"must be a list of ids (use [] for none); got {_kind(value)}")
            return
        for i, item in enumerate(value):
            _validate_id(item, f"{where}[{i}]", report)
    elif kind == "langs":
        if not isinstance(value, list) or any(v not in TRANSLATION_LANGUAGES for v in value):
            report(where, f"must be a list of languages among {', '.join(TRANSLATION_LANGUAGES)}; got {value!r}")
    elif kind == "record":
        validate(value, field.record, where, report)
    elif kind == "records":
        if not isinstance(value, list) or not value:
            report(where, f"must be a non-empty list; got {_kind(value)}")
            return
        for i, item in enumerate(value):
            validate(item, field.record, f"{where}[{i}]", report)
    else:  # pragma: no cover - a mistake in this module
        raise AssertionError(f"unknown field kind {kind!r}")


def _validate_id(value: Any, where: str, report: Report) -> None:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        report(where, f"must be an id of lower-case letters, digits and '-'; got {value!r}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: f"the string {value!r}"}.get(type(value), repr(value))


def describe(fields: tuple[Field, ...] = COURSE_FILE, indent: str = "") -> str:
    """The schema as an indented text outline (``labchain curriculum schema``)."""
    lines = []
    for f in fields:
        optional = "" if f.required else ", optional"
        kind = f"one of {'|'.join(f.choices)}" if f.choices else f.kind
        lines.append(f"{indent}{f.name} ({kind}{optional}): {f.doc}")
        if f.record:
            lines.append(describe(f.record, indent + "    "))
    return "\n".join(lines)
