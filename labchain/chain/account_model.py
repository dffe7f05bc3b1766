"""The account ledger model on the chain: account blocks, their header commitment, connect /
disconnect through :class:`~labchain.ledger.account.store.AccountStore`, and the pool.

Terminology
-----------
account block (:class:`AccountBlock`)
    The 80-byte PoW header, the proposer (who gets the block reward and the fees: Ethereum's
    ``coinbase``), the state root and receipts root the block leads to, and the
    :class:`~labchain.ledger.account.tx.AccountTx` list. There is no coinbase transaction:
    the reward is credited by the ledger model (``params.block_reward(height)``).
header commitment
    The header keeps Bitcoin's six fields and byte encoding; its version is
    :data:`ACCOUNT_BLOCK_VERSION` (2; UTXO blocks are 1) and its ``merkle_root`` field holds
    the *commitment root* ``merkle_root([tx_root, state_root, receipts_root,
    hash(proposer)])`` (the chain's suite), with ``tx_root`` the Merkle root of the txids. So
    proof of work commits to the state and the receipts, the miner and every UTXO block are
    byte-for-byte unchanged, and a light client holding only headers checks a state proof
    with the four leaves (:func:`verify_account_proof`). Ethereum puts ``stateRoot``,
    ``receiptsRoot`` and ``transactionsRoot`` directly into a larger header.
two databases
    The block tree and index stay in the chain's store; the world state, undo and receipts
    live in the account store (``<chain file>-account``). Connect writes the account store
    first, disconnect the chain store first, so after a crash the account store is at the
    chain's tip or one block above it; :meth:`AccountModel.recover` undoes (and, if ever
    needed, replays) blocks until the state root equals the tip header's.

engine chains
    On a chain sealed by Solo, Raft, TBFT or PBFT (``solo-account``, ``raft-3-account``,
    ``tbft-4-account``) :meth:`AccountModel.build_block` makes the block (transactions run in
    order on the tip state, the invalid ones left out, the roots of what ran, sealed with the
    trivial target) and :meth:`AccountModel.check_proposal` re-executes a proposal and refuses
    it, saying why, unless it gives the roots it claims (docs/accounts-on-engines.md).

Simplifications versus Ethereum: the block gas limit is a constant
(:data:`~labchain.ledger.account.block.DEFAULT_BLOCK_GAS_LIMIT`, not voted by miners), no
uncle blocks, no logs bloom in the header, state proofs against the commitment root rather
than a header field, and signatures of a block are checked again when a reorganisation
reconnects it (the UTXO model skips them).
"""
from __future__ import annotations

import functools
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

from labchain.block import BlockHeader, account_key, check_proof_of_work
from labchain.core.encoding import FixedBytes, ListOf, Nested, Record
from labchain.core.errors import (
    AddressError,
    BlockSizeError,
    BlockValidationError,
    DuplicateTransactionError,
    LabchainError,
    MerkleRootError,
    ValidationError,
)
from labchain.core.params import Params
from labchain.crypto import Address
from labchain.ledger.account import (
    DEFAULT_BLOCK_GAS_LIMIT, AccountAddress, AccountPool, AccountStore, AccountTx, BlockContext, WorldState,
    account_version, apply_transaction, credit, receipts_root,
)
from labchain.ledger.account.block import BlockResult, VerifiedBlock, execute_detached
from labchain.ledger.account.errors import NonceGapError
from labchain.ledger.account.tx import AccountAddressCodec, check_tx_state, check_tx_syntax
from labchain.merkle import merkle_root
from labchain.ledger.utxo.tx import NULL_HASH, short

from labchain.chain.finality import engine_timestamp, seal
from labchain.chain.ledger_model import LedgerModel
from labchain.chain.records import BlockUndo, ChainUpdate

