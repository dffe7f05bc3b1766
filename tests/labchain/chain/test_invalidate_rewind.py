"""invalidate_block / reconsider_block (as bitcoind's) and rewind_to (the node's revert)."""
from __future__ import annotations

import pytest

from labchain.core.errors import ChainError, InvalidAncestorError, UnknownBlockError
from labchain.core.params import COIN


def test_invalidate_moves_the_tip_to_the_best_remaining_branch(kit, chain):
    main = kit.extend(chain, 3, to=kit.address(1))
    side = kit.extend(chain, 2, parent=chain.genesis_hash, to=kit.address(2))
    update = chain.invalidate_block(kit.hash(main[1]))
    assert update.status == "new_tip"
    assert chain.tip_hash == kit.hash(side[-1])  # 2 blocks of side beat main[0] alone
    assert [kit.hash(b) for b in update.disconnected] == [kit.hash(main[2]), kit.hash(main[1]), kit.hash(main[0])]
    assert [kit.hash(b) for b in update.connected] == [kit.hash(b) for b in side]
    assert chain.block_info(kit.hash(main[2])).status == "invalid"
    assert "invalidated by invalidate_block" in chain.block_info(kit.hash(main[1])).invalid_reason
    assert chain.balance(kit.address(1)) == 1000 * COIN  # the rewards of main are gone
    with pytest.raises(InvalidAncestorError):
        chain.add_block(kit.block(chain, parent=kit.hash(main[2])))


def test_invalidate_a_side_block_leaves_the_tip(kit, chain):
    kit.extend(chain, 2)
    side = kit.extend(chain, 1, parent=chain.genesis_hash, to=kit.address(3))
    tip = chain.tip_hash
    assert chain.invalidate_block(kit.hash(side[0])).status == "unchanged"
    assert chain.tip_hash == tip


def test_genesis_cannot_be_invalidated_and_unknown_hashes_are_reported(kit, chain):
    with pytest.raises(ChainError, match="genesis"):
        chain.invalidate_block(chain.genesis_hash)
    with pytest.raises(UnknownBlockError, match="no block with hash 00"):
        chain.invalidate_block(bytes(32))
    with pytest.raises(UnknownBlockError, match="not a block hash"):
        chain.invalidate_block("xyz")


def test_reconsider_restores_an_invalidated_branch(kit, chain):
    main = kit.extend(chain, 3)
    chain.invalidate_block(kit.hash(main[0]))
    assert chain.height == 0
    update = chain.reconsider_block(kit.hash(main[0]))
    assert update.status == "new_tip" and chain.tip_hash == kit.hash(main[-1])


def test_rewind_forgets_blocks_above_so_they_can_be_added_again(kit, chain):
    base = kit.extend(chain, 2)
    above = kit.extend(chain, 3, to=kit.address(4))
    side = kit.extend(chain, 5, parent=kit.hash(base[0]), to=kit.address(5))  # more work than base[-1]
    assert chain.tip_hash == kit.hash(side[-1])
    update = chain.rewind_to(kit.hash(base[-1]))
    assert chain.tip_hash == kit.hash(base[-1]) and chain.height == 2
    assert update.status == "new_tip"
    assert [kit.hash(b) for b in update.disconnected] == [kit.hash(b) for b in reversed(side)]
    for block in above + side[1:]:
        with pytest.raises(UnknownBlockError):
            chain.block_info(kit.hash(block))
    assert not chain.block_info(kit.hash(side[0])).in_main_chain  # equal work, seen later: kept
    assert chain.balance(kit.address(4)) == 1000 * COIN
    assert chain.add_block(above[0]).status == "new_tip"  # forgotten, so new again


def test_rewind_to_the_tip_changes_nothing(kit, chain):
    kit.extend(chain, 2)
    assert chain.rewind_to(chain.tip_hash).status == "unchanged"
