"""Per-lab translation catalogs: ``labs/<id>/i18n/<lang>.yaml`` next to the notebook.

A catalog holds, per Markdown cell of the notebook, the translated text and ``en_sha256``,
the first 16 hex digits of the SHA-256 of the English source it was written for::

    language: zh-CN
    notebook: 01-hashes-merkle.ipynb
    cells:
      c000:                      # the cell's nbformat 4.5 id, or md-<n> (n-th Markdown cell)
        en_sha256: 5f2a...
        text: |-
          # 实验 01 —— 哈希与默克尔树

:func:`catalog_problems` lists every Markdown cell with no entry (*missing*), every entry whose
hash differs from the English cell (*outdated*: the English changed since) and every entry no
cell uses (*unused*). :func:`localize` replaces each Markdown cell's source by its translation
and leaves every other byte of the notebook alone; it refuses a catalog with missing or
outdated entries. Code cells are never translated (see the package docstring).

A cell is looked up by its id first, then by ``md-<n>``, and an entry only counts when its
hash matches, so a catalog written before a notebook got cell ids keeps working.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

from labchain.i18n import SOURCE_LANGUAGE, TranslationError, normalize_language

HASH_DIGITS = 16


@dataclass(frozen=True, slots=True)
class Entry:
    """The translation of one Markdown cell."""

    key: str
    en_sha256: str
    text: str


@dataclass(frozen=True, slots=True)
class Catalog:
    path: Path
    language: str
    entries: dict[str, Entry]


@dataclass(frozen=True, slots=True)
class CellProblem:
    """A Markdown cell (or catalog entry) whose translation is not usable."""

    kind: str        # "missing" | "outdated" | "unused"
    key: str
    message: str


@dataclass(frozen=True, slots=True)
class MarkdownCell:
    index: int       # position in the notebook
    ordinal: int     # position among the Markdown cells
    id: str | None
    source: str

    @property
    def keys(self) -> tuple[str, ...]:
        fallback = f"md-{self.ordinal}"
        return (self.id, fallback) if self.id else (fallback,)

    @property
    def key(self) -> str:
        return self.keys[0]


def english_hash(text: str) -> str:
    """What ``en_sha256`` stores for an English cell source."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_DIGITS]


def cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def markdown_cells(nb: dict) -> Iterator[MarkdownCell]:
    ordinal = 0
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "markdown":
            cid = cell.get("id")
            yield MarkdownCell(index, ordinal, cid if isinstance(cid, str) and cid else None, cell_source(cell))
            ordinal += 1


def catalog_path(lab_dir: str | Path, language: str) -> Path:
    return Path(lab_dir) / "i18n" / f"{normalize_language(language)}.yaml"


