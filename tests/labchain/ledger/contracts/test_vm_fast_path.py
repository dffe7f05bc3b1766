"""The interpreter's fast paths (operands read in place, fused local augmented assignment,
cached storage slot keys, short-value encodings) against figures recorded with the interpreter
before them: for each snippet, the result or revert reason, the gas used, the revert line and the
first event's data, for a plain and a traced (debugger) run alike. Big ints at the 2**63 edge,
bools, sequences, unassigned locals, division by zero, long storage keys, zero values clearing
slots and type refusals are the cases where a fast path must step aside."""
from __future__ import annotations

import dataclasses

import pytest
from vmkit import ALICE

from labchain.ledger.contracts import CallContext, compile_contract, deploy, execute, run_trace
from labchain.ledger.contracts.errors import ContractValueError
from labchain.ledger.contracts.memory_host import MemoryHost
from labchain.ledger.contracts.values import decode_value, encode_value

#: (source of f, arguments, (success, return value or revert reason, gas used, revert line, event data hex or 0))
CASES = [
    ('def f(a):\n    return a + 1\n',
     [2**63 - 1],
     (True, 9223372036854775808, 7, None, 0)),
    ('def f(a):\n    return a - 1\n',
     [-(2**63) + 1],
     (True, -9223372036854775808, 7, None, 0)),
    ('def f(a):\n    return a + 1\n',
     [True],
     (True, 2, 7, None, 0)),
    ('def f(a, b):\n    return a * b\n',
     [2**62, 2**62],
     (True, 21267647932558653966460912964485513216, 9, None, 0)),
    ('def f(a, b):\n    return a < b\n',
     [[1, 2], [1, 3]],
     (True, True, 19, None, 0)),
    ('def f(a, b):\n    return a == b\n',
     [b"x", b"x"],
     (True, True, 7, None, 0)),
    ('def f(a):\n    return a < 1\n',
     ["s"],
     (False, 'cannot compare str with int using <', 7, 2, 0)),
    ('def f(a):\n    return a % 0\n',
     [5],
     (False, 'division by zero', 9, 2, 0)),
    ('def f(a, b):\n    return a // b\n',
     [5, 0],
     (False, 'division by zero', 9, 2, 0)),
    ('def f(a):\n    return a % 7 + a // 7\n',
     [-50],
     (True, -2, 19, None, 0)),
    ('def f(a):\n    return (a * a) - a\n',
     [2**100],
     (True, 1606938044258990275541962092339894951921974764381296132096000, 19, None, 0)),
    ('def f():\n    if 1 > 0:\n        return x + 1\n    x = 1\n',
     [],
     (False, "local variable 'x' is used before it is assigned", 17, 3, 0)),
    ('def f():\n    if 1 > 0:\n        return 1 + x\n    x = 1\n',
     [],
     (False, "local variable 'x' is used before it is assigned", 17, 3, 0)),
    ('def f(a):\n    if a > 0:\n        return a < x\n    x = 1\n',
     [1],
     (False, "local variable 'x' is used before it is assigned", 17, 3, 0)),
    ('def f():\n    if 1 > 0:\n        y += 1\n    y = 1\n',
     [],
     (False, "local variable 'y' is used before it is assigned", 19, 3, 0)),
    ("def f(s):\n    s += 'ab'\n    s += s\n    return s\n",
     ["xy"],
     (True, 'xyabxyab', 27, None, 0)),
    ('def f(xs):\n    ys = xs\n    xs += [1]\n    return [xs, ys]\n',
     [[0]],
     (True, [[0, 1], [0]], 36, None, 0)),
    ('def f(a):\n    a -= 2 ** 64\n    a *= a\n    a %= 1000\n    a //= 3\n    return a\n',
     [5],
     (True, 107, 114, None, 0)),
    ('def f(a, b):\n    a %= b\n    return a\n',
     [5, 0],
     (False, 'division by zero', 11, 2, 0)),
    ('def f(a):\n    a <<= 3\n    a >>= 1\n    a **= 2\n    a ^= 1\n    a |= 8\n    a &= 255\n    return a\n',
     [3],
     (True, 153, 114, None, 0)),
    ('LIM = 10\n\ndef f(a):\n    return a < LIM and a + LIM > 3\n',
     [4],
     (True, True, 19, None, 0)),
    ('def f(a):\n    t = 0\n    while a > 0:\n        t += a * a\n        a -= 1\n    return t\n',
     [300],
     (True, 9045050, 10521, None, 0)),
    ('m = storage.map(bytes, int)\n\ndef f(k):\n    m[k] += 5\n    m[k] += 7\n    m[k] -= 12\n    return m[k]\n',
     [b"k" * 20],
     (True, 0, 28245, None, 0)),
    ('m = storage.map(bytes, int)\n\ndef f(k):\n    m[k] = 3\n    return m[k] + m[k]\n',
     [b"k" * 40],
     (True, 6, 22329, None, 0)),
    ("m = storage.map(int, str)\n\ndef f(k):\n    m[k] = 'abc'\n    m[k] = ''\n    return [k in m, m[k]]\n",
     [2],
     (True, [False, ''], 25233, None, 0)),
    ('m = storage.map(int, int)\n\ndef f(k):\n    m[k] = 1\n    return m[k]\n',
     [True],
     (False, "the key of storage map 'm' must be int, not bool", 7, 4, 0)),
    ('m = storage.map(str, int)\n\ndef f(k):\n    return m[k]\n',
     [b"x"],
     (False, "the key of storage map 'm' must be str, not bytes", 6, 4, 0)),
    ('m = storage.map(int, bool)\n\ndef f(k):\n    m[k] = True\n    m[k] = False\n    return k in m\n',
     [2**70],
     (True, False, 25120, None, 0)),
    ('v = storage.value(int)\n\ndef f(x):\n    v.set(x)\n    v.set(x)\n    return v.get()\n',
     [2**200],
     (True, 1606938044258990275541962092341162602522202993782792835301376, 25114, None, 0)),
    ('v = storage.value(int)\n\ndef f(x):\n    v.set(x)\n',
     ["no"],
     (False, "a value of storage value 'v' must be int, not str", 5, 4, 0)),
    ("class E(Event):\n    b: int\n    a: Indexed[bytes]\n    c: str\n\ndef f(x):\n    emit(E(b=x, a=b'q', c='z'))\n",
     [7],
     (True, None, 1295, None, '080305016106017105016203010705016305017a')),
    ('class E(Event):\n    b: int\n    a: int\n\ndef f(x):\n    emit(E(b=x, a=[1]))\n',
     [7],
     (False, "field 'a' of event E must be int, not list", 12, 6, 0)),
]


