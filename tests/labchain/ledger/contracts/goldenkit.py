"""A fixed workload for the gas golden test (test_gas_golden.py): the four standard contracts and a
contract that uses every statement and most expressions of the language, called plainly and
traced. ``run_workload()`` gives one record per call (gas used, success, revert line) and digests
of the results, the traces and the final state; the golden values were recorded before the
interpreter's fast path was rewritten, so any change of the gas table or of the VM's semantics
shows up as a difference."""
from __future__ import annotations

import dataclasses
import hashlib

from vmkit import ALICE, BOB, CAROL, ctx_for

from labchain.ledger.contracts import compile_contract, deploy, execute, run_trace, trace_hash
from labchain.ledger.contracts.memory_host import MemoryHost
from labchain.ledger.contracts.stdlib import load
from labchain.ledger.contracts.vm import result_digest

DOC = hashlib.sha256(b"golden document").digest()

MIX = '''
from contract import *

counts = storage.map(bytes, int)
pairs = storage.map((bytes, int), str)
notes = storage.value(list)
LIMITS = [3, 5, 8]
BIG = 2 ** 100 + 7


class Noted(Event):
    who: Indexed[bytes]
    text: str


def init(start: int):
    notes.set(["born"])
    counts[msg.sender] = start


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def loop(n):
    t = 0
    i = 0
    while i < n:
        t = (t + i * i) % 1000003
        i += 1
        if i % 7 == 0:
            continue
        if t > 10 ** 9:
            break
    return t


def sieve(n):
    flags = [True] * n
    count = 0
    for i in range(2, n):
        if flags[i]:
            count += 1
            for j in range(i * i, n, i):
                flags[j] = False
    return count


def _scale(x, k=3):
    return x * k


def _typed(a: int, b: str = "z") -> str:
    return f"{a}-{b}"


def values(n: int) -> dict:
    xs = [i * i for i in range(n) if i % 2 == 0]
    d = {str(i): i for i in range(n)}
    grid = [[a, b] for a in range(3) for b in range(a)]
    s = "Hello, World"
    parts = s.lower().split(", ")
    joined = "-".join(parts)
    sl = xs[1:3] + xs[::-1][:2]
    a, b = sl[0], sl[-1]
    c: int = _scale(a) + _scale(b, 2)
    big = BIG * BIG // (BIG - 1) + (BIG << 3) - (BIG >> 2) ^ 12345
    flag = (a < b <= c) and not (a == b) or c != 0
    pick = a if flag else b
    e = -a + ~b + abs(-c)
    xs.append(99)
    xs.insert(0, 7)
    xs.extend([1, 2])
    xs.sort()
    lst = LIMITS
    lst[0] += 10
    d["extra"] = len(xs)
    keys = sorted(list(d.keys()))
    total = sum(xs) + min(xs) + max(3, 4) + pow(3, 5, 7) + pow(2, 10)
    h = sha256(joined)
    num = int.from_bytes(h[:4]) + len(bytes.fromhex("00ff"))
    en = [[i, x] for i, x in enumerate(parts)]
    zp = list(zip(xs[:2], keys[:2]))
    ok = isinstance(num, int) and any([False, True]) and all([1, 2])
    del d["0"]
    m = d.get("1", 0) + d.setdefault("q", 4)
    return {"xs": xs, "grid": grid, "joined": joined, "c": c, "big": big % 1000, "pick": pick, "e": e,
            "lst": lst, "keys": keys[:3], "total": total, "num": num, "en": en, "zp": zp, "ok": ok, "m": m,
            "t": _typed(n), "u": _typed(n, "y"), "r": reversed([1, 2, 3]), "s": str(n) + s[0:2].upper()}


def store(who: bytes, k: int, text: str) -> int:
    counts[who] += k
    pairs[who, k] = text
    if (who, k) in pairs:
        pass
    n = notes.get()
    n.append(text)
    notes.set(n)
    if who in counts and msg.sender not in counts:
        counts[msg.sender] = 1
    emit(Noted(who=who, text=f"{text}:{counts[who]}"))
    assert counts[who] > 0, "positive"
    return counts[who] + block.height + len(this) + msg.value


def forget(who: bytes, k: int):
    del pairs[who, k]
    del counts[who]
    notes.set([])


def must(x: int):
    require(x > 10, f"x={x} is too small")
    return x


def boom():
    revert("boom")


def spin():
    i = 0
    while True:
        i += 1


def pay(to: bytes, amount: int) -> int:
    transfer(to, amount)
    return balance(to)


def spawn(code: bytes, start: int) -> bytes:
    child = create(code, start)
    return call(child, "must", 11) + call(child, "fib", 5)
'''

MIX_PROGRAM = compile_contract(MIX, "mix")


