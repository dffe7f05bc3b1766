"""Merkle trees: one 32-byte root that commits to a list, and short proofs of membership.

Terminology
-----------
leaf
    One item's 32-byte hash (here: a transaction id).
root
    Pairs of nodes are hashed together level by level until one hash is left. A block header
    stores only the root, yet it commits to every transaction of the block.
inclusion proof
    The sibling hashes on the path from one leaf to the root: ``log2(n)`` hashes prove that
    a transaction is in a block without sending the block (what SPV wallets rely on).

How odd levels are handled, and the pitfall avoided (CVE-2012-2459)
-------------------------------------------------------------------
Bitcoin pairs the last node of an odd level *with itself*. Then the lists ``[a, b, c]`` and
``[a, b, c, c]`` have the same root: an attacker could relay a copy of a valid block with a
duplicated transaction, which nodes rejected as invalid and then, because the hash matched,
refused the genuine block too (CVE-2012-2459). Bitcoin patched the symptom by rejecting blocks
whose tree contains duplicate adjacent subtrees.

LabChain removes the cause instead, in the manner of Certificate Transparency (RFC 6962):

* an odd node is **promoted** unchanged to the next level, never duplicated, so two different
  lists never give the same root through duplication;
* leaves and inner nodes are hashed with different prefixes (``0x00`` for a leaf, ``0x01`` for
  a pair), so an inner node can never be passed off as a leaf (the "64-byte transaction"
  second-preimage trick).

The root of an empty list is 32 zero bytes (a block always holds a coinbase, so it never has one).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from labchain.crypto import hash256
from labchain.crypto.suite import Suite
from labchain.core.encoding import FixedBytes, ListOf, Record, UInt

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = bytes(32)


def _id_hash(suite: Suite | None):
    return hash256 if suite is None else suite.hash256


def leaf_hash(item: bytes, suite: Suite | None = None) -> bytes:
    return _id_hash(suite)(LEAF_PREFIX + item)


def node_hash(left: bytes, right: bytes, suite: Suite | None = None) -> bytes:
    return _id_hash(suite)(NODE_PREFIX + left + right)


def _next_level(level: list[bytes], suite: Suite | None = None) -> list[bytes]:
    paired = [node_hash(level[i], level[i + 1], suite) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        paired.append(level[-1])  # promote the odd node: never duplicate it
    return paired


def merkle_root(items: Sequence[bytes], suite: Suite | None = None) -> bytes:
    """The Merkle root of a list of 32-byte items (transaction ids), hashed with ``suite``'s
    id hash (None: the default suite, SHA-256 twice)."""
    level = [leaf_hash(item, suite) for item in items]
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        level = _next_level(level, suite)
    return level[0]


@dataclass(frozen=True, slots=True)
class MerkleProof(Record):
    """Proof that the item at ``index`` of a ``count``-item list is under a given root.

    ``siblings`` lists the hashes met on the way up, bottom first; on levels where the node
    was promoted (no sibling) nothing is listed. Whether each sibling sits on the left or the
    right follows from ``index`` and ``count``, so it is not stored (and cannot be forged).
    """

    index: int
    count: int
    siblings: tuple[bytes, ...]

    ENCODING = (("index", UInt(4)), ("count", UInt(4)), ("siblings", ListOf(FixedBytes(32), 32)))


def merkle_proof(items: Sequence[bytes], index: int, suite: Suite | None = None) -> MerkleProof:
    """Build the inclusion proof of ``items[index]``."""
    if not 0 <= index < len(items):
        raise IndexError(f"index {index} is outside a list of {len(items)} items")
    level = [leaf_hash(item, suite) for item in items]
    siblings, position = [], index
    while len(level) > 1:
        sibling = position ^ 1
        if sibling < len(level):
            siblings.append(level[sibling])
        level = _next_level(level, suite)
        position //= 2
    return MerkleProof(index, len(items), tuple(siblings))


def root_from_proof(item: bytes, proof: MerkleProof, suite: Suite | None = None) -> bytes:
    """Recompute the root implied by ``item`` and ``proof``; raises ValueError if malformed."""
    if not 0 <= proof.index < proof.count:
        raise ValueError(f"proof index {proof.index} is outside a list of {proof.count} items")
    current, position, width = leaf_hash(item, suite), proof.index, proof.count
    remaining = list(proof.siblings)
    while width > 1:
        has_sibling = (position ^ 1) < width
        if has_sibling:
            if not remaining:
                raise ValueError("proof has too few sibling hashes for its list size")
            sibling = remaining.pop(0)
            current = (node_hash(sibling, current, suite) if position % 2
                       else node_hash(current, sibling, suite))
        position, width = position // 2, (width + 1) // 2
    if remaining:
        raise ValueError("proof has more sibling hashes than its list size allows")
    return current


def verify_proof(item: bytes, proof: MerkleProof, root: bytes, suite: Suite | None = None) -> bool:
    """True when ``proof`` shows ``item`` at ``proof.index`` of the list committed to by ``root``."""
    try:
        return root_from_proof(item, proof, suite) == root
    except ValueError:
        return False