#: header version of an account block (UTXO blocks: 1); the header bytes are otherwise Bitcoin's
ACCOUNT_BLOCK_VERSION = 2
MAX_BLOCK_ITEMS = 1_000_000   # decoding bound; Params.max_block_txs is the consensus limit
#: verified executions kept for their commit, by block hash (a BFT validator may check several
#: proposals of one height: rounds, view changes); the oldest goes first
MAX_VERIFIED = 8


class StateRootError(BlockValidationError):
    """The block's claimed state or receipts root is not what executing it gives."""


@dataclass(frozen=True, slots=True)
class AccountBlock(Record):
    header: BlockHeader
    proposer: AccountAddress
    state_root: bytes
    receipts_root: bytes
    transactions: tuple[AccountTx, ...]

    ENCODING = (
        ("header", Nested(BlockHeader)),
        ("proposer", AccountAddressCodec()),
        ("state_root", FixedBytes(32)),
        ("receipts_root", FixedBytes(32)),
        ("transactions", ListOf(Nested(AccountTx), MAX_BLOCK_ITEMS)),
    )

    def __post_init__(self) -> None:
        if isinstance(self.transactions, list):
            object.__setattr__(self, "transactions", tuple(self.transactions))

    def hash_in(self, suite=None) -> bytes:
        return self.header.hash_in(suite)

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def prev_hash(self) -> bytes:
        return self.header.prev_hash

    def tx_root(self, suite) -> bytes:
        return merkle_root([tx.txid(suite) for tx in self.transactions], suite)

    def compute_merkle_root(self, suite=None) -> bytes:
        """The commitment root the header's ``merkle_root`` field must hold."""
        return commitment_root(suite, self.tx_root(suite), self.state_root, self.receipts_root, self.proposer)

    def with_header(self, header: BlockHeader) -> AccountBlock:
        return AccountBlock(header, self.proposer, self.state_root, self.receipts_root, self.transactions)

    def __str__(self) -> str:
        return f"account block {short(self.hash)}"


def commitment_root(suite, tx_root: bytes, state_root: bytes, receipts_root_: bytes,
                    proposer: AccountAddress) -> bytes:
    """What an account block's header carries in its ``merkle_root`` field."""
    return merkle_root([tx_root, state_root, receipts_root_, suite.hash(proposer.to_bytes())], suite)


def verify_account_proof(suite, header_merkle_root: bytes, answer: dict) -> bool:
    """Check a ``getproof`` answer with nothing but a header's ``merkle_root`` field: the four
    commitment leaves give that field, and the proof gives the state root (a light client)."""
    from labchain.ledger.account import StateProof, verify_proof

    proposer = AccountAddress.from_string(answer["proposer"])
    state_root = bytes.fromhex(answer["state_root"])
    if commitment_root(suite, bytes.fromhex(answer["tx_root"]), state_root, bytes.fromhex(answer["receipts_root"]),
                       proposer) != header_merkle_root:
        return False
    value = None if answer["value"] is None else bytes.fromhex(answer["value"])
    return verify_proof(suite, state_root, bytes.fromhex(answer["key"]), value,
                        StateProof.from_json(answer["proof"]))


def genesis_allocations(params: Params) -> dict[AccountAddress, int]:
    """The deterministic accounts' account addresses -> ``account_balance`` (Ethereum's alloc)."""
    suite = params.crypto
    return {AccountAddress.of(suite, account_key(params, i).public_key.data): params.account_balance
            for i in range(params.funded_accounts)}


def to_account_address(address, suite) -> AccountAddress:
    """An account address from one (object or text), or the account of a UTXO key address (the
    same key hash: a node's reward address names the same key in both models)."""
    if isinstance(address, AccountAddress):
        return address
    if isinstance(address, str):
        try:
            return AccountAddress.from_string(address, suite)
        except AddressError as exc:
            if "UTXO address" not in str(exc):
                raise
        address = Address.from_string(address)
    if isinstance(address, Address):
        return AccountAddress(account_version(suite), address.check_suite(suite).pubkey_hash)
    raise AddressError(f"{address!r} is not an address", address)


