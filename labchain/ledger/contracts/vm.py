"""Running contract calls: :func:`execute`, :func:`deploy` and :func:`trace`.

Terminology
-----------
call
    Running one public function of a deployed contract with argument values, a gas limit and a
    :class:`CallContext`. The ledger decodes the arguments from transaction data
    (:func:`decode_value`), credits ``ctx.value`` before the call, and turns the
    :class:`CallResult` into a receipt.
revert
    A failed call: ``require``/``assert``/``revert``, a run-time error in the contract (division by
    zero, a missing dict key, a type mismatch), a failed ``transfer`` or inner ``call``, out of
    gas. The host is rolled back to the snapshot taken when the call started, no events survive,
    and ``gas_used`` is what was used up to the failure (the whole limit for out of gas, as in
    Ethereum). Nothing a contract does makes these functions raise; only caller mistakes do
    (a gas limit that is not a non-negative int, a context of the wrong type).

Simplifications versus real chains: a failed inner ``call`` always reverts its caller (Solidity's
default; there is no low-level call that returns ``False``); no static calls (a read-only
``call`` RPC runs :func:`execute` on a throw-away snapshot, which the ledger reverts); no gas
refunds; ``deploy`` charges ``create`` + ``create_byte`` per source byte from its gas limit.
"""
from __future__ import annotations

import dataclasses
import sys
from typing import Any, Iterator

from labchain.ledger.contracts import gas as G
from labchain.ledger.contracts.errors import ContractCallError, ContractValueError
from labchain.ledger.contracts.records import CallContext, CallResult, Host, Step
from labchain.ledger.contracts.runtime import (UNSET, VM, CallInfo, OutOfGas, Revert, VMFault, charge, copy_value,
                                                python_error, run_function)
from labchain.ledger.contracts.values import decode_value, encode_value

#: Python frames one contract frame may need (closures per nesting level), times the depth limit.
_RECURSION_NEEDED = G.MAX_CALL_DEPTH * (3 * G.MAX_NESTING + 12) + 2000
MAX_TRACE_STEPS = 200_000


def _ensure_recursion_limit() -> None:
    # CPython 3.11+ runs Python-to-Python calls without using the C stack, so a higher limit is safe;
    # the VM's own limits (MAX_CALL_DEPTH, MAX_NESTING) keep contracts far below it.
    if sys.getrecursionlimit() < _RECURSION_NEEDED:
        sys.setrecursionlimit(_RECURSION_NEEDED)


_ensure_recursion_limit()     # once at import, not in the middle of a caller's test or request


def _program_class() -> type:
    global _PROGRAM
    if _PROGRAM is None:
        from labchain.ledger.contracts.compiler import Program   # compiler imports runtime; vm stays light
        _PROGRAM = Program
    return _PROGRAM


_PROGRAM: type | None = None


def _check_call(host: Any, ctx: Any, program: Any, gas_limit: Any) -> None:
    if not isinstance(ctx, CallContext):
        raise ContractCallError(f"ctx must be a CallContext, not {type(ctx).__name__}", ctx)
    if type(gas_limit) is not int or gas_limit < 0:
        raise ContractCallError(f"gas_limit must be a non-negative int, not {gas_limit!r}", gas_limit)
    if not isinstance(program, _program_class()):
        raise ContractCallError(f"program must be a compiled Program, not {type(program).__name__}", program)


def _fail(reason: str, gas_used: int = 0, line: int | None = None) -> CallResult:
    return CallResult(False, gas_used, None, (), reason, line)


def _plain_scalar(v: Any) -> bool:
    t = type(v)
    return (t is int and v.bit_length() <= G.MAX_INT_BITS) or (t is bytes and len(v) < 0x10000)


