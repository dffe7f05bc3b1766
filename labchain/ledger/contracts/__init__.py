"""The contract VM: a gas-metered, sandboxed interpreter for contracts written in a whitelisted
subset of Python (issue #11 §2; docs/contracts.md).

Public API (the account ledger, the node and the notebooks use only these names)::

    compile_contract(source, name="contract") -> Program      # ContractCompileError(.line, .col)
    execute(host, ctx, program, function, args, gas_limit) -> CallResult
    deploy(host, ctx, program, args, gas_limit) -> (address | None, CallResult)
    trace(host, ctx, program, function, args, gas_limit) -> Iterator[Step]
    trace_deploy(host, ctx, program, args, gas_limit) -> (address | None, [Step], CallResult)
    encode_value(v) -> bytes, decode_value(b) -> value          # canonical contract values
    Host (Protocol), CallContext, Event, CallResult, Step, GAS, may_upgrade

Layout: ``values.py`` (encoding), ``gas.py`` (prices and limits), ``compiler.py`` (language check
and closure compilation), ``runtime.py`` (execution state, library), ``vm.py`` (entry points),
``memory_host.py`` (a Host in dicts), ``debugger.py`` (step API and notebook widget),
``upgrade.py`` (the upgrade policy hook), ``stdlib/`` (standard contracts as source).
"""
from labchain.ledger.contracts.compiler import Program, compile_contract
from labchain.ledger.contracts.errors import ContractCallError, ContractCompileError, ContractValueError
from labchain.ledger.contracts.gas import GAS, MAX_CALL_DEPTH
from labchain.ledger.contracts.records import CallContext, CallResult, Event, Host, Step
from labchain.ledger.contracts.upgrade import may_upgrade
from labchain.ledger.contracts.values import decode_value, encode_value, event_signature, event_topic
from labchain.ledger.contracts.vm import deploy, execute, run_trace, trace, trace_deploy, trace_hash

__all__ = [
    "compile_contract", "Program", "Host", "CallContext", "Event", "CallResult", "Step",
    "execute", "deploy", "trace", "run_trace", "trace_deploy", "trace_hash", "encode_value", "decode_value",
    "event_topic", "event_signature", "GAS", "MAX_CALL_DEPTH", "may_upgrade",
    "ContractCompileError", "ContractValueError", "ContractCallError",
]
