"""Gas conformance: the price of every operation is what gas.GAS says (docs/contracts.md table).

Each case runs a function whose body is SETUP + the snippet and subtracts the gas of SETUP alone,
so the difference is exactly the snippet's price."""
from __future__ import annotations

import pytest
from vmkit import ALICE, BOB, Chainlet

from labchain.ledger.contracts import GAS, encode_value
from labchain.ledger.contracts.gas import byte_words

G = GAS
PRELUDE = '''
m = storage.map(bytes, int)
v = storage.value(int)
K = 2 ** 200


class E(Event):
    who: Indexed[bytes]
    n: int


def _g():
    pass

'''
SETUP = ["a = 3", "b = 4", "s = 'ab'", "bs = b'xy'", "l = [1, 2]", "d = {'k': 1}", "w = msg.sender"]
ST, LD, SV = G["stmt"], G["load"], G["store"]
EVENT_DATA = len(encode_value({"who": ALICE, "n": 3}))

CASES = [
    ("x = a", ST + LD + SV),
    ("x = a + b", ST + 2 * LD + G["arith"] + SV),
    ("x = a - b", ST + 2 * LD + G["arith"] + SV),
    ("x = a & b", ST + 2 * LD + G["arith"] + SV),
    ("x = a * b", ST + 2 * LD + G["mul"] + SV),
    ("x = a // b", ST + 2 * LD + G["mul"] + SV),
    ("x = a % b", ST + 2 * LD + G["mul"] + SV),
    ("x = a ** b", ST + 2 * LD + G["pow"] + G["pow_byte"] + SV),
    ("x = a << b", ST + 2 * LD + G["shift"] + SV),
    ("x = a >> b", ST + 2 * LD + G["shift"] + SV),
    ("x = -a", ST + LD + G["arith"] + SV),
    ("x = not a", ST + LD + G["bool"] + SV),
    ("x = a < b", ST + 2 * LD + G["compare"] + SV),
    ("x = a == b", ST + 2 * LD + G["compare"] + SV),
    ("x = a and b", ST + 2 * LD + G["bool"] + SV),
    ("x = a if b else a", ST + 3 * LD + G["bool"] + SV),
    ("x = K + K", ST + 2 * LD + G["arith"] + G["int_word"] * (200 >> 6) + SV),
    ("x = K * K", ST + 2 * LD + G["mul"] + G["mul_word"] * (4 * 4 - 1) + SV),
    ("a += b", ST + 2 * LD + G["arith"] + SV),
    ("x = l[0]", ST + 2 * LD + G["subscript"] + SV),
    ("x = d['k']", ST + 2 * LD + G["subscript"] + SV),
    ("l[0] = a", ST + 3 * LD + G["subscript"]),
    ("x = [a, b]", ST + 2 * LD + 2 * G["item"] + SV),
    ("x = {'k': a}", ST + 2 * LD + G["item"] + SV),
    ("x = s + s", ST + 2 * LD + G["arith"] + G["byte_word"] * byte_words(4) + SV),
    ("x = l * 3", ST + 2 * LD + G["mul"] + G["item"] * 6 + SV),
    ("x = len(l)", ST + LD + G["builtin"] + SV),
    ("l.append(a)", ST + 2 * LD + G["attribute"] + G["builtin"] + G["item"]),
    ("x = sha256(bs)", ST + LD + G["builtin"] + G["sha256"] + G["sha256_word"] + SV),
    ("x = a in l", ST + 2 * LD + G["compare"] + G["item"] * 2 + SV),
    ("pass", ST),
    ("if a:\n        pass", ST + LD + G["bool"] + ST),
    ("while a < 0:\n        pass", ST + G["loop"] + G["bool"] + 2 * LD + G["compare"]),
    ("for i in l:\n        pass", ST + LD + 2 * (G["loop"] + SV) + 2 * ST),
    ("for i in range(2):\n        pass", ST + LD + G["builtin"] + 2 * (G["loop"] + SV) + 2 * ST),
    ("x = [i for i in l]", ST + LD + 2 * (G["loop"] + SV) + 2 * (G["item"] + LD) + SV),
    ("_g()", ST + G["call"] + ST),
    ("x = m[w]", ST + LD + G["subscript"] + G["sload_cold"] + SV),
    ("x = m[w]\n    y = m[w]", 2 * (ST + LD + G["subscript"] + SV) + G["sload_cold"] + G["sload_warm"]),
    ("x = w in m", ST + LD + G["compare"] + G["sload_cold"] + SV),
    ("m[w] = a", ST + 2 * LD + G["subscript"] + G["sstore_cold"] + G["sstore_set"]),
    ("m[w] = a\n    m[w] = b", 2 * (ST + 2 * LD + G["subscript"]) + G["sstore_cold"] + G["sstore_set"]
     + G["sstore_reset"]),
    ("v.set(a)", ST + LD + G["attribute"] + G["sstore_cold"] + G["sstore_set"]),
    ("x = v.get()", ST + G["attribute"] + G["sload_cold"] + SV),
    ("emit(E(who=w, n=a))", ST + 2 * LD + G["builtin"] + G["log"] + 2 * G["log_topic"] + G["log_byte"] * EVENT_DATA),
    ("x = balance(w)", ST + LD + G["builtin"] + G["balance"] + SV),
    ("transfer(w, 0)", ST + 2 * LD + G["builtin"] + G["transfer"]),
    ("require(a)", ST + LD + G["builtin"]),
    ("x = msg.sender", ST + LD + SV),
    ("x = block.height", ST + LD + SV),
    ("x = this", ST + LD + SV),
]


