"""The node's JSON-RPC methods: the contract notebooks and graders rely on.

Each method is declared with its parameters (name, kind, required) so a wrong call gets a
JSON-RPC error naming the parameter, before any node code runs. Amounts are integers in base
units; hashes and raw transactions are lower-case hex. ``docs/node.md`` lists every method
with examples.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labchain.core import errors
from labchain.block import BlockHeader
from labchain.crypto import Address
from labchain.node.faults import fault_methods
from labchain.node.payments import pay_from_account
from labchain.node.rpc import Code, Method, Param, RpcError
from labchain.ledger.utxo.tx import Transaction

if TYPE_CHECKING:
    from labchain.node.node import Node

MAX_GENERATE = 10_000  # blocks per generate call


def _parse_address(text: str, name: str = "address") -> Address:
    try:
        return Address.from_string(text)
    except errors.AddressError as exc:
        raise RpcError(Code.INVALID_ADDRESS_OR_KEY, f"parameter '{name}': {exc}") from None


def _tx_json(tx: Transaction, suite) -> dict:
    """``tx.to_json()`` with the id of the chain's suite (the record's own names p256-sha256's)."""
    return dict(tx.to_json(), txid=tx.txid_in(suite).hex())


def _block_json(block, suite) -> dict:
    body = block.to_json()
    body["header"]["hash"] = block.hash_in(suite).hex()
    body["transactions"] = [_tx_json(tx, suite) for tx in block.transactions]
    return body


def _hash(text: str) -> bytes:
    return bytes.fromhex(text)


