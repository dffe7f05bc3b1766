"""Merkle roots and inclusion proofs, including the CVE-2012-2459 and leaf/node pitfalls."""
import pytest

from labchain.crypto import hash256, sha256
from labchain.merkle import (
    EMPTY_ROOT,
    MerkleProof,
    leaf_hash,
    merkle_proof,
    merkle_root,
    node_hash,
    verify_proof,
)

ITEMS = [sha256(bytes([i])) for i in range(17)]


def reference_root(items):
    """RFC 6962's recursive definition: split at the largest power of two below n.

    Written independently of labchain.merkle (which works bottom-up, promoting odd nodes);
    the two agree for every n, which is what makes the promotion rule well defined.
    """
    if len(items) == 1:
        return hash256(b"\x00" + items[0])
    k = 1
    while k * 2 < len(items):
        k *= 2
    return hash256(b"\x01" + reference_root(items[:k]) + reference_root(items[k:]))


def test_empty_list_has_the_all_zero_root():
    assert merkle_root([]) == EMPTY_ROOT == bytes(32)


@pytest.mark.parametrize("n", range(1, 18))
def test_root_matches_the_rfc6962_definition(n):
    assert merkle_root(ITEMS[:n]) == reference_root(ITEMS[:n])


def test_roots_of_all_prefixes_are_distinct():
    roots = {merkle_root(ITEMS[:n]) for n in range(0, 18)}
    assert len(roots) == 18


def test_small_trees_by_hand():
    a, b, c = ITEMS[:3]
    assert merkle_root([a]) == leaf_hash(a)
    assert merkle_root([a, b]) == node_hash(leaf_hash(a), leaf_hash(b))
    # the odd leaf c is promoted, not paired with itself
    assert merkle_root([a, b, c]) == node_hash(node_hash(leaf_hash(a), leaf_hash(b)), leaf_hash(c))


def test_duplicated_last_leaf_changes_the_root_cve_2012_2459():
    a, b, c = ITEMS[:3]
    assert merkle_root([a, b, c]) != merkle_root([a, b, c, c])
    assert merkle_root(ITEMS[:5]) != merkle_root(ITEMS[:5] + ITEMS[4:5])
    assert merkle_root(ITEMS[:6]) != merkle_root(ITEMS[:6] + ITEMS[4:6])


def test_an_inner_node_cannot_pose_as_a_leaf():
    a, b, c, d = ITEMS[:4]
    root = merkle_root([a, b, c, d])
    left, right = node_hash(leaf_hash(a), leaf_hash(b)), node_hash(leaf_hash(c), leaf_hash(d))
    # Without domain separation, the 2-item list [left, right] would have the same root
    assert merkle_root([left, right]) != root
    # and the 64-byte "item" left||right hashed as a leaf is not the root either
    assert merkle_root([left + right]) != root
    # a proof that presents the inner node as leaf 0 of a 2-item list does not verify
    assert not verify_proof(left, MerkleProof(0, 2, (right,)), root)


@pytest.mark.parametrize("n", range(1, 18))
def test_every_proof_verifies_and_only_for_its_own_item_and_index(n):
    items = ITEMS[:n]
    root = merkle_root(items)
    for i in range(n):
        proof = merkle_proof(items, i)
        assert verify_proof(items[i], proof, root)
        assert len(proof.siblings) <= max(1, (n - 1).bit_length())
        assert MerkleProof.from_bytes(proof.to_bytes()) == proof
        assert not verify_proof(sha256(b"not in the list"), proof, root)
        assert not verify_proof(items[i], proof, merkle_root(items + [sha256(b"extra")]))
        if n > 1:
            j = (i + 1) % n
            assert not verify_proof(items[i], MerkleProof(j, n, proof.siblings), root)


def test_tampered_or_malformed_proofs_fail_without_raising():
    items = ITEMS[:7]
    root = merkle_root(items)
    proof = merkle_proof(items, 4)
    bad_sibling = (bytes(32),) + proof.siblings[1:]
    assert not verify_proof(items[4], MerkleProof(4, 7, bad_sibling), root)
    assert not verify_proof(items[4], MerkleProof(4, 7, proof.siblings[:-1]), root)
    assert not verify_proof(items[4], MerkleProof(4, 7, proof.siblings + (bytes(32),)), root)
    assert not verify_proof(items[4], MerkleProof(7, 7, proof.siblings), root)
    assert not verify_proof(items[4], MerkleProof(4, 5, proof.siblings), root)
    # Note: the root does not commit to the list size; MerkleProof(4, 8, ...) has the same
    # shape as (4, 7, ...) and verifies too. The block's transaction count is known anyway.


def test_proof_of_missing_index_raises_index_error():
    with pytest.raises(IndexError, match="index 3 is outside a list of 3 items"):
        merkle_proof(ITEMS[:3], 3)
