"""Contract compiler: checks a contract's Python source against the contract language and turns
each function into a tree of Python closures the VM runs (a closure-compiling interpreter).

Terminology
-----------
contract language
    A whitelisted subset of Python, parsed with :mod:`ast` (never compiled to CPython bytecode,
    never ``exec``/``eval``'d). Module level: a docstring, ``from contract import *``, constants
    (``NAME = <constant expression>``), storage declarations (``name = storage.map(K, V)``,
    ``name = storage.value(V)``; a map may have several key types: ``storage.map((bytes, bytes), int)``),
    events (``class Transfer(Event):`` with ``field: type`` or ``field: Indexed[type]`` lines) and
    ``def`` functions, public unless the name starts with ``_``; ``init`` runs once at deployment.
    Inside functions: assignment (also ``a, b = ...``, ``+=``), ``if``/``elif``/``else``, ``for``
    over lists/dicts/str/bytes/``range``, ``while``, ``break``, ``continue``, ``return``, ``pass``,
    ``assert``, ``del``; ints, bools, str, bytes, None, lists, dicts, comprehensions, f-strings.
    Not allowed (each named in the compile error): imports, floats, complex numbers, sets, lambdas,
    nested functions and classes, generators, ``try``/``with``/``raise``/``global``, decorators,
    ``*args``/``**kwargs``, star-expressions, ``:=``, ``/`` (true division), ``is`` other than
    ``is None``, any name or attribute with a leading underscore pair (dunder) or an attribute
    outside the method whitelist, and every builtin not in the contract library (``getattr``,
    ``eval``, ``open``, ``type``, ``print``, ...).
static price
    The fixed part of a statement's gas: the sum of the prices (``gas.GAS``) of the operations
    written in it, charged when the statement starts (also for operands an ``and``/``or``/``if``
    expression then skips). Loop tests and comprehension bodies are charged per iteration;
    sizes, storage and calls are charged when they happen (``runtime.py``).

Python semantics differ in a few places, all deliberately: tuples are lists; comprehension
variables are function locals; a storage read returns a copy (mutate it, then assign it back);
``bool`` is not accepted where an ``int`` annotation is declared; ``/`` does not exist (use ``//``).

Simplifications versus real chains: Ethereum contracts compile to EVM bytecode that every node
runs identically; ChainMaker runs WASM/EVM/Docker-Go contracts. Our "bytecode" is the source
itself (its SHA-256 is the code hash), and every node re-compiles it with this compiler, so the
compiler is part of consensus: changing it is a hard fork.
"""
from __future__ import annotations

import ast
import hashlib
import operator
from dataclasses import dataclass, field
from typing import Any, Callable

from labchain.ledger.contracts import gas as G
from labchain.ledger.contracts import runtime as R
from labchain.ledger.contracts.errors import ContractCompileError
from labchain.ledger.contracts.runtime import (BREAK, CONTINUE, RET, UNSET, OutOfGas, Revert, VMFault,
                                                charge, check_len, oog)

GAS = G.GAS
BIG = 1 << 63

LIBRARY_CALLS = {"len", "range", "min", "max", "abs", "sum", "sorted", "reversed", "any", "all", "list", "dict",
                 "int", "str", "bool", "bytes", "isinstance", "pow", "enumerate", "zip", "require", "revert",
                 "emit", "sha256", "balance", "transfer", "call", "create"}
LIBRARY_NAMES = {"msg", "block", "this"} | LIBRARY_CALLS
MSG_ATTRS = {"sender": "sender", "value": "value", "origin": "origin"}
BLOCK_ATTRS = {"height": "block_height", "timestamp": "block_timestamp", "chain_id": "chain_id"}
METHODS = {"append", "pop", "insert", "extend", "index", "count", "remove", "reverse", "clear", "copy", "sort",
           "get", "keys", "values", "items", "update", "setdefault", "upper", "lower", "strip", "isdigit",
           "isalpha", "isalnum", "startswith", "endswith", "find", "split", "join", "replace", "encode",
           "decode", "hex", "bit_length", "to_bytes"}
FORBIDDEN_NAMES = {
    "getattr": "getattr is not allowed in contracts (no reflection)",
    "setattr": "setattr is not allowed in contracts (no reflection)",
    "delattr": "delattr is not allowed in contracts (no reflection)",
    "hasattr": "hasattr is not allowed in contracts (no reflection)",
    "eval": "eval is not allowed in contracts", "exec": "exec is not allowed in contracts",
    "compile": "compile is not allowed in contracts", "open": "open is not allowed in contracts (no I/O)",
    "print": "print is not allowed in contracts (no I/O; emit an event instead)",
    "input": "input is not allowed in contracts (no I/O)", "globals": "globals is not allowed in contracts",
    "locals": "locals is not allowed in contracts", "vars": "vars is not allowed in contracts",
    "dir": "dir is not allowed in contracts", "type": "type is not allowed in contracts (use isinstance)",
    "object": "object is not allowed in contracts", "super": "super is not allowed in contracts",
    "id": "id is not allowed in contracts (not deterministic)", "hash": "hash is not allowed in contracts "
    "(not deterministic across processes; use sha256)", "float": "floating-point numbers are not allowed in contracts",
    "set": "sets are not allowed in contracts", "frozenset": "sets are not allowed in contracts",
    "complex": "complex numbers are not allowed in contracts", "iter": "iter is not allowed in contracts",
    "next": "next is not allowed in contracts", "breakpoint": "breakpoint is not allowed in contracts",
    "memoryview": "memoryview is not allowed in contracts", "classmethod": "classmethod is not allowed in contracts",
    "staticmethod": "staticmethod is not allowed in contracts", "property": "property is not allowed in contracts",
    "help": "help is not allowed in contracts", "exit": "exit is not allowed in contracts",
    "quit": "quit is not allowed in contracts", "round": "round is not allowed in contracts (no floats)",
    "divmod": "divmod is not available in contracts (use // and %)", "repr": "repr is not available in contracts",
    "chr": "chr is not available in contracts", "ord": "ord is not available in contracts",
    "time": "clocks are not allowed in contracts (use block.timestamp)",
    "random": "randomness is not allowed in contracts (not deterministic)",
}
STMT_NAMES = {
    ast.Import: "imports are not allowed in contracts", ast.ImportFrom: "imports are not allowed in contracts "
    "(only 'from contract import *')", ast.Try: "try/except is not allowed in contracts (use require)",
    ast.With: "with statements are not allowed in contracts", ast.Raise: "raise is not allowed in contracts "
    "(use require or revert)", ast.Global: "global statements are not allowed in contracts (use storage)",
    ast.Nonlocal: "nonlocal statements are not allowed in contracts", ast.ClassDef: "classes other than "
    "top-level events are not allowed in contracts", ast.FunctionDef: "nested functions are not allowed in contracts",
    ast.AsyncFunctionDef: "async functions are not allowed in contracts", ast.AsyncFor: "async for is not "
    "allowed in contracts", ast.AsyncWith: "async with is not allowed in contracts",
    ast.Match: "match statements are not allowed in contracts", ast.Lambda: "lambda expressions are not "
    "allowed in contracts", ast.Set: "sets are not allowed in contracts", ast.SetComp: "sets are not "
    "allowed in contracts", ast.GeneratorExp: "generator expressions are not allowed in contracts (use a "
    "list comprehension)", ast.Yield: "yield is not allowed in contracts", ast.YieldFrom: "yield is not "
    "allowed in contracts", ast.Await: "await is not allowed in contracts", ast.NamedExpr: "assignment "
    "expressions (:=) are not allowed in contracts", ast.Starred: "star-expressions (*x) are not allowed "
    "in contracts",
}
if hasattr(ast, "TryStar"):
    STMT_NAMES[ast.TryStar] = "try/except is not allowed in contracts (use require)"

ARITH = {ast.Add: ("add", operator.add, "arith"), ast.Sub: ("sub", operator.sub, "arith"),
         ast.Mult: ("mul", operator.mul, "mul"), ast.FloorDiv: ("floordiv", operator.floordiv, "mul"),
         ast.Mod: ("mod", operator.mod, "mul"), ast.Pow: ("pow", None, "pow"),
         ast.LShift: ("lshift", operator.lshift, "shift"), ast.RShift: ("rshift", operator.rshift, "shift"),
         ast.BitAnd: ("and", operator.and_, "arith"), ast.BitOr: ("or", operator.or_, "arith"),
         ast.BitXor: ("xor", operator.xor, "arith")}
CMP = {ast.Eq: ("==", operator.eq), ast.NotEq: ("!=", operator.ne), ast.Lt: ("<", operator.lt),
       ast.LtE: ("<=", operator.le), ast.Gt: (">", operator.gt), ast.GtE: (">=", operator.ge)}

Closure = Callable[[list], Any]


# -- what a compiled program holds ------------------------------------------------------------