@functools.lru_cache(maxsize=16)
def account_genesis_block(params: Params) -> AccountBlock:
    suite = params.crypto
    state = WorldState(suite)
    for address, amount in sorted(genesis_allocations(params).items()):
        credit(state, address, amount)
    proposer = AccountAddress(account_version(suite), bytes(20))
    empty = receipts_root(suite, [])
    root = commitment_root(suite, merkle_root([], suite), state.state_root, empty, proposer)
    header = BlockHeader(ACCOUNT_BLOCK_VERSION, NULL_HASH, root, params.genesis_timestamp, params.initial_bits, 0)
    return AccountBlock(header, proposer, state.state_root, empty, ())


class _TxId(NamedTuple):
    """What the chain store's index reads of a transaction: its id (an account tx spends no coins)."""
    txid: bytes
    inputs: tuple = ()
    outputs: tuple = ()

    def txid_in(self, suite) -> bytes:
        return self.txid


class _Indexed(NamedTuple):
    """An account block as the chain store's ``connect``/``disconnect`` read it: ids only."""
    block: AccountBlock
    suite: object

    def hash_in(self, suite) -> bytes:
        return self.block.hash_in(suite)

    @property
    def prev_hash(self) -> bytes:
        return self.block.prev_hash

    @property
    def transactions(self) -> list[_TxId]:
        return [_TxId(tx.txid(self.suite)) for tx in self.block.transactions]