def _run(host: Host, ctx: CallContext, program: Any, function: str, args: Any, gas_limit: int,
         tracer: Any = None, deploying: bool = False, vm: VM | None = None) -> CallResult:
    _ensure_recursion_limit()
    vm = vm or VM(host, gas_limit, tracer)
    vm.top = ctx.contract
    compiled = program.compiled(tracer is not None)
    fn = compiled.functions.get(function) if deploying else compiled.public.get(function)
    if fn is None:
        if function == "init" and not deploying:
            return _fail("init() runs only when the contract is deployed")
        if isinstance(function, str) and function in compiled.functions:
            return _fail(f"{function}() is private (its name starts with '_') and cannot be called from outside")
        return _fail(f"the contract has no public function {function!r} "
                     f"(it has: {', '.join(program.functions) or 'none'})")
    if not isinstance(args, (list, tuple)):
        return _fail(f"call arguments must be a list, not {type(args).__name__}")
    if len(args) <= 16 and all(_plain_scalar(a) for a in args):
        args = list(args)       # ints and bytes within the limits: the encoding's copy would equal them
    else:
        try:
            args = decode_value(encode_value(list(args)))        # a private copy, validated
        except ContractValueError as e:
            return _fail(f"bad call arguments: {e.message}")
    snap = host.snapshot()
    try:
        if deploying:
            charge(vm, G.GAS["create"] + G.GAS["create_byte"] * len(program.to_bytes()))
        value = run_function(vm, CallInfo(ctx, compiled), fn, args)
        value = copy_value(vm, value, "the return value")
    except OutOfGas as e:
        host.revert_to(snap)
        return _fail("out of gas", gas_limit, e.line)
    except VMFault as e:
        host.revert_to(snap)
        return _fail(e.reason, min(vm.used, gas_limit), e.line)
    except Exception as e:  # noqa: BLE001 -- a VM bug or a host error must not crash the node either
        host.revert_to(snap)
        return _fail(f"internal VM error: {python_error(e)}", min(vm.used, gas_limit))
    return CallResult(True, vm.used, value, tuple(vm.events), None, None)


def execute(host: Host, ctx: CallContext, program: Any, function: str, args: list, gas_limit: int) -> CallResult:
    """Call public ``function`` of ``program`` (deployed at ``ctx.contract``) with ``args``."""
    _check_call(host, ctx, program, gas_limit)
    return _run(host, ctx, program, function, args, gas_limit)


def deploy(host: Host, ctx: CallContext, program: Any, args: list, gas_limit: int) -> tuple[bytes | None, CallResult]:
    """Create the contract (``host.create(ctx.sender, program)``) and run its ``init(*args)``
    if it has one; on failure the creation is reverted and the address is None. ``ctx.contract``
    is ignored (the new address replaces it)."""
    _check_call(host, ctx, program, gas_limit)
    address, _, result = _deploy(host, ctx, program, args, gas_limit, False)
    return address, result


def trace_deploy(host: Host, ctx: CallContext, program: Any, args: list,
                 gas_limit: int) -> tuple[bytes | None, list[Step], CallResult]:
    """:func:`deploy` with the steps of ``init`` recorded (the same gas, effects and address);
    a contract without ``init`` gives one final step. The trace of a mined creation."""
    _check_call(host, ctx, program, gas_limit)
    return _deploy(host, ctx, program, args, gas_limit, True)


def _deploy(host: Host, ctx: CallContext, program: Any, args: list, gas_limit: int,
            traced: bool) -> tuple[bytes | None, list[Step], CallResult]:
    snap = host.snapshot()
    try:
        address = host.create(ctx.sender, program)
    except Exception as e:  # noqa: BLE001
        host.revert_to(snap)
        return None, [], _fail(f"the ledger could not create the contract: {e}")
    ctx = dataclasses.replace(ctx, contract=address)
    steps: list[Step] = []
    if program.has_init and traced:
        steps, result = run_trace(host, ctx, program, "init", args, gas_limit, deploying=True)
    elif program.has_init:
        result = _run(host, ctx, program, "init", args, gas_limit, deploying=True)
    else:
        if args:
            result = _fail("the contract has no init() to take deployment arguments")
        else:
            vm = VM(host, gas_limit)
            try:
                charge(vm, G.GAS["create"] + G.GAS["create_byte"] * len(program.to_bytes()))
                result = CallResult(True, vm.used, None, (), None, None)
            except OutOfGas:
                result = _fail("out of gas", gas_limit)
        if traced:
            steps = [Step(0, "returned" if result.success else "reverted", result.gas_used, {}, {}, 0, (),
                          "init", address, result.revert_reason)]
    if not result.success:
        host.revert_to(snap)
        return None, steps, result
    return address, steps, result


