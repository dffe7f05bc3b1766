"""JSON-RPC methods of the account ledger model (registered by the model: the node names it
through ``chain.ledger.rpc_module`` and never imports it by name).

Methods (docs/account-ledger.md, "Node RPC"):
``getaccount(address)``, ``getbalance(address)`` (the account's, replacing the UTXO one),
``getnonce(address)``, ``sendtransaction(hex)`` (a signed AccountTx), ``deploycontract(from,
source[, args, gas_limit, value])`` and ``sendcontract(from, contract, function[, args, ...])``
(signed with the node's deterministic account ``from``), ``call(contract, function[, args,
from])`` (read-only), ``estimategas(hex)``, ``getreceipt(txid)``, ``getlogs([contract, topic,
from_height, to_height])``, ``getproof(address[, storage_key])`` (checked by
:func:`labchain.chain.account_model.verify_account_proof` against a header), and
``tracetransaction(txid)`` (the VM's step trace of a mined contract call, replayed on the state
before it; the JSON :meth:`labchain.ledger.contracts.debugger.Debugger.from_json` reads).

Contract arguments in JSON: numbers, strings, booleans, lists and objects as themselves; bytes
as ``"0x..."`` hex, or ``{"address": "B..."}`` for an account address's 21 bytes. Results: bytes
as ``"0x..."``.

Simplifications versus Ethereum's JSON-RPC: no block tags (``latest``/``pending``: always the
tip, ``getnonce`` also answers the pool's next nonce), no filters kept on the node (``getlogs``
scans receipts by height); a creation's trace is its ``init`` (creation gas included in the result).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labchain.chain.account_model import AccountBlock, to_account_address
from labchain.core.encoding import Nested
from labchain.core import errors
from labchain.ledger.account import (
    AccountTx, StateUndo, WorldState, account_key, apply_transaction, read_call, storage_key,
)
from labchain.ledger.account.state import Account
from labchain.ledger.account.tx import AccountAddress, check_tx_state
from labchain.ledger.account.wallet import AccountWallet
from labchain.merkle import merkle_root
from labchain.node.messages import MESSAGE_TYPES, BlockMsg, TxMsg
from labchain.node.rpc import Code, Method, Param, RpcError

if TYPE_CHECKING:
    from labchain.node.node import Node

MAX_LOG_RANGE = 10_000   # heights per getlogs call (geth caps a filter's range too)


def to_json_value(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, dict):
        return {str(to_json_value(k)): to_json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_json_value(x) for x in v]
    return v


def from_json_value(v: Any, suite) -> Any:
    if isinstance(v, str) and v.startswith("0x"):
        try:
            return bytes.fromhex(v[2:])
        except ValueError:
            raise RpcError(Code.INVALID_PARAMETER, f"argument {v!r} starts with 0x but is not hex") from None
    if isinstance(v, dict) and set(v) == {"address"}:
        return _account(v["address"], suite).to_bytes()
    if isinstance(v, dict):
        return {k: from_json_value(x, suite) for k, x in v.items()}
    if isinstance(v, list):
        return [from_json_value(x, suite) for x in v]
    return v


def _account(text: Any, suite, name: str = "address") -> AccountAddress:
    try:
        return to_account_address(text, suite)
    except errors.AddressError as exc:
        raise RpcError(Code.INVALID_ADDRESS_OR_KEY, f"parameter '{name}': {exc}") from None


def receipt_json(receipt, suite) -> dict:
    body = receipt.to_json()
    body["txid"] = receipt.txid.hex()
    body["status"] = "success" if receipt.status else "failed"
    return body


def proof_answer(chain, address: AccountAddress, slot: bytes | None = None) -> dict:
    """``getproof``: the value of an account (or a contract's storage slot) with its proof
    against the tip's state root, and the three other leaves of the tip header's commitment."""
    with chain.lock:
        store, block = chain.ledger.store, chain.get_block(chain.height)
        key = account_key(address) if slot is None else storage_key(address, slot)
        value = store.state.get(key)
        account = store.state.account(address)
        return {
            "height": chain.height, "block_hash": block.hash_in(chain.suite).hex(),
            "header_merkle_root": block.header.merkle_root.hex(),
            "tx_root": block.tx_root(chain.suite).hex(), "state_root": store.state_root.hex(),
            "receipts_root": block.receipts_root.hex(), "proposer": str(block.proposer),
            "address": str(address), "key": key.hex(), "value": None if value is None else value.hex(),
            "account": {"nonce": account.nonce, "balance": account.balance,
                        "code_hash": account.code_hash.hex() if account.code_hash else None},
            "proof": store.state.get_proof(key).to_json(),
        }


def state_before(chain, height: int) -> WorldState:
    """A copy of the main chain's state after block ``height`` (tip state with later undos)."""
    store = chain.ledger.store
    state = WorldState(chain.suite)
    state.load(store.state.items())
    for h in range(store.height, height, -1):
        (data,) = store.db.execute("SELECT data FROM undo WHERE height = ?", (h,)).fetchone()
        state.apply_undo(StateUndo.from_bytes(data))
    return state


class AccountBlockMsg(BlockMsg):
    """``block`` carrying an :class:`AccountBlock` (same command: a node runs one chain)."""
    __slots__ = ()
    ENCODING = (("block", Nested(AccountBlock)),)


class AccountTxMsg(TxMsg):
    """``tx`` carrying an :class:`AccountTx`."""
    __slots__ = ()
    ENCODING = (("tx", Nested(AccountTx)),)


def register(methods: dict[str, Method], node: Node) -> None:
    """Add the account methods to ``methods`` and make ``node`` relay account blocks and
    transactions (the process's ``block``/``tx`` decoders become the account ones)."""
    chain, suite = node.chain, node.chain.suite
    node.block_msg, node.tx_msg = AccountBlockMsg, AccountTxMsg
    MESSAGE_TYPES[b"block"], MESSAGE_TYPES[b"tx"] = AccountBlockMsg, AccountTxMsg
    model = chain.ledger
    wallet = AccountWallet(node.params)

    def _tx(hex_text: str) -> AccountTx:
        try:
            return AccountTx.from_bytes(bytes.fromhex(hex_text))
        except (ValueError, errors.EncodingError) as exc:
            raise RpcError(Code.DESERIALIZATION_ERROR, f"not a signed account transaction in hex: {exc}") from None

    def _ctx(sender: AccountAddress):
        return model.context(chain, chain.height + 1, int(chain.clock()), sender)

    def _index(who: Any) -> int:
        if type(who) is int and 0 <= who < len(wallet.keys):
            return who
        if isinstance(who, str):
            address = _account(who, suite, "from")
            if address in wallet.addresses:
                return wallet.addresses.index(address)
        raise RpcError(Code.INVALID_ADDRESS_OR_KEY, f"parameter 'from': {who!r} is not one of this node's "
                       f"accounts (an index 0..{len(wallet.keys) - 1} or its account address)")

    def _next_nonce(address: AccountAddress) -> int:
        with chain.lock:
            nonce = model.store.state.account(address).nonce
            while any(t.nonce == nonce for t in node.mempool.pool.pending(address)):
                nonce += 1
            return nonce

    def getaccount(address: str) -> dict:
        a = _account(address, suite)
        with chain.lock:
            acc = model.store.state.account(a)
            return {"address": str(a), "nonce": acc.nonce, "balance": acc.balance, "pending_nonce": _next_nonce(a),
                    "code_hash": acc.code_hash.hex() if acc.code_hash else None, "is_contract": bool(acc.code_hash)}

    def getbalance(address: str) -> int:
        with chain.lock:
            return model.store.state.balance(_account(address, suite))

    def getnonce(address: str) -> int:
        with chain.lock:
            return model.store.state.account(_account(address, suite)).nonce

    async def sendtransaction(hex_text: str) -> str:
        return (await node.submit_transaction(_tx(hex_text))).hex()

    async def deploycontract(sender: Any, source: str, args: list | None = None, gas_limit: int = 2_000_000,
                             value: int = 0) -> dict:
        from labchain.ledger.contracts import compile_contract
        from labchain.ledger.contracts.errors import ContractCompileError

        try:
            compile_contract(source)
        except ContractCompileError as exc:
            raise RpcError(Code.INVALID_PARAMETER, f"the contract does not compile: {exc}") from None
        i = _index(sender)
        tx = wallet.deploy(i, source, from_json_value(args or [], suite), _next_nonce(wallet.address(i)),
                           value=value, gas_limit=gas_limit)
        txid = await node.submit_transaction(tx)
        return {"txid": txid.hex(), "from": str(wallet.address(i)), "nonce": tx.nonce}

    async def sendcontract(sender: Any, contract: str, function: str, args: list | None = None,
                           gas_limit: int = 300_000, value: int = 0) -> dict:
        i = _index(sender)
        tx = wallet.call(i, _account(contract, suite, "contract"), function, from_json_value(args or [], suite),
                         _next_nonce(wallet.address(i)), value=value, gas_limit=gas_limit)
        txid = await node.submit_transaction(tx)
        return {"txid": txid.hex(), "from": str(wallet.address(i)), "nonce": tx.nonce}

    def call(contract: str, function: str, args: list | None = None, sender: str | None = None) -> dict:
        target = _account(contract, suite, "contract")
        who = None if sender is None else _account(sender, suite, "from")
        with chain.lock:
            try:
                result = read_call(model.store.state, _ctx(who or target), target, function,
                                   from_json_value(args or [], suite), who)
            except errors.LabchainError as exc:
                raise RpcError(Code.INVALID_PARAMETER, str(exc)) from None
        return {"success": result.success, "return_value": to_json_value(result.return_value),
                "gas_used": result.gas_used, "revert_reason": result.revert_reason,
                "revert_line": result.revert_line}

    def estimategas(hex_text: str) -> dict:
        """Run the transaction on the tip state with the block's gas limit (undone after)."""
        tx = _tx(hex_text)
        with chain.lock:
            state = model.store.state
            sender = tx.sender(suite)
            gas = model.gas_limit
            trial = AccountTx(tx.chain_id, tx.nonce, gas, 0, tx.to, tx.value, tx.data, tx.public_key, tx.signature)
            mark = state.snapshot()
            try:
                acc = state.account(sender)
                state.set_account(sender, Account(tx.nonce, acc.balance, acc.code_hash))
                try:
                    check_tx_state(trial, suite, state)
                except errors.LabchainError as exc:
                    raise RpcError(Code.VERIFY_REJECTED, str(exc)) from None
                receipt = apply_transaction(state, trial, _ctx(sender))
            finally:
                state.revert_to(mark)
        return {"gas_used": receipt.gas_used, "status": "success" if receipt.status else "failed",
                "revert_reason": receipt.revert_reason}

    def _receipt(txid: str):
        try:
            raw = bytes.fromhex(txid)
        except ValueError:
            raise RpcError(Code.INVALID_PARAMETER, f"{txid!r} is not a transaction id in hex") from None
        with chain.lock:
            found = model.store.receipt(raw)
            if found is None:
                reason = node.mempool.refused.get(raw)
                pending = raw in node.mempool
                raise RpcError(Code.INVALID_ADDRESS_OR_KEY,
                               f"no receipt for {txid}: " + ("it is in the pool, not mined yet" if pending else
                                                             f"it was refused: {reason}" if reason else
                                                             "no mined transaction has this id"))
            return raw, found

    def getreceipt(txid: str) -> dict:
        raw, (height, position, receipt) = _receipt(txid)
        with chain.lock:
            block_hash = chain.get_block(height).hash_in(suite).hex()
        return dict(receipt_json(receipt, suite), height=height, position=position, block_hash=block_hash)

    def getlogs(contract: str | None = None, topic: str | None = None, from_height: int = 0,
                to_height: int | None = None) -> list[dict]:
        who = None if contract is None else _account(contract, suite, "contract")
        want = None if topic is None else topic.lower().removeprefix("0x")
        with chain.lock:
            top = chain.height if to_height is None else min(to_height, chain.height)
            if top - from_height > MAX_LOG_RANGE:
                raise RpcError(Code.INVALID_PARAMETER, f"getlogs covers at most {MAX_LOG_RANGE} heights per call; "
                               f"asked {from_height}..{top}")
            out = []
            for height in range(max(from_height, 0), top + 1):
                for receipt in model.store.receipts(height):
                    for n, log in enumerate(receipt.events):
                        if who is not None and log.contract != who:
                            continue
                        if want is not None and want not in [t.hex() for t in log.topics]:
                            continue
                        out.append(dict(log.to_json(), txid=receipt.txid.hex(), height=height, index=n))
            return out

    def getproof(address: str, key: str | None = None) -> dict:
        slot = None if key is None else from_json_value(key, suite)
        return proof_answer(chain, _account(address, suite), slot)

    def tracetransaction(txid: str) -> dict:
        from labchain.ledger.account.block import LedgerHost, compile_contract_cached
        from labchain.ledger.contracts.debugger import trace_to_json
        from labchain.ledger.contracts.errors import ContractCompileError
        from labchain.ledger.contracts.records import CallContext
        from labchain.ledger.contracts.values import decode_value
        from labchain.ledger.contracts.vm import run_trace, trace_deploy

        raw, (height, position, receipt) = _receipt(txid)
        with chain.lock:
            block = chain.get_block(height)
            tx = block.transactions[position]
            if not tx.is_creation and not tx.data:
                raise RpcError(Code.INVALID_PARAMETER, f"tracetransaction traces contract calls; {txid[:16]}... "
                               "is a plain transfer, which runs no contract code")
            state = state_before(chain, height - 1)
        ctx = model.context(chain, height, block.header.timestamp, block.proposer)
        cumulative = 0
        for earlier in block.transactions[:position]:
            cumulative = apply_transaction(state, earlier, ctx, cumulative).cumulative_gas_used
        sender = tx.sender(suite)   # apply_transaction's steps 2-3 before the VM runs
        acc = state.account(sender)
        state.set_account(sender, Account(acc.nonce + 1, acc.balance - tx.gas_limit * tx.gas_price, acc.code_hash))
        if tx.value and not tx.is_creation:
            state.add_balance(sender, -tx.value)
            state.add_balance(tx.to, tx.value)
        host = LedgerHost(state, raw, endowment=tx.value if tx.is_creation else 0)   # as _run_contract does
        origin = sender.to_bytes()
        gas = tx.gas_limit - tx.intrinsic_gas
        if tx.is_creation:                        # the constructor: init() as deploy ran it
            data = tx.deploy_data()
            try:
                program = compile_contract_cached(suite, data.source)
            except ContractCompileError as exc:
                raise RpcError(Code.INVALID_PARAMETER, f"{txid[:16]}... created no contract, so there is no "
                               f"step to trace: its source does not compile: {exc}") from None
            _, steps, result = trace_deploy(host, CallContext(origin, origin, b"", tx.value, height,
                                                               block.header.timestamp, ctx.chain_id, 0),
                                            program, [decode_value(a) for a in data.args], gas)
            function = "init"
        else:
            program = host.code(tx.to.to_bytes())
            data = tx.call_data()
            steps, result = run_trace(host, CallContext(origin, origin, tx.to.to_bytes(), tx.value, height,
                                                        block.header.timestamp, ctx.chain_id, 0),
                                      program, data.function, [decode_value(a) for a in data.args], gas)
            function = data.function
        body = trace_to_json(steps, result)
        body.update(txid=txid, height=height, position=position, function=function,
                    source=program.source, receipt_status="success" if receipt.status else "failed")
        return body

    def listaccounts() -> list[dict]:
        with chain.lock:
            return [{"index": i, "address": str(a), "balance": model.store.state.balance(a)}
                    for i, a in enumerate(wallet.addresses)]

    P = Param
    table = [
        Method("getaccount", getaccount, (P("address", "str"),), "nonce, balance and code of an account"),
        Method("getbalance", getbalance, (P("address", "str"),), "an account's balance in base units"),
        Method("getnonce", getnonce, (P("address", "str"),), "the account's next nonce on the tip"),
        Method("sendtransaction", sendtransaction, (P("hex", "str"),), "pool and relay a signed AccountTx"),
        Method("deploycontract", deploycontract, (P("from", "any"), P("source", "str"), P("args", "any", False),
               P("gas_limit", "int", False, 2_000_000), P("value", "int", False, 0)),
               "deploy contract source, signed by one of the node's accounts"),
        Method("sendcontract", sendcontract, (P("from", "any"), P("contract", "str"), P("function", "str"),
               P("args", "any", False), P("gas_limit", "int", False, 300_000), P("value", "int", False, 0)),
               "call a contract function in a transaction signed by one of the node's accounts"),
        Method("call", call, (P("contract", "str"), P("function", "str"), P("args", "any", False),
               P("from", "str", False)), "run a contract function read-only (nothing is changed)"),
        Method("estimategas", estimategas, (P("hex", "str"),), "gas a transaction would use on the tip"),
        Method("getreceipt", getreceipt, (P("txid", "str"),), "the receipt of a mined transaction"),
        Method("getlogs", getlogs, (P("contract", "str", False), P("topic", "str", False),
               P("from_height", "int", False, 0), P("to_height", "int", False)), "events by contract/topic/heights"),
        Method("getproof", getproof, (P("address", "str"), P("key", "str", False)),
               "an account (or storage slot) with its state proof and the header commitment"),
        Method("tracetransaction", tracetransaction, (P("txid", "str"),),
               "the step trace of a mined contract call or creation, replayed"),
        Method("listaccounts", listaccounts, (), "the node's deterministic accounts (account addresses)"),
    ]
    table.append(Method("callcontract", call, table[6].params, "the same as call (an RPC proxy's own "
                        "attribute 'call' hides that name: rpc.callcontract(...))"))
    for m in table:
        methods[m.name] = m
    for name in ("listunspent", "sendtoaddress", "sendrawtransaction"):   # UTXO-only methods
        methods.pop(name, None)