class AccountModel(LedgerModel):
    """Accounts, gas and contracts (labchain.ledger.account) as a chain's ledger."""

    name = "account"
    block_type = AccountBlock
    tx_type = AccountTx
    rpc_module = "labchain.node.account_methods"
    gas_limit = DEFAULT_BLOCK_GAS_LIMIT   # Ethereum: block gas limit; ChainMaker: block_tx_capacity

    def __init__(self) -> None:
        self.store: AccountStore | None = None
        #: block executions by purpose: build (a proposal or template), check (a proposal before
        #: the vote), connect, recover; reused: commits that wrote a verified execution instead
        self.executions: Counter[str] = Counter()
        self._verified: OrderedDict[bytes, VerifiedBlock] = OrderedDict()

    def _remember(self, block_hash: bytes, verified: VerifiedBlock) -> None:
        self._verified[block_hash] = verified
        self._verified.move_to_end(block_hash)
        while len(self._verified) > MAX_VERIFIED:
            self._verified.popitem(last=False)

    def genesis_block(self, params: Params) -> AccountBlock:
        return account_genesis_block(params)

    def check_block_syntax(self, block: AccountBlock, params: Params) -> None:
        suite = params.crypto
        if not isinstance(block, AccountBlock):
            raise BlockValidationError(f"{block} is not an account block; this chain uses the account ledger", block)
        name = f"block {short(block.hash_in(suite))}"
        check_proof_of_work(block, params, name)
        if block.header.version != ACCOUNT_BLOCK_VERSION:
            raise BlockValidationError(f"{name} has header version {block.header.version}; account blocks "
                                       f"carry version {ACCOUNT_BLOCK_VERSION}", block)
        if len(block.transactions) > params.max_block_txs:
            raise BlockSizeError(f"{name} holds {len(block.transactions)} transactions, more than "
                                 f"{params.max_block_txs}", block)
        size = len(block.to_bytes())
        if size > params.max_block_size:
            raise BlockSizeError(f"{name} is {size} bytes, more than {params.max_block_size}", block)
        if block.header.merkle_root != block.compute_merkle_root(suite):
            raise MerkleRootError(f"{name}'s header does not commit to its transactions, state root, "
                                  "receipts root and proposer", block)
        seen: set[bytes] = set()
        for tx in block.transactions:
            txid = tx.txid(suite)
            if txid in seen:
                raise DuplicateTransactionError(f"{tx} ({short(txid)}) appears twice in {name}", tx)
            seen.add(txid)

    def check_block_context(self, block, height: int, suite) -> None:
        """No height-dependent rule beyond execution (nonces replace lock heights)."""

    def open(self, chain) -> None:
        path = chain.store.path
        self.store = AccountStore(None if path is None else path + "-account", chain.suite, chain.params.name)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    def connect_genesis(self, chain, genesis: AccountBlock) -> None:
        if self.store.height == -1:
            self.store.genesis(genesis_allocations(chain.params))
        chain.store.connect(_Indexed(genesis, chain.suite), 0, (), BlockUndo(()))

    def context(self, chain, height: int, timestamp: int, proposer: AccountAddress) -> BlockContext:
        return BlockContext(height, timestamp, proposer, chain.params.name, self.gas_limit)

    def connect(self, chain, entry, block: AccountBlock) -> None:
        suite = chain.suite
        ctx = self.context(chain, entry.height, block.header.timestamp, block.proposer)
        verified = self._verified.pop(block.hash_in(suite), None)
        self.executions["reused" if self.store.reusable(verified, entry.height) else "connect"] += 1
        self.store.apply_block(block.transactions, ctx, chain.params.block_reward(entry.height),
                               lambda result: check_claimed_roots(block, entry.height, result, suite), verified)
        chain.store.connect(_Indexed(block, suite), entry.height, (), BlockUndo(()))

    def disconnect(self, chain, entry, block: AccountBlock) -> None:
        self._verified.clear()       # guarded by their start state anyway; a reorg makes them stale
        chain.store.disconnect(_Indexed(block, chain.suite), BlockUndo(()))
        self.store.undo_block()

    def recover(self, chain) -> None:
        tip = chain.tree.tip.height
        store = self.store
        while store.height > tip:
            store.undo_block()
        while store.height > 0 and store.state_root != chain.get_block(store.height).state_root:
            store.undo_block()
        self._verified.clear()
        for height in range(store.height + 1, tip + 1):   # never expected: replay to the tip
            block = chain.get_block(height)
            self.executions["recover"] += 1
            store.apply_block(block.transactions, self.context(chain, height, block.header.timestamp, block.proposer),
                              chain.params.block_reward(height))

    def new_pool(self, chain) -> AccountMempool:
        return AccountMempool(chain)

    # -- engine chains (docs/accounts-on-engines.md) ------------------------------------------
    def execute(self, chain, candidates, proposer: AccountAddress, height: int, when: int,
                max_txs: int, verify: bool = True) -> tuple[list[AccountTx], VerifiedBlock]:
        """Run those of ``candidates`` that are valid, in order, on the tip state, then the
        subsidy; the state is restored. Returns (chosen, their execution: roots, receipts and
        writes, as :func:`execute_detached` gives for the chosen ones). A candidate
        whose nonce is still ahead is tried again after the others (passes until none joins),
        so one sender's transactions need not arrive in nonce order. ``verify``: check syntax
        and signature first (the pool did for its own). Call with ``chain.lock`` held."""
        params, suite = chain.params, chain.suite
        ctx = self.context(chain, height, when, proposer)
        state = self.store.state
        self.executions["build"] += 1
        prev_root, mark = state.state_root, state.snapshot()
        chosen, receipts, gas, size = [], [], 0, 0
        left = list(candidates)
        try:
            progress = True
            while left and progress and len(chosen) < max_txs:
                progress, waiting = False, []
                for tx in left:
                    tx_size = len(tx.to_bytes())
                    if (len(chosen) >= max_txs or gas + tx.gas_limit > self.gas_limit
                            or size + tx_size > params.max_block_size - ACCOUNT_BLOCK_RESERVE):
                        waiting.append(tx)
                        continue
                    try:
                        if verify:
                            check_tx_syntax(tx, suite, params.name, self.gas_limit)
                        check_tx_state(tx, suite, state)
                    except NonceGapError:
                        waiting.append(tx)
                        continue
                    except LabchainError:
                        continue
                    receipt = apply_transaction(state, tx, ctx, gas)
                    gas, size = receipt.cumulative_gas_used, size + tx_size
                    chosen.append(tx)
                    receipts.append(receipt)
                    progress = True
                left = waiting
            credit(state, proposer, params.block_reward(height))
        except BaseException:
            state.revert_to(mark)
            raise
        undo = state.take_undo(mark, prev_root)
        writes = state.writes_of(undo)
        state.apply_undo(undo)
        result = BlockResult(tuple(receipts), undo.post_root, receipts_root(suite, receipts), undo)
        return chosen, VerifiedBlock(height, result, writes)

    def build_block(self, chain, transactions, reward_address, timestamp: int | None = None,
                    capacity: int | None = None) -> tuple[AccountBlock, int]:
        """An engine chain's account block on the tip: ``transactions`` executed in order (the
        invalid ones left out, on every node alike), the proposer ``reward_address``'s account,
        sealed with the trivial target. Deterministic for equal inputs (Raft)."""
        with chain.lock:
            suite = chain.suite
            proposer = to_account_address(reward_address, suite)
            height = chain.height + 1
            when = engine_timestamp(chain, timestamp)
            limit = min(chain.params.max_block_txs, capacity or chain.params.max_block_txs)
            chosen, verified = self.execute(chain, transactions, proposer, height, when, limit)
            result = verified.result
            block = account_block(chain, proposer, chosen, result.state_root, result.receipts_root, when)
            block = block.with_header(seal(block.header, chain.params))
            self._remember(block.hash_in(suite), verified)     # its own check and commit reuse it
            return block, len(transactions) - len(chosen)

    def check_proposal(self, chain, block: AccountBlock) -> None:
        """ChainMaker's proposal verification: the block's own rules, then its transactions
        executed on this node's tip state (restored afterwards) must give the state and
        receipts roots it claims; raises the rule broken. A block that passes on the tip is
        remembered with its execution (bounded, by block hash), so that its commit writes the
        verified result instead of executing it again (ChainMaker's verified-block cache)."""
        self.check_block_syntax(block, chain.params)
        with chain.lock:
            height, block_hash = chain.height + 1, block.hash_in(chain.suite)
            verified = self._verified.get(block_hash)
            if not self.store.reusable(verified, height):          # not built nor checked here yet
                self.executions["check"] += 1
                ctx = self.context(chain, height, block.header.timestamp, block.proposer)
                verified = execute_detached(self.store.state, block.transactions, ctx,
                                            chain.params.block_reward(height))
            check_claimed_roots(block, height, verified.result, chain.suite)
            if block.prev_hash == chain.tip_hash:
                self._remember(block_hash, verified)


