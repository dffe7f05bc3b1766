"""Chinese sentences for the labchain errors labs exercise (``LABCHAIN_LANG=zh-CN``).

Error messages are f-strings at the raise sites (``f"tx {short(txid)} has lock_height ..."``),
so a message is translated by *template*: ``errors.zh-CN.yaml`` (beside this module) lists
each English message with ``{placeholders}`` and its Chinese sentence. :func:`translate` finds
the first template the whole message matches and fills the Chinese one with the same values
(values that are themselves whole messages, as in a wrapped error, are translated too).
An entry may list ``whole: [name, ...]``: placeholders whose text must itself be a translated
message, else the entry does not apply (so a generic frame such as ``cannot {op}: {why}`` never
turns an unrelated English sentence half-Chinese); ``items: [name, ...]``: placeholders holding a
``", "``-separated list, translated item by item (and, like ``whole``, required to translate);
``item: true``: an entry that applies only to one item of such a list or to a placeholder of
such an entry (``{signer} ({reason})`` would otherwise match any sentence ending in parentheses). A message made of
``"; "``-separated clauses ending with a full stop (``PolicyResult.explain()``) is translated
clause by clause, before any whole-message template, and only when every clause has one.

Why templates, not gettext: ``gettext`` needs a message id at the raise site, which would mean
editing every raise in the ledger; matching the finished sentence needs one hook in
``LabchainError.__str__`` (``labchain/core/errors.py``) and leaves the English untouched. A
message with no template stays English, so an untranslated error is never lost or garbled.
Simplification: a template must be updated by hand when a raise site's wording changes (the
tests raise every translated error for real and check it is translated).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from labchain.i18n import SOURCE_LANGUAGE, TranslationError, current_language

CATALOG_DIR = Path(__file__).resolve().parent
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Template:
    error: str
    english: str
    translated: str
    pattern: re.Pattern
    whole: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    item: bool = False      # applies only to one item of an ``items`` list


def _compile(english: str) -> re.Pattern:
    out, pos, seen = [], 0, set()
    for m in _PLACEHOLDER.finditer(english):
        out.append(re.escape(english[pos:m.start()]))
        name = m.group(1)
        out.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        pos = m.end()
    out.append(re.escape(english[pos:]))
    return re.compile("".join(out), re.DOTALL)


@lru_cache(maxsize=None)
def templates(language: str) -> tuple[Template, ...]:
    """The error templates of ``language`` (empty for English)."""
    if language == SOURCE_LANGUAGE:
        return ()
    path = CATALOG_DIR / f"errors.{language}.yaml"
    try:
        rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as exc:
        raise TranslationError(f"{path}: cannot read the error message catalog: {exc}") from exc
    out = []
    for i, row in enumerate(rows):
        if not (isinstance(row, dict) and all(isinstance(row.get(k), str) for k in ("error", "en", language))):
            raise TranslationError(f"{path}: entry {i} needs the strings 'error', 'en' and '{language}'")
        if set(_PLACEHOLDER.findall(row["en"])) != set(_PLACEHOLDER.findall(row[language])):
            raise TranslationError(f"{path}: entry {i} ({row['error']}): the {language} sentence must use "
                                   f"the same placeholders as the English one")
        whole = tuple(row.get("whole") or ())
        items = tuple(row.get("items") or ())
        if not set(whole + items) <= set(_PLACEHOLDER.findall(row["en"])):
            raise TranslationError(f"{path}: entry {i} ({row['error']}): 'whole'/'items' names a placeholder "
                                   f"the English message does not have")
        out.append(Template(row["error"], row["en"], row[language], _compile(row["en"]), whole, items,
                            bool(row.get("item"))))
    return tuple(out)


def translate(message: str, language: str | None = None, _depth: int = 0) -> str:
    """``message`` in ``language`` (default: ``LABCHAIN_LANG``), or unchanged if no template fits."""
    language = language or current_language()
    if language == SOURCE_LANGUAGE:
        return message
    found = _lookup(message, language, _depth)
    return message if found is None else found


_CLAUSE_SEP, _CLAUSE_SEP_ZH = "; ", "；"
_ITEM_SEP, _ITEM_SEP_ZH = ", ", "，"


def _lookup_items(text: str, language: str, depth: int) -> str | None:
    """A ``", "``-separated list whose every item is a message of the catalog, item by item.

    An item may itself hold ``", "`` (``admin1.org2 (wrong role client, needs admin)``): pieces
    are joined until the shortest run that translates; None unless the whole list does."""
    out, run = [], ""
    for piece in text.split(_ITEM_SEP):
        run = f"{run}{_ITEM_SEP}{piece}" if run else piece
        found = _lookup(run, language, depth, as_item=True)
        if found is not None:
            out.append(found)
            run = ""
    return None if run or not out else _ITEM_SEP_ZH.join(out)


def _lookup(message: str, language: str, depth: int, as_item: bool = False) -> str | None:
    """The translation of ``message``, or None when no template (or clause split) fits."""
    if depth > 6:
        return None
    if _CLAUSE_SEP in message and message.endswith("."):   # a "; "-joined explanation: clauses first,
        parts = [_lookup(part, language, depth + 1)          # so no frame swallows several clauses
                 for part in message[:-1].split(_CLAUSE_SEP)]
        if all(part is not None for part in parts):
            return _CLAUSE_SEP_ZH.join(parts) + "。"
    for template in templates(language):
        match = None if template.item and not as_item else template.pattern.fullmatch(message)
        if not match:
            continue
        values = {}
        for name, text in match.groupdict().items():
            inner = (_lookup_items(text, language, depth + 1) if name in template.items
                     else _lookup(text, language, depth + 1, as_item=template.item))
            if inner is None and (name in template.whole or name in template.items):
                break
            values[name] = text if inner is None else inner
        else:
            return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template.translated)
    return None
