"""The step debugger: step / over / out / continue to a breakpoint, gas per line, storage before
and after, the revert point, the JSON round trip of a trace, and the ipywidgets front end."""
from __future__ import annotations

import json

import pytest
from vmkit import ALICE, BOB, ctx_for

from labchain.ledger.contracts import compile_contract, deploy, trace_deploy
from labchain.ledger.contracts.debugger import Debugger, trace_to_json
from labchain.ledger.contracts.memory_host import MemoryHost
from labchain.ledger.contracts.stdlib import load, source

TOKEN = source("token")


def _line(text: str) -> int:
    return next(i for i, line in enumerate(TOKEN.splitlines(), 1) if text in line)


def _debugger(chain, amount: int) -> Debugger:
    token = chain.deploy(load("token"), "Lab", "LAB", 100)
    return Debugger.from_call(chain.host, chain.ctx(ALICE, token.address), token.program, "transfer", [BOB, amount],
                              1_000_000)


def test_step_enters_calls_and_step_over_skips_them(chain):
    dbg = _debugger(chain, 10)
    first = dbg.current
    assert first.line == _line("_move(msg.sender, to, amount)") and first.depth == 1
    assert dbg.step().line == _line('require(amount > 0, "amount must be positive")') and dbg.current.depth == 2
    dbg.reset()
    assert dbg.step_over().line == _line("return True") and dbg.current.depth == 1
    assert dbg.step_over().op == "returned" and dbg.finished


def test_continue_stops_at_breakpoints_then_runs_to_the_end(chain):
    dbg = _debugger(chain, 10)
    dbg.add_breakpoint(_line("balances[dst] += amount"))
    s = dbg.continue_()
    assert s.line == _line("balances[dst] += amount")
    assert s.locals["have"] == 100 and s.storage_diff == {f"balances[0x{ALICE.hex()}]": (100, 90)}
    assert dbg.step_out().line == _line("return True")
    assert dbg.continue_().op == "returned"


def test_gas_per_line_adds_up_to_the_calls_gas_and_storage_before_after(chain):
    dbg = _debugger(chain, 10)
    per_line = dbg.gas_per_line()
    assert sum(per_line.values()) == dbg.result.gas_used
    assert per_line[_line("balances[dst] += amount")] > 20000     # a fresh slot: SSTORE set
    assert dbg.storage_before == {f"balances[0x{ALICE.hex()}]": 100, f"balances[0x{BOB.hex()}]": 0}
    assert dbg.storage_after == {f"balances[0x{ALICE.hex()}]": 90, f"balances[0x{BOB.hex()}]": 10}


def test_the_revert_point_is_the_failing_require(chain):
    dbg = _debugger(chain, 1000)
    assert dbg.result.revert_reason == "balance 100 is less than 1000"
    assert dbg.revert_point.line == _line("require(have >= amount") and dbg.steps[-1].op == "reverted"
    assert "REVERT: balance 100 is less than 1000" in dbg.describe(dbg.steps[-1])


def test_a_trace_survives_its_json_form(chain):
    dbg = _debugger(chain, 10)
    obj = json.loads(json.dumps(trace_to_json(dbg.steps, dbg.result)))
    again = Debugger.from_json(obj, TOKEN)
    assert again.steps == dbg.steps and again.result == dbg.result


def test_the_widget_steps_and_highlights_without_a_browser(chain):
    pytest.importorskip("ipywidgets")
    dbg = _debugger(chain, 1000)
    box = dbg.widget()
    buttons = {b.description: b for b in box.children[0].children}
    buttons["step"].click()
    assert box.debugger.position == 1
    box.children[1].value = str(_line("require(have >= amount"))
    buttons["continue ▶"].click()
    assert dbg.current.line == _line("require(have >= amount")
    source_html = box.children[3].children[0].value
    assert "background:#ffb070" in source_html          # current line == revert point
    buttons["continue ▶"].click()
    assert "revert: balance 100 is less than 1000" in box.children[2].value


# -- tracing a creation (what tracetransaction returns for a mined deployment) ----------------------

def _fresh_deploy(program, args, gas, traced):
    host = MemoryHost({ALICE: 10**9})
    if traced:
        address, steps, result = trace_deploy(host, ctx_for(ALICE), program, args, gas)
    else:
        (address, result), steps = deploy(host, ctx_for(ALICE), program, args, gas), None
    return address, steps, result, host.state_digest()


def test_a_traced_deployment_records_init_and_ends_like_the_plain_one():
    program = load("token")
    address, steps, result, state = _fresh_deploy(program, ["Lab", "LAB", 1000], 2_000_000, True)
    plain_address, _, plain, plain_state = _fresh_deploy(program, ["Lab", "LAB", 1000], 2_000_000, False)
    assert (address, result, state) == (plain_address, plain, plain_state)
    assert result.success and steps[0].function == "init" and steps[-1].op == "returned"
    assert steps[-1].storage_diff["total"] == (0, 1000) and steps[-1].events == result.events
    debugger = Debugger(steps, result, program.source)
    assert sum(debugger.gas_per_line().values()) == result.gas_used - 32000 - 200 * len(program.to_bytes())


def test_a_traced_deployment_that_fails_or_has_no_init_matches_deploy():
    with_init = compile_contract("def init(n: int):\n    require(n > 0, 'n must be positive')\n")
    address, steps, result, state = _fresh_deploy(with_init, [0], 1_000_000, True)
    assert address is None and steps[-1].op == "reverted" and steps[-1].revert_reason == "n must be positive"
    assert _fresh_deploy(with_init, [0], 1_000_000, False)[2:] == (result, state)
    bare = compile_contract("def f():\n    return 1\n")
    address, steps, result, state = _fresh_deploy(bare, [], 1_000_000, True)
    assert address and [s.op for s in steps] == ["returned"] and steps[0].gas_used == result.gas_used
    assert _fresh_deploy(bare, [], 1_000_000, False)[2:] == (result, state)
    address, steps, result, _ = _fresh_deploy(bare, [1], 1_000_000, True)
    assert address is None and steps[0].revert_reason == "the contract has no init() to take deployment arguments"
