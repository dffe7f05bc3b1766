"""Load ``course.yaml`` into frozen records, or fail with every problem located.

A broken file raises :class:`CourseFileError`, whose ``problems`` each name the file, the line,
the path inside the YAML (``labs[1].objectives[0].bloom``) and what is wrong, e.g.::

    curriculum/course.yaml:57: labs[0].objectives[2].bloom: must be one of remember, ...
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from labchain.curriculum import schema
from labchain.errors import LabchainError


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the course: where it is and a sentence saying what."""

    file: str
    where: str          # a path in the YAML ("labs[1].points") or in a notebook ("cell 'grade-id'")
    message: str
    line: int | None = None

    def __str__(self) -> str:
        loc = f"{self.file}:{self.line}" if self.line else self.file
        return f"{loc}: {self.where}: {self.message}" if self.where else f"{loc}: {self.message}"


class CourseFileError(LabchainError):
    """The course file cannot be read as a course; ``.problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"the course file is not valid ({len(problems)} problem(s)):\n{lines}", problems)
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Objective:
    id: str
    bloom: str
    text: str
    text_zh: str = ""

    @property
    def verb(self) -> str:
        """The Bloom verb the objective starts with, lower case."""
        return self.text.split(maxsplit=1)[0].strip(",.:;").lower()


@dataclass(frozen=True, slots=True)
class Lab:
    id: str
    title: str
    summary: str
    prerequisites: tuple[str, ...]
    estimated_minutes: int
    points: int
    competencies: tuple[str, ...]
    objectives: tuple[Objective, ...]
    index: int          # position in the YAML's labs list, for error paths
    title_zh: str = ""
    summary_zh: str = ""


@dataclass(frozen=True, slots=True)
class Module:
    id: str
    title: str
    labs: tuple[str, ...]
    title_zh: str = ""


@dataclass(frozen=True, slots=True)
class CompetencyArea:
    id: str
    title: str
    title_zh: str = ""


@dataclass(frozen=True, slots=True)
class Course:
    """The parsed course file. ``root`` is the repository root that holds ``labs/``."""

    path: Path
    root: Path
    id: str
    title: str
    version: str
    description: str
    audience: str
    competency_areas: tuple[CompetencyArea, ...]
    modules: tuple[Module, ...]
    labs: tuple[Lab, ...]
    lines: dict[str, int]    # YAML path -> line number, for error messages
    title_zh: str = ""
    description_zh: str = ""
    audience_zh: str = ""
    translations: tuple[str, ...] = ()     # languages besides English, e.g. ("zh-CN",)

    def lab(self, lab_id: str) -> Lab:
        for lab in self.labs:
            if lab.id == lab_id:
                return lab
        raise KeyError(lab_id)

    def notebook_path(self, lab_id: str) -> Path:
        return self.root / "labs" / lab_id / f"{lab_id}.ipynb"

    def relative(self, path: Path) -> str:
        """``path`` relative to the repository root when it is inside it (for messages)."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def problem(self, where: str, message: str) -> Problem:
        """A problem located at YAML path ``where`` (or the nearest enclosing path with a line)."""
        return Problem(_display(self.path), where, message, _line_for(self.lines, where))


def load_course(path: str | Path, root: str | Path | None = None) -> Course:
    """Parse and schema-check the course file; ``root`` defaults to the file's grand-parent."""
    path = Path(path)
    file = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CourseFileError([Problem(file, "", f"cannot read the course file: {exc.strerror or exc}")]) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise CourseFileError([Problem(file, "", f"not valid YAML: {reason}", line)]) from exc

    lines: dict[str, int] = {}
    if node is not None:
        _collect_lines(node, "", lines)
    problems: list[Problem] = []
    schema.validate(data, schema.COURSE_FILE, "",
                    lambda where, msg: problems.append(Problem(file, where, msg, _line_for(lines, where))))
    if problems:
        raise CourseFileError(problems)

    meta = data["course"]
    return Course(
        path=path,
        root=Path(root) if root is not None else path.resolve().parent.parent,
        id=meta["id"],
        title=meta["title"],
        version=str(meta["version"]),
        description=(meta.get("description") or "").strip(),
        audience=(meta.get("audience") or "").strip(),
        competency_areas=tuple(CompetencyArea(c["id"], c["title"], c.get("title_zh") or "")
                               for c in data["competency_areas"]),
        modules=tuple(Module(m["id"], m["title"], tuple(m["labs"]), m.get("title_zh") or "")
                      for m in data["modules"]),
        labs=tuple(_lab(raw, i) for i, raw in enumerate(data["labs"])),
        lines=lines,
        title_zh=meta.get("title_zh") or "",
        description_zh=_para(meta.get("description_zh")),
        audience_zh=_para(meta.get("audience_zh")),
        translations=tuple(meta.get("translations") or ()),
    )


def _lab(raw: dict[str, Any], index: int) -> Lab:
    return Lab(
        id=raw["id"],
        title=raw["title"],
        summary=" ".join(raw["summary"].split()),
        prerequisites=tuple(raw["prerequisites"]),
        estimated_minutes=raw["estimated_minutes"],
        points=raw["points"],
        competencies=tuple(raw["competencies"]),
        objectives=tuple(Objective(o["id"], o["bloom"], " ".join(o["text"].split()), _para(o.get("text_zh")))
                         for o in raw["objectives"]),
        index=index,
        title_zh=raw.get("title_zh") or "",
        summary_zh=_para(raw.get("summary_zh")),
    )


def _para(text: str | None) -> str:
    """A folded YAML paragraph on one line. Chinese has no spaces between words, so line breaks
    inside Chinese text are dropped rather than turned into spaces."""
    if not text:
        return ""
    parts = text.split()
    out = parts[0] if parts else ""
    for part in parts[1:]:
        joined = _cjk(out[-1]) and _cjk(part[0])
        out += part if joined else " " + part
    return out


def _cjk(ch: str) -> bool:
    return "\u2e80" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef"


def _collect_lines(node: yaml.Node, path: str, lines: dict[str, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = f"{path}.{key.value}" if path else str(key.value)
            _collect_lines(value, child, lines)
            lines[child] = key.start_mark.line + 1   # the key's line reads better than the value's
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _collect_lines(item, f"{path}[{i}]", lines)


def _line_for(lines: dict[str, int], where: str) -> int | None:
    """Line of ``where``, or of its nearest ancestor present in the file."""
    while where:
        if where in lines:
            return lines[where]
        cut = max(where.rfind("."), where.rfind("["))
        where = where[:cut] if cut > 0 else ""
    return lines.get("")


def _display(path: Path) -> str:
    """The path relative to the working directory when it is inside it (shorter messages)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
