"""Determinism: the same calls give the same trace hash, results and state in two independent
processes (different hash seeds) and in two executions in one process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from vmkit import ALICE, BOB, CAROL, Chainlet

from labchain.ledger.contracts import run_trace, trace_hash
from labchain.ledger.contracts.stdlib import load

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]

SCRIPT = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
from test_determinism import workload
print(json.dumps(workload()))
'''


def workload() -> dict:
    chain = Chainlet()
    token = chain.deploy(load("token"), "Lab", "LAB", 10**6)
    nft = chain.deploy(load("collectible"), "c", True)
    hashes = []
    for i in range(20):
        to = (BOB, CAROL)[i % 2]
        steps, result = run_trace(chain.host, chain.ctx(ALICE, token.address), token.program, "transfer",
                                  [to, 1 + i * 7], 10**6)
        hashes.append(trace_hash(steps, result).hex())
    steps, result = run_trace(chain.host, chain.ctx(ALICE, nft.address), nft.program, "mint",
                              [BOB, "u", b"\x00" * 32], 10**6)
    hashes.append(trace_hash(steps, result).hex())
    code = chain.deploy("def f(n):\n    d = {}\n    for i in range(n):\n        d[str(i * 7919 % 101)] = i\n"
                        "    return [list(d.items())[:5], sorted(d)[:5]]\n")
    steps, result = run_trace(chain.host, chain.ctx(ALICE, code.address), code.program, "f", [300], 10**7)
    hashes.append(trace_hash(steps, result).hex())
    return {"traces": hashes, "state": chain.host.state_digest().hex()}


def test_two_processes_with_different_hash_seeds_give_the_same_traces_and_state():
    outputs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(ROOT))
        proc = subprocess.run([sys.executable, "-c", SCRIPT, str(HERE)], capture_output=True, text=True,
                              env=env, cwd=str(ROOT), timeout=120)
        assert proc.returncode == 0, proc.stderr
        outputs.append(json.loads(proc.stdout))
    assert outputs[0] == outputs[1]
    assert outputs[0] == workload()          # and this process agrees


def test_traced_and_plain_execution_charge_the_same_gas_and_leave_the_same_state():
    plain, traced = Chainlet(), Chainlet()
    a = plain.deploy(load("token"), "Lab", "LAB", 1000)
    b = traced.deploy(load("token"), "Lab", "LAB", 1000)
    r1 = a.call("transfer", BOB, 5)
    steps, r2 = run_trace(traced.host, traced.ctx(ALICE, b.address), b.program, "transfer", [BOB, 5], 5_000_000)
    assert r1 == r2 and plain.host.state_digest() == traced.host.state_digest()
    assert steps[-1].op == "returned" and steps[-1].gas_used == r1.gas_used
