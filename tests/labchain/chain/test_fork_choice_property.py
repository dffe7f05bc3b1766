"""Property: whatever the block tree and the order blocks arrive in, the chain ends on a tip of
maximal work and its UTXO set equals an independent replay of its main chain."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainkit import ChainKit
from labchain.block import genesis_block
from labchain.chain import Coin
from labchain.core.params import COIN
from labchain.ledger.utxo.tx import OutPoint

MAX_HEIGHT = 9  # block h spends genesis output h-1: each output at most once on any path

kit = ChainKit()
genesis = genesis_block(kit.params)


def build_tree(parent_choices: list[int]):
    """Blocks whose parents are picked from the blocks made before (index 0 = genesis)."""
    blocks, heights = [genesis], [0]
    for n, choice in enumerate(parent_choices):
        candidates = [i for i in range(len(blocks)) if heights[i] < MAX_HEIGHT]
        parent = candidates[choice % len(candidates)]
        height = heights[parent] + 1
        account = height - 1
        coinbase_tx = genesis.transactions[0]
        coin = Coin(OutPoint(kit.txid(coinbase_tx), account), coinbase_tx.outputs[account], 0, True)
        pay = kit.pay([coin], account, to=kit.address(9), amount=(n + 1) * COIN)
        blocks.append(kit.block(None, [pay], parent=blocks[parent], to=kit.address(n % 10)))
        heights.append(height)
    return blocks[1:], heights[1:]


def replay(chain) -> dict:
    coins = {}
    for block_hash in chain.main_chain_hashes():
        for tx in chain.get_block(block_hash).transactions:
            for txin in tx.inputs:
                del coins[txin.prevout]
            for n, out in enumerate(tx.outputs):
                coins[OutPoint(kit.txid(tx), n)] = out
    return coins


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=14), st.randoms(use_true_random=False))
def test_any_arrival_order_ends_on_max_work_with_an_exact_utxo_set(parent_choices, rnd):
    blocks, heights = build_tree(parent_choices)
    arrival = list(blocks)
    rnd.shuffle(arrival)
    chain = kit.new_chain()
    try:
        for block in arrival:
            chain.add_block(block)
        assert chain.orphans == {}
        assert chain.height == max(heights)  # equal difficulty: most work = highest
        assert chain.block_info(chain.tip_hash).chainwork == max(
            e.chainwork for e in chain.tree.entries.values())
        assert {c.outpoint: c.output for c in chain.store.all_coins()} == replay(chain)
    finally:
        chain.close()
