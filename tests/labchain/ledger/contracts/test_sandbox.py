"""The sandbox at run time: every attack ends the call with a clear revert or out of gas, quickly,
with the host untouched; the interpreter never hits CPython's RecursionError or builds a huge
object. (Compile-time refusals: test_compiler.py.)"""
from __future__ import annotations

import sys

import pytest
from vmkit import Chainlet

ATTACKS = [
    ("def f():\n    return 10 ** 10 ** 10\n", "integer overflow: 10 ** 10000000000 has more than 8192 bits"),
    ("def f():\n    return 1 << 10 ** 6\n", "integer overflow: 1 << 1000000 has more than 8192 bits"),
    ("def f():\n    x = 3\n    while True:\n        x = x * x\n", "integer overflow: a result of"),
    ("def f(n):\n    return f(n + 1)\n", "call depth limit of 64 frames exceeded (recursion too deep)"),
    ("def f():\n    return _a(0)\ndef _a(n):\n    return _b(n)\ndef _b(n):\n    return _a(n + 1)\n",
     "call depth limit of 64 frames exceeded"),
    ("def f():\n    while True:\n        pass\n", "out of gas"),
    ("def f():\n    for i in range(10 ** 18):\n        pass\n", "out of gas"),
    ("def f():\n    return [0] * 10 ** 9\n", "a list of 1000000000 items would exceed the 100000 limit"),
    ("def f():\n    return 'x' * 10 ** 12\n", "a str of 1000000000000 characters would exceed the 1048576 limit"),
    ("def f():\n    s = 'x'\n    while True:\n        s = s + s\n", "a str of 2097152 characters would exceed"),
    ("def f():\n    a = []\n    while True:\n        a.append(a)\n", "a list may have at most 100000 items"),
    ("def f():\n    return list(range(10 ** 9))\n", "a list of 1000000000 items would exceed the 100000 limit"),
    ("def f():\n    s = 'a' * 100000\n    return s.replace('a', s)\n", "a str of 10000000000 characters would exceed"),
    ("def f():\n    return [[i, j] for i in range(1000) for j in range(1000)]\n",
     "a comprehension may build at most 100000 items"),
    ("def f():\n    a = []\n    b = []\n    for i in range(100000):\n        a = [a]\n        b = [b]\n    return a == b\n",
     "values nested too deeply to compare"),
    ("def f():\n    a = []\n    for i in range(100):\n        a = [a]\n    return a\n",
     "the return value: a contract value may nest at most 32 lists/dicts deep"),
    ("def f():\n    return 1 // 0\n", "division by zero"),
    ("def f():\n    return 1 + 'a'\n", "unsupported operand types for +: int and str"),
    ("def f():\n    return {}['x']\n", "key 'x' is not in the dict"),
    ("def f():\n    return [1][5]\n", "index 5 is out of range for a list of length 1"),
    ("def f():\n    return 2 ** -1\n", "a negative exponent gives a fraction, and contracts have no floats"),
    ("def f():\n    return int('9' * 3000)\n", "int() of a string longer than 2600 characters"),
    ("def f():\n    return '%s' % 1\n", "string formatting with % is not supported in contracts; use an f-string"),
    ("def f():\n    return call(b'nobody', 'f')\n", "there is no contract at 0x6e6f626f6479"),
    ("def f():\n    transfer(b'\\x01', 10 ** 30)\n", "transfer of 1000000000000000000000000000000 to 0x01 failed"),
    ("def f():\n    return create('import os')\n", "create(): the source does not compile: imports are not allowed"),
]


@pytest.mark.parametrize("source,reason", ATTACKS, ids=[str(i) for i in range(len(ATTACKS))])
def test_attack_ends_in_a_clear_revert_with_the_host_untouched(source, reason):
    chain = Chainlet()
    contract = chain.deploy(source)
    before = chain.host.state_digest()
    limit = sys.getrecursionlimit()
    result = contract.call("f", *([0] if "f(n)" in source else []), gas=3_000_000)
    assert not result.success and result.revert_reason.startswith(reason), result.revert_reason
    assert result.events == () and chain.host.state_digest() == before
    assert result.revert_line is not None or reason in ("out of gas", ATTACKS[15][1])
    assert sys.getrecursionlimit() >= limit


def test_mutual_recursion_through_contract_calls_hits_the_depth_limit():
    chain = Chainlet()
    src = "def f(other):\n    return call(other, 'f', this)\n"
    a, b = chain.deploy(src), chain.deploy(src)
    result = a.call("f", b.address, gas=10_000_000)
    assert not result.success and "depth limit of 64" in result.revert_reason


def test_revert_inside_a_called_contract_reverts_the_caller_too():
    chain = Chainlet()
    callee = chain.deploy("n = storage.value(int)\ndef g():\n    n.set(5)\n    require(False, 'callee says no')\n"
                          "def get():\n    return n.get()\n")
    caller = chain.deploy("n = storage.value(int)\ndef f(c):\n    n.set(1)\n    call(c, 'g')\n")
    result = caller.call("f", callee.address)
    assert not result.success
    assert result.revert_reason == f"call to g() of 0x{callee.address.hex()} reverted at its line 4: callee says no"
    assert result.revert_line == 4 and callee.ok("get") == 0


def test_calls_between_contracts_copy_values_and_set_msg_sender():
    chain = Chainlet()
    callee = chain.deploy("def g(items):\n    items.append(msg.sender)\n    return [msg.sender, msg.origin, len(items)]\n")
    caller = chain.deploy("def f(c):\n    mine = [1]\n    got = call(c, 'g', mine)\n    return [got, mine]\n")
    got, mine = caller.ok("f", callee.address)
    assert got[0] == caller.address and got[1] != caller.address and got[2] == 2 and mine == [1]


def test_create_deploys_a_child_contract_and_runs_its_init():
    chain = Chainlet()
    child = "v = storage.value(int)\ndef init(x):\n    v.set(x)\ndef get():\n    return v.get()\n"
    factory = chain.deploy("def make(src, x):\n    a = create(src, x)\n    return [a, call(a, 'get')]\n")
    address, value = factory.ok("make", child, 41)
    assert value == 41 and chain.host.code(address).source == child
    assert chain.host.creators[address] == factory.address
