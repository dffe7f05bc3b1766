"""Proof-of-work targets, their compact form, chain work and retargeting.

Terminology
-----------
target
    A 256-bit number; a block is valid when ``hash256(header)``, read as a big-endian
    integer, is at most the target. Smaller target = harder.
bits
    The target in Bitcoin's 4-byte "compact" form: one exponent byte ``e`` and a 3-byte
    mantissa ``m``, ``target = m * 256**(e - 3)``. It is what the header stores.
work
    Expected number of hashes to find a block at a target: ``2**256 // (target + 1)``.
    The best chain is the one with the most *cumulative work*, not the most blocks.
retarget
    Every ``retarget_interval`` blocks the target is scaled by how long the last interval
    actually took versus how long it should have taken, clamped to a factor of 4 either way.

Simplifications versus Bitcoin: the compact form has no sign bit handling beyond rejecting
negative values; the retarget window is the full interval (Bitcoin's off-by-one, which
measures 2015 block gaps, is not reproduced).
"""
from __future__ import annotations

from labchain.core.errors import EncodingError

MAX_TARGET = (1 << 256) - 1


def bits_to_target(bits: int) -> int:
    """Expand compact ``bits`` into the full 256-bit target."""
    exponent, mantissa = bits >> 24, bits & 0x007FFFFF
    if bits & 0x00800000:
        raise EncodingError(f"compact target 0x{bits:08x} is negative", bits)
    if exponent <= 3:
        target = mantissa >> (8 * (3 - exponent))
    else:
        target = mantissa << (8 * (exponent - 3))
    if target > MAX_TARGET:
        raise EncodingError(f"compact target 0x{bits:08x} overflows 256 bits", bits)
    return target


def target_to_bits(target: int) -> int:
    """Compress a target to ``bits``, rounding down (the result never makes mining easier)."""
    if not 0 < target <= MAX_TARGET:
        raise ValueError(f"target must be in 1..2**256-1, got {target}")
    size = (target.bit_length() + 7) // 8
    if size <= 3:
        mantissa = target << (8 * (3 - size))
    else:
        mantissa = target >> (8 * (size - 3))
    if mantissa & 0x00800000:  # keep the sign bit clear by moving one byte into the exponent
        mantissa >>= 8
        size += 1
    return (size << 24) | mantissa


def work_of(bits: int) -> int:
    """Expected hashes to meet this target (Bitcoin: GetBlockProof)."""
    return (1 << 256) // (bits_to_target(bits) + 1)


def difficulty_of(bits: int, reference_bits: int) -> float:
    """How many times harder than ``reference_bits`` (usually the network's easiest target)."""
    return bits_to_target(reference_bits) / bits_to_target(bits)


def retarget(old_bits: int, actual_timespan: int, target_timespan: int, clamp: int, limit_bits: int) -> int:
    """New ``bits`` after an interval that took ``actual_timespan`` seconds instead of
    ``target_timespan`` (Bitcoin: CalculateNextWorkRequired)."""
    actual = min(max(actual_timespan, target_timespan // clamp), target_timespan * clamp)
    new_target = bits_to_target(old_bits) * actual // target_timespan
    new_target = min(max(new_target, 1), bits_to_target(limit_bits))
    return target_to_bits(new_target)