#: bytes kept free for the header, proposer and roots when an engine block is filled
ACCOUNT_BLOCK_RESERVE = 1000


def check_claimed_roots(block: AccountBlock, height: int, result, suite) -> None:
    """StateRootError unless executing ``block`` (``result``) gives the roots it claims."""
    if result.state_root != block.state_root or result.receipts_root != block.receipts_root:
        raise StateRootError(
            f"block {short(block.hash_in(suite))} at height {height} claims state root "
            f"{block.state_root.hex()[:16]}... and receipts root {block.receipts_root.hex()[:16]}..., "
            f"but executing it gives {result.state_root.hex()[:16]}... and "
            f"{result.receipts_root.hex()[:16]}...", block)


def account_block(chain, proposer: AccountAddress, txs, state_root: bytes, r_root: bytes,
                  when: int) -> AccountBlock:
    """The unsealed account block on the chain's tip committing to those parts (nonce 0)."""
    suite = chain.suite
    root = commitment_root(suite, merkle_root([t.txid(suite) for t in txs], suite), state_root, r_root, proposer)
    header = BlockHeader(ACCOUNT_BLOCK_VERSION, chain.tip_hash, root, when, chain.next_bits(), 0)
    return AccountBlock(header, proposer, state_root, r_root, tuple(txs))


