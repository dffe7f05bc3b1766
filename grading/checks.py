"""Live-chain checks: grade what a student did on their testnet, through JSON-RPC.

Like Ethernaut's "validate instance": a lab declares checks in ``labs/<lab>/checks.yaml``;
at grading time each check calls the node RPC (docs/ARCHITECTURE.md method names) and its
result is stored as the grade of a named grade cell of the lab's notebook. Format::

    notebook: lab-chain                # notebook holding the grade cells (default: the lab name)
    checks:
      - grade_id: chain_funded         # a locked grade cell of that notebook, with points
        description: address {address} holds at least 10 coins
        method: getbalance
        params: ["{address}"]
        expect:
          ".": {ge: 1000000000}        # "." is the whole result; amounts in base units
      - grade_id: memo_deep
        description: transaction {txid} carries memo {memo_hex} and is 6 blocks deep
        method: gettransaction
        params: ["{txid}"]
        expect:                        # dotted paths into the result, list items by index
          confirmations: {ge: 6}
          tx.memo: {eq: "{memo_hex}"}
          tx.inputs.0.pubkey: {eq: "{pubkey}"}   # signed by the student's key

Operators: eq, ne, ge, le, gt, lt (same type required: an ``__eq__`` trick cannot pass),
truthy. The grade cell itself is a locked code cell that only explains the check; the
autograder leaves its score to the checks (``save_grades`` skips declared check cells).

``{name}`` placeholders are filled from per-student variables, which come from the
instructor's side (``COURSE/chain/<lab>.csv``: a ``student`` and an ``rpc`` column plus one
column per variable), never from the submission, so a student cannot point the grader at
a node of their own making. A check that cannot reach the node, gets an RPC error, or whose
expectation fails scores 0 with the reason in the grade's comment; a passing check scores
the cell's points. Checks run in the trusted parent: they only read the chain.
"""
from __future__ import annotations

import csv
import json
import operator
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grading.errors import CourseError, GradingError

OPS = {"eq": operator.eq, "ne": operator.ne, "ge": operator.ge, "le": operator.le,
       "gt": operator.gt, "lt": operator.lt}
METHODS = {"getbalance", "gettransaction", "getblockcount", "listunspent", "getblock",
           "getbestblockhash", "getblockchaininfo", "getmempool"}   # read-only methods only


class RpcError(GradingError):
    """The node answered with a JSON-RPC error or could not be reached."""


class RpcClient:
    """Minimal JSON-RPC 2.0 over HTTP POST (urllib); ``client.call("getblockcount")``."""

    def __init__(self, url: str, timeout: float = 5.0):
        self.url, self.timeout, self._id = url, timeout, 0

    def call(self, method: str, *params):
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)})
        req = urllib.request.Request(self.url, data=body.encode(), headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                reply = json.loads(resp.read(1_000_000))
        except urllib.error.HTTPError as exc:
            try:
                reply = json.loads(exc.read(1_000_000))
            except ValueError:
                raise RpcError(f"{self.url} answered HTTP {exc.code} to {method}", exc) from exc
        except (OSError, ValueError) as exc:
            raise RpcError(f"cannot call {method} on {self.url}: {exc}", exc) from exc
        if reply.get("error"):
            err = reply["error"]
            raise RpcError(f"{method} failed: {err.get('message', err)} (code {err.get('code')})", err)
        return reply.get("result")


@dataclass(frozen=True)
class Check:
    grade_id: str
    method: str
    params: tuple = ()
    expect: dict = field(default_factory=lambda: {".": {"truthy": True}})
    description: str = ""

    def run(self, client: RpcClient, variables: dict[str, str]) -> tuple[bool, str]:
        """(passed, sentence for the student) for one student."""
        try:
            what = self.description.format(**variables) if self.description else self.grade_id
            params = [_fill(p, variables) for p in self.params]
            expect = {path: {op: _fill(v, variables) for op, v in ops.items()}
                      for path, ops in self.expect.items()}
        except KeyError as exc:
            return False, f"{self.grade_id}: no value for {exc} for this student"
        try:
            result = client.call(self.method, *params)
        except RpcError as exc:
            return False, f"{what}: {exc}"
        for path, ops in expect.items():
            value = _dig(result, path)
            for op, want in ops.items():
                ok = bool(value) == bool(want) if op == "truthy" else (
                    type(value) is type(want) and OPS[op](value, want))
                if not ok:
                    return False, f"{what}: failed ({path} is {value!r}, expected {op} {want!r})"
        return True, f"{what}: passed"


def _fill(value, variables: dict[str, str]):
    return value.format(**variables) if isinstance(value, str) else value


def _dig(value, path: str):
    for part in filter(None, path.strip(".").split(".")):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def load_checks(lab_dir: str | Path) -> tuple[str, list[Check]]:
    """(notebook id, checks) of a lab; ``(lab, [])`` when it declares none."""
    lab_dir = Path(lab_dir)
    path = lab_dir / "checks.yaml"
    if not path.is_file():
        return lab_dir.name, []
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise CourseError(f"{path} is not valid YAML: {exc}", path) from exc
    checks = []
    for n, raw in enumerate(doc.get("checks", []), start=1):
        if not isinstance(raw, dict) or "grade_id" not in raw or "method" not in raw:
            raise CourseError(f"{path}: check {n} needs a grade_id and a method", raw)
        if raw["method"] not in METHODS:
            raise CourseError(f"{path}: check {n} calls {raw['method']!r}; checks may only use "
                              f"read-only methods: {', '.join(sorted(METHODS))}", raw)
        expect = raw.get("expect", {".": {"truthy": True}})
        if not isinstance(expect, dict) or not all(isinstance(v, dict) for v in expect.values()):
            raise CourseError(f"{path}: check {n}: expect maps result paths to {{op: value}}", raw)
        bad = {op for ops in expect.values() for op in ops} - set(OPS) - {"truthy"}
        if bad:
            raise CourseError(f"{path}: check {n} has unknown operator(s) {sorted(bad)}", raw)
        checks.append(Check(grade_id=raw["grade_id"], method=raw["method"],
                            params=tuple(raw.get("params", ())), expect=expect,
                            description=raw.get("description", "")))
    return doc.get("notebook", lab_dir.name), checks


def read_endpoints(path: str | Path) -> dict[str, dict[str, str]]:
    """``{student: {"rpc": url, var: value...}}`` from the instructor's CSV."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"no chain endpoints file {path} (columns: student, rpc, variables...)", path)
    with path.open(newline="", encoding="utf-8") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def store_results(gb, lab: str, notebook: str, student: str,
                  results: dict[str, tuple[bool, str]]) -> float:
    """Store each check's result as the auto score of its grade cell (the sentence goes to
    the grade's comment when the cell has one); commits. Returns the points earned."""
    from nbgrader.api import MissingEntry

    total = 0.0
    gb.update_or_create_student(student)
    gb.update_or_create_submission(lab, student)
    for grade_id, (passed, sentence) in results.items():
        try:
            grade = gb.find_grade(grade_id, notebook, lab, student)
        except MissingEntry:
            raise CourseError(f"checks.yaml of {lab} names grade cell {grade_id!r}, which "
                              f"notebook {notebook} does not have", grade_id) from None
        grade.auto_score = float(grade.max_score) if passed else 0.0
        grade.needs_manual_grade = False
        total += grade.auto_score
    gb.db.commit()
    return total
