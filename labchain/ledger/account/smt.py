"""A compact sparse Merkle tree: one 32-byte root over a key -> value map, with proofs of
inclusion and of non-inclusion that a light client checks with nothing but the root.

Terminology
-----------
path
    The suite's hash of a key: 256 bits, read from the most significant bit of byte 0. Bit
    ``i`` says whether the key lives left (0) or right (1) at depth ``i``.
leaf
    ``hash(0x00 || path || hash(value))``: one key with its value.
internal node
    ``hash(0x01 || left || right)``.
empty subtree
    32 zero bytes (no key below).
compact
    A subtree holding a single key is that key's leaf, placed where the paths of its
    neighbours stop sharing bits, not at depth 256 (the layout of Diem's Jellyfish Merkle tree
    and of "compact sparse Merkle trees", Faraj & al. 2018). So a tree of ``n`` random keys has
    depth about ``log2 n`` and an update hashes ``log2 n`` nodes, yet the root depends only on
    the set of (key, value) pairs, never on the order of insertions: an internal node always
    has at least two keys below it.
proof (:class:`StateProof`)
    The sibling hashes from the root down to where the key's path ends (at its leaf, at an
    empty subtree, or at the leaf of *another* key sharing the prefix, which the proof then
    names: that proves the key is absent).

Nodes are immutable Python objects with their hash computed once: updating a key makes a
new path of ``log2 n`` nodes and shares the rest, so keeping an old root object is a free
snapshot. Only non-empty subtrees exist.

Simplifications versus real chains: Ethereum's Merkle Patricia trie (hexary, RLP nodes, a
storage trie per account) and Diem's JMT (versioned nodes on disk) keep their nodes in a
key-value database; this tree lives in memory and is rebuilt from the stored leaves when a
store opens.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from labchain.core.encoding import FixedBytes, ListOf, Record, VarBytes
from labchain.crypto.suite import Suite

from labchain.ledger.account.errors import StateError

EMPTY = bytes(32)
LEAF = b"\x00"
NODE = b"\x01"
DEPTH = 256


def bit(path: bytes, depth: int) -> int:
    return (path[depth >> 3] >> (7 - (depth & 7))) & 1


class Leaf:
    __slots__ = ("path", "value_hash", "hash")

    def __init__(self, suite: Suite, path: bytes, value_hash: bytes) -> None:
        self.path, self.value_hash = path, value_hash
        self.hash = suite.hash(LEAF + path + value_hash)


class Node:
    __slots__ = ("left", "right", "hash")

    def __init__(self, suite: Suite, left, right) -> None:
        self.left, self.right = left, right
        self.hash = suite.hash(NODE + _hash(left) + _hash(right))


def _hash(node) -> bytes:
    return EMPTY if node is None else node.hash


def _join(suite: Suite, a: Leaf, b: Leaf, depth: int):
    """The smallest subtree at ``depth`` holding two leaves whose paths differ."""
    ba, bb = bit(a.path, depth), bit(b.path, depth)
    if ba == bb:
        child = _join(suite, a, b, depth + 1)
        return Node(suite, child, None) if ba == 0 else Node(suite, None, child)
    return Node(suite, a, b) if ba == 0 else Node(suite, b, a)


def insert(suite: Suite, node, leaf: Leaf, depth: int = 0):
    """The tree with ``leaf`` added (or its key's value replaced)."""
    if node is None:
        return leaf
    if isinstance(node, Leaf):
        if node.path == leaf.path:
            return leaf
        return _join(suite, node, leaf, depth)
    if bit(leaf.path, depth):
        return Node(suite, node.left, insert(suite, node.right, leaf, depth + 1))
    return Node(suite, insert(suite, node.left, leaf, depth + 1), node.right)


def delete(suite: Suite, node, path: bytes, depth: int = 0):
    """The tree without ``path`` (unchanged if absent); a subtree left with one key collapses
    into that key's leaf, so the root is the same as if the key had never been there."""
    if node is None:
        return None
    if isinstance(node, Leaf):
        return None if node.path == path else node
    if bit(path, depth):
        left, right = node.left, delete(suite, node.right, path, depth + 1)
        if right is node.right:
            return node
    else:
        left, right = delete(suite, node.left, path, depth + 1), node.right
        if left is node.left:
            return node
    if left is None and (right is None or isinstance(right, Leaf)):
        return right
    if right is None and isinstance(left, Leaf):
        return left
    return Node(suite, left, right)


def build(suite: Suite, leaves: Iterable[Leaf]):
    """A tree from many leaves at once (reopening a store): sorted, then split by bits."""
    ordered = sorted(leaves, key=lambda leaf: leaf.path)

    def make(lo: int, hi: int, depth: int):
        if hi - lo == 0:
            return None
        if hi - lo == 1:
            return ordered[lo]
        # first leaf whose bit at ``depth`` is 1 (paths are sorted, so the 0s come first)
        split = lo
        while split < hi and not bit(ordered[split].path, depth):
            split += 1
        return Node(suite, make(lo, split, depth + 1), make(split, hi, depth + 1))

    return make(0, len(ordered), 0)


@dataclass(frozen=True, slots=True)
class StateProof(Record):
    """Siblings from the root down (index 0 = depth 0); ``other_path``/``other_value_hash``
    name the leaf of another key found where the key's path ends (a non-inclusion proof),
    or are empty."""

    siblings: tuple[bytes, ...]
    other_path: bytes = b""
    other_value_hash: bytes = b""

    ENCODING = (
        ("siblings", ListOf(FixedBytes(32), DEPTH)),
        ("other_path", VarBytes(32)),
        ("other_value_hash", VarBytes(32)),
    )


def prove(node, path: bytes) -> StateProof:
    """The proof for ``path`` in the tree ``node`` (inclusion if present, else non-inclusion)."""
    siblings, depth = [], 0
    while isinstance(node, Node):
        if bit(path, depth):
            siblings.append(_hash(node.left))
            node = node.right
        else:
            siblings.append(_hash(node.right))
            node = node.left
        depth += 1
    if isinstance(node, Leaf) and node.path != path:
        return StateProof(tuple(siblings), node.path, node.value_hash)
    return StateProof(tuple(siblings))


def root_from_proof(suite: Suite, path: bytes, value: bytes | None, proof: StateProof) -> bytes:
    """The root a proof leads to for ``path`` holding ``value`` (None: absent)."""
    if not isinstance(proof, StateProof):
        raise StateError(f"expected a StateProof, got {type(proof).__name__}", proof)
    depth = len(proof.siblings)
    if value is not None:
        if proof.other_path:
            raise StateError("an inclusion proof must not name another key's leaf", proof)
        current = suite.hash(LEAF + path + suite.hash(value))
    elif proof.other_path:
        other = proof.other_path
        if len(other) != 32 or len(proof.other_value_hash) != 32:
            raise StateError("the other leaf of a non-inclusion proof needs a 32-byte path and value hash", proof)
        if other == path:
            raise StateError("a non-inclusion proof names the key itself as the other leaf", proof)
        if any(bit(other, i) != bit(path, i) for i in range(depth)):
            raise StateError("the other leaf of the proof does not lie on the key's path", proof)
        current = suite.hash(LEAF + other + proof.other_value_hash)
    else:
        if proof.other_value_hash:
            raise StateError("a proof with a value hash but no other key is malformed", proof)
        current = EMPTY
    for i in range(depth - 1, -1, -1):
        sibling = proof.siblings[i]
        current = suite.hash(NODE + sibling + current if bit(path, i) else NODE + current + sibling)
    return current