class Function:
    """A compiled contract function."""

    __slots__ = ("name", "params", "defaults", "types", "nslots", "body", "names", "line", "public", "nparams",
                 "untyped", "pad")

    def __init__(self, name: str, params: list, defaults: list, types: list, line: int) -> None:
        self.name = name
        self.params = params
        self.defaults = defaults            # values for the last len(defaults) params
        self.types = types                  # None (any) or a type per param
        self.nslots = 0
        self.body: Closure = lambda fr: None
        self.names: list[str] = []          # slot -> local name (for traces)
        self.line = line
        self.public = not name.startswith("_")
        self.nparams = len(params)
        self.untyped = all(t is None for t in types)
        self.pad: list = []                 # UNSET for every non-parameter local (set after compiling)

    def bind(self, args: list) -> list:
        n, p = len(args), len(self.params)
        if not p - len(self.defaults) <= n <= p:
            need = str(p) if not self.defaults else f"{p - len(self.defaults)} to {p}"
            raise Revert(f"{self.name}() takes {need} argument(s), {n} given")
        slots = list(args)
        if n < p:
            slots.extend(self.defaults[n - p:])
        for i, tp in enumerate(self.types):
            if tp is not None and type(slots[i]) is not tp:
                raise Revert(f"argument '{self.params[i]}' of {self.name}() must be {tp.__name__}, "
                             f"not {R.tname(slots[i])}")
        slots.extend([UNSET] * (self.nslots - p))
        return slots


class Compiled:
    """The closures of one program, in one mode (plain or traced)."""

    __slots__ = ("program", "functions", "public")

    def __init__(self, program: "Program", functions: dict) -> None:
        self.program = program
        self.functions = functions
        self.public = {n: f for n, f in functions.items() if f.public and n != "init"}


@dataclass(frozen=True, slots=True)
class Program:
    """A compiled contract. Canonical bytes: the source, UTF-8 (:meth:`to_bytes`); ``code_hash`` is
    their SHA-256. ``functions``: the public functions a transaction may call (``init`` excluded:
    it runs only at deployment, see :attr:`has_init`); ``events``: the declared event names."""

    source: str
    code_hash: bytes
    functions: tuple[str, ...]
    events: tuple[str, ...]
    name: str = field(default="contract", compare=False)
    _module: Any = field(default=None, repr=False, compare=False)

    @property
    def has_init(self) -> bool:
        return "init" in self._module.funcs

    @property
    def storage(self) -> tuple[str, ...]:
        return tuple(self._module.storage)

    def to_bytes(self) -> bytes:
        return self.source.encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "contract") -> "Program":
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise ContractCompileError("contract code is not valid UTF-8 text", None, None, data) from None
        return compile_contract(text, name)

    def compiled(self, traced: bool = False) -> Compiled:
        cache = self._module.compiled
        got = cache.get(traced)
        if got is None:
            got = cache[traced] = _Compiler(self._module, traced).compile_functions(self)
        return got

    def signature(self, function: str) -> str:
        """``transfer(to: bytes, amount: int)`` (for error messages and the debugger)."""
        fn = self._module.funcs[function]
        parts = []
        for i, p in enumerate(fn.args.args):
            ann = p.annotation
            parts.append(p.arg + (f": {ann.id}" if isinstance(ann, ast.Name) else ""))
        return f"{function}({', '.join(parts)})"


class _Module:
    """The checked declarations of a contract (shared by both compiled modes)."""

    def __init__(self, source: str, tree: ast.Module) -> None:
        self.source = source
        self.tree = tree
        self.consts: dict[str, Any] = {}
        self.storage: dict[str, R.StorageDecl] = {}
        self.events: dict[str, R.EventDecl] = {}
        self.funcs: dict[str, ast.FunctionDef] = {}
        self.compiled: dict[bool, Compiled] = {}


def _err(node: ast.AST | None, what: str, source: str | None = None) -> ContractCompileError:
    line = getattr(node, "lineno", None)
    col = getattr(node, "col_offset", None)
    return ContractCompileError(what, line, None if col is None else col + 1, source)


# -- entry point ------------------------------------------------------------------------------

def compile_contract(source: str, name: str = "contract") -> Program:
    """Check ``source`` against the contract language and compile it; raises
    :class:`ContractCompileError` with ``.line``/``.col`` and a sentence naming the problem."""
    if not isinstance(source, str):
        raise ContractCompileError(f"contract source must be a str, not {type(source).__name__}", None, None, source)
    raw = source.encode("utf-8", "surrogatepass")
    if len(raw) > G.MAX_SOURCE_BYTES:
        raise ContractCompileError(f"contract source is {len(raw)} bytes, more than the {G.MAX_SOURCE_BYTES}-byte "
                                   "limit", None, None, source)
    try:
        source.encode("utf-8")
    except UnicodeEncodeError:
        raise ContractCompileError("contract source contains a lone surrogate character", None, None, source) from None
    try:
        tree = ast.parse(source, filename=f"<{name}>", mode="exec")
    except SyntaxError as e:
        raise ContractCompileError(f"syntax error: {e.msg}", e.lineno, e.offset, source) from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as e:
        what = "the source nests too deeply" if isinstance(e, (RecursionError, MemoryError)) else str(e)
        raise ContractCompileError(f"the source cannot be parsed: {what}", None, None, source) from None
    module = _Module(source, tree)
    try:
        _declare(module, tree)
        program = Program(source, hashlib.sha256(raw).digest(),
                          tuple(n for n in module.funcs if not n.startswith("_") and n != "init"),
                          tuple(module.events), name, module)
        program.compiled(False)            # compile now: every error surfaces at compile time
    except ContractCompileError as e:
        if e.obj is None:
            e.obj = source
        raise
    return program


# -- module level ---------------------------------------------------------------------------------

def _declare(m: _Module, tree: ast.Module) -> None:
    seen: dict[str, int] = {}

    def claim(node: ast.AST, name: str, is_function: bool = False) -> None:
        _check_name(node, name)
        # a contract function may shadow a library function (a token's transfer(), as in Python)
        if (name in LIBRARY_NAMES and not (is_function and name in LIBRARY_CALLS)) or \
                name in ("storage", "Event", "Indexed", "msg", "block", "this"):
            raise _err(node, f"'{name}' is a name of the contract library and cannot be redefined")
        if name in R.TYPES:
            raise _err(node, f"'{name}' is a type name and cannot be redefined")
        if name in seen:
            raise _err(node, f"'{name}' is already defined at line {seen[name]}")
        seen[name] = node.lineno

    for i, node in enumerate(tree.body):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue                                                     # docstring
        if isinstance(node, ast.ImportFrom) and node.module == "contract" and len(node.names) == 1 \
                and node.names[0].name == "*" and node.level == 0:
            continue                                                     # from contract import *
        if isinstance(node, ast.FunctionDef):
            claim(node, node.name, True)
            m.funcs[node.name] = node
        elif isinstance(node, ast.ClassDef):
            claim(node, node.name)
            m.events[node.name] = _event_decl(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if len(targets) != 1 or not isinstance(targets[0], ast.Name) or node.value is None:
                raise _err(node, "a top-level assignment must be 'NAME = value' (a constant or a storage declaration)")
            name = targets[0].id
            claim(targets[0], name)
            value = node.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and \
                    isinstance(value.func.value, ast.Name) and value.func.value.id == "storage":
                m.storage[name] = _storage_decl(name, value)
            else:
                m.consts[name] = _constant(m, value)
        else:
            raise _err(node, _construct(node) or f"{type(node).__name__} statements are not allowed at the top "
                       "level of a contract (only constants, storage, events and functions)")


def _construct(node: ast.AST) -> str | None:
    for cls, what in STMT_NAMES.items():
        if isinstance(node, cls):
            return what
    return None


def _check_name(node: ast.AST, name: str) -> None:
    if "__" in name:
        raise _err(node, f"dunder names are not allowed in contracts: {name}")


def _type_of(node: ast.AST, what: str) -> type | None:
    if isinstance(node, ast.Name) and node.id in R.TYPES:
        return R.TYPES[node.id]
    if isinstance(node, ast.Constant) and node.value is None:
        return None
    raise _err(node, f"{what} must be one of {', '.join(R.TYPES)}")


def _storage_decl(name: str, call: ast.Call) -> R.StorageDecl:
    kind = call.func.attr
    if call.keywords:
        raise _err(call, "storage declarations take positional arguments: storage.map(K, V) or storage.value(V)")
    if kind == "map":
        if len(call.args) != 2:
            raise _err(call, f"storage.map takes a key type and a value type: {name} = storage.map(bytes, int)")
        k = call.args[0]
        keys = tuple(_type_of(e, "a storage key type") for e in k.elts) if isinstance(k, ast.Tuple) else \
            (_type_of(k, "a storage key type"),)
        for t, node in zip(keys, k.elts if isinstance(k, ast.Tuple) else [k]):
            if t not in (int, str, bytes):
                raise _err(node, "storage map keys must be int, str or bytes")
        return R.StorageDecl(name, True, keys, _type_of(call.args[1], "a storage value type"))
    if kind == "value":
        if len(call.args) != 1:
            raise _err(call, f"storage.value takes the value type: {name} = storage.value(int)")
        return R.StorageDecl(name, False, (), _type_of(call.args[0], "a storage value type"))
    raise _err(call, f"storage has no '{kind}'; use storage.map(K, V) or storage.value(V)")


def _event_decl(node: ast.ClassDef) -> R.EventDecl:
    if node.decorator_list or node.keywords or len(node.bases) != 1 or not isinstance(node.bases[0], ast.Name) \
            or node.bases[0].id != "Event":
        raise _err(node, "classes are not allowed in contracts, except event declarations: class Name(Event):")
    fields, types, indexed = [], [], []
    for item in node.body:
        if isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant) and isinstance(item.value.value, str):
            continue
        if isinstance(item, ast.Pass):
            continue
        if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is None):
            raise _err(item, "an event body may only declare fields: 'name: type' or 'name: Indexed[type]'")
        _check_name(item.target, item.target.id)
        ann = item.annotation
        idx = isinstance(ann, ast.Subscript) and isinstance(ann.value, ast.Name) and ann.value.id == "Indexed"
        fields.append(item.target.id)
        types.append(_type_of(ann.slice if idx else ann, f"the type of event field '{item.target.id}'"))
        indexed.append(idx)
    if sum(indexed) > 3:
        raise _err(node, f"event {node.name} has {sum(indexed)} Indexed fields; at most 3 (Ethereum: 3 topics "
                   "besides the event's own)")
    return R.EventDecl(node.name, tuple(fields), tuple(types), tuple(indexed))


