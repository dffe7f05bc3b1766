"""Golden gas values: the gas used, success and revert line of every call of a fixed workload
(goldenkit.py: the four standard contracts and a contract using every statement), and digests of
the results, the traces and the final state. Recorded before the interpreter's fast path was
rewritten (statement lists, inlined calls): the plain path and the traced (debugger) path must
both still give exactly these figures. A difference means the gas table or the VM's semantics
changed, which is a hard fork (docs/contracts.md)."""
from __future__ import annotations

from goldenkit import run_workload

GOLDEN_RECORDS = [
    ('deploy', 513094, True, None),
    ('deploy', 576159, True, None),
    ('deploy', 370000, True, None),
    ('deploy', 734905, True, None),
    ('deploy', 714615, True, None),
    ('transfer', 29254, True, None),
    ('transfer', 12154, True, None),
    ('transfer', 2168, False, 50),
    ('approve', 24235, True, None),
    ('transfer_from', 34312, True, None),
    ('balance_of', 2106, True, None),
    ('name', 2111, True, None),
    ('transfer', 10000, False, 52),
    ('mint', 94122, True, None),
    ('approve', 24363, True, None),
    ('transfer', 41921, True, None),
    ('token_info', 4360, True, None),
    ('mint', 2143, False, 36),
    ('submit', 70566, True, None),
    ('submit', 2151, False, 22),
    ('verify', 2236, True, None),
    ('verify_document', 2336, True, None),
    ('submissions_of', 2115, True, None),
    ('register_org', 24242, True, None),
    ('register_org', 24242, True, None),
    ('create_product', 54122, True, None),
    ('hand_over', 22477, True, None),
    ('accept', 22523, True, None),
    ('trace_product', 8743, True, None),
    ('fib', 18109, True, None),
    ('loop', 236361, True, None),
    ('sieve', 19878, True, None),
    ('values', 1971, True, None),
    ('store', 53391, True, None),
    ('store', 56298, True, None),
    ('forget', 15023, True, None),
    ('must', 21, False, 116),
    ('must', 21, True, None),
    ('boom', 8, False, 121),
    ('spin', 50000, False, 127),
    ('pay', 11617, True, None),
    ('pay', 9009, False, 131),
    ('spawn', 720436, True, None),
    ('fib', 4160, False, 24),
    ('values', 0, False, None),
]
#: result_digest of every call in order (success, gas, return value, revert reason and line, events)
GOLDEN_RESULTS = "c9773f6165aad8cec7719531073de4eb5858f32f960cec4f83b5b7e64c771936"
#: trace_hash of every traced call in order (line, op, gas used and depth of every step)
GOLDEN_TRACES = "f976eea5e9c89e0842acbe6d12cbc5e41bc9ab3f5fe215c25cbe77c887dfe893"
#: MemoryHost.state_digest() after the workload (balances, code hashes, storage)
GOLDEN_STATE = "b409c937740f3dfb3b3f1d89436205115b11ac603347cff2e9d3d5866f106e0c"


def test_plain_execution_uses_the_recorded_gas_and_reaches_the_recorded_state():
    got = run_workload(traced=False)
    assert got["records"] == GOLDEN_RECORDS
    assert got["results"] == GOLDEN_RESULTS
    assert got["state"] == GOLDEN_STATE


def test_traced_execution_gives_the_same_gas_results_and_state_and_the_recorded_trace():
    got = run_workload(traced=True)
    assert got["records"] == GOLDEN_RECORDS
    assert got["results"] == GOLDEN_RESULTS
    assert got["state"] == GOLDEN_STATE
    assert got["traces"] == GOLDEN_TRACES