def build_methods(node: Node) -> dict[str, Method]:
    chain, suite = node.chain, node.chain.suite

    def _address(text: str, name: str = "address") -> Address:
        """An address of this chain's suite; RpcError naming the suite of any other one."""
        try:
            return _parse_address(text, name).check_suite(suite)
        except errors.AddressError as exc:
            raise RpcError(Code.INVALID_ADDRESS_OR_KEY, f"parameter '{name}': {exc}") from None

    def getblockcount() -> int:
        return chain.height

    def getbestblockhash() -> str:
        return chain.tip_hash.hex()

    def getblock(hash_or_height: Any) -> dict:
        key = hash_or_height if isinstance(hash_or_height, int) else _hash(hash_or_height)
        try:
            block = chain.get_block(key)
        except errors.UnknownBlockError:
            what = f"height {key}" if isinstance(key, int) else f"hash {hash_or_height}"
            raise RpcError(Code.INVALID_ADDRESS_OR_KEY, f"no block with {what} (the chain's height "
                           f"is {chain.height})") from None
        block_hash = block.hash_in(suite)
        info = chain.block_info(block_hash)
        body = _block_json(block, suite)
        body.update(
            hash=block_hash.hex(), height=info.height, in_main_chain=info.in_main_chain,
            confirmations=(chain.height - info.height + 1) if info.in_main_chain else 0,
            chainwork=f"{info.chainwork:064x}", status=info.status, size=len(block.to_bytes()),
        )
        return body

    def getconsensusstate() -> dict:
        if node.consensus is None:
            return {"type": "pow", "height": chain.height, "note": "proof of work: no engine, "
                    "the chain with most work wins"}
        return node.consensus.status()

    def getblockchaininfo() -> dict:
        tip = chain.block_info(chain.tip_hash)
        return {
            "network": node.params.name, "height": chain.height, "tip": chain.tip_hash.hex(),
            "total_work": tip.chainwork, "chainwork": f"{tip.chainwork:064x}",
            "difficulty": node.difficulty(), "bits": f"{chain.tip_header.bits:08x}",
            "median_time": chain.median_time_past(), "genesis": chain.genesis_hash.hex(),
            "mempool_size": len(node.mempool), "mining": node.mining_mode,
        }

    def gettransaction(txid: str) -> dict:
        raw = _hash(txid)
        entry = node.mempool.get(raw)
        if entry is not None:
            return {"tx": _tx_json(entry.tx, suite), "fee": entry.fee, "txid": txid.lower(), "confirmations": 0,
                    "block_hash": None, "height": None, "in_mempool": True}
        try:
            info = chain.get_transaction(raw)
        except errors.UnknownTransactionError:
            raise RpcError(Code.INVALID_ADDRESS_OR_KEY, f"no transaction {txid} in the chain or the "
                           "mempool of this node") from None
        body = info.to_json()
        body.update(tx=_tx_json(info.tx, suite), txid=txid.lower(), in_mempool=False)
        return body

    async def sendrawtransaction(hex_tx: str) -> str:
        try:
            tx = Transaction.from_bytes(bytes.fromhex(hex_tx))
        except errors.EncodingError as exc:
            raise RpcError(Code.DESERIALIZATION_ERROR, f"the hex does not decode to a transaction: {exc}") from None
        if chain.has_transaction(tx.txid_in(suite)):
            raise RpcError(Code.VERIFY_ALREADY_IN_CHAIN,
                           f"transaction {tx.txid_in(suite).hex()} is already in the chain")
        txid = await node.submit_transaction(tx)
        return txid.hex()

    def getmempool(verbose: bool | None = False) -> list:
        txs = node.mempool.transactions()
        return [_tx_json(tx, suite) for tx in txs] if verbose else [tx.txid_in(suite).hex() for tx in txs]

    def getbalance(address: str) -> int:
        return chain.balance(_address(address))

    def listunspent(address: str) -> list[dict]:
        coins = chain.utxos(_address(address))
        return [dict(c.to_json(), txid=c.outpoint.txid.hex(), index=c.outpoint.index, amount=c.amount,
                     confirmations=chain.height - c.height + 1) for c in coins]

    def listaccounts() -> list[dict]:
        return [{"address": str(a), "balance": chain.balance(a)} for a in node.accounts.addresses]

    async def sendtoaddress(from_: Any, to: str, amount: int, memo: str | None = None) -> str:
        key = node.accounts.key_for(from_)
        destination = _address(to, "to")
        if amount <= 0:
            raise RpcError(Code.INVALID_PARAMS, "parameter 'amount' must be a positive number of base units")
        memo_bytes = (memo or "").encode()
        tx = pay_from_account(node, key, destination, amount, memo_bytes)
        txid = await node.submit_transaction(tx)
        return txid.hex()

    async def generate(n: int, address: str | None = None) -> list[str]:
        if n > MAX_GENERATE:
            raise RpcError(Code.INVALID_PARAMETER, f"generate at most {MAX_GENERATE} blocks per call")
        reward = _address(address) if address else node.accounts.reward_address
        return [h.hex() for h in await node.mine_blocks(n, reward)]

    def setmining(mode: str, seconds: Any = None) -> dict:
        if mode not in ("manual", "instant", "interval"):
            raise RpcError(Code.INVALID_PARAMS, f"mining mode must be 'manual', 'instant' or "
                           f"'interval', got {mode[:20]!r}")
        if mode == "interval" and (seconds is None or not 0.05 <= seconds <= 86_400):
            raise RpcError(Code.INVALID_PARAMS, "interval mining needs 'seconds' between 0.05 and "
                           "86400, e.g. setmining('interval', 2)")
        return node.set_mining(mode, float(seconds or 0))

    def getpeerinfo() -> list[dict]:
        return [p.info() for p in node.p2p.peers.values() if not p.closed]

    def addpeer(address: str) -> bool:
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RpcError(Code.INVALID_PARAMS, f"peer address must look like host:port, e.g. "
                           f"127.0.0.1:18444, got {address[:60]!r}")
        node.p2p.add_peer(address)
        return True

    def disconnectpeer(id_or_addr: Any) -> bool:
        for peer in list(node.p2p.peers.values()):
            if peer.closed:
                continue
            if (type(id_or_addr) is int and peer.id == id_or_addr) or id_or_addr in (peer.addr, peer.listen_addr, peer.target, peer.name):
                node.p2p.disconnect(peer, "disconnectpeer called over RPC")
                return True
        if isinstance(id_or_addr, str):  # not connected now: still stop redialling it
            if id_or_addr in node.p2p.persistent:
                node.p2p.persistent.discard(id_or_addr)
                return True
        raise RpcError(Code.CLIENT_NODE_NOT_CONNECTED, f"no connected peer {id_or_addr!r}; "
                       "getpeerinfo lists the peers with their id and addr")

    def snapshot() -> int:
        return node.take_snapshot()

    async def revert(snapshot_id: int) -> bool:
        return await node.revert(snapshot_id)

    def setmocktime(timestamp: int) -> int:
        _check_clock(timestamp, "setmocktime")
        return node.clock.set(timestamp)

    def increasetime(seconds: int) -> int:
        _check_clock(int(node.clock()) + seconds, "increasetime")
        return node.clock.increase(seconds)

    async def invalidateblock(block_hash: str) -> dict:
        if node.consensus is not None:
            raise RpcError(Code.MISC_ERROR, "committed blocks are final on this chain: invalidateblock is refused")
        try:
            update = chain.invalidate_block(_hash(block_hash))
        except errors.UnknownBlockError:
            raise RpcError(Code.INVALID_ADDRESS_OR_KEY, f"no block with hash {block_hash}") from None
        await node.after_update(update)
        return {"tip": chain.tip_hash.hex(), "height": chain.height,
                "disconnected": [b.hash_in(suite).hex() for b in update.disconnected]}

    def stop() -> str:
        import asyncio

        asyncio.get_running_loop().call_later(0.05, node.request_stop, "stop called over RPC")
        return "LabChain node stopping"

    def help_(method: str | None = None) -> Any:
        if method is None:
            return {m.name: m.help for m in table.values()}
        if method not in table:
            raise RpcError(Code.METHOD_NOT_FOUND, f"there is no method {method[:40]!r}")
        m = table[method]
        return {"method": m.name, "params": [{"name": p.name, "kind": p.kind, "required": p.required,
                                              "help": p.help} for p in m.params], "help": m.help}

    P = Param
    declared = [
        Method("getblockcount", getblockcount, (), "height of the best chain's tip"),
        Method("getbestblockhash", getbestblockhash, (), "hash of the tip"),
        Method("getblock", getblock, (P("hash_or_height", "hash_or_height"),), "a block as JSON"),
        Method("getblockchaininfo", getblockchaininfo, (), "network, height, tip, total work, difficulty"),
        Method("getconsensusstate", getconsensusstate, (), "engine, role, term, leader, commit index, peers"),
        Method("gettransaction", gettransaction, (P("txid", "hash"),), "a transaction with its confirmations"),
        Method("sendrawtransaction", sendrawtransaction, (P("hex", "hex"),), "submit a signed transaction -> txid"),
        Method("getmempool", getmempool, (P("verbose", "bool", False, False),), "txids waiting in the mempool"),
        Method("getbalance", getbalance, (P("address", "str"),), "confirmed balance in base units"),
        Method("listunspent", listunspent, (P("address", "str"),), "unspent outputs of an address"),
        Method("listaccounts", listaccounts, (), "the node's funded accounts: [{address, balance}]"),
        Method("sendtoaddress", sendtoaddress, (P("from", "any"), P("to", "str"), P("amount", "amount"),
                                                P("memo", "str", False)), "pay from a node account -> txid"),
        Method("generate", generate, (P("n", "count"), P("address", "str", False)), "mine n blocks now -> hashes"),
        Method("setmining", setmining, (P("mode", "str"), P("seconds", "number", False)),
               "manual | instant | interval (with seconds)"),
        Method("getpeerinfo", getpeerinfo, (), "connected peers"),
        Method("addpeer", addpeer, (P("address", "str"),), "connect to host:port and keep reconnecting"),
        Method("disconnectpeer", disconnectpeer, (P("id_or_addr", "any"),), "drop a peer by id or address"),
        Method("snapshot", snapshot, (), "remember the chain state -> id"),
        Method("revert", revert, (P("id", "count"),), "go back to a snapshot (forgets later ones)"),
        Method("setmocktime", setmocktime, (P("timestamp", "seconds"),), "freeze the clock (0: real time)"),
        Method("increasetime", increasetime, (P("seconds", "seconds"),), "move the clock forward"),
        Method("invalidateblock", invalidateblock, (P("hash", "hash"),), "mark a block invalid and reorganise"),
        Method("stop", stop, (), "stop the node"),
        Method("help", help_, (P("method", "str", False),), "list methods, or one method's parameters"),
    ]
    declared += fault_methods(node)   # setfault, getfaults, clearfaults
    table = {m.name: m for m in declared}
    return table


#: The last second a block header's 4-byte timestamp can hold (2106-02-07 06:28:15 UTC).
LAST_HEADER_TIME: int = dict(BlockHeader.ENCODING)["timestamp"].max


def _check_clock(t: int, method: str) -> None:
    """A clock past what a block header can hold would make every ``generate`` fail."""
    if t > LAST_HEADER_TIME:
        raise RpcError(Code.INVALID_PARAMS, f"{method} would set the clock to {t}, after "
                       f"{LAST_HEADER_TIME} (2106-02-07), the last time a block header's "
                       f"4-byte timestamp can hold; no block could be mined")