def _constant(m: _Module, node: ast.expr) -> Any:
    """Evaluate a top-level constant expression with the contract evaluator itself."""
    comp = _Compiler(m, False)
    comp.constant_mode = True
    fn = Function("<constant>", [], [], [], getattr(node, "lineno", 0))
    comp.begin(fn)
    closure = comp.expr(node)
    vm = R.VM(None, 1_000_000)
    try:
        value = closure([vm, None, None])
    except VMFault as e:
        raise _err(node, f"this constant cannot be computed: {e.reason}") from None
    except Exception as e:      # noqa: BLE001 -- any Python-level failure is the constant's fault
        raise _err(node, f"this constant cannot be computed: {R.python_error(e)}") from None
    return value


# -- function bodies -------------------------------------------------------------------------------

class _Compiler:
    def __init__(self, m: _Module, traced: bool) -> None:
        self.m = m
        self.traced = traced
        self.constant_mode = False
        self.fn: Function | None = None
        self.slots: dict[str, int] = {}
        self.cost = 0                    # static price of the statement being compiled
        self.depth = 0
        self.loops = 0
        self.infos: dict[str, Function] = {}

    def compile_functions(self, program: Program) -> Compiled:
        for name, node in self.m.funcs.items():
            self.infos[name] = self.signature(node)
        for name, node in self.m.funcs.items():
            self.function(node, self.infos[name])
        return Compiled(program, dict(self.infos))

    def signature(self, node: ast.FunctionDef) -> Function:
        a = node.args
        if node.decorator_list:
            raise _err(node.decorator_list[0], "decorators are not allowed in contracts")
        if a.vararg or a.kwarg:
            raise _err(node, f"*args and **kwargs are not allowed in contracts ({node.name})")
        if a.kwonlyargs or a.posonlyargs:
            raise _err(node, f"keyword-only and positional-only parameters are not allowed in contracts ({node.name})")
        params, types = [], []
        for p in a.args:
            _check_name(p, p.arg)
            if p.arg in LIBRARY_NAMES or p.arg in self.m.storage or p.arg in self.m.events:
                raise _err(p, f"parameter '{p.arg}' would hide a name of the contract library or the contract")
            if p.arg in params:
                raise _err(p, f"duplicate parameter '{p.arg}'")
            params.append(p.arg)
            types.append(None if p.annotation is None else _type_of(p.annotation, f"the annotation of '{p.arg}'"))
        defaults = []
        for d in a.defaults:
            v = _constant(self.m, d)
            if type(v) not in (int, str, bytes, bool) and v is not None:
                raise _err(d, "default values must be int, str, bytes, bool or None")
            defaults.append(v)
        fn = Function(node.name, params, defaults, types, node.lineno)
        return fn

    def begin(self, fn: Function) -> None:
        self.fn = fn
        self.slots = {p: i for i, p in enumerate(fn.params)}
        fn.names = list(fn.params)

    def slot(self, node: ast.AST, name: str) -> int:
        _check_name(node, name)
        if name in self.slots:
            return self.slots[name]
        if name in LIBRARY_NAMES or name in self.m.storage or name in self.m.events or name in self.m.funcs \
                or name in R.TYPES:
            what = ("storage" if name in self.m.storage else "event" if name in self.m.events else
                    "function" if name in self.m.funcs else "library")
            hint = f" (write {name}[key] = value)" if what == "storage" and self.m.storage[name].is_map else \
                f" (write {name}.set(value))" if what == "storage" else ""
            raise _err(node, f"cannot assign to '{name}', a {what} name{hint}")
        i = self.slots[name] = len(self.fn.names)
        self.fn.names.append(name)
        return i

    def function(self, node: ast.FunctionDef, fn: Function) -> None:
        self.begin(fn)
        _check_name(node, node.name)
        # every name assigned anywhere in the body is a local (as in Python)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store) and sub.id not in self.slots:
                self.slot(sub, sub.id)
        body = self.block(node.body)
        fn.body = body
        fn.nslots = len(fn.names)
        fn.pad = [UNSET] * (fn.nslots - len(fn.params))

    # -- statements ---------------------------------------------------------------------------

    def block(self, stmts: list[ast.stmt]) -> Closure:
        closures = [self.stmt(s) for s in stmts
                    if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        closures = [c for c in closures if c is not None]
        if not closures:
            return lambda fr: None
        if len(closures) == 1:
            return closures[0]
        if len(closures) == 2:
            a, b = closures

            def run2(fr: list) -> Any:
                r = a(fr)
                if r is not None:
                    return r
                return b(fr)
            return run2
        seq = tuple(closures)

        def run(fr: list) -> Any:
            for s in seq:
                r = s(fr)
                if r is not None:
                    return r
            return None
        return run

    def stmt(self, node: ast.stmt) -> Closure | None:
        self.depth += 1
        if self.depth > G.MAX_NESTING:
            raise _err(node, f"this code nests more than {G.MAX_NESTING} levels deep")
        saved, self.cost = self.cost, GAS["stmt"]
        self.fused = None
        method = getattr(self, "s_" + type(node).__name__, None)
        if method is None:
            raise _err(node, _construct(node) or f"{type(node).__name__} statements are not allowed in contracts")
        body = method(node)
        cost, self.cost = self.cost, saved
        self.depth -= 1
        fused, self.fused = self.fused, None     # inner statements must not leave theirs to the parent
        if fused is not None and not self.traced:
            return _fuse(fused, cost, node.lineno)
        return self.wrap(node, body, cost)

    def wrap(self, node: ast.stmt, body: Closure, cost: int) -> Closure:
        line = node.lineno
        def stmt(fr: list) -> Any:
            vm = fr[0]
            vm.gas -= cost
            if vm.gas < 0:
                raise OutOfGas("out of gas", line)
            try:
                return body(fr)
            except VMFault as e:
                if e.line is None:
                    e.line = line
                raise
            except Exception as e:   # noqa: BLE001 -- a Python error in student code ends the call
                raise Revert(R.python_error(e), line) from None
        if not self.traced:
            return stmt
        op = _op_name(node)
        fn = self.fn

        def traced_stmt(fr: list) -> Any:
            fr[0].tracer(fr, line, op, fn)      # the step is recorded before the statement is charged
            return stmt(fr)
        return traced_stmt

    def s_Pass(self, node: ast.Pass) -> Closure:
        return lambda fr: None

    def s_Break(self, node: ast.Break) -> Closure:
        if not self.loops:
            raise _err(node, "'break' outside a loop")
        return lambda fr: BREAK

    def s_Continue(self, node: ast.Continue) -> Closure:
        if not self.loops:
            raise _err(node, "'continue' outside a loop")
        return lambda fr: CONTINUE

    def s_Expr(self, node: ast.Expr) -> Closure:
        value = self.expr(node.value)
        self.fused = ("expr", value)

        def expr_stmt(fr: list) -> None:
            value(fr)
        return expr_stmt

    def s_Return(self, node: ast.Return) -> Closure:
        if node.value is None:
            def ret_none(fr: list) -> Any:
                fr[2] = None
                return RET
            return ret_none
        value = self.expr(node.value)
        self.fused = ("return", value)

        def ret(fr: list) -> Any:
            fr[2] = value(fr)
            return RET
        return ret

    def s_Assign(self, node: ast.Assign) -> Closure:
        value = self.expr(node.value)
        setters = [self.target(t) for t in node.targets]
        if len(setters) == 1:
            t = node.targets[0]
            if isinstance(t, ast.Name):
                i = 3 + self.slots[t.id]
                self.fused = ("assign", (i, value))

                def assign_local(fr: list) -> None:
                    fr[i] = value(fr)
                return assign_local
            setter = setters[0]

            def assign1(fr: list) -> None:
                setter(fr, value(fr))
            return assign1

        def assign(fr: list) -> None:
            v = value(fr)
            for s in setters:
                s(fr, v)
        return assign

    def s_AnnAssign(self, node: ast.AnnAssign) -> Closure:
        if not isinstance(node.target, ast.Name):
            raise _err(node, "annotated assignment needs a simple name: x: int = 0")
        tp = _type_of(node.annotation, f"the annotation of '{node.target.id}'")
        if node.value is None:
            return lambda fr: None
        value = self.expr(node.value)
        i = 3 + self.slots[node.target.id]
        what = f"'{node.target.id}'"

        def ann_assign(fr: list) -> None:
            fr[i] = R.check_type(value(fr), tp, what)
        return ann_assign

    def s_AugAssign(self, node: ast.AugAssign) -> Closure:
        op = self.binop_fn(node.op, node)
        value, spec = self.operand(node.value)
        t = node.target
        if isinstance(t, ast.Name):
            if t.id not in self.slots:
                raise _err(t, f"'{t.id}' is not a local variable of {self.fn.name}()")
            self.cost += GAS["load"] + GAS["store"]
            i = 3 + self.slots[t.id]
            name = t.id
            opname, pyop, _ = ARITH[type(node.op)]
            if pyop is not None and opname != "lshift" and (opname not in ("floordiv", "mod") or (
                    spec is not None and spec[0] == "const" and type(spec[1]) is int and spec[1])):
                # x op= v is x = x op v for a local (ints and sequences alike: no in-place mutation)
                arith = R.arith
                new = _int_operation(pyop, lambda vm, a, b: arith(vm, opname, a, b),
                                     (_read_local(i, name), ("local", i, name)), (value, spec))
                self.fused = ("assign", (i, new))

                def aug_fused(fr: list) -> None:
                    fr[i] = new(fr)
                return aug_fused

            def aug_local(fr: list) -> None:
                cur = fr[i]
                if cur is UNSET:
                    raise Revert(f"local variable '{name}' is used before it is assigned")
                fr[i] = op(fr[0], cur, value(fr))
            return aug_local
        if isinstance(t, ast.Subscript):
            decl, key = self.item_target(t, "slice assignment is not allowed in contracts",
                                         "'{0}' is a storage value, not a map; write {0}.set({0}.get() + x)")
            self.cost += GAS["subscript"]          # read and write
            if decl is not None:
                def aug_storage(fr: list) -> None:
                    vm, call = fr[0], fr[1]
                    k = key(fr)
                    R.sstore(vm, call, decl, k, op(vm, R.sload(vm, call, decl, k), value(fr)))
                return aug_storage
            obj = self.expr(t.value)

            def aug_item(fr: list) -> None:
                vm = fr[0]
                o, k = obj(fr), key(fr)
                R.setitem(vm, o, k, op(vm, R.getitem(vm, o, k), value(fr)))
            return aug_item
        raise _err(t, "only names and subscripts can be assigned to in contracts")

    def s_If(self, node: ast.If) -> Closure:
        test = self.expr(node.test)
        self.cost += GAS["bool"]
        body = self.block(node.body)
        orelse = self.block(node.orelse) if node.orelse else None
        self.fused = ("if", (test, body, orelse))
        if orelse is None:
            def if_(fr: list) -> Any:
                if test(fr):
                    return body(fr)
                return None
            return if_

        def if_else(fr: list) -> Any:
            if test(fr):
                return body(fr)
            return orelse(fr)
        return if_else

    def s_While(self, node: ast.While) -> Closure:
        if node.orelse:
            raise _err(node, "while/else is not allowed in contracts")
        saved, self.cost = self.cost, GAS["loop"] + GAS["bool"]
        test = self.expr(node.test)
        per_iter, self.cost = self.cost, saved
        self.loops += 1
        body = self.block(node.body)
        self.loops -= 1

        def while_(fr: list) -> Any:
            vm = fr[0]
            while True:
                vm.gas -= per_iter
                if vm.gas < 0:
                    oog()
                if not test(fr):
                    return None
                r = body(fr)
                if r is not None:
                    if r is BREAK:
                        return None
                    if r is not CONTINUE:
                        return r
        return while_

    def s_For(self, node: ast.For) -> Closure:
        if node.orelse:
            raise _err(node, "for/else is not allowed in contracts")
        it = self.iterable(node.iter)
        saved, self.cost = self.cost, GAS["loop"]
        setter = self.target(node.target)
        per_iter, self.cost = self.cost, saved
        self.loops += 1
        body = self.block(node.body)
        self.loops -= 1
        simple = 3 + self.slots[node.target.id] if isinstance(node.target, ast.Name) else None

        def for_(fr: list) -> Any:
            vm = fr[0]
            for x in it(fr):
                vm.gas -= per_iter
                if vm.gas < 0:
                    oog()
                if simple is not None:
                    fr[simple] = x
                else:
                    setter(fr, x)
                r = body(fr)
                if r is not None:
                    if r is BREAK:
                        return None
                    if r is not CONTINUE:
                        return r
            return None
        return for_

    def s_Assert(self, node: ast.Assert) -> Closure:
        test = self.expr(node.test)
        msg = self.expr(node.msg) if node.msg is not None else None
        self.cost += GAS["builtin"]

        def assert_(fr: list) -> None:
            if not test(fr):
                raise Revert(_reason(msg(fr)) if msg is not None else "assertion failed")
        return assert_

    def s_Delete(self, node: ast.Delete) -> Closure:
        parts = []
        for t in node.targets:
            if not isinstance(t, ast.Subscript):
                raise _err(t, "del works only on items: del d[key], del items[i], del storage_map[key]")
            decl, key = self.item_target(t, "del works only on items: del d[key], del items[i], del storage_map[key]",
                                         "'{0}' is a storage value; clear it with {0}.set(...)")
            if decl is not None:
                parts.append((decl, None, key))
            else:
                parts.append((None, self.expr(t.value), key))

        def delete(fr: list) -> None:
            vm = fr[0]
            for decl, obj, key in parts:
                if decl is not None:
                    R.sstore(vm, fr[1], decl, key(fr), None, True)
                else:
                    R.delitem(vm, obj(fr), key(fr))
        return delete

    def s_FunctionDef(self, node: ast.FunctionDef) -> Closure:
        raise _err(node, "nested functions are not allowed in contracts")

    # -- assignment targets ------------------------------------------------------------------

    def target(self, t: ast.expr) -> Callable[[list, Any], None]:
        if isinstance(t, ast.Name):
            i = 3 + self.slot(t, t.id)
            self.cost += GAS["store"]

            def set_local(fr: list, v: Any) -> None:
                fr[i] = v
            return set_local
        if isinstance(t, (ast.Tuple, ast.List)):
            subs = [self.target(e) for e in t.elts]
            n = len(subs)

            def set_unpack(fr: list, v: Any) -> None:
                for s, x in zip(subs, R.unpack(v, n)):
                    s(fr, x)
            return set_unpack
        if isinstance(t, ast.Subscript):
            decl, key = self.item_target(t, "slice assignment is not allowed in contracts",
                                         "'{0}' is a storage value, not a map; write {0}.set(value)")
            if decl is not None:
                def set_storage(fr: list, v: Any) -> None:
                    R.sstore(fr[0], fr[1], decl, key(fr), v)
                return set_storage
            obj = self.expr(t.value)

            def set_item(fr: list, v: Any) -> None:
                R.setitem(fr[0], obj(fr), key(fr), v)
            return set_item
        if isinstance(t, ast.Attribute):
            raise _err(t, "assigning to attributes is not allowed in contracts")
        if isinstance(t, ast.Starred):
            raise _err(t, STMT_NAMES[ast.Starred])
        raise _err(t, f"cannot assign to a {type(t).__name__} in contracts")

    def item_target(self, t: ast.Subscript, slice_refusal: str, value_refusal: str) -> tuple:
        """``(storage declaration or None, key closure)`` of an item that is written or deleted."""
        if isinstance(t.slice, ast.Slice):
            raise _err(t, slice_refusal)
        key = self.expr(t.slice)
        self.cost += GAS["subscript"]
        decl = self.storage_name(t.value)
        if decl is not None and not decl.is_map:
            raise _err(t, value_refusal.format(decl.name))
        return decl, key

    def storage_name(self, node: ast.expr) -> R.StorageDecl | None:
        if isinstance(node, ast.Name) and node.id in self.m.storage and node.id not in self.slots:
            return self.m.storage[node.id]
        return None

    # -- expressions ----------------------------------------------------------------------------

    def expr(self, node: ast.expr) -> Closure:
        self.depth += 1
        if self.depth > G.MAX_NESTING:
            raise _err(node, f"this code nests more than {G.MAX_NESTING} levels deep")
        method = getattr(self, "e_" + type(node).__name__, None)
        if method is None:
            raise _err(node, _construct(node) or f"{type(node).__name__} expressions are not allowed in contracts")
        closure = method(node)
        self.depth -= 1
        return closure

    def e_Constant(self, node: ast.Constant) -> Closure:
        v = node.value
        if isinstance(v, float):
            raise _err(node, "floating-point numbers are not allowed in contracts")
        if isinstance(v, complex):
            raise _err(node, "complex numbers are not allowed in contracts")
        if v is ...:
            raise _err(node, "... (Ellipsis) is not allowed in contracts")
        if type(v) is int and v.bit_length() > G.MAX_INT_BITS:
            raise _err(node, f"this integer literal has more than {G.MAX_INT_BITS} bits")
        self.cost += GAS["load"]
        return lambda fr: v

    def e_Name(self, node: ast.Name) -> Closure:
        name = node.id
        _check_name(node, name)
        if name in self.slots:
            self.cost += GAS["load"]
            return _read_local(3 + self.slots[name], name)
        if name in self.m.consts:
            v = self.m.consts[name]
            self.cost += GAS["load"]
            if type(v) in (list, dict):
                def const_copy(fr: list) -> Any:
                    return R.copy_value(fr[0], v, f"constant {name}")
                return const_copy
            return lambda fr: v
        if name == "this":
            self._runtime_only(node, name)
            self.cost += GAS["load"]
            return lambda fr: fr[1].address
        if name in ("True", "False", "None"):
            raise AssertionError(name)
        if name in FORBIDDEN_NAMES:
            raise _err(node, FORBIDDEN_NAMES[name])
        if name in self.m.storage:
            d = self.m.storage[name]
            raise _err(node, f"storage '{name}' is read with {name}[key]" if d.is_map else
                       f"storage '{name}' is read with {name}.get()")
        if name in self.m.funcs:
            raise _err(node, f"functions are not values in contracts; call {name}(...)")
        if name in self.m.events:
            raise _err(node, f"events are used only as emit({name}(...))")
        if name in LIBRARY_NAMES or name in R.TYPES:
            raise _err(node, f"'{name}' must be called or used with an attribute here, not used as a value")
        raise _err(node, f"name '{name}' is not defined")

    def _runtime_only(self, node: ast.AST, name: str) -> None:
        if self.constant_mode:
            raise _err(node, f"'{name}' is not known when constants are computed (use it inside a function)")

    def binop_fn(self, op: ast.operator, node: ast.AST) -> Callable[[Any, Any, Any], Any]:
        if isinstance(op, ast.Div):
            raise _err(node, "true division '/' gives floats, which contracts do not have; use '//'")
        if isinstance(op, ast.MatMult):
            raise _err(node, "the '@' operator is not allowed in contracts")
        name, pyop, price = ARITH[type(op)]
        self.cost += GAS[price]
        arith = R.arith
        if pyop is None or name == "lshift":
            return lambda vm, a, b: arith(vm, name, a, b)
        if name in ("floordiv", "mod"):
            def divmod_(vm: Any, a: Any, b: Any) -> Any:
                if type(a) is int and type(b) is int and -BIG < a < BIG and -BIG < b < BIG and b:
                    return pyop(a, b)
                return arith(vm, name, a, b)
            return divmod_

        def fast(vm: Any, a: Any, b: Any) -> Any:
            if type(a) is int and type(b) is int and -BIG < a < BIG and -BIG < b < BIG:
                return pyop(a, b)
            return arith(vm, name, a, b)
        return fast

    def operand(self, node: ast.expr) -> tuple[Closure, tuple | None]:
        """The closure of ``node`` and, for a local or a constant, what it reads (``("local", slot,
        name)`` or ``("const", value)``), so that an operation can read it without a closure call."""
        closure = self.expr(node)
        if isinstance(node, ast.Name) and node.id in self.slots:
            return closure, ("local", 3 + self.slots[node.id], node.id)
        if isinstance(node, ast.Constant) and type(node.value) in (int, bool, str, bytes):
            return closure, ("const", node.value)
        if isinstance(node, ast.Name) and node.id in self.m.consts and \
                type(self.m.consts[node.id]) in (int, bool, str, bytes):
            return closure, ("const", self.m.consts[node.id])
        return closure, None

    def e_BinOp(self, node: ast.BinOp) -> Closure:
        left, right = self.operand(node.left), self.operand(node.right)
        op = self.binop_fn(node.op, node)
        name, pyop, _ = ARITH[type(node.op)]
        if pyop is not None and name != "lshift":
            arith = R.arith
            if name not in ("floordiv", "mod"):
                return _int_operation(pyop, lambda vm, a, b: arith(vm, name, a, b), left, right)
            if right[1] is not None and right[1][0] == "const" and type(right[1][1]) is int and right[1][1]:
                return _int_operation(pyop, lambda vm, a, b: arith(vm, name, a, b), left, right)
        left_c, right_c = left[0], right[0]

        def binop(fr: list) -> Any:
            return op(fr[0], left_c(fr), right_c(fr))
        return binop

    def e_UnaryOp(self, node: ast.UnaryOp) -> Closure:
        operand = self.expr(node.operand)
        if isinstance(node.op, ast.Not):
            self.cost += GAS["bool"]
            return lambda fr: not operand(fr)
        self.cost += GAS["arith"]
        sym = {ast.USub: "-", ast.UAdd: "+", ast.Invert: "~"}[type(node.op)]
        if sym == "-":
            def neg(fr: list) -> Any:
                v = operand(fr)
                if type(v) is int and -BIG < v < BIG:
                    return -v
                return R.unary(fr[0], "-", v)
            return neg
        return lambda fr: R.unary(fr[0], sym, operand(fr))

    def e_BoolOp(self, node: ast.BoolOp) -> Closure:
        parts = [self.expr(v) for v in node.values]
        self.cost += GAS["bool"] * (len(parts) - 1)
        if isinstance(node.op, ast.And):
            def and_(fr: list) -> Any:
                v = None
                for p in parts:
                    v = p(fr)
                    if not v:
                        return v
                return v
            return and_

        def or_(fr: list) -> Any:
            v = None
            for p in parts:
                v = p(fr)
                if v:
                    return v
            return v
        return or_

    def e_IfExp(self, node: ast.IfExp) -> Closure:
        test, body, orelse = self.expr(node.test), self.expr(node.body), self.expr(node.orelse)
        self.cost += GAS["bool"]
        return lambda fr: body(fr) if test(fr) else orelse(fr)

    def e_Compare(self, node: ast.Compare) -> Closure:
        if len(node.ops) == 1 and type(node.ops[0]) in CMP:
            sym, pyop = CMP[type(node.ops[0])]
            self.cost += GAS["compare"]
            compare = R.compare
            return _int_operation(pyop, lambda vm, a, b: compare(vm, sym, a, b), self.operand(node.left),
                                  self.operand(node.comparators[0]))
        left = self.expr(node.left)
        steps = []
        for op, right_node in zip(node.ops, node.comparators):
            self.cost += GAS["compare"]
            if isinstance(op, (ast.Is, ast.IsNot)):
                if not (isinstance(right_node, ast.Constant) and right_node.value is None):
                    raise _err(node, "'is' is only allowed as 'is None' / 'is not None'; use == to compare values")
                steps.append(("is" if isinstance(op, ast.Is) else "is not", self.expr(right_node), None))
            elif isinstance(op, (ast.In, ast.NotIn)):
                decl = self.storage_name(right_node)
                kind = "in" if isinstance(op, ast.In) else "not in"
                if decl is not None:
                    if not decl.is_map:
                        raise _err(right_node, f"'in' needs a storage map; '{decl.name}' is a storage value")
                    steps.append(("s" + kind, decl, None))
                else:
                    steps.append((kind, self.expr(right_node), None))
            else:
                sym, pyop = CMP[type(op)]
                steps.append((sym, self.expr(right_node), pyop))
        def compare(fr: list) -> bool:
            vm = fr[0]
            a = left(fr)
            for kind, right, pyop in steps:
                if kind in ("sin", "snot in"):
                    r = R.shas(vm, fr[1], right, a)
                    ok = r if kind == "sin" else not r
                    b = None
                else:
                    b = right(fr)
                    if kind == "is":
                        ok = a is None
                    elif kind == "is not":
                        ok = a is not None
                    elif kind == "in":
                        ok = R.contains(vm, a, b)
                    elif kind == "not in":
                        ok = not R.contains(vm, a, b)
                    else:
                        ok = R.compare(vm, kind, a, b)
                if not ok:
                    return False
                a = b
            return True
        return compare

    def e_List(self, node: ast.List) -> Closure:
        if any(isinstance(e, ast.Starred) for e in node.elts):
            raise _err(node, STMT_NAMES[ast.Starred])
        items = [self.expr(e) for e in node.elts]
        self.cost += GAS["item"] * len(items)
        return lambda fr: [i(fr) for i in items]

    e_Tuple = e_List

    def e_Dict(self, node: ast.Dict) -> Closure:
        if any(k is None for k in node.keys):
            raise _err(node, "** unpacking in dict literals is not allowed in contracts")
        keys = [self.expr(k) for k in node.keys]
        values = [self.expr(v) for v in node.values]
        self.cost += GAS["item"] * len(keys)
        pairs = list(zip(keys, values))

        def dict_(fr: list) -> dict:
            out = {}
            for k, v in pairs:
                key = k(fr)
                if type(key) not in R.KEY_TYPES:
                    raise Revert(f"a dict key must be str, int or bytes, not {R.tname(key)}")
                out[key] = v(fr)
            return out
        return dict_

    def e_JoinedStr(self, node: ast.JoinedStr) -> Closure:
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                s = v.value
                parts.append(lambda fr, s=s: s)
            elif isinstance(v, ast.FormattedValue):
                if v.conversion != -1 or v.format_spec is not None:
                    raise _err(v, "f-string conversions and format specs (!r, :x) are not allowed in contracts")
                inner = self.expr(v.value)
                parts.append(lambda fr, inner=inner: R.fmt(inner(fr)))
            else:
                raise _err(v, "unsupported f-string part")
        self.cost += GAS["builtin"]
        return lambda fr: check_len(fr[0], "".join(p(fr) for p in parts))

    def e_Subscript(self, node: ast.Subscript) -> Closure:
        self.cost += GAS["subscript"]
        decl = self.storage_name(node.value)
        if decl is not None:
            if not decl.is_map:
                raise _err(node, f"'{decl.name}' is a storage value; read it with {decl.name}.get()")
            if isinstance(node.slice, ast.Slice):
                raise _err(node, "storage maps cannot be sliced")
            key = self.expr(node.slice)
            self._runtime_only(node, decl.name)
            return lambda fr: R.sload(fr[0], fr[1], decl, key(fr))
        obj = self.expr(node.value)
        if isinstance(node.slice, ast.Slice):
            s = node.slice
            lo = self.expr(s.lower) if s.lower else (lambda fr: None)
            hi = self.expr(s.upper) if s.upper else (lambda fr: None)
            st = self.expr(s.step) if s.step else (lambda fr: None)
            return lambda fr: R.getslice(fr[0], obj(fr), lo(fr), hi(fr), st(fr))
        key = self.expr(node.slice)

        def subscript(fr: list) -> Any:
            o, k = obj(fr), key(fr)
            if type(o) is list and type(k) is int:
                try:
                    return o[k]
                except IndexError:
                    pass
            return R.getitem(fr[0], o, k)
        return subscript

    def e_Attribute(self, node: ast.Attribute) -> Closure:
        attr = node.attr
        if attr.startswith("_"):
            raise _err(node, f"attributes starting with an underscore are not allowed in contracts: {attr}")
        base = node.value
        if isinstance(base, ast.Name) and base.id in ("msg", "block") and base.id not in self.slots:
            table = MSG_ATTRS if base.id == "msg" else BLOCK_ATTRS
            if attr not in table:
                raise _err(node, f"{base.id} has no attribute '{attr}' (it has: {', '.join(table)})")
            self._runtime_only(node, f"{base.id}.{attr}")
            self.cost += GAS["load"]
            field_name = table[attr]
            getter = operator.attrgetter(field_name)
            return lambda fr: getter(fr[1].ctx)
        if attr in METHODS:
            raise _err(node, f"methods are not values in contracts; call .{attr}(...)")
        raise _err(node, f"attribute '{attr}' is not available in contracts")

    def e_ListComp(self, node: ast.ListComp) -> Closure:
        return self.comprehension(node, node.generators, [node.elt], False)

    def e_DictComp(self, node: ast.DictComp) -> Closure:
        return self.comprehension(node, node.generators, [node.key, node.value], True)

    def comprehension(self, node: ast.AST, generators: list, elts: list, is_dict: bool) -> Closure:
        # comprehension variables are function locals (see the module docstring)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store) and sub.id not in self.slots:
                self.slot(sub, sub.id)
        levels = []
        for gen in generators:
            if gen.is_async:
                raise _err(node, "async comprehensions are not allowed in contracts")
            it = self.iterable(gen.iter)
            saved, self.cost = self.cost, GAS["loop"]
            setter = self.target(gen.target)
            conds = [self.expr(c) for c in gen.ifs]
            self.cost += GAS["bool"] * len(conds)
            per_iter, self.cost = self.cost, saved
            levels.append((it, setter, conds, per_iter))
        saved, self.cost = self.cost, GAS["item"]
        parts = [self.expr(e) for e in elts]
        per_item, self.cost = self.cost, saved
        limit = G.MAX_ITEMS

        def comp(fr: list) -> Any:
            vm = fr[0]
            out: Any = {} if is_dict else []

            def level(n: int) -> None:
                it, setter, conds, per_iter = levels[n]
                for x in it(fr):
                    vm.gas -= per_iter
                    if vm.gas < 0:
                        oog()
                    setter(fr, x)
                    if all(c(fr) for c in conds):
                        if n + 1 < len(levels):
                            level(n + 1)
                            continue
                        vm.gas -= per_item
                        if vm.gas < 0:
                            oog()
                        if len(out) >= limit:
                            raise Revert(f"a comprehension may build at most {limit} items")
                        if is_dict:
                            k = parts[0](fr)
                            if type(k) not in R.KEY_TYPES:
                                raise Revert(f"a dict key must be str, int or bytes, not {R.tname(k)}")
                            out[k] = parts[1](fr)
                        else:
                            out.append(parts[0](fr))
            level(0)
            return out
        return comp

    def iterable(self, node: ast.expr) -> Closure:
        """The iterable of a for loop or comprehension; ``range`` stays lazy here."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" \
                and "range" not in self.slots:
            args = self.call_args(node, 1, 3)
            self.cost += GAS["builtin"]
            return lambda fr: _range([a(fr) for a in args])
        value = self.expr(node)
        return lambda fr: R.iterate(fr[0], value(fr))

    # -- calls ------------------------------------------------------------------------------------

    def call_args(self, node: ast.Call, lo: int, hi: int | None, name: str | None = None) -> list[Closure]:
        fname = name or (node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "?"))
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise _err(node, STMT_NAMES[ast.Starred])
        if node.keywords:
            raise _err(node, f"{fname}() does not take keyword arguments in contracts")
        n = len(node.args)
        if n < lo or (hi is not None and n > hi):
            want = str(lo) if lo == hi else f"at least {lo}" if hi is None else f"{lo} to {hi}"
            raise _err(node, f"{fname}() takes {want} argument(s), {n} given")
        return [self.expr(a) for a in node.args]

    def e_Call(self, node: ast.Call) -> Closure:
        f = node.func
        if isinstance(f, ast.Name):
            name = f.id
            _check_name(f, name)
            if name in self.slots:
                raise _err(f, f"'{name}' is a local variable, not a function")
            if name in self.m.funcs:
                return self.internal_call(node, name)
            if name in self.m.events:
                raise _err(node, f"events are used only as emit({name}(...))")
            if name in LIBRARY_CALLS:
                self._runtime_only(node, name) if name in ("emit", "balance", "transfer", "call", "create") else None
                return getattr(self, "lib_" + name)(node)
            if name in FORBIDDEN_NAMES:
                raise _err(f, FORBIDDEN_NAMES[name])
            raise _err(f, f"name '{name}' is not defined")
        if isinstance(f, ast.Attribute):
            attr = f.attr
            if attr.startswith("_"):
                raise _err(f, f"attributes starting with an underscore are not allowed in contracts: {attr}")
            base = f.value
            if isinstance(base, ast.Name) and base.id not in self.slots:
                if base.id in self.m.storage:
                    return self.storage_method(node, self.m.storage[base.id], attr)
                if base.id == "int" and attr == "from_bytes":
                    (arg,) = self.call_args(node, 1, 1, "int.from_bytes")
                    self.cost += GAS["builtin"]
                    return lambda fr: _from_bytes(fr[0], arg(fr))
                if base.id == "bytes" and attr == "fromhex":
                    (arg,) = self.call_args(node, 1, 1, "bytes.fromhex")
                    self.cost += GAS["builtin"]
                    return lambda fr: _fromhex(fr[0], arg(fr))
            if attr not in METHODS:
                raise _err(f, f"method '{attr}' is not available in contracts")
            obj = self.expr(base)
            args = self.call_args(node, 0, None, attr)
            self.cost += GAS["attribute"] + GAS["builtin"]
            method = R.call_method
            if attr == "append" and len(args) == 1:
                item = args[0]
                limit = G.MAX_ITEMS
                item_gas = GAS["item"]

                def append(fr: list) -> None:
                    o = obj(fr)
                    if type(o) is list and len(o) < limit:
                        vm = fr[0]
                        vm.gas -= item_gas
                        if vm.gas < 0:
                            oog()
                        o.append(item(fr))
                        return None
                    return method(fr[0], o, "append", [item(fr)])
                return append
            return lambda fr: method(fr[0], obj(fr), attr, [a(fr) for a in args])
        raise _err(node, "only named functions and methods can be called in contracts")

    def internal_call(self, node: ast.Call, name: str) -> Closure:
        info = self.infos[name]
        args = self.call_args(node, len(info.params) - len(info.defaults), len(info.params), name)
        self.cost += GAS["call"]
        run = R.run_function
        max_depth = G.MAX_CALL_DEPTH
        if info.untyped and len(args) == info.nparams and len(args) <= 2:
            # inlined run_function for the common case (same depth check, same frame layout)
            a0 = args[0] if args else None
            a1 = args[1] if len(args) == 2 else None
            n = len(args)

            def call_fast(fr: list) -> Any:
                vm = fr[0]
                if vm.depth >= max_depth:
                    return run(vm, fr[1], info, [])            # raises the depth-limit revert
                if n == 1:
                    frame = [vm, fr[1], None, a0(fr)]
                elif n == 2:
                    frame = [vm, fr[1], None, a0(fr), a1(fr)]
                else:
                    frame = [vm, fr[1], None]
                frame += info.pad
                vm.depth += 1
                info.body(frame)
                vm.depth -= 1
                return frame[2]
            return call_fast

        def call_internal(fr: list) -> Any:
            return run(fr[0], fr[1], info, [a(fr) for a in args])
        return call_internal

    def storage_method(self, node: ast.Call, decl: R.StorageDecl, attr: str) -> Closure:
        self._runtime_only(node, decl.name)
        if decl.is_map:
            raise _err(node, f"'{decl.name}' is a storage map: read {decl.name}[key], write {decl.name}[key] = v, "
                       f"test key in {decl.name}, delete del {decl.name}[key]")
        self.cost += GAS["attribute"]
        if attr == "get":
            self.call_args(node, 0, 0, f"{decl.name}.get")
            return lambda fr: R.sload(fr[0], fr[1], decl, None)
        if attr == "set":
            (value,) = self.call_args(node, 1, 1, f"{decl.name}.set")
            return lambda fr: R.sstore(fr[0], fr[1], decl, None, value(fr))
        raise _err(node, f"storage value '{decl.name}' has only .get() and .set(value)")

    # library functions (each charges "builtin" statically, sizes at run time)

    def _lib(self, node: ast.Call, lo: int, hi: int | None, impl: Callable) -> Closure:
        args = self.call_args(node, lo, hi)
        self.cost += GAS["builtin"]
        if len(args) == 1:
            a0 = args[0]
            return lambda fr: impl(fr[0], a0(fr))
        return lambda fr: impl(fr[0], *[a(fr) for a in args])

    def lib_len(self, node: ast.Call) -> Closure:
        return self._lib(node, 1, 1, _len)

    def lib_range(self, node: ast.Call) -> Closure:
        return self._lib(node, 1, 3, lambda vm, *a: _range_list(vm, list(a)))

    def lib_min(self, node: ast.Call) -> Closure:
        return self._lib(node, 1, None, lambda vm, *a: _minmax(vm, min, "min", a))

    def lib_max(self, node: ast.Call) -> Closure:
        return self._lib(node, 1, None, lambda vm, *a: _minmax(vm, max, "max", a))

    def lib_abs(self, node: ast.Call) -> Closure:
        return self._lib(node, 1, 1, lambda vm, v: abs(_int(v, "abs()")))

    def lib_sum(self, node: ast.Call) -> Closure:
        return self._lib(node, 1, 1, _sum)

    def lib_sorted(self, node: ast.Call) -> Closure:
        return self._lib(node, 1, 1, lambda vm, v: _sort(vm, v, False))

    def lib_reversed(self, node: ast.Call) -> Closure:
        return self._lib(node, 1, 1, lambda vm, v: _sort(vm, v, True))

    def lib_any(self, node: ast.Call) -> Closure:
        return self._lib(node, 1, 1, lambda vm, v: any(_seq(vm, v, "any()")))

    def lib_all(self, node: ast.Call) -> Closure:
        return self._lib(node, 1, 1, lambda vm, v: all(_seq(vm, v, "all()")))

    def lib_list(self, node: ast.Call) -> Closure:
        return self._lib(node, 0, 1, lambda vm, *a: _to_list(vm, a[0]) if a else [])

    def lib_dict(self, node: ast.Call) -> Closure:
        return self._lib(node, 0, 1, lambda vm, *a: _to_dict(vm, a[0]) if a else {})

    def lib_int(self, node: ast.Call) -> Closure:
        return self._lib(node, 0, 2, lambda vm, *a: _to_int(vm, *a) if a else 0)

    def lib_str(self, node: ast.Call) -> Closure:
        return self._lib(node, 0, 1, lambda vm, *a: _to_str(vm, a[0]) if a else "")

    def lib_bool(self, node: ast.Call) -> Closure:
        return self._lib(node, 0, 1, lambda vm, *a: bool(a[0]) if a else False)

    def lib_bytes(self, node: ast.Call) -> Closure:
        return self._lib(node, 0, 1, lambda vm, *a: _to_bytes(vm, a[0]) if a else b"")

    def lib_pow(self, node: ast.Call) -> Closure:
        return self._lib(node, 2, 3, _pow)

    def lib_enumerate(self, node: ast.Call) -> Closure:
        return self._lib(node, 1, 1, lambda vm, v: check_len(vm, [[i, x] for i, x in enumerate(_seq(vm, v, "enumerate()"))]))

    def lib_zip(self, node: ast.Call) -> Closure:
        return self._lib(node, 2, 2, lambda vm, a, b: check_len(
            vm, [[x, y] for x, y in zip(_seq(vm, a, "zip()"), _seq(vm, b, "zip()"))]))

    def lib_sha256(self, node: ast.Call) -> Closure:
        return self._lib(node, 1, 1, R.b_sha256)

    def lib_isinstance(self, node: ast.Call) -> Closure:
        if len(node.args) != 2 or node.keywords:
            raise _err(node, "isinstance() takes a value and a type: isinstance(x, int)")
        tp = _type_of(node.args[1], "the second argument of isinstance()")
        if tp is None:
            raise _err(node.args[1], "isinstance() needs a type name such as int or bytes")
        value = self.expr(node.args[0])
        self.cost += GAS["builtin"]
        return lambda fr: type(value(fr)) is tp

    def lib_require(self, node: ast.Call) -> Closure:
        args = self.call_args(node, 1, 2)
        self.cost += GAS["builtin"]
        cond = args[0]
        msg = args[1] if len(args) > 1 else None

        def require(fr: list) -> None:
            if not cond(fr):
                raise Revert(_reason(msg(fr)) if msg is not None else "requirement failed")
        return require

    def lib_revert(self, node: ast.Call) -> Closure:
        args = self.call_args(node, 0, 1)
        self.cost += GAS["builtin"]
        msg = args[0] if args else None

        def revert(fr: list) -> None:
            raise Revert(_reason(msg(fr)) if msg is not None else "reverted")
        return revert

    def lib_emit(self, node: ast.Call) -> Closure:
        if len(node.args) != 1 or node.keywords or not isinstance(node.args[0], ast.Call) or \
                not isinstance(node.args[0].func, ast.Name) or node.args[0].func.id not in self.m.events:
            raise _err(node, "emit() takes one event: emit(EventName(field=value, ...))")
        ev = node.args[0]
        decl = self.m.events[ev.func.id]
        if any(isinstance(a, ast.Starred) for a in ev.args):
            raise _err(ev, STMT_NAMES[ast.Starred])
        if len(ev.args) > len(decl.fields):
            raise _err(ev, f"event {decl.name} has {len(decl.fields)} fields, {len(ev.args)} given")
        given: dict[str, ast.expr] = dict(zip(decl.fields, ev.args))
        for kw in ev.keywords:
            if kw.arg is None or kw.arg not in decl.fields:
                raise _err(ev, f"event {decl.name} has no field '{kw.arg}' (fields: {', '.join(decl.fields)})")
            if kw.arg in given:
                raise _err(ev, f"field '{kw.arg}' of event {decl.name} is given twice")
            given[kw.arg] = kw.value
        missing = [f for f in decl.fields if f not in given]
        if missing:
            raise _err(ev, f"event {decl.name} is missing field(s): {', '.join(missing)}")
        values = [self.expr(given[f]) for f in decl.fields]
        self.cost += GAS["builtin"]
        return lambda fr: R.emit(fr[0], fr[1], decl, [v(fr) for v in values])

    def lib_balance(self, node: ast.Call) -> Closure:
        (addr,) = self.call_args(node, 1, 1)
        self.cost += GAS["builtin"]
        return lambda fr: R.b_balance(fr[0], fr[1], addr(fr))

    def lib_transfer(self, node: ast.Call) -> Closure:
        to, amount = self.call_args(node, 2, 2)
        self.cost += GAS["builtin"]
        return lambda fr: R.b_transfer(fr[0], fr[1], to(fr), amount(fr))

    def lib_call(self, node: ast.Call) -> Closure:
        value = None
        keywords = node.keywords
        for kw in keywords:
            if kw.arg != "value":
                raise _err(node, "call() takes only the keyword value=: call(address, 'function', *args, value=0)")
            value = self.expr(kw.value)
        node = ast.Call(func=node.func, args=node.args, keywords=[], lineno=node.lineno, col_offset=node.col_offset)
        args = self.call_args(node, 2, None)
        self.cost += GAS["builtin"]
        addr, fname, rest = args[0], args[1], args[2:]
        return lambda fr: R.b_call(fr[0], fr[1], addr(fr), fname(fr), [a(fr) for a in rest],
                                   0 if value is None else value(fr))

    def lib_create(self, node: ast.Call) -> Closure:
        args = self.call_args(node, 1, None)
        self.cost += GAS["builtin"]
        code, rest = args[0], args[1:]
        return lambda fr: R.b_create(fr[0], fr[1], code(fr), [a(fr) for a in rest])


# -- operations on locals and constants without closure calls ------------------------------------

def _unset(name: str) -> Revert:
    return Revert(f"local variable '{name}' is used before it is assigned")


def _read_local(i: int, name: str) -> Closure:
    def local(fr: list) -> Any:
        v = fr[i]
        if v is UNSET:
            raise _unset(name)
        return v
    return local


def _int_operation(pyop: Callable, slow: Callable, left: tuple, right: tuple) -> Closure:
    """A binary operation or comparison: ``pyop(a, b)`` when both operands are ints below 2**63
    (the case that needs no size charge), else ``slow(vm, a, b)``. ``left``/``right`` are
    :meth:`_Compiler.operand` pairs; a local or a small int constant is read in place, which saves
    the closure calls of the operands (the left operand is still evaluated first, and a local
    used before it is assigned fails before the right operand runs, as with closures)."""
    (left_c, ls), (right_c, rs) = left, right
    b = rs[1] if rs is not None and rs[0] == "const" and type(rs[1]) is int and -BIG < rs[1] < BIG else None
    if ls is not None and ls[0] == "local":
        i, lname = ls[1], ls[2]
        if b is not None:
            def local_const(fr: list) -> Any:
                a = fr[i]
                if type(a) is int and -BIG < a < BIG:
                    return pyop(a, b)
                if a is UNSET:
                    raise _unset(lname)
                return slow(fr[0], a, b)
            return local_const
        if rs is not None and rs[0] == "local":
            j, rname = rs[1], rs[2]

            def local_local(fr: list) -> Any:
                a, c = fr[i], fr[j]
                if type(a) is int and type(c) is int and -BIG < a < BIG and -BIG < c < BIG:
                    return pyop(a, c)
                if a is UNSET:
                    raise _unset(lname)
                if c is UNSET:
                    raise _unset(rname)
                return slow(fr[0], a, c)
            return local_local
    if b is not None:
        def any_const(fr: list) -> Any:
            a = left_c(fr)
            if type(a) is int and -BIG < a < BIG:
                return pyop(a, b)
            return slow(fr[0], a, b)
        return any_const

    def any_any(fr: list) -> Any:
        a = left_c(fr)
        c = right_c(fr)
        if type(a) is int and type(c) is int and -BIG < a < BIG and -BIG < c < BIG:
            return pyop(a, c)
        return slow(fr[0], a, c)
    return any_any


# -- fused statements (plain mode: gas, line and the statement in one closure) -------------------

def _fuse(fused: tuple, cost: int, line: int) -> Closure:
    """The common statements without the generic wrapper's extra call (same gas, same errors)."""
    kind, parts = fused
    python_error = R.python_error
    if kind == "expr":
        value = parts

        def f_expr(fr: list) -> None:
            vm = fr[0]
            vm.gas -= cost
            if vm.gas < 0:
                raise OutOfGas("out of gas", line)
            try:
                value(fr)
            except VMFault as e:
                if e.line is None:
                    e.line = line
                raise
            except Exception as e:   # noqa: BLE001
                raise Revert(python_error(e), line) from None
        return f_expr
    if kind in ("assign", "return"):
        i, value = (2, parts) if kind == "return" else parts       # a return stores into slot 2
        signal = RET if kind == "return" else None

        def f_assign(fr: list) -> Any:
            vm = fr[0]
            vm.gas -= cost
            if vm.gas < 0:
                raise OutOfGas("out of gas", line)
            try:
                fr[i] = value(fr)
            except VMFault as e:
                if e.line is None:
                    e.line = line
                raise
            except Exception as e:   # noqa: BLE001
                raise Revert(python_error(e), line) from None
            return signal
        return f_assign
    test, body, orelse = parts            # "if": the branches' statements carry their own lines

    def f_if(fr: list) -> Any:
        vm = fr[0]
        vm.gas -= cost
        if vm.gas < 0:
            raise OutOfGas("out of gas", line)
        try:
            ok = test(fr)
        except VMFault as e:
            if e.line is None:
                e.line = line
            raise
        except Exception as e:   # noqa: BLE001
            raise Revert(python_error(e), line) from None
        if ok:
            return body(fr)
        if orelse is not None:
            return orelse(fr)
        return None
    return f_if


# -- helpers of the library functions ------------------------------------------------------------

def _op_name(node: ast.stmt) -> str:
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        f = node.value.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else "?"
        return f"call {name}"
    return type(node).__name__.lower()


def _reason(v: Any) -> str:
    if type(v) is str:
        return v[:1000]
    return R.fmt(v) if type(v) in (int, bool, bytes) or v is None else f"({R.an(v)})"


def _int(v: Any, what: str) -> int:
    if type(v) is bool:
        return int(v)
    if type(v) is not int:
        raise Revert(f"{what} needs an int, not {R.tname(v)}")
    return v


def _range(args: list) -> range:
    for a in args:
        if type(a) is not int:
            raise Revert(f"range() needs int arguments, not {R.tname(a)}")
    if len(args) == 3 and args[2] == 0:
        raise Revert("range() step cannot be zero")
    return range(*args)


def _range_list(vm: Any, args: list) -> list:
    r = _range(args)
    R.precheck_size(vm, "list", len(r))
    return list(r)


def _len(vm: Any, v: Any) -> int:
    if type(v) in (list, dict, str, bytes):
        return len(v)
    raise Revert(f"{R.an(v)} has no len()")


def _seq(vm: Any, v: Any, what: str) -> Any:
    t = type(v)
    if t is list or t is str or t is bytes or t is dict:
        charge(vm, R.size_cost(v))
        return v
    raise Revert(f"{what} needs a list, dict, str or bytes, not {R.tname(v)}")


def _minmax(vm: Any, fn: Callable, name: str, args: tuple) -> Any:
    items = _seq(vm, args[0], f"{name}()") if len(args) == 1 else list(args)
    if not items:
        raise Revert(f"{name}() of an empty sequence")
    try:
        return fn(items)
    except TypeError:
        raise Revert(f"{name}() of values that do not compare") from None


def _sum(vm: Any, v: Any) -> int:
    total = 0
    for x in _seq(vm, v, "sum()"):
        total = R.arith(vm, "add", total, _int(x, "sum()"))
    return total


def _sort(vm: Any, v: Any, reverse_only: bool) -> list:
    if type(v) is not list:
        raise Revert(f"{'reversed' if reverse_only else 'sorted'}() needs a list, not {R.tname(v)}")
    if reverse_only:
        charge(vm, R.size_cost(v))
        return v[::-1]
    charge(vm, R.size_cost(v) * max(1, len(v).bit_length()))
    try:
        return sorted(v)
    except TypeError:
        raise Revert("cannot sort a list mixing types that do not compare") from None


def _to_list(vm: Any, v: Any) -> list:
    t = type(v)
    if t is list or t is str or t is bytes or t is dict:
        return check_len(vm, list(v))
    raise Revert(f"list() needs a list, dict, str or bytes, not {R.tname(v)}")


def _to_dict(vm: Any, v: Any) -> dict:
    if type(v) is dict:
        return check_len(vm, dict(v))
    if type(v) is list:
        out = {}
        for pair in v:
            k, x = R.unpack(pair, 2)
            R.setitem(vm, out, k, x)
        return out
    raise Revert(f"dict() needs a dict or a list of [key, value] pairs, not {R.tname(v)}")


def _to_int(vm: Any, v: Any, base: Any = None) -> int:
    if base is not None:
        if type(v) is not str or type(base) is not int or not (base == 0 or 2 <= base <= 36):
            raise Revert("int(text, base) needs a str and a base of 0 or 2..36")
    if type(v) in (int, bool) and base is None:
        return int(v)
    if type(v) is str:
        if len(v) > 2600:
            raise Revert("int() of a string longer than 2600 characters")
        charge(vm, R.size_cost(v))
        try:
            return R.check_int(int(v, 10 if base is None else base))
        except ValueError:
            raise Revert(f"invalid literal for int(): {v[:40]!r}") from None
    raise Revert(f"int() needs an int, bool or str, not {R.tname(v)}")


def _to_str(vm: Any, v: Any) -> str:
    t = type(v)
    if t is str:
        return v
    if t is int:
        charge(vm, v.bit_length() >> 6)
        return str(v)
    if t is bool or v is None:
        return str(v)
    raise Revert(f"str() of a {t.__name__} is not supported (for bytes use .hex())")


def _to_bytes(vm: Any, v: Any) -> bytes:
    if type(v) is int:
        if v < 0:
            raise Revert("bytes(n) needs n >= 0")
        R.precheck_size(vm, "bytes", v)
        return bytes(v)
    if type(v) is list:
        charge(vm, R.size_cost(v))
        if not all(type(x) is int and 0 <= x < 256 for x in v):
            raise Revert("bytes(list) needs ints in 0..255")
        return bytes(v)
    if type(v) is bytes:
        return v
    raise Revert(f"bytes() needs an int, a list of ints or bytes, not {R.tname(v)} (for str use .encode())")


def _from_bytes(vm: Any, v: Any) -> int:
    if type(v) is not bytes:
        raise Revert(f"int.from_bytes() needs bytes, not {R.tname(v)}")
    if len(v) * 8 > G.MAX_INT_BITS:
        raise Revert(f"int.from_bytes() of more than {G.MAX_INT_BITS // 8} bytes")
    charge(vm, R.size_cost(v))
    return int.from_bytes(v, "big")


def _fromhex(vm: Any, v: Any) -> bytes:
    if type(v) is not str:
        raise Revert(f"bytes.fromhex() needs a str, not {R.tname(v)}")
    charge(vm, R.size_cost(v))
    try:
        return bytes.fromhex(v)
    except ValueError:
        raise Revert("bytes.fromhex() of a string that is not hex") from None


def _pow(vm: Any, a: Any, b: Any, m: Any = None) -> int:
    if m is None:
        return R.arith(vm, "pow", a, b)
    a, b, m = _int(a, "pow()"), _int(b, "pow()"), _int(m, "pow()")
    if m == 0:
        raise Revert("pow() modulus cannot be zero")
    if b < 0:
        raise Revert("pow() with a modulus needs a non-negative exponent")
    w = R.G.int_words(m)
    charge(vm, GAS["pow"] + GAS["mul_word"] * w * w * max(1, b.bit_length()))
    return pow(a, b, m)
