"""Contract VM speed (issue #11 §5): token transfers per second in LabChain's VM and, in the same
run, the equivalent Vyper token on py-evm; and the interpreter's overhead on CPU-bound functions
and on a storage-heavy transfer loop versus the same functions run by CPython (goal: at most 30x
slower; CPython's storage map is a ``defaultdict``, without encoding, gas or undo journal).

LabChain side: ``execute`` of the standard token's ``transfer`` on the in-memory host (no
signatures, no blocks; storage writes through the host's undo journal), plain and traced.
py-evm side (dev extra ``py-evm``, ``vyper``; skipped with a note when missing): the Vyper token
compiled by vyper, deployed on a Shanghai-fork py-evm chain, and ``transfer`` run two ways:
``apply_transaction`` of an unsigned transaction with a spoofed sender (no signature recovery,
but nonce, gas purchase, refunds and account updates, as a ledger does) and the bare message
call (``apply_message``: the interpreter alone, closer to what our figure measures).

Figures are wall-clock on one core; run with nothing else on the machine for stable numbers:
``.venv/bin/python bench/bench_vm.py [--seconds 3]``.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_note, table  # noqa: E402

from labchain.ledger.contracts import CallContext, compile_contract, deploy, execute, trace  # noqa: E402
from labchain.ledger.contracts.memory_host import MemoryHost  # noqa: E402
from labchain.ledger.contracts.stdlib import load  # noqa: E402

ALICE = b"\xa1" * 20
RECIPIENTS = [bytes([i]) * 20 for i in range(1, 101)]

CPU_SOURCE = '''
balances = storage.map(int, int)
def loop(n):
    t = 0
    i = 0
    while i < n:
        t = (t + i * i) % 1000003
        i += 1
    return t

def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)

def sieve(n):
    flags = [True] * n
    count = 0
    for i in range(2, n):
        if flags[i]:
            count += 1
            for j in range(i * i, n, i):
                flags[j] = False
    return count

def transfers(n):
    balances[0] = n
    i = 0
    while i < n:
        have = balances[0]
        require(have >= 1, "balance too low")
        balances[0] = have - 1
        balances[i % 100 + 1] += 1
        i += 1
    return balances[0]
'''
CPU_CASES = (("loop", 200_000), ("fib", 20), ("sieve", 100_000), ("transfers", 20_000))


class _Storage:
    """CPython's stand-in for the contract library's storage: a map is a dict whose missing
    keys read as 0 (what the VM's storage map of ints does, minus encoding, gas and the journal)."""

    @staticmethod
    def map(key_type: type, value_type: type) -> dict:
        return collections.defaultdict(value_type)


def _require(condition: object, message: str) -> None:
    if not condition:
        raise AssertionError(message)

VYPER_TOKEN = '''
# pragma version ^0.4.0
balanceOf: public(HashMap[address, uint256])

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    amount: uint256

@deploy
def __init__(supply: uint256):
    self.balanceOf[msg.sender] = supply

@external
def transfer(to: address, amount: uint256) -> bool:
    assert self.balanceOf[msg.sender] >= amount, "balance too low"
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[to] += amount
    log Transfer(msg.sender, to, amount)
    return True
'''


def rate(fn, seconds: float) -> tuple[float, int]:
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn(count)
        count += 1
    return count / elapsed, count


def labchain_transfers(seconds: float, traced: bool = False) -> tuple[float, int]:
    host = MemoryHost()
    ctx = CallContext(ALICE, ALICE, b"", 0, 1, 1_700_000_000, "bench")
    program = load("token")
    address, result = deploy(host, ctx, program, ["Bench", "B", 10**12], 10**7)
    assert result.success, result.revert_reason
    ctx = dataclasses.replace(ctx, contract=address)
    gas = [0]

    def one(i: int) -> None:
        args = [RECIPIENTS[i % len(RECIPIENTS)], 1]
        if traced:
            steps = trace(host, ctx, program, "transfer", args, 200_000)
            for _ in steps:
                pass
        else:
            r = execute(host, ctx, program, "transfer", args, 200_000)
            assert r.success, r.revert_reason
            gas[0] = r.gas_used
        if i % 1000 == 999:
            host.commit()            # a block boundary: the undo journal is dropped
    per_s, _ = rate(one, seconds)
    return per_s, gas[0]


def evm_transfers(seconds: float) -> tuple[float, float, int] | str:
    try:
        import vyper
        from eth import constants
        from eth._utils.address import generate_contract_address
        from eth.chains.base import MiningChain
        from eth.db.atomic import AtomicDB
        from eth.vm.forks import ShanghaiVM
        from eth.vm.message import Message
        from eth.vm.spoof import SpoofTransaction
        from eth_utils import keccak
    except ImportError as e:
        return f"skipped: {e.name} is not installed (pip install -e '.[dev]' brings py-evm and vyper)"
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = bytes.fromhex(vyper.compile_code(VYPER_TOKEN, output_formats=["bytecode"])["bytecode"][2:])
    sender = ALICE
    chain_class = MiningChain.configure(__name__="BenchChain", vm_configuration=((0, ShanghaiVM),), chain_id=1337)
    chain = chain_class.from_genesis(AtomicDB(), {"difficulty": 0, "gas_limit": 30_000_000, "timestamp": 1,
                                                  "coinbase": constants.ZERO_ADDRESS},
                                     {sender: {"balance": 10**24, "nonce": 0, "code": b"", "storage": {}}})
    vm = chain.get_vm()
    state = vm.state
    tx = vm.create_unsigned_transaction(nonce=0, gas_price=10**9, gas=3_000_000, to=b"", value=0,
                                        data=code + (10**12).to_bytes(32, "big"))
    assert state.apply_transaction(SpoofTransaction(tx, from_=sender)).is_success
    token = generate_contract_address(sender, 0)
    selector = keccak(b"transfer(address,uint256)")[:4]
    nonce = [1]
    gas = [0]

    def data(i: int) -> bytes:
        return selector + RECIPIENTS[i % len(RECIPIENTS)].rjust(32, b"\0") + (1).to_bytes(32, "big")

    def one_tx(i: int) -> None:
        t = vm.create_unsigned_transaction(nonce=nonce[0], gas_price=10**9, gas=200_000, to=token, value=0, data=data(i))
        nonce[0] += 1
        c = state.apply_transaction(SpoofTransaction(t, from_=sender))
        assert c.is_success
        gas[0] = c.get_gas_used()
    tx_rate, _ = rate(one_tx, seconds)
    token_code = state.get_code(token)
    tx_context = state.get_transaction_context_class()(gas_price=10**9, origin=sender)

    def one_message(i: int) -> None:
        msg = Message(gas=200_000, to=token, sender=sender, value=0, data=data(i), code=token_code)
        c = state.computation_class.apply_message(state, msg, tx_context)
        assert c.is_success
    msg_rate, _ = rate(one_message, seconds)
    return tx_rate, msg_rate, gas[0]


def cpu_ratios(repeat: int = 3) -> list[list[object]]:
    namespace: dict = {"storage": _Storage, "require": _require}
    exec(compile(CPU_SOURCE, "<cpython reference>", "exec"), namespace)   # our own benchmark text, not input
    program = compile_contract(CPU_SOURCE, "cpu")
    host = MemoryHost()
    ctx = CallContext(ALICE, ALICE, b"", 0, 1, 1, "bench")
    address, _ = deploy(host, ctx, program, [], 10**7)
    ctx = dataclasses.replace(ctx, contract=address)
    rows = []
    for name, arg in CPU_CASES:
        vm_best = py_best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            r = execute(host, ctx, program, name, [arg], 10**9)
            vm_best = min(vm_best, time.perf_counter() - t)
            t = time.perf_counter()
            expected = namespace[name](arg)
            py_best = min(py_best, time.perf_counter() - t)
            assert r.success and r.return_value == expected
        rows.append([f"{name}({arg})", vm_best * 1000, py_best * 1000, vm_best / py_best, r.gas_used,
                     r.gas_used / vm_best / 1e6])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="measuring time per figure")
    args = ap.parse_args()
    print(f"Contract VM benchmark ({machine_note()})\n")
    # CPU ratios first: py-evm leaves many objects behind, which makes the garbage collector slower
    cpu = cpu_ratios()
    plain, gas = labchain_transfers(args.seconds)
    traced, _ = labchain_transfers(args.seconds, traced=True)
    rows = [["LabChain VM, execute()", plain, gas], ["LabChain VM, trace() (debugger recording)", traced, gas]]
    evm = evm_transfers(args.seconds)
    if isinstance(evm, str):
        rows.append([f"py-evm: {evm}", None, None])
    else:
        tx_rate, msg_rate, evm_gas = evm
        rows.append(["py-evm + Vyper, apply_transaction (spoofed sender)", tx_rate, evm_gas])
        rows.append(["py-evm + Vyper, apply_message (interpreter only)", msg_rate, None])
    print("Token transfer (storage: 2 slots written, 1 event)")
    print(table(["engine", "transfers/s", "gas per transfer"], rows))
    if not isinstance(evm, str):
        print(f"\nLabChain VM / py-evm: {plain / evm[0]:.0f}x (transactions), {plain / evm[1]:.0f}x (messages)")
    print("\nCPU-bound functions: the VM vs the same function run by CPython (best of 3)")
    print(table(["function", "VM ms", "CPython ms", "ratio (goal <= 30)", "gas", "Mgas/s"], cpu))


if __name__ == "__main__":
    main()