def _calls(token: bytes, nft: bytes, store: bytes, trace_c: bytes, mix: bytes) -> list:
    """(contract, program, sender, function, args, gas)."""
    tok, col, evi, tra, mx = load("token"), load("collectible"), load("evidence"), load("traceability"), MIX_PROGRAM
    g = 3_000_000
    return [
        (token, tok, ALICE, "transfer", [BOB, 10], g),
        (token, tok, ALICE, "transfer", [BOB, 5], g),
        (token, tok, BOB, "transfer", [CAROL, 100], g),              # balance too low
        (token, tok, ALICE, "approve", [BOB, 300], g),
        (token, tok, BOB, "transfer_from", [ALICE, CAROL, 200], g),
        (token, tok, ALICE, "balance_of", [CAROL], g),
        (token, tok, ALICE, "name", [], g),
        (token, tok, ALICE, "transfer", [BOB, 1], 10_000),           # out of gas
        (nft, col, ALICE, "mint", [BOB, "ipfs://1", DOC], g),
        (nft, col, BOB, "approve", [CAROL, 1], g),
        (nft, col, CAROL, "transfer", [ALICE, 1], g),
        (nft, col, ALICE, "token_info", [1], g),
        (nft, col, BOB, "mint", [BOB, "x", DOC], g),                  # only the issuer
        (store, evi, BOB, "submit", [DOC, "scan"], g),
        (store, evi, BOB, "submit", [DOC, "again"], g),               # refused
        (store, evi, ALICE, "verify", [DOC], g),
        (store, evi, ALICE, "verify_document", [b"golden document"], g),
        (store, evi, ALICE, "submissions_of", [BOB], g),
        (trace_c, tra, ALICE, "register_org", [BOB, "Farm", "producer"], g),
        (trace_c, tra, ALICE, "register_org", [CAROL, "Shop", "retailer"], g),
        (trace_c, tra, BOB, "create_product", ["SN-1", "tea", "Hangzhou", DOC], g),
        (trace_c, tra, BOB, "hand_over", ["SN-1", CAROL, "Shanghai", DOC], g),
        (trace_c, tra, CAROL, "accept", ["SN-1", "Beijing", DOC], g),
        (trace_c, tra, ALICE, "trace_product", ["SN-1"], g),
        (mix, mx, ALICE, "fib", [12], 10**7),
        (mix, mx, ALICE, "loop", [2000], 10**7),
        (mix, mx, ALICE, "sieve", [500], 10**7),
        (mix, mx, ALICE, "values", [9], 10**7),
        (mix, mx, ALICE, "store", [BOB, 4, "a"], g),
        (mix, mx, CAROL, "store", [BOB, 5, "b"], g),
        (mix, mx, ALICE, "forget", [BOB, 4], g),
        (mix, mx, ALICE, "must", [3], g),
        (mix, mx, ALICE, "must", [30], g),
        (mix, mx, ALICE, "boom", [], g),
        (mix, mx, ALICE, "spin", [], 50_000),
        (mix, mx, ALICE, "pay", [CAROL, 7], g),
        (mix, mx, ALICE, "pay", [CAROL, 10**15], g),                  # shortfall
        (mix, mx, ALICE, "spawn", [mix, 2], g),
        (mix, mx, ALICE, "fib", [10**9], 200_000),                    # out of gas in deep recursion
        (mix, mx, ALICE, "values", ["x"], g),                         # annotation refused
    ]


def run_workload(traced: bool) -> dict:
    """Deploy everything and run every call (plainly or traced) on a fresh host."""
    host = MemoryHost({ALICE: 10**9, BOB: 10**9, CAROL: 10**9})
    records, digest, traces = [], hashlib.sha256(), hashlib.sha256()
    addresses = []
    for program, args in ((load("token"), ["Lab", "LAB", 1000]), (load("collectible"), ["murals", True]),
                          (load("evidence"), []), (load("traceability"), []), (MIX_PROGRAM, [5])):
        address, result = deploy(host, ctx_for(ALICE), program, args, 5_000_000)
        assert result.success, result.revert_reason
        records.append(("deploy", result.gas_used, True, None))
        digest.update(result_digest(result))
        addresses.append(address)
    host.balances[addresses[4]] = 1000
    for contract, program, sender, function, args, gas in _calls(*addresses):
        ctx = dataclasses.replace(ctx_for(sender), contract=contract)
        if traced:
            steps, result = run_trace(host, ctx, program, function, args, gas)
            traces.update(trace_hash(steps, result))
        else:
            result = execute(host, ctx, program, function, args, gas)
        records.append((function, result.gas_used, result.success, result.revert_line))
        digest.update(result_digest(result))
    return {"records": records, "results": digest.hexdigest(), "traces": traces.hexdigest(),
            "state": host.state_digest().hex()}