def _run(source: str, args: list, traced: bool) -> tuple:
    host = MemoryHost({ALICE: 10**9})
    ctx = CallContext(ALICE, ALICE, b"", 0, 7, 1, "t")
    program = compile_contract(source)
    address, created = deploy(host, ctx, program, [], 10**6)
    assert created.success, created.revert_reason
    ctx = dataclasses.replace(ctx, contract=address)
    if traced:
        r = run_trace(host, ctx, program, "f", args, 10**6)[1]
    else:
        r = execute(host, ctx, program, "f", args, 10**6)
    return (r.success, r.return_value if r.success else r.revert_reason, r.gas_used, r.revert_line,
            len(r.events) and r.events[0].data.hex())


@pytest.mark.parametrize("source, args, expected", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_fast_paths_give_the_recorded_result_and_gas_plain_and_traced(source, args, expected):
    assert _run(source, args, traced=False) == expected
    assert _run(source, args, traced=True) == expected


@pytest.mark.parametrize("value", [0, 1, 255, 256, 2**63, 2**64 - 1, 2**64, b"", b"a" * 127, b"a" * 128, -1])
def test_short_value_fast_paths_encode_and_decode_like_the_general_form(value):
    data = encode_value(value)
    assert decode_value(data) == value and type(decode_value(data)) is type(value)
    assert decode_value(bytearray(data)) == value          # the general decoder on the same bytes


@pytest.mark.parametrize("data", [b"\x03\x01\x00", b"\x03\x02\x00\x01", b"\x06\x02a", b"\x06\x01ab", b"\x04\x00"])
def test_non_canonical_short_values_are_still_refused(data):
    with pytest.raises(ContractValueError):
        decode_value(data)


@pytest.mark.parametrize("args, expected", [
    ([2**8192, 1], (False, 0, "bad call arguments: an integer of 8193 bits is larger than the 8192-bit limit of "
                              "contract values", [])),
    ([2**8191, b"x" * 70000], (True, 6670, None, ["int", "bytes"])),
    ([bytearray(b"ab"), (1, 2)], (True, 13, None, ["bytes", "list"])),
    ([True, None], (True, 13, None, ["bool", "NoneType"])),
    ([-5, b""], (True, 13, None, ["int", "bytes"])),
])
def test_call_arguments_are_checked_and_copied_as_before_the_scalar_fast_path(args, expected):
    host = MemoryHost({ALICE: 10**9})
    ctx = CallContext(ALICE, ALICE, b"", 0, 7, 1, "t")
    program = compile_contract("def f(a, b):\n    return [a, b]\n")
    address, _ = deploy(host, ctx, program, [], 10**6)
    r = execute(host, dataclasses.replace(ctx, contract=address), program, "f", args, 10**6)
    assert (r.success, r.gas_used, r.revert_reason, [type(x).__name__ for x in (r.return_value or [])]) == expected
