"""The contract language: what compiles, and every forbidden construct refused by name with its
line and column (the sandbox's first wall)."""
from __future__ import annotations

import hashlib

import pytest
from vmkit import run_function

from labchain.core.errors import LabchainError
from labchain.ledger.contracts import ContractCompileError, Program, compile_contract

REFUSED = [
    ("import os\n", "imports are not allowed in contracts", 1, 1),
    ("from os import path\n", "imports are not allowed in contracts (only 'from contract import *')", 1, 1),
    ("def f():\n    import os\n", "imports are not allowed in contracts", 2, 5),
    ("def f():\n    return __import__('os')\n", "dunder names are not allowed in contracts: __import__", 2, 12),
    ("def f():\n    return ().__class__.__subclasses__()\n",
     "attributes starting with an underscore are not allowed in contracts: __subclasses__", 2, 12),
    ("def f(x):\n    return x.__class__\n",
     "attributes starting with an underscore are not allowed in contracts: __class__", 2, 12),
    ("def f():\n    return getattr(1, 'real')\n", "getattr is not allowed in contracts (no reflection)", 2, 12),
    ("def f():\n    g = getattr\n", "getattr is not allowed in contracts (no reflection)", 2, 9),
    ("def f():\n    return eval('1')\n", "eval is not allowed in contracts", 2, 12),
    ("def f():\n    return open('/etc/passwd')\n", "open is not allowed in contracts (no I/O)", 2, 12),
    ("def f():\n    return type(1)\n", "type is not allowed in contracts (use isinstance)", 2, 12),
    ("def f():\n    return hash('x')\n",
     "hash is not allowed in contracts (not deterministic across processes; use sha256)", 2, 12),
    ("def f():\n    return 1.5\n", "floating-point numbers are not allowed in contracts", 2, 12),
    ("def f():\n    return 1j\n", "complex numbers are not allowed in contracts", 2, 12),
    ("def f():\n    return {1, 2}\n", "sets are not allowed in contracts", 2, 12),
    ("def f():\n    return 3 / 2\n", "true division '/' gives floats, which contracts do not have; use '//'", 2, 12),
    ("def f():\n    return lambda: 1\n", "lambda expressions are not allowed in contracts", 2, 12),
    ("def f():\n    def g():\n        pass\n", "nested functions are not allowed in contracts", 2, 5),
    ("def f():\n    return [x for x in (1, 2)][0] + sum(x for x in [1])\n",
     "generator expressions are not allowed in contracts (use a list comprehension)", 2, 40),
    ("def f():\n    try:\n        pass\n    except Exception:\n        pass\n",
     "try/except is not allowed in contracts (use require)", 2, 5),
    ("def f():\n    raise ValueError()\n", "raise is not allowed in contracts (use require or revert)", 2, 5),
    ("def f():\n    with x:\n        pass\n", "with statements are not allowed in contracts", 2, 5),
    ("X = 1\ndef f():\n    global X\n", "global statements are not allowed in contracts (use storage)", 3, 5),
    ("def f():\n    return (y := 1)\n", "assignment expressions (:=) are not allowed in contracts", 2, 13),
    ("def f(*a):\n    pass\n", "*args and **kwargs are not allowed in contracts (f)", 1, 1),
    ("@dec\ndef f():\n    pass\n", "decorators are not allowed in contracts", 1, 2),
    ("class A:\n    pass\n", "classes are not allowed in contracts, except event declarations: class Name(Event):", 1, 1),
    ("def f():\n    print(1)\n", "print is not allowed in contracts (no I/O; emit an event instead)", 2, 5),
    ("def f(x):\n    return x.mro()\n", "method 'mro' is not available in contracts", 2, 12),
    ("def f(x):\n    return x.format\n", "attribute 'format' is not available in contracts", 2, 12),
    ("def f(x):\n    return x is 1\n", "'is' is only allowed as 'is None' / 'is not None'; use == to compare values", 2, 12),
    ("def f():\n    return y\n", "name 'y' is not defined", 2, 12),
    ("def f():\n    return time()\n", "clocks are not allowed in contracts (use block.timestamp)", 2, 12),
    ("def f():\n    return random()\n", "randomness is not allowed in contracts (not deterministic)", 2, 12),
    ("def f():\n    return msg.gas\n", "msg has no attribute 'gas' (it has: sender, value, origin)", 2, 12),
    ("def f():\n    return " + "-" * 60 + "1\n", "this code nests more than 40 levels deep", 2, None),
    ("def f():\n    return 1 +\n", "syntax error: invalid syntax", 2, None),
    ("balances = storage.map(bytes, float)\n", "a storage value type must be one of int, str, bytes, bool, list, "
     "dict, any", 1, 31),
    ("m = storage.map(bytes, int)\ndef f():\n    m = 1\n", "cannot assign to 'm', a storage name "
     "(write m[key] = value)", 3, 5),
    ("def f():\n    pass\ndef f():\n    pass\n", "'f' is already defined at line 1", 3, 1),
    ("def f():\n    break\n", "'break' outside a loop", 2, 5),
]


