"""Difficulty retargeting as the chain applies it: window, direction, clamps and the limit."""
from __future__ import annotations

import pytest

from chainkit import ChainKit
from labchain.consensus.pow.difficulty import bits_to_target, target_to_bits
from labchain.core.errors import BadTargetError
from labchain.core.params import get_params

INTERVAL, SPACING = 4, 10         # target timespan 40 s; the clamp bounds 10 s .. 160 s
START = 1 << 250                   # easy enough to mine in a test (1 hash in 64)


def retargeting_kit(start=START, limit=1 << 254) -> ChainKit:
    params = get_params("regtest").with_changes(
        no_retargeting=False, retarget_interval=INTERVAL, block_time=SPACING,
        initial_bits=target_to_bits(start), pow_limit_bits=target_to_bits(limit))
    return ChainKit(params)


def required_after(gaps: list[int], kit=None) -> tuple[int, object]:
    """Build blocks 1..len(gaps) with those time gaps; return the bits required next."""
    kit = kit or retargeting_kit()
    chain = kit.new_chain()
    t = chain.tip_header.timestamp
    for gap in gaps:
        t += gap
        kit.extend(chain, 1, timestamp=t)
    return chain.next_bits(), chain


def test_no_change_inside_an_interval():
    bits, _ = required_after([1] * (INTERVAL - 2))
    assert bits == target_to_bits(START)


def test_blocks_on_schedule_keep_the_target():
    # first retarget window: genesis .. block INTERVAL-1 (no block before genesis)
    bits, _ = required_after([13, 13, 14])
    assert bits == target_to_bits(START)


def test_fast_blocks_make_it_harder_and_slow_blocks_easier():
    fast, _ = required_after([5, 5, 5])       # took 15 s of 40
    slow, _ = required_after([20, 20, 20])    # took 60 s of 40
    assert fast == target_to_bits(START * 15 // 40)
    assert slow == target_to_bits(START * 60 // 40)


def test_change_is_clamped_to_a_factor_of_four():
    very_fast, _ = required_after([1] * (INTERVAL - 1))
    very_slow, _ = required_after([SPACING * 100] * (INTERVAL - 1))
    assert very_fast == target_to_bits(START // 4)
    assert very_slow == target_to_bits(START * 4)


def test_target_never_exceeds_the_network_limit():
    kit = retargeting_kit(start=1 << 253, limit=1 << 254)
    bits, _ = required_after([SPACING * 100] * (INTERVAL - 1), kit)
    assert bits == target_to_bits(1 << 254)


def test_later_windows_span_a_full_interval_and_blocks_must_carry_the_new_bits():
    kit = retargeting_kit()
    _, chain = required_after([SPACING] * (INTERVAL - 1), kit)
    kit.extend(chain, 1, timestamp=chain.tip_header.timestamp + SPACING)   # block INTERVAL
    first_window_bits = chain.tip_header.bits
    t = chain.tip_header.timestamp
    for _ in range(INTERVAL - 1):
        t += SPACING // 2
        kit.extend(chain, 1, timestamp=t)
    # window = block INTERVAL-1 .. block 2*INTERVAL-1: INTERVAL gaps, one of 10 s and three of 5 s
    assert first_window_bits == target_to_bits(START * 30 // 40)
    expected = target_to_bits(bits_to_target(first_window_bits) * 25 // 40)
    assert chain.next_bits() == expected
    with pytest.raises(BadTargetError):
        chain.add_block(kit.block(chain, bits=first_window_bits))
    kit.extend(chain, 1)
    assert chain.tip_header.bits == expected
