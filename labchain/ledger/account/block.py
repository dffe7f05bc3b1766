"""Applying a block's transactions to the world state, and undoing it on a reorganisation.

Terminology
-----------
block context (:class:`BlockContext`)
    What execution may know of the block: height, timestamp, the proposer (who collects the
    fees: the miner under PoW, the proposing validator under a BFT engine), the chain id and
    the block gas limit.
execution of one transaction
    1. every rule of :func:`~labchain.ledger.account.tx.verify_tx` (a block holding a
       transaction that breaks one is invalid as a whole, Ethereum's rule);
    2. the nonce is used and ``gas_limit * gas_price`` is taken from the sender;
    3. a plain transfer moves ``value``; a creation compiles :class:`DeployData` and runs the
       constructor; a call to an account with code runs :class:`CallData`'s function (the VM
       in :mod:`labchain.ledger.contracts`), with ``value`` credited first;
    4. a failed creation or call (revert, out of gas, bad data) reverts step 3 completely but
       not step 2: the receipt says status 0 and why, the nonce stays used and the gas used
       is paid (all of ``gas_limit`` when it ran out of gas);
    5. unused gas is refunded to the sender and ``gas_used * gas_price`` paid to the proposer.
undo (:class:`~labchain.ledger.account.state.StateUndo`)
    The previous value of every state key the block changed, plus the root before it:
    :func:`undo_block` restores the exact previous state, checked by that root.

Simplifications versus Ethereum: no gas refund for clearing storage (EIP-3529 keeps a small
one), no base fee burnt (EIP-1559), no block reward here (the consensus engine pays it with
:func:`credit`); a contract's address is derived from the creating transaction's id and a
counter, not from the sender's nonce (it is still known before the transaction is sent).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

from labchain.core.errors import LabchainError
from labchain.crypto.suite import Suite

from labchain.ledger.account.errors import BadSignatureError, BlockContextError, GasLimitError, StateError
from labchain.ledger.account.receipts import (
    STATUS_FAILED,
    STATUS_SUCCESS,
    EventLog,
    Receipt,
    receipts_root,
)
from labchain.ledger.account.state import Account, StateUndo, WorldState
from labchain.ledger.account.tx import AccountAddress, AccountTx, check_tx_state, check_tx_syntax, account_version

#: Ethereum mainnet's block gas limit (30M, 2021-2024); ChainMaker counts transactions instead
#: (block_tx_capacity), Fabric bytes (BatchSize.AbsoluteMaxBytes).
DEFAULT_BLOCK_GAS_LIMIT = 30_000_000


@dataclass(frozen=True, slots=True)
class BlockContext:
    height: int
    timestamp: int
    proposer: AccountAddress     # fees go here (Ethereum: block.coinbase)
    chain_id: str
    gas_limit: int = DEFAULT_BLOCK_GAS_LIMIT


class BlockResult(NamedTuple):
    receipts: tuple[Receipt, ...]
    state_root: bytes
    receipts_root: bytes
    undo: StateUndo


class LedgerHost:
    """The VM's view of the world state (the ``Host`` protocol of
    :mod:`labchain.ledger.contracts`): addresses are the 21 bytes of an AccountAddress."""

    def __init__(self, state: WorldState, txid: bytes, endowment: int = 0) -> None:
        self.state = state
        self.txid = txid
        self.created = 0
        self.endowment = endowment   # a creating transaction's value, credited to the new contract

    def _address(self, raw: bytes) -> AccountAddress:
        address = AccountAddress.from_bytes(bytes(raw))
        if address.version != account_version(self.state.suite):
            raise StateError(f"{address} is not an account address of this chain's suite "
                             f"({self.state.suite.name})", address)
        return address

    def storage_get(self, contract: bytes, key: bytes) -> bytes | None:
        return self.state.storage_get(self._address(contract), key)

    def storage_set(self, contract: bytes, key: bytes, value: bytes | None) -> None:
        self.state.storage_set(self._address(contract), key, value)

    def balance(self, address: bytes) -> int:
        return self.state.balance(self._address(address))

    def transfer(self, src: bytes, dst: bytes, amount: int) -> None:
        source, target = self._address(src), self._address(dst)
        if type(amount) is not int or amount < 0:
            raise BlockContextError(f"a transfer amount must be a non-negative integer, got {amount!r}", amount)
        self.state.add_balance(source, -amount)   # StateError names the shortfall
        self.state.add_balance(target, amount)

    def code(self, address: bytes):
        source = self.state.code_of(self._address(address))
        return None if source is None else _compile(self.state.suite.hash(source), source)

    def create(self, creator: bytes, program) -> bytes:
        """Store ``program``'s source and make a contract account for it; its address is the
        suite's hash160 of (creating txid, creation counter)."""
        self.created += 1
        suite = self.state.suite
        address = AccountAddress(account_version(suite),
                                 suite.hash160(b"create" + self.txid + self.created.to_bytes(4, "big")))
        code_hash = self.state.put_code(program.source.encode("utf-8"))
        account = self.state.account(address)
        self.state.set_account(address, Account(max(account.nonce, 1), account.balance, code_hash))
        if self.endowment:
            self.transfer(creator, address.to_bytes(), self.endowment)
            self.endowment = 0
        return address.to_bytes()

    def snapshot(self) -> int:
        return self.state.snapshot()

    def revert_to(self, snapshot: int) -> None:
        self.state.revert_to(snapshot)