class _Recorder:
    """The tracer: records one :class:`Step` per statement about to run."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.vm: VM | None = None
        self.truncated = False

    def __call__(self, fr: list, line: int, op: str, fn: Any) -> None:
        if len(self.steps) >= MAX_TRACE_STEPS:
            self.truncated = True
            return
        vm = fr[0]
        local = {}
        for i, name in enumerate(fn.names):
            v = fr[3 + i]
            if v is not UNSET:
                local[name] = _snapshot_value(v)
        self.steps.append(Step(line, op, vm.limit - vm.gas, local, dict(vm.diff), vm.depth, tuple(vm.events),
                               fn.name, fr[1].address))


def _snapshot_value(v: Any) -> Any:
    if type(v) in (int, bool, str, bytes):
        return v
    try:
        return decode_value(encode_value(v))
    except ContractValueError:
        return f"<{type(v).__name__} too large to show>"


def trace(host: Host, ctx: CallContext, program: Any, function: str, args: list,
          gas_limit: int, deploying: bool = False) -> Iterator[Step]:
    """Run the call exactly like :func:`execute` (same gas, same effects on ``host``) and yield
    one :class:`Step` per statement, then a last step with ``op`` "returned" or "reverted". The
    generator's return value (``StopIteration.value``) is the :class:`CallResult`;
    :func:`run_trace` gives both at once. ``deploying=True`` traces ``init`` as :func:`deploy`
    would run it (the contract must already exist at ``ctx.contract``)."""
    _check_call(host, ctx, program, gas_limit)
    steps, result = run_trace(host, ctx, program, function, args, gas_limit, deploying)
    yield from steps
    return result


def run_trace(host: Host, ctx: CallContext, program: Any, function: str, args: list, gas_limit: int,
              deploying: bool = False) -> tuple[list[Step], CallResult]:
    """The steps of a traced call and its result (see :func:`trace`)."""
    _check_call(host, ctx, program, gas_limit)
    rec = _Recorder()
    vm = VM(host, gas_limit, rec)
    result = _run(host, ctx, program, function, args, gas_limit, rec, deploying, vm)
    steps = rec.steps
    last = steps[-1] if steps else None
    final_line = result.revert_line if result.revert_line is not None else (last.line if last else 0)
    steps.append(Step(final_line, "returned" if result.success else "reverted", result.gas_used,
                      last.locals if last else {}, dict(vm.diff) if result.success else (last.storage_diff if last else {}),
                      0, result.events, function, ctx.contract, result.revert_reason))
    return steps, result


def trace_hash(steps: list[Step], result: CallResult) -> bytes:
    """A digest of a trace (lines, ops, gas, depths) and its result: equal on every node."""
    import hashlib
    h = hashlib.sha256()
    for s in steps:
        h.update(f"{s.line}|{s.op}|{s.gas_used}|{s.depth}|{s.function};".encode())
    h.update(encode_value([result.success, result.gas_used, result.revert_reason, result.revert_line]))
    try:
        h.update(encode_value(result.return_value))
    except ContractValueError:
        h.update(b"?")
    for e in result.events:
        h.update(e.to_bytes())
    return h.digest()


def result_digest(result: CallResult) -> bytes:
    """A digest of a :class:`CallResult` (for comparing two executions)."""
    return trace_hash([], result)