@pytest.mark.parametrize("source,what,line,col", REFUSED, ids=[r[1][:40] for r in REFUSED])
def test_forbidden_construct_is_refused_by_name_with_its_position(source, what, line, col):
    with pytest.raises(ContractCompileError) as info:
        compile_contract(source)
    e = info.value
    assert isinstance(e, LabchainError) and e.what == what and e.line == line
    if col is not None:
        assert e.col == col and str(e) == f"{what} (line {line}, col {col})"
    assert e.obj == source


def test_program_identity_is_the_source_and_its_sha256():
    src = "def f():\n    return 1\n"
    p = compile_contract(src, "one")
    assert p.code_hash == hashlib.sha256(src.encode()).digest() and p.to_bytes() == src.encode()
    assert Program.from_bytes(p.to_bytes()) == p and p.functions == ("f",) and not p.has_init
    with pytest.raises(ContractCompileError, match="not valid UTF-8"):
        Program.from_bytes(b"\xff")


def test_oversized_source_is_refused_before_parsing():
    with pytest.raises(ContractCompileError, match="more than the 65536-byte limit"):
        compile_contract("#" * 70_000)


def test_constants_are_computed_by_the_evaluator_and_shared_read_only():
    src = "N = 2 ** 10 + 1\nL = [1, 2]\ndef f():\n    x = L\n    x.append(3)\n    return [N, L, x]\n"
    assert run_function(src).return_value == [1025, [1, 2], [1, 2, 3]]
    with pytest.raises(ContractCompileError, match="this constant cannot be computed: division by zero"):
        compile_contract("N = 1 // 0\n")


LANGUAGE = [
    ("def f():\n    a, b = 1, 2\n    a, b = b, a\n    return [a, b]\n", [2, 1]),
    ("def f():\n    return [i * i for i in range(5) if i % 2]\n", [1, 9]),
    ("def f():\n    return {k: v for k, v in {'a': 1, 'b': 2}.items()}\n", {"a": 1, "b": 2}),
    ("def f():\n    t = 0\n    for i in range(10):\n        if i == 3:\n            continue\n        if i == 6:\n"
     "            break\n        t += i\n    return t\n", 0 + 1 + 2 + 4 + 5),
    ("def f():\n    s = 'Hello'\n    return [s.upper(), s[1:3], s[::-1], len(s), 'l' in s, s.split('l')]\n",
     ["HELLO", "el", "olleH", 5, True, ["He", "", "o"]]),
    ("def f():\n    b = 'ab'.encode()\n    return [b.hex(), bytes.fromhex('ff'), int.from_bytes(b), (258).to_bytes(2)]\n",
     ["6162", b"\xff", 0x6162, b"\x01\x02"]),
    ("def f():\n    return [min(3, 1, 2), max([4, 9]), abs(-5), sum([1, 2]), sorted([3, 1]), any([0, 1]), all([])]\n",
     [1, 9, 5, 3, [1, 3], True, True]),
    ("def f():\n    return [int('42'), int('ff', 16), str(7), bool(0), isinstance(1, int), isinstance(True, int)]\n",
     [42, 255, "7", False, True, False]),
    ("def f():\n    return [7 // 2, -7 // 2, 7 % 3, -7 % 3, 2 ** 100, 1 << 70, ~5]\n",
     [3, -4, 1, 2, 2 ** 100, 1 << 70, -6]),
    ("def f(x=5, y: int = 2):\n    return x * y\n", 10),
    ("def f():\n    d = {}\n    d['a'] = 1\n    d.setdefault('b', 2)\n    del d['a']\n    return [d, d.get('z', 0)]\n",
     [{"b": 2}, 0]),
    ("def f():\n    x = None\n    return [x is None, x is not None, 1 if x else 2]\n", [True, False, 2]),
    ("def f(b=b'\\x01'):\n    return f'{1}-{True}-{None}-{b}'\n", "1-True-None-0x01"),
    ("def f():\n    return [list(enumerate(['a'])), zip([1, 2], [3, 4]), reversed([1, 2]), list('ab')]\n",
     [[[0, "a"]], [[1, 3], [2, 4]], [2, 1], ["a", "b"]]),
    ("def f():\n    return pow(3, 200, 1000)\n", pow(3, 200, 1000)),
]


@pytest.mark.parametrize("source,expected", LANGUAGE, ids=[str(i) for i in range(len(LANGUAGE))])
def test_the_language_subset_behaves_like_python(source, expected):
    result = run_function(source)
    assert result.success, result.revert_reason
    assert result.return_value == expected
