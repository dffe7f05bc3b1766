"""Helpers of the contract VM tests: an in-memory host, addresses, a context maker and a
``Chainlet`` that deploys and calls contracts on that host (fixtures in conftest.py)."""
from __future__ import annotations

import dataclasses
import os

from labchain.ledger.contracts import CallContext, compile_contract, deploy, execute
from labchain.ledger.contracts.memory_host import MemoryHost

ALICE, BOB, CAROL = b"\xa1" * 20, b"\xb0" * 20, b"\xc4" * 20
GAS_LIMIT = 5_000_000


def ctx_for(sender: bytes, contract: bytes = b"", value: int = 0, height: int = 7, timestamp: int = 1_700_000_000,
            depth: int = 0) -> CallContext:
    return CallContext(sender, sender, contract, value, height, timestamp, "regtest", depth)


class Chainlet:
    """A MemoryHost plus helpers: deploy source, call functions, expect success."""

    def __init__(self) -> None:
        self.host = MemoryHost({ALICE: 10**9, BOB: 10**9, CAROL: 10**9})
        self.height = 7
        self.timestamp = 1_700_000_000

    def deploy(self, source: str, *args, sender: bytes = ALICE, gas: int = GAS_LIMIT):
        program = compile_contract(source) if isinstance(source, str) else source
        address, result = deploy(self.host, self.ctx(sender), program, list(args), gas)
        assert result.success, result.revert_reason
        return Deployed(self, address, program)

    def ctx(self, sender: bytes, contract: bytes = b"", value: int = 0) -> CallContext:
        return ctx_for(sender, contract, value, self.height, self.timestamp)


@dataclasses.dataclass
class Deployed:
    chain: Chainlet
    address: bytes
    program: object

    def call(self, function: str, *args, sender: bytes = ALICE, gas: int = GAS_LIMIT, value: int = 0):
        return execute(self.chain.host, self.chain.ctx(sender, self.address, value), self.program, function,
                       list(args), gas)

    def ok(self, function: str, *args, **kw):
        result = self.call(function, *args, **kw)
        assert result.success, f"{function} reverted at line {result.revert_line}: {result.revert_reason}"
        return result.return_value

    def fails(self, function: str, *args, **kw):
        result = self.call(function, *args, **kw)
        assert not result.success, f"{function} succeeded with {result.return_value!r}"
        return result


def run_function(body: str, *args, gas: int = GAS_LIMIT, prelude: str = ""):
    """Compile ``def f(...)`` from ``body`` (already a full def) and call it on a fresh host."""
    c = Chainlet()
    d = c.deploy(prelude + body)
    return d.call("f", *args, gas=gas)


FUZZ_EXAMPLES = int(os.environ.get("LABCHAIN_FUZZ_EXAMPLES", "0") or 0)