_PROGRAMS: dict[bytes, object] = {}   # code hash -> compiled Program (pure function of the source)


def _compile(code_hash: bytes, source: bytes):
    program = _PROGRAMS.get(code_hash)
    if program is None:
        from labchain.ledger.contracts.compiler import compile_contract
        program = compile_contract(source.decode("utf-8"))
        if len(_PROGRAMS) > 256:
            _PROGRAMS.clear()
        _PROGRAMS[code_hash] = program
    return program


def credit(state: WorldState, address: AccountAddress, amount: int) -> None:
    """Add ``amount`` to an account (genesis allocations, a block reward)."""
    state.add_balance(address, amount)


class _Outcome(NamedTuple):
    status: int
    gas_used: int          # beyond the intrinsic gas
    events: tuple = ()
    reason: str = ""
    line: int = 0
    created: AccountAddress | None = None


def _failed(reason: str, gas: int, line: int | None = None) -> _Outcome:
    return _Outcome(STATUS_FAILED, gas, (), reason, line or 0)


def _run_contract(state: WorldState, tx: AccountTx, ctx: BlockContext, sender: AccountAddress,
                  txid: bytes, gas: int) -> _Outcome:
    """Steps 3-4 for a creation or a call: the VM, with every effect reverted on failure."""
    from labchain.ledger.contracts.errors import ContractCompileError
    from labchain.ledger.contracts.records import CallContext
    from labchain.ledger.contracts.values import decode_value
    from labchain.ledger.contracts.vm import deploy, execute

    host = LedgerHost(state, txid, endowment=tx.value if tx.is_creation else 0)
    origin = sender.to_bytes()
    try:
        if tx.is_creation:
            data = tx.deploy_data()
            try:
                program = compile_contract_cached(state.suite, data.source)
            except ContractCompileError as exc:   # halts like an invalid EVM opcode: all gas is used
                return _failed(f"the contract does not compile: {exc}", gas)
            args = [decode_value(a) for a in data.args]
            call = CallContext(origin, origin, b"", tx.value, ctx.height, ctx.timestamp, ctx.chain_id, 0)
            address, result = deploy(host, call, program, args, gas)
            created = None if address is None else AccountAddress.from_bytes(address)
        else:
            program = host.code(tx.to.to_bytes())
            data = tx.call_data()
            args = [decode_value(a) for a in data.args]
            call = CallContext(origin, origin, tx.to.to_bytes(), tx.value, ctx.height, ctx.timestamp,
                               ctx.chain_id, 0)
            result = execute(host, call, program, data.function, args, gas)
            created = None
    except (LabchainError, ValueError) as exc:   # undecodable call data or arguments
        return _failed(f"the transaction's data cannot be used: {exc}", 0)
    if not result.success:
        return _failed(result.revert_reason or "the call failed", result.gas_used, result.revert_line)
    events = tuple(EventLog(AccountAddress.from_bytes(e.contract), e.name, tuple(e.topics), e.data)
                   for e in result.events)
    return _Outcome(STATUS_SUCCESS, result.gas_used, events, "", 0, created)


def read_call(state: WorldState, ctx: BlockContext, contract: AccountAddress, function: str, args: Sequence,
              sender: AccountAddress | None = None, gas_limit: int = DEFAULT_BLOCK_GAS_LIMIT):
    """Run a contract function without a transaction and undo every effect (a node's ``call``
    RPC, Ethereum's ``eth_call``): returns the VM's CallResult."""
    from labchain.ledger.contracts.records import CallContext
    from labchain.ledger.contracts.vm import execute

    host = LedgerHost(state, bytes(32))
    program = host.code(contract.to_bytes())
    if program is None:
        raise BlockContextError(f"{contract} has no contract code to call", contract)
    origin = (sender or contract).to_bytes()
    snapshot = state.snapshot()
    try:
        return execute(host, CallContext(origin, origin, contract.to_bytes(), 0, ctx.height, ctx.timestamp,
                                         ctx.chain_id, 0), program, function, list(args), gas_limit)
    finally:
        state.revert_to(snapshot)