class PoolEntry(NamedTuple):
    """A pooled transaction as the node reads mempool entries (``fee``: the most it can pay)."""
    tx: AccountTx
    txid: bytes

    @property
    def fee(self) -> int:
        return self.tx.gas_limit * self.tx.gas_price

    @property
    def size(self) -> int:
        return len(self.tx.to_bytes())


class AccountMempool:
    """The chain's ``Mempool`` interface over :class:`~labchain.ledger.account.pool.AccountPool`
    (by sender and nonce, fee-ordered template). After a reorganisation the transactions of
    the disconnected blocks go back to the pool when they are still valid on the new tip;
    the others are refused and :attr:`refused` maps their txid to the reason."""

    def __init__(self, chain) -> None:
        self.chain = chain
        self.model: AccountModel = chain.ledger
        self.pool = self._new_pool()
        self.refused: dict[bytes, str] = {}

    def _new_pool(self) -> AccountPool:
        return AccountPool(self.chain.suite, self.chain.params.name, self.model.store.state,
                           max_gas=self.model.gas_limit)

    def __contains__(self, txid: bytes) -> bool:
        with self.chain.lock:
            return txid in self.pool

    def __len__(self) -> int:
        with self.chain.lock:
            return len(self.pool)

    def transactions(self) -> list[AccountTx]:
        with self.chain.lock:
            return list(self.pool._by_id.values())

    def get(self, txid: bytes) -> PoolEntry | None:
        with self.chain.lock:
            tx = self.pool.get(txid)
            return None if tx is None else PoolEntry(tx, txid)

    def add(self, tx: AccountTx) -> bytes:
        """Admit ``tx`` (raises the ``TxValidationError`` subclass of the rule it breaks)."""
        if not isinstance(tx, AccountTx):
            raise ValidationError(f"{tx!r} is not an account transaction; this chain uses the account ledger", tx)
        with self.chain.lock:
            return self.pool.add(tx)

    def update(self, chain_update: ChainUpdate) -> list[AccountTx]:
        """Follow the chain: mined nonces leave; after a reorg the losing branch's transactions
        come back (or are refused, reason in :attr:`refused`). Returns pooled txs evicted."""
        with self.chain.lock:
            if not chain_update.disconnected:
                self.pool.remove_confirmed()
                return []
            old = self.transactions()
            was_pooled = {tx.txid(self.chain.suite) for tx in old}
            self.pool = self._new_pool()
            returning = [tx for block in reversed(chain_update.disconnected) for tx in block.transactions]
            evicted = []
            for tx in returning + old:
                txid = tx.txid(self.chain.suite)
                if txid in self.pool:
                    continue
                try:
                    self.pool.add(tx)
                except ValidationError as exc:
                    self.refused[txid] = str(exc)
                    if txid in was_pooled:
                        evicted.append(tx)
            return evicted

    def block_template(self, reward_address, timestamp: int | None = None) -> AccountBlock:
        """A block on the tip: the pool's fee-ordered selection executed on the tip state for
        its roots (the state is restored), nonce not yet solved."""
        with self.chain.lock:
            chain, params, suite = self.chain, self.chain.params, self.chain.suite
            proposer = to_account_address(reward_address, suite)
            height = chain.height + 1
            when = max(int(chain.clock() if timestamp is None else timestamp), chain.median_time_past() + 1)
            chosen, verified = self.model.execute(
                chain, self.pool.select(self.model.gas_limit, params.max_block_txs), proposer, height, when,
                params.max_block_txs, verify=False)
            return account_block(chain, proposer, chosen, verified.result.state_root,
                                 verified.result.receipts_root, when)
