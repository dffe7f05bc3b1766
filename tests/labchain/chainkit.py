"""Shared fixtures for ledger tests: a mock clock, regtest chains, and a ``ChainKit`` that builds
valid (or deliberately broken) blocks and payments without the miner.

    def test_something(kit, chain):
        block = kit.block(chain, [kit.pay(chain, 0, to=kit.address(1), amount=5 * COIN)])
        chain.add_block(block)
"""
from __future__ import annotations

from labchain.block import Block, BlockHeader, account_key
from labchain.chain import Chain, Coin, Mempool
from labchain.merkle import merkle_root
from labchain.core.params import Params, get_params
from labchain.ledger.utxo.tx import Transaction, TxIn, TxOut


class MockClock:
    """A clock for ``Chain(clock=...)``: stands still until told to move (like setmocktime)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def solve(header: BlockHeader, suite) -> BlockHeader:
    """Find a nonce meeting the header's target with ``suite``'s block hash (instant on
    regtest: half of all hashes win)."""
    nonce = 0
    while not (candidate := header.with_nonce(nonce)).meets_target(suite):
        nonce += 1
    return candidate


class ChainKit:
    """Builds blocks and payments for tests on a network (regtest unless told otherwise)."""

    def __init__(self, params: Params | str = "regtest") -> None:
        self.params = get_params(params)
        self.suite = self.params.crypto
        self.clock = MockClock(self.params.genesis_timestamp + 1_000_000)
        self.keys = [account_key(self.params, i) for i in range(self.params.funded_accounts)]

    def txid(self, tx: Transaction) -> bytes:
        """``tx``'s id on this kit's chain (its suite's id hash)."""
        return tx.txid_in(self.suite)

    def hash(self, block: Block) -> bytes:
        """``block``'s id on this kit's chain."""
        return block.hash_in(self.suite)

    def address(self, account: int):
        return self.keys[account].address

    def new_chain(self, path=None, **kwargs) -> Chain:
        return Chain(self.params, path=path, clock=self.clock, **kwargs)

    def block(self, chain: Chain, txs=(), *, parent: bytes | Block | None = None,
              timestamp: int | None = None, bits: int | None = None, coinbase: Transaction | None = None,
              reward: int | None = None, to=None, mine: bool = True) -> Block:
        """A block on ``parent`` (default: the tip) holding ``txs``, solved unless ``mine=False``.

        ``parent`` is a hash the chain knows, or a ``Block`` it does not know yet (to build
        orphans). Defaults make a valid block: the required bits, parent time + block_time (at
        least MTP + 1), a coinbase at the right height paying the block reward (fees unclaimed)."""
        if isinstance(parent, Block):
            prev, height = parent.hash_in(self.suite), parent.transactions[0].lock_height + 1
            min_time, default_bits = parent.header.timestamp + self.params.block_time, parent.header.bits
        else:
            entry = chain.tree.get(parent if parent is not None else chain.tip_hash)
            prev, height, default_bits = entry.hash, entry.height + 1, chain.tree.next_bits(entry)
            min_time = max(entry.timestamp + self.params.block_time, chain.tree.median_time_past(entry) + 1)
        if coinbase is None:
            amount = self.params.block_reward(height) if reward is None else reward
            coinbase = Transaction.coinbase(height, [TxOut(amount, to or self.address(0))])
        txs = (coinbase, *txs)
        header = BlockHeader(1, prev, merkle_root([t.txid_in(self.suite) for t in txs], self.suite),
                             min_time if timestamp is None else timestamp,
                             default_bits if bits is None else bits, 0)
        return Block(solve(header, self.suite) if mine else header, txs)

    def extend(self, chain: Chain, count: int = 1, **kwargs) -> list[Block]:
        """Add ``count`` blocks on the tip (or on ``parent=``); return them."""
        blocks = []
        for _ in range(count):
            block = self.block(chain, **kwargs)
            chain.add_block(block)
            kwargs["parent"] = block.hash_in(self.suite)
            blocks.append(block)
        return blocks

    def coins(self, chain: Chain, account: int) -> list[Coin]:
        return chain.utxos(self.address(account))

    def pay(self, chain_or_coins, account: int, to, amount: int, fee: int = 0, memo: bytes = b"",
            lock_height: int = 0) -> Transaction:
        """A signed payment from ``account`` (its first coin by default, or the coins given),
        change back to the account."""
        coins = chain_or_coins if isinstance(chain_or_coins, (list, tuple)) else \
            self.coins(chain_or_coins, account)[:1]
        total = sum(c.amount for c in coins)
        outputs = [TxOut(amount, to)]
        if total - amount - fee > 0:
            outputs.append(TxOut(total - amount - fee, self.address(account)))
        tx = Transaction(1, [TxIn(c.outpoint) for c in coins], outputs, memo, lock_height)
        return tx.sign([self.keys[account]] * len(coins))