def compile_contract_cached(suite: Suite, source: str):
    raw = source.encode("utf-8")
    return _compile(suite.hash(raw), raw)


def apply_transaction(state: WorldState, tx: AccountTx, ctx: BlockContext, cumulative_gas: int = 0) -> Receipt:
    """Run one transaction that passed every rule (steps 2-5 above) and return its receipt."""
    suite = state.suite
    sender = tx.sender(suite)
    txid = tx.txid(suite)
    account = state.account(sender)
    state.set_account(sender, Account(account.nonce + 1, account.balance - tx.gas_limit * tx.gas_price,
                                      account.code_hash))
    snapshot = state.snapshot()
    gas = tx.gas_limit - tx.intrinsic_gas
    if tx.is_creation or (tx.data and state.account(tx.to).code_hash):
        if tx.value and not tx.is_creation:
            state.add_balance(sender, -tx.value)
            state.add_balance(tx.to, tx.value)
        outcome = _run_contract(state, tx, ctx, sender, txid, gas)
        if outcome.status == STATUS_FAILED:
            state.revert_to(snapshot)
    else:
        state.add_balance(sender, -tx.value)
        state.add_balance(tx.to, tx.value)
        outcome = _Outcome(STATUS_SUCCESS, 0)
    gas_used = tx.intrinsic_gas + min(outcome.gas_used, gas)
    state.add_balance(sender, (tx.gas_limit - gas_used) * tx.gas_price)
    state.add_balance(ctx.proposer, gas_used * tx.gas_price)
    return Receipt(txid, outcome.status, gas_used, cumulative_gas + gas_used, outcome.created,
                   outcome.events, outcome.reason, outcome.line)


def apply_block(state: WorldState, txs: Sequence[AccountTx], ctx: BlockContext, reward: int = 0) -> BlockResult:
    """Run ``txs`` in order, then credit ``reward`` (the engine's block subsidy) to the proposer;
    returns (receipts, state_root, receipts_root, undo). A transaction breaking a rule makes the
    block invalid: the error is raised and the state left unchanged."""
    suite = state.suite
    prev_root, mark = state.state_root, state.snapshot()
    receipts: list[Receipt] = []
    cumulative = 0
    try:
        signed = suite.verify_many([(tx.public_key, tx.signing_message(), tx.signature)
                                    if isinstance(tx, AccountTx) else (b"", b"", b"") for tx in txs])
        for i, (tx, good) in enumerate(zip(txs, signed)):
            try:
                check_tx_syntax(tx, suite, ctx.chain_id, ctx.gas_limit, check_signature=False)
                if not good:
                    raise BadSignatureError(f"the signature of {tx} does not verify with its public key "
                                            f"({suite.name})", tx)
                if cumulative + tx.gas_limit > ctx.gas_limit:
                    raise GasLimitError(f"{tx} has gas limit {tx.gas_limit}, but only "
                                        f"{ctx.gas_limit - cumulative} of the block's {ctx.gas_limit} gas "
                                        "is left", tx)
                check_tx_state(tx, suite, state)
            except LabchainError as exc:
                raise type(exc)(f"transaction {i} of block {ctx.height}: {exc.message}", exc.obj) from None
            receipt = apply_transaction(state, tx, ctx, cumulative)
            cumulative = receipt.cumulative_gas_used
            receipts.append(receipt)
        if reward:
            credit(state, ctx.proposer, reward)
    except BaseException:
        state.revert_to(mark)
        raise
    undo = state.take_undo(mark, prev_root)
    return BlockResult(tuple(receipts), state.state_root, receipts_root(suite, receipts), undo)


class VerifiedBlock(NamedTuple):
    """A block executed on a state and undone again (a proposal checked before the vote): its
    result and the value each changed key got, so that committing it writes those values
    (:meth:`WorldState.apply_writes`) instead of running the transactions a second time.
    Valid only on the state it started from (``result.undo.prev_root``) at ``height``."""
    height: int
    result: BlockResult
    writes: tuple[tuple[bytes, bytes | None], ...]


def execute_detached(state: WorldState, txs: Sequence[AccountTx], ctx: BlockContext, reward: int = 0) -> VerifiedBlock:
    """:func:`apply_block`, then the state put back as it was; the writes are kept."""
    result = apply_block(state, txs, ctx, reward)
    writes = state.writes_of(result.undo)
    state.apply_undo(result.undo)
    return VerifiedBlock(ctx.height, result, writes)


def undo_block(state: WorldState, undo: StateUndo) -> None:
    """Restore the state from before the block ``undo`` was taken of (raises ``UndoError`` if
    the state is not the one the block left)."""
    state.apply_undo(undo)
