"""World state and its sparse Merkle tree: canonical roots, proofs of inclusion and absence."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from labchain.core.errors import EncodingError
from labchain.crypto import get_suite
from labchain.ledger.account import Account, StateProof, WorldState, account_key, storage_key, verify_proof
from labchain.ledger.account.errors import StateError, UndoError
from labchain.ledger.account.smt import EMPTY


def filled(suite, items) -> WorldState:
    state = WorldState(suite)
    for k, v in items:
        state.set(k, v)
    return state


def random_items(n: int, seed: int = 1) -> list[tuple[bytes, bytes]]:
    r = random.Random(seed)
    return [(b"k" + r.randbytes(8), r.randbytes(r.randrange(1, 40))) for _ in range(n)]


def test_empty_state_root_is_zero(suite):
    assert WorldState(suite).state_root == EMPTY


def test_root_depends_only_on_contents_not_on_order_or_history(suite):
    items = random_items(200)
    a = filled(suite, items)
    b = filled(suite, reversed(items))
    c = WorldState(suite)
    c.load(items)
    assert a.state_root == b.state_root == c.state_root != EMPTY
    # delete half: same root as a state that never had them
    for k, _ in items[:100]:
        b.set(k, None)
    assert b.state_root == filled(suite, items[100:]).state_root
    b.set(items[150][0], b"changed")
    assert b.state_root != filled(suite, items[100:]).state_root


def test_roots_differ_between_suites():
    items = random_items(10)
    assert filled(get_suite("p256-sha256"), items).state_root != filled(get_suite("sm2-sm3"), items).state_root


def test_proofs_of_inclusion_and_non_inclusion_verify(suite):
    items = random_items(300)
    state = filled(suite, items)
    root = state.state_root
    for key, value in items[:30]:
        proof = state.get_proof(key)
        assert verify_proof(suite.name, root, key, value, proof)
        assert not verify_proof(suite.name, root, key, value + b"!", proof)
        assert not verify_proof(suite.name, root, key, None, proof)
    kinds = set()
    for n in range(60):
        key = b"absent" + bytes([n])
        proof = state.get_proof(key)
        kinds.add(bool(proof.other_path))
        assert verify_proof(suite, root, key, None, proof)
        assert not verify_proof(suite, root, key, b"anything", proof)
    assert kinds == {True, False}   # both shapes met: an empty subtree, another key's leaf


def test_proof_depth_is_logarithmic(suite):
    state = filled(suite, random_items(2000))
    depths = [len(state.get_proof(k).siblings) for k, _ in random_items(2000)[:50]]
    assert max(depths) < 32 and sum(depths) / len(depths) < 16


def test_a_tampered_proof_fails(suite):
    items = random_items(100)
    state = filled(suite, items)
    root = state.state_root
    key, value = items[7]
    proof = state.get_proof(key)
    bad_sibling = StateProof((proof.siblings[0][:-1] + bytes([proof.siblings[0][-1] ^ 1]),) + proof.siblings[1:])
    assert not verify_proof(suite, root, key, value, bad_sibling)
    assert not verify_proof(suite, root, key, value, StateProof(proof.siblings[1:]))
    assert not verify_proof(suite, root[:-1] + b"\x00", key, value, proof)
    # a non-inclusion proof that points at a leaf off the key's path, or at the key itself
    absent = next(b"x" + bytes([n]) for n in range(256) if state.get_proof(b"x" + bytes([n])).other_path)
    np = state.get_proof(absent)
    assert verify_proof(suite, root, absent, None, np)
    assert not verify_proof(suite, root, absent, None,
                            StateProof(np.siblings, suite.hash(absent), np.other_value_hash))
    assert not verify_proof(suite, root, absent, None, StateProof(np.siblings, np.other_path, bytes(32)))
    # an inclusion proof turned into an absence claim by naming the key's own leaf
    assert not verify_proof(suite, root, key, None, StateProof(proof.siblings, suite.hash(key), suite.hash(value)))


def test_proof_round_trips_and_a_bad_one_is_not_a_crash(suite):
    state = filled(suite, random_items(50))
    proof = state.get_proof(b"nothing")
    assert StateProof.from_bytes(proof.to_bytes()) == proof == StateProof.from_json(proof.to_json())
    assert not verify_proof(suite, state.state_root, b"nothing", None, "not a proof")
    with pytest.raises(EncodingError):
        StateProof.from_bytes(b"\xff")


def test_account_record_round_trips_and_is_canonical():
    a = Account(7, 2**100 + 5, bytes(32))
    assert Account.from_bytes(a.to_bytes()) == a == Account.from_json(a.to_json())
    with pytest.raises(EncodingError, match="leading zero"):
        Account.from_bytes(bytes(8) + b"\x02\x00\x05" + b"\x00")
    with pytest.raises(EncodingError, match="balance must be an integer"):
        Account(0, -1).to_bytes()


def test_empty_account_is_not_stored(keys):
    state = WorldState(keys.suite)
    state.add_balance(keys[0], 5)
    state.add_balance(keys[0], -5)
    assert len(state) == 0 and state.state_root == EMPTY
    with pytest.raises(StateError, match="holds 0, cannot take 1"):
        state.add_balance(keys[0], -1)


def test_storage_and_accounts_have_separate_keys(keys):
    state = WorldState(keys.suite)
    state.add_balance(keys[0], 9)
    state.storage_set(keys[0], b"slot", b"v")
    assert state.storage_get(keys[0], b"slot") == b"v" and state.balance(keys[0]) == 9
    assert account_key(keys[0]) != storage_key(keys[0], b"slot")
    with pytest.raises(StateError, match="storage key is 1..256 bytes"):
        storage_key(keys[0], b"")
    proof = state.get_proof(storage_key(keys[0], b"slot"))
    assert verify_proof(keys.suite, state.state_root, storage_key(keys[0], b"slot"), b"v", proof)


def test_snapshot_revert_and_undo(suite):
    state = filled(suite, random_items(20))
    root = state.state_root
    snap = state.snapshot()
    for k, _ in random_items(30, seed=2):
        state.set(k, b"new")
    state.set(random_items(20)[3][0], None)
    state.revert_to(snap)
    assert state.state_root == root
    mark = state.snapshot()
    state.set(b"a", b"1")
    state.set(b"a", b"2")
    state.set(random_items(20)[0][0], None)
    undo = state.take_undo(mark, root)
    assert len(undo.entries) == 2 and type(undo).from_bytes(undo.to_bytes()) == undo
    after = state.state_root
    state.set(b"later", b"x")
    with pytest.raises(UndoError, match="undo the later blocks first"):
        state.apply_undo(undo)
    state.set(b"later", None)
    assert state.state_root == after
    state.apply_undo(undo)
    assert state.state_root == root and state.get(b"a") is None


key_values = st.dictionaries(st.binary(min_size=1, max_size=6), st.binary(min_size=1, max_size=8), max_size=40)


@settings(max_examples=60, deadline=None)
@given(first=key_values, second=key_values, data=st.data())
def test_any_sequence_of_writes_gives_the_root_of_its_final_contents(first, second, data):
    suite = get_suite(data.draw(st.sampled_from(["p256-sha256", "sm2-sm3"])))
    state = WorldState(suite)
    for k, v in first.items():
        state.set(k, v)
    for k in data.draw(st.lists(st.sampled_from(sorted(first)), unique=True)) if first else []:
        state.set(k, None)
    for k, v in second.items():
        state.set(k, v)
    final = dict(state.items())
    fresh = WorldState(suite)
    fresh.load(final.items())
    assert state.state_root == fresh.state_root
    probe = data.draw(st.binary(min_size=1, max_size=6))
    assert verify_proof(suite, state.state_root, probe, final.get(probe), state.get_proof(probe))
