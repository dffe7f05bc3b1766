"""Compact targets ("bits"), chain work and retargeting, checked against Bitcoin's values."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labchain.consensus.pow.difficulty import (
    MAX_TARGET,
    bits_to_target,
    difficulty_of,
    retarget,
    target_to_bits,
    work_of,
)
from labchain.core.errors import EncodingError

GENESIS_BITS = 0x1D00FFFF  # Bitcoin's genesis and easiest mainnet target


@pytest.mark.parametrize("bits,target", [
    (GENESIS_BITS, 0xFFFF << 208),
    (0x1B0404CB, 0x0404CB << (8 * (0x1B - 3))),   # Bitcoin wiki "Difficulty" example
    (0x207FFFFF, 0x7FFFFF << (8 * 29)),           # Bitcoin regtest powLimit
    (0x02008000, 0x80),                           # sign bit moved into the exponent
    (0x01003456, 0x00),                           # mantissa shifted out entirely
    (0x03123456, 0x123456),
    (0x04123456, 0x12345600),
])
def test_known_compact_values(bits, target):
    assert bits_to_target(bits) == target


@pytest.mark.parametrize("target,bits", [
    (0xFFFF << 208, GENESIS_BITS), (0x80, 0x02008000), (0x12345600, 0x04123456), (1, 0x01010000),
])
def test_target_to_bits_matches_bitcoin(target, bits):
    assert target_to_bits(target) == bits


@settings(max_examples=300)
@given(st.integers(1, MAX_TARGET))
def test_compress_rounds_down_keeps_three_bytes_and_is_stable(target):
    bits = target_to_bits(target)
    back = bits_to_target(bits)
    assert back <= target
    assert target - back < 1 << max(0, target.bit_length() - 16)  # 16+ significant bits kept
    assert target_to_bits(back) == bits
    assert not bits & 0x00800000


@pytest.mark.parametrize("bits,message", [(0x04923456, "is negative"), (0x21010000, "overflows 256 bits")])
def test_invalid_compact_values_are_rejected(bits, message):
    with pytest.raises(EncodingError, match=message):
        bits_to_target(bits)


@pytest.mark.parametrize("target", [0, -1, MAX_TARGET + 1])
def test_target_out_of_range_cannot_be_compressed(target):
    with pytest.raises(ValueError, match="target must be in"):
        target_to_bits(target)


def test_work_and_difficulty():
    assert work_of(GENESIS_BITS) == 0x100010001  # Bitcoin: GetBlockProof of the genesis block
    assert work_of(target_to_bits(1 << 255)) == 1  # regtest: half of all hashes win
    assert difficulty_of(GENESIS_BITS, GENESIS_BITS) == 1.0
    assert difficulty_of(target_to_bits((0xFFFF << 208) // 4), GENESIS_BITS) == pytest.approx(4, rel=1e-4)


SPAN = 2016 * 600
START = 0x1B0404CB


def test_retarget_on_schedule_keeps_the_target():
    assert retarget(START, SPAN, SPAN, 4, GENESIS_BITS) == START


def test_retarget_scales_with_the_time_taken():
    assert bits_to_target(retarget(START, SPAN * 2, SPAN, 4, GENESIS_BITS)) == pytest.approx(
        2 * bits_to_target(START), rel=1e-4)
    assert bits_to_target(retarget(START, SPAN // 2, SPAN, 4, GENESIS_BITS)) == pytest.approx(
        bits_to_target(START) / 2, rel=1e-4)


def test_retarget_is_clamped_to_a_factor_of_four():
    slow, very_slow = retarget(START, SPAN * 4, SPAN, 4, GENESIS_BITS), retarget(START, SPAN * 100, SPAN, 4, GENESIS_BITS)
    fast, very_fast = retarget(START, SPAN // 4, SPAN, 4, GENESIS_BITS), retarget(START, 0, SPAN, 4, GENESIS_BITS)
    assert slow == very_slow and fast == very_fast
    assert bits_to_target(very_slow) == pytest.approx(4 * bits_to_target(START), rel=1e-4)
    assert bits_to_target(very_fast) == pytest.approx(bits_to_target(START) / 4, rel=1e-4)


def test_retarget_never_exceeds_the_pow_limit():
    assert retarget(GENESIS_BITS, SPAN * 4, SPAN, 4, GENESIS_BITS) == GENESIS_BITS
