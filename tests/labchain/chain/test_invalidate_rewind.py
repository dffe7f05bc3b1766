"""invalidate_block / reconsider_block (as bitcoind's) and rewind_to (the node's revert)."""
from __future__ import annotations

import pytest

from labchain.core.errors import ChainError, InvalidAncestorError, UnknownBlockError
from labchain.core.params import COIN


def test_invalidate_moves_the_tip_to_the_best_remaining_branch(kit, chain):
    main = kit.extend(chain, 3, to=kit.address(1))
    side = kit.extend(chain, 2, parent=chain.genesis_hash, to=kit.address(2))
    update = chain.invalidate_block(main[1].hash)
    assert update.status == "new_tip"
    assert chain.tip_hash == side[-1].hash  # 2 blocks of side beat main[0] alone
    assert [b.hash for b in update.disconnected] == [main[2].hash, main[1].hash, main[0].hash]
    assert [b.hash for b in update.connected] == [b.hash for b in side]
    assert chain.block_info(main[2].hash).status == "invalid"
    assert "invalidated by invalidate_block" in chain.block_info(main[1].hash).invalid_reason
    assert chain.balance(kit.address(1)) == 1000 * COIN  # the rewards of main are gone
    with pytest.raises(InvalidAncestorError):
        chain.add_block(kit.block(chain, parent=main[2].hash))


def test_invalidate_a_side_block_leaves_the_tip(kit, chain):
    kit.extend(chain, 2)
    side = kit.extend(chain, 1, parent=chain.genesis_hash, to=kit.address(3))
    tip = chain.tip_hash
    assert chain.invalidate_block(side[0].hash).status == "unchanged"
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
    chain.invalidate_block(main[0].hash)
    assert chain.height == 0
    update = chain.reconsider_block(main[0].hash)
    assert update.status == "new_tip" and chain.tip_hash == main[-1].hash


def test_rewind_forgets_blocks_above_so_they_can_be_added_again(kit, chain):
    base = kit.extend(chain, 2)
    above = kit.extend(chain, 3, to=kit.address(4))
    side = kit.extend(chain, 5, parent=base[0].hash, to=kit.address(5))  # more work than base[-1]
    assert chain.tip_hash == side[-1].hash
    update = chain.rewind_to(base[-1].hash)
    assert chain.tip_hash == base[-1].hash and chain.height == 2
    assert update.status == "new_tip"
    assert [b.hash for b in update.disconnected] == [b.hash for b in reversed(side)]
    for block in above + side[1:]:
        with pytest.raises(UnknownBlockError):
            chain.block_info(block.hash)
    assert not chain.block_info(side[0].hash).in_main_chain  # equal work, seen later: kept
    assert chain.balance(kit.address(4)) == 1000 * COIN
    assert chain.add_block(above[0]).status == "new_tip"  # forgotten, so new again


def test_rewind_to_the_tip_changes_nothing(kit, chain):
    kit.extend(chain, 2)
    assert chain.rewind_to(chain.tip_hash).status == "unchanged"
