"""The "tests a student cannot fool" rule: a test cell reads no name the student's code can rebind.

A test cell runs in the student's namespace, after the student's cells. Any name bound there
by an earlier cell (``merkle_root`` imported by the setup cell, ``math``, a given helper such
as ``rejection``, a value a demo computed, even a built-in such as ``type``) can be rebound by
a solution cell, and a test that uses it for its expected value then checks nothing. The rule,
checked statically on the *source* notebook (see docs/labs.md, "Tests a student cannot fool"):

A name an autograded test cell reads must be one of

1. bound by the test cell itself before it is read: ``import``/``from ... import`` (what to use
   for references: ``labchain``'s own functions, the standard library), assignments, ``def``,
   loop and comprehension variables, parameters; a function body may use any name the cell
   binds at its top level (the function runs when the cell calls it);
2. a built-in, only after ``from builtins import *`` (or ``from builtins import <name>``) at the
   top level of the cell: that rebinds every built-in a student's cell shadowed;
3. an exercise name: bound at the top level of one of the lab's solution cells (what the test
   tests), except UPPER_CASE constants a solution cell gives (``B58``, ``VERSION``): the
   student can change those along with the answer, so the test writes the value itself;
4. listed on a ``# trusts: name, name - why`` line of the cell: a deliberate, reviewed
   exception for state that cannot be rebuilt inside the cell (a live testnet handle); the
   reason is required.

Not checkable here, and left to the grader's runtime checks (issue #10 section 1): patching a
module object (``labchain.merkle.merkle_root = ...``, ``math.isclose = ...``) or ``builtins``
itself, and a student's function that rewrites the notebook's globals while the test runs.
Tests therefore prefer literal expected values, and arithmetic to ``math.isclose``.
"""
from __future__ import annotations

import ast
import builtins
import re

from labchain.curriculum.notebook import GradedCell

TRUSTS_LINE = re.compile(r"^#\s*trusts\s*:\s*(?P<names>[^-]*?)\s+-\s+(?P<why>\S.*)$")
BUILTIN_NAMES = frozenset(dir(builtins))
_CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")


def parse_cell(source: str) -> ast.Module | None:
    """The cell's code as a module; IPython magics and shell lines become blank. None if the
    code does not parse (another rule reports that: the notebook fails to run)."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _target_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}


def _bound_by(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement binds in the cell's (module) scope."""
    names: set[str] = set()
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        for alias in stmt.names:
            if alias.name != "*":
                names.add(alias.asname or alias.name.split(".")[0])
        return names
    for node in ast.walk(stmt):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= _bound_by(node)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _star_builtins(stmt: ast.stmt) -> set[str]:
    """Built-ins a ``from builtins import ...`` statement rebinds."""
    if isinstance(stmt, ast.ImportFrom) and stmt.module == "builtins" and stmt.level == 0:
        if any(a.name == "*" for a in stmt.names):
            return set(BUILTIN_NAMES)
        return {a.asname or a.name for a in stmt.names}
    return set()


class _Reads(ast.NodeVisitor):
    """Free names read by a piece of code, resolving function, lambda and comprehension scopes."""

    def __init__(self) -> None:
        self.reads: list[tuple[str, int]] = []
        self._scopes: list[set[str]] = []

    def _local(self, name: str) -> bool:
        return any(name in scope for scope in self._scopes)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and not self._local(node.id):
            self.reads.append((node.id, node.lineno))

    def _function(self, node, body) -> None:
        args = node.args
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.visit(default)
        for deco in getattr(node, "decorator_list", []):
            self.visit(deco)
        params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        local = set(params)
        for stmt in body:
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    local.add(sub.id)
                elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    local.add(sub.name)
                elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                    local |= _bound_by(sub)
                elif isinstance(sub, ast.ExceptHandler) and sub.name:
                    local.add(sub.name)
        self._scopes.append(local)
        for stmt in body:
            self.visit(stmt)
        self._scopes.pop()

    def visit_FunctionDef(self, node) -> None:
        self._function(node, node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._function(node, [ast.Expr(node.body)])

    def _comprehension(self, node, parts) -> None:
        self.visit(node.generators[0].iter)         # evaluated in the enclosing scope
        local: set[str] = set()
        for gen in node.generators:
            local |= _target_names(gen.target)
        self._scopes.append(local)
        for i, gen in enumerate(node.generators):
            if i:
                self.visit(gen.iter)
            for cond in gen.ifs:
                self.visit(cond)
        for part in parts:
            self.visit(part)
        self._scopes.pop()

    def visit_ListComp(self, node) -> None:
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node) -> None:
        self._comprehension(node, [node.key, node.value])


def exercise_names(solution_cells: list[GradedCell]) -> set[str]:
    """Top-level names the solution cells bind, without their UPPER_CASE constants."""
    names: set[str] = set()
    for cell in solution_cells:
        tree = parse_cell(cell.source)
        for stmt in tree.body if tree else []:
            names |= _bound_by(stmt)
    return {n for n in names if not _CONSTANT.match(n)}


def trusted_names(source: str) -> tuple[set[str], list[str]]:
    """Names on the cell's ``# trusts: a, b - why`` lines, and problems with such lines."""
    names: set[str] = set()
    problems = []
    for line in source.splitlines():
        text = line.strip()
        if re.match(r"^#\s*trusts\s*:", text):
            match = TRUSTS_LINE.match(text)
            if not match:
                problems.append(f"'{text}' must read '# trusts: name, name - why the test cannot rebuild them'")
                continue
            names |= {n.strip() for n in match["names"].split(",") if n.strip()}
    return names, problems


def untrusted_reads(test: GradedCell, exercise: set[str]) -> list[str]:
    """One sentence per name the test cell reads that the student's code could have rebound."""
    tree = parse_cell(test.source)
    if tree is None:
        return []
    trusted, problems = trusted_names(test.source)
    whole_cell = set().union(*(_bound_by(s) for s in tree.body)) if tree.body else set()
    bound: set[str] = set()
    builtin_ok: set[str] = set()
    seen: set[str] = set()
    for stmt in tree.body:
        reads = _Reads()
        reads.visit(stmt)
        inside_def = isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
        # a loop, with or try body may read what the statement itself binds (its target)
        own = _bound_by(stmt) if isinstance(stmt, (ast.For, ast.While, ast.If, ast.With, ast.Try)) else set()
        for name, line in reads.reads:
            if name in seen or name in bound or name in own or name in exercise or name in trusted \
                    or name in builtin_ok:
                continue
            if inside_def and name in whole_cell:
                continue
            seen.add(name)
            if name in BUILTIN_NAMES:
                problems.append(f"line {line}: uses the built-in {name!r}, which a student's cell can shadow; "
                                f"start the cell with 'from builtins import *'")
            else:
                problems.append(f"line {line}: reads {name!r}, which the student's code can rebind; "
                                f"import or define it in this test cell")
        bound |= _bound_by(stmt)
        builtin_ok |= _star_builtins(stmt)
    return problems