def load_catalog(path: str | Path) -> Catalog:
    """Read one catalog; a broken file raises :class:`TranslationError` saying what is wrong."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TranslationError(f"{path}: cannot read the translation catalog: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise TranslationError(f"{path}{where}: the translation catalog is not valid YAML: "
                               f"{getattr(exc, 'problem', None) or exc}") from exc
    if isinstance(data, dict) and data.get("cells") is None:
        data["cells"] = {}                       # a catalog just started: every cell is missing
    if not isinstance(data, dict) or not isinstance(data.get("cells"), dict):
        raise TranslationError(f"{path}: a translation catalog is a mapping with 'language' and 'cells' "
                               f"(cell key -> {{en_sha256, text}})")
    language = normalize_language(str(data.get("language", "")))
    entries: dict[str, Entry] = {}
    for key, value in data["cells"].items():
        if not (isinstance(value, dict) and isinstance(value.get("text"), str) and value["text"].strip()
                and isinstance(value.get("en_sha256"), str)):
            raise TranslationError(f"{path}: cells.{key}: needs a non-empty 'text' and the 'en_sha256' "
                                   f"of the English source it translates")
        entries[str(key)] = Entry(str(key), value["en_sha256"], value["text"])
    return Catalog(path, language, entries)


def _match(cell: MarkdownCell, catalog: Catalog) -> tuple[Entry | None, Entry | None]:
    """(entry whose hash matches, or None; the entry found under the cell's keys, if any)."""
    found = None
    for key in cell.keys:
        entry = catalog.entries.get(key)
        if entry is not None:
            if entry.en_sha256 == english_hash(cell.source):
                return entry, entry
            found = found or entry
    return None, found


def catalog_problems(nb: dict, catalog: Catalog) -> list[CellProblem]:
    """Every missing, outdated and unused translation of ``nb``'s Markdown cells."""
    problems: list[CellProblem] = []
    used: set[str] = set()
    for cell in markdown_cells(nb):
        good, found = _match(cell, catalog)
        if good is not None:
            used.add(good.key)
        elif found is not None:
            used.add(found.key)
            problems.append(CellProblem("outdated", found.key,
                                        f"the {catalog.language} translation of Markdown cell {found.key!r} "
                                        f"(#{cell.index}) is OUTDATED: the English text changed since it was "
                                        f"translated (hash {english_hash(cell.source)}, catalog has "
                                        f"{found.en_sha256}); update the text, then run "
                                        f"`python -m labchain.i18n stamp --accept {found.key}`"))
        elif cell.source.strip():
            problems.append(CellProblem("missing", cell.key,
                                        f"Markdown cell {cell.key!r} (#{cell.index}) has no {catalog.language} "
                                        f"translation (MISSING)"))
    for key in catalog.entries:
        if key not in used:
            problems.append(CellProblem("unused", key, f"catalog entry {key!r} translates no Markdown cell "
                                                       f"of the notebook; remove it"))
    return problems


def localize(nb: dict, catalog: Catalog | None) -> dict:
    """A copy of ``nb`` with every Markdown cell in the catalog's language.

    ``catalog=None`` means English: the copy is the notebook unchanged. Code cells, metadata,
    ids and outputs are never touched. Raises :class:`TranslationError` when any cell lacks a
    current translation, so a half-translated student version is never produced.
    """
    out = copy.deepcopy(nb)
    if catalog is None:
        return out
    blocking = [p for p in catalog_problems(nb, catalog) if p.kind != "unused"]
    if blocking:
        raise TranslationError(f"{catalog.path}: cannot produce the {catalog.language} version: "
                               f"{len(blocking)} cell(s) lack a current translation; first: "
                               f"{blocking[0].message}", [p.message for p in blocking])
    for cell in markdown_cells(nb):
        good, _ = _match(cell, catalog)
        if good is not None:
            out["cells"][cell.index]["source"] = good.text
    out.setdefault("metadata", {})["labchain"] = {"language": catalog.language}
    return out


def localize_file(notebook: str | Path, language: str, output: str | Path | None = None,
                  catalog: str | Path | None = None) -> Path:
    """Write the ``language`` version of a notebook (in place when ``output`` is None).

    The catalog defaults to ``<source lab dir>/i18n/<language>.yaml`` beside ``notebook``.
    """
    notebook = Path(notebook)
    language = normalize_language(language)
    nb = _read_notebook(notebook)
    cat = None
    if language != SOURCE_LANGUAGE:
        cat = load_catalog(catalog or catalog_path(notebook.parent, language))
    text = json.dumps(localize(nb, cat), ensure_ascii=False, indent=1) + "\n"
    target = Path(output) if output else notebook
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def localize_labs(labs_dir: str | Path, output_dir: str | Path, language: str) -> list[Path]:
    """Copy every ``labs/<id>/`` to ``output_dir/<id>/`` with its notebook in ``language``
    (the catalogs themselves are not copied). Used by ``make lab LAB_LANG=zh-CN``.

    A file already in ``output_dir`` is kept as it is, so a student's work in a notebook
    survives the next ``make lab``; delete the folder to get fresh copies. Returns the
    notebooks written now."""
    labs_dir, output_dir = Path(labs_dir), Path(output_dir)
    language = normalize_language(language)
    written = []
    for lab in sorted(p for p in labs_dir.iterdir() if (p / f"{p.name}.ipynb").is_file()):
        target = output_dir / lab.name
        notebook = target / f"{lab.name}.ipynb"
        if notebook.exists():
            continue
        skip = shutil.ignore_patterns("i18n", ".ipynb_checkpoints", "__pycache__", notebook.name)
        shutil.copytree(lab, target, dirs_exist_ok=True, copy_function=_copy_if_absent, ignore=skip)
        written.append(localize_file(lab / f"{lab.name}.ipynb", language, notebook))
    return written


def _copy_if_absent(src: str, dst: str) -> None:
    if not Path(dst).exists():
        shutil.copy2(src, dst)


def stamp(notebook: str | Path, language: str, accept: tuple[str, ...] = (), catalog: str | Path | None = None) -> Path:
    """Rewrite a catalog in canonical form: entries in notebook order, ``en_sha256`` filled in
    for new entries (none yet) and for the keys in ``accept`` (reviewed after an English change)."""
    notebook = Path(notebook)
    path = Path(catalog or catalog_path(notebook.parent, language))
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    cells: dict[str, Any] = data.get("cells") or {}
    nb = _read_notebook(notebook)
    out = [f"# {normalize_language(language)} translation of {notebook.name}: one entry per Markdown cell.",
           "# en_sha256 is the hash of the English text translated; see docs/labs.md, \"Languages\".",
           f"language: {normalize_language(language)}", f"notebook: {notebook.name}", "cells:"]
    done: set[str] = set()
    for cell in markdown_cells(nb):
        key = next((k for k in cell.keys if k in cells), None)
        if key is None:
            continue
        value = cells[key]
        digest = value.get("en_sha256")
        if not digest or key in accept:
            digest = english_hash(cell.source)
        out += [f"  {key}:", f"    en_sha256: {digest}", "    text: " + _block(value["text"], "      ")]
        done.add(key)
    for key, value in cells.items():           # entries no cell uses stay, so check reports them
        if key not in done:
            out += [f"  {key}:", f"    en_sha256: {value.get('en_sha256') or ''}",
                    "    text: " + _block(value.get("text") or "", "      ")]
    text = "\n".join(out) + "\n"
    reread = yaml.safe_load(text)["cells"]
    assert all(reread[k]["text"] == (cells[k].get("text") or "") for k in cells), "catalog writer lost text"
    path.write_text(text, encoding="utf-8")
    return path


def _block(text: str, indent: str) -> str:
    """``text`` as a YAML literal block (or a JSON string when a block cannot hold it exactly)."""
    body = text[:-1] if text.endswith("\n") else text
    if (not body or body[0] in " \t" or body.endswith((" ", "\t", "\n")) or "\r" in body
            or any(line and line[0] in " \t" and not line.strip() for line in body.split("\n"))):
        return json.dumps(text, ensure_ascii=False)
    head = "|" if text.endswith("\n") else "|-"
    return head + "\n" + "\n".join(indent + line if line else "" for line in body.split("\n"))


def _read_notebook(path: Path) -> dict:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TranslationError(f"{path}: cannot read the notebook: {exc}") from exc
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise TranslationError(f"{path}: not a Jupyter notebook")
    return nb


def localize_release(source_dir: str | Path, release_dir: str | Path, language: str) -> list[Path]:
    """After nbgrader generated ``release_dir`` from ``source_dir`` (one lab): put every released
    notebook in ``language`` using the source's catalogs, and drop the copied ``i18n/`` folder.

    nbgrader keeps Markdown cells as they are, so the released cells still carry the English
    text the catalog's hashes were taken from; code cells and nbgrader metadata stay untouched.
    """
    source_dir, release_dir = Path(source_dir), Path(release_dir)
    language = normalize_language(language)
    shutil.rmtree(release_dir / "i18n", ignore_errors=True)
    if language == SOURCE_LANGUAGE:              # nbgrader's release is already English: keep its bytes
        return sorted(release_dir.glob("*.ipynb"))
    written = []
    for notebook in sorted(release_dir.glob("*.ipynb")):
        cat = load_catalog(catalog_path(source_dir, language))
        nb = _read_notebook(notebook)
        notebook.write_text(json.dumps(localize(nb, cat), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        written.append(notebook)
    return written


# --- nbformat 4.5 cell ids ------------------------------------------------------------------

_POSITION_KEY = re.compile(r"^(\s+)md-(\d+):[ \t]*$", re.MULTILINE)


def assign_cell_ids(notebook: str | Path) -> dict[str, str]:
    """Give every cell of ``notebook`` a stable nbformat 4.5 id and move its catalogs' position
    keys (``md-<n>``) to those ids; returns ``{old key: id}`` of the Markdown cells.

    An id is ``c<index>`` (``c007``), the scheme of labs 01-02, assigned once: cells that
    already have an id keep it, so running this again changes nothing. The notebook is written
    back in its own format (one-space JSON, UTF-8, trailing newline) and each catalog only has
    its ``md-<n>:`` key lines rewritten, so comments, order and texts stay byte for byte.
    """
    notebook = Path(notebook)
    raw = notebook.read_text(encoding="utf-8")
    nb = json.loads(raw)
    cells = nb.get("cells", [])
    taken = {c["id"] for c in cells if isinstance(c.get("id"), str) and c["id"]}
    for index, cell in enumerate(cells):
        if not (isinstance(cell.get("id"), str) and cell["id"]):
            cid, n = f"c{index:03d}", index
            while cid in taken:                  # never reuse an id another cell has
                n += 1000
                cid = f"c{n:03d}"
            cell["id"] = cid
            taken.add(cid)
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) < (4, 5):
        nb["nbformat"], nb["nbformat_minor"] = 4, 5
    mapping = {f"md-{cell.ordinal}": cell.id for cell in markdown_cells(nb)}
    text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if text != raw:
        notebook.write_text(text, encoding="utf-8")
    for path in sorted((notebook.parent / "i18n").glob("*.yaml")):
        old = path.read_text(encoding="utf-8")
        new = _POSITION_KEY.sub(lambda m: f"{m.group(1)}{mapping.get('md-' + m.group(2), 'md-' + m.group(2))}:", old)
        if new != old:
            path.write_text(new, encoding="utf-8")
    return mapping