def _gas(body_lines: list[str]) -> int:
    chain = Chainlet()
    source = PRELUDE + "def f():\n" + "".join(f"    {line}\n" for line in body_lines)
    contract = chain.deploy(source)
    result = contract.call("f")
    assert result.success, result.revert_reason
    return result.gas_used


BASE = None


@pytest.mark.parametrize("snippet,price", CASES, ids=[c[0].split("\n")[0] for c in CASES])
def test_operation_price_matches_the_gas_table(snippet, price):
    global BASE
    if BASE is None:
        BASE = _gas(SETUP)
    assert _gas(SETUP + [snippet]) - BASE == price


def test_out_of_gas_uses_the_whole_limit_and_reverts_storage(chain):
    c = chain.deploy(PRELUDE + "def f():\n    m[msg.sender] = 5\n    while True:\n        pass\n")
    before = chain.host.state_digest()
    result = c.call("f", gas=50_000)
    assert (result.success, result.gas_used, result.revert_reason) == (False, 50_000, "out of gas")
    assert result.revert_line in (PRELUDE.count("\n") + 3, PRELUDE.count("\n") + 4)   # the loop
    assert chain.host.state_digest() == before


def test_a_revert_charges_only_the_gas_used_so_far(chain):
    c = chain.deploy(PRELUDE + "def f():\n    require(False, 'no')\n")
    result = c.call("f", gas=1_000_000)
    assert result.gas_used == ST + 2 * LD + G["builtin"] and result.revert_reason == "no"


def test_exactly_enough_gas_succeeds_and_one_less_runs_out(chain):
    c = chain.deploy(PRELUDE + "def f(x):\n    m[msg.sender] = x\n    return x\n")
    need = c.call("f", 9, sender=BOB).gas_used
    chain2 = Chainlet()
    c2 = chain2.deploy(PRELUDE + "def f(x):\n    m[msg.sender] = x\n    return x\n")
    assert c2.call("f", 9, sender=BOB, gas=need - 1).revert_reason == "out of gas"
    assert c2.call("f", 9, sender=BOB, gas=need).success


def test_deployment_charges_creation_by_source_size():
    chain = Chainlet()
    from labchain.ledger.contracts import compile_contract, deploy
    from vmkit import ctx_for
    program = compile_contract("def f():\n    pass\n")
    _, result = deploy(chain.host, ctx_for(ALICE), program, [], 10**6)
    assert result.gas_used == G["create"] + G["create_byte"] * len(program.to_bytes())
    address, result = deploy(chain.host, ctx_for(ALICE), program, [], G["create"])
    assert address is None and result.revert_reason == "out of gas"


def test_the_documented_gas_table_is_the_one_the_vm_uses():
    import re
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[4] / "docs" / "contracts.md").read_text(encoding="utf-8")
    documented = {k: int(v.replace(",", "")) for k, v in re.findall(r"^\| `(\w+)` \| ([\d,]+) \|", doc, re.M)}
    assert documented == dict(GAS)
