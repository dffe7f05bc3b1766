"""Hypothesis fuzz of random programs and random transactions.

Properties: compiling arbitrary text raises only ContractCompileError; a random well-formed
program, called with random arguments, never makes the VM raise, never exceeds its gas limit,
and two independent executions on fresh hosts give identical results, traces and state; a random
sequence of token transactions keeps the total supply.

Examples per test: ``LABCHAIN_FUZZ_EXAMPLES`` (default 400, about 60 s for the file on 2 cores);
the 10,000-example run is ``LABCHAIN_FUZZ_EXAMPLES=10000 .venv/bin/python -m pytest
tests/labchain/ledger/contracts/test_contract_fuzz.py -n 0 -q`` (docs/contracts.md).
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vmkit import ALICE, BOB, CAROL, Chainlet

from labchain.ledger.contracts import ContractCompileError, compile_contract, run_trace, trace_hash
from labchain.ledger.contracts.stdlib import load

EXAMPLES = int(os.environ.get("LABCHAIN_FUZZ_EXAMPLES", "") or 400)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
GAS = 60_000
NAMES = ("a", "b", "c")

ints = st.one_of(st.integers(-5, 300), st.sampled_from([2 ** 64, -(2 ** 70), 10 ** 30, 0]))
literals = st.one_of(ints.map(str), st.sampled_from(["'ab'", "b'xy'", "True", "None", "[]", "[1, 2]",
                                                     "{'k': 1}", "''", "msg.sender", "block.height"]))
BINOPS = ["+", "-", "*", "//", "%", "**", "<<", ">>", "&", "|", "^", "<", "==", "!=", ">=", "and", "or", "in"]
CALLS = ["len({})", "abs({})", "min({}, 3)", "max([{}, 1])", "str({})", "bool({})", "int({})", "sha256({})",
         "[{}] * 3", "list({})", "sorted({})", "require({}, 'r')", "m[msg.sender] + {}"]


def exprs(depth: int):
    if depth <= 0:
        return st.one_of(literals, st.sampled_from(NAMES))
    sub = exprs(depth - 1)
    return st.one_of(
        literals, st.sampled_from(NAMES),
        st.tuples(sub, st.sampled_from(BINOPS), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["-", "not ", "~"]), sub).map(lambda t: f"({t[0]}{t[1]})"),
        st.tuples(sub, sub).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(st.sampled_from(CALLS), sub).map(lambda t: t[0].format(t[1])),
        st.tuples(sub, sub, sub).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.lists(sub, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
    )


def blocks(depth: int, indent: str):
    e = exprs(2)
    simple = st.one_of(
        st.tuples(st.sampled_from(NAMES), e).map(lambda t: f"{indent}{t[0]} = {t[1]}"),
        st.tuples(st.sampled_from(NAMES), st.sampled_from(["+", "*", "-", "//"]), e).map(
            lambda t: f"{indent}{t[0]} {t[1]}= {t[2]}"),
        e.map(lambda x: f"{indent}m[msg.sender] = int(bool({x}))"),
        e.map(lambda x: f"{indent}emit(E(v=len(str(bool({x})))))"),
        e.map(lambda x: f"{indent}require({x}, 'fuzz')"),
        e.map(lambda x: f"{indent}return {x}"),
        st.sampled_from(NAMES).map(lambda n: f"{indent}{n} = [{n}]"),
        st.just(f"{indent}pass"),
    )
    if depth <= 0:
        return st.lists(simple, min_size=1, max_size=4).map("\n".join)
    inner = blocks(depth - 1, indent + "    ")
    compound = st.one_of(
        st.tuples(e, inner).map(lambda t: f"{indent}if {t[0]}:\n{t[1]}"),
        st.tuples(e, inner, inner).map(lambda t: f"{indent}if {t[0]}:\n{t[1]}\n{indent}else:\n{t[2]}"),
        st.tuples(st.sampled_from(NAMES), e, inner).map(lambda t: f"{indent}for {t[0]} in range(int(bool({t[1]})) * 7):\n{t[2]}"),
        st.tuples(e, inner).map(lambda t: f"{indent}while {t[0]}:\n{t[1]}"),
        inner.map(lambda b: f"{indent}for x in [1, 2, 3]:\n{b}\n{indent}    if x == 2:\n{indent}        break"),
    )
    return st.lists(st.one_of(simple, compound), min_size=1, max_size=4).map("\n".join)


PRELUDE = ("m = storage.map(bytes, int)\n\nclass E(Event):\n    v: int\n\n"
           "def _h(a, b):\n    return [a, b]\n\n")
programs = st.tuples(blocks(2, "    "), st.sampled_from(["", "    return _h(a, b)\n"])).map(
    lambda t: PRELUDE + "def f(a, b, c):\n" + t[0] + "\n" + t[1])
arguments = st.lists(st.one_of(ints, st.text(max_size=4), st.binary(max_size=4), st.booleans(), st.none(),
                               st.lists(ints, max_size=3)), min_size=3, max_size=3)


def _run(source: str, args: list):
    chain = Chainlet()
    contract = chain.deploy(source)
    steps, result = run_trace(chain.host, chain.ctx(ALICE, contract.address), contract.program, "f", args, GAS)
    plain = Chainlet()
    p = plain.deploy(source)
    again = p.call("f", *args, gas=GAS)
    return steps, result, again, chain.host.state_digest(), plain.host.state_digest()


@FUZZ
@given(programs, arguments)
def test_random_programs_never_crash_and_run_identically_twice(source, args):
    try:
        compile_contract(source)
    except ContractCompileError:
        return                               # e.g. 'x' used as a loop name in a comprehension-free check
    steps1, r1, plain1, s1, p1 = _run(source, args)
    steps2, r2, plain2, s2, p2 = _run(source, args)
    assert 0 <= r1.gas_used <= GAS
    assert trace_hash(steps1, r1) == trace_hash(steps2, r2)
    assert r1 == r2 == plain1 == plain2 and s1 == s2 == p1 == p2
    if not r1.success:
        assert r1.revert_reason and r1.events == ()


@FUZZ
@given(st.text(max_size=120))
def test_arbitrary_text_either_compiles_or_raises_a_compile_error(text):
    try:
        compile_contract(text)
    except ContractCompileError as e:
        assert str(e)


ACCOUNTS = (ALICE, BOB, CAROL)
txs = st.lists(st.tuples(st.sampled_from(["transfer", "approve", "transfer_from", "balance_of"]),
                         st.integers(0, 2), st.integers(0, 2), st.integers(-5, 2000), st.integers(0, 2)),
               min_size=1, max_size=15)


@FUZZ
@given(txs)
def test_random_token_transactions_keep_the_supply_and_replay_identically(ops):
    outcomes = []
    for _ in range(2):
        chain = Chainlet()
        token = chain.deploy(load("token"), "T", "T", 3000)
        results = []
        for fn, s, t, amount, u in ops:
            args = {"transfer": [ACCOUNTS[t], amount], "approve": [ACCOUNTS[t], amount],
                    "transfer_from": [ACCOUNTS[u], ACCOUNTS[t], amount], "balance_of": [ACCOUNTS[t]]}[fn]
            results.append(token.call(fn, *args, sender=ACCOUNTS[s], gas=200_000))
        assert sum(token.ok("balance_of", a) for a in ACCOUNTS) == 3000
        outcomes.append((results, chain.host.state_digest()))
    assert outcomes[0] == outcomes[1]
