"""Canonical encoding: every record survives bytes and JSON round trips, and decoding is strict.

Strict means: truncated input, trailing bytes, non-canonical lengths, over-long lists, wrong
JSON types, unknown or missing keys and a mismatching derived id all raise EncodingError
with a message that names the field.
"""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labchain.block import Block, BlockHeader
from labchain.crypto import ADDRESS_VERSION, Address
from labchain.core.encoding import VarInt, Reader
from labchain.core.errors import EncodingError
from labchain.merkle import MerkleProof
from labchain.ledger.utxo.tx import OutPoint, Transaction, TxIn, TxOut

# --- strategies: arbitrary (not necessarily valid) records -------------------------------

u32 = st.integers(0, 2**32 - 1)
hashes = st.binary(min_size=32, max_size=32)
addresses = st.builds(lambda h: Address(ADDRESS_VERSION, h), st.binary(min_size=20, max_size=20))
outpoints = st.builds(OutPoint, hashes, u32)
txins = st.builds(TxIn, outpoints, st.binary(max_size=64), st.binary(max_size=33))
txouts = st.builds(TxOut, st.integers(0, 2**64 - 1), addresses)
transactions = st.builds(
    Transaction,
    u32,
    st.lists(txins, max_size=4).map(tuple),
    st.lists(txouts, max_size=4).map(tuple),
    st.binary(max_size=255),
    u32,
)
headers = st.builds(BlockHeader, u32, hashes, hashes, u32, u32, u32)
blocks = st.builds(Block, headers, st.lists(transactions, max_size=3).map(tuple))
proofs = st.builds(MerkleProof, u32, u32, st.lists(hashes, max_size=32).map(tuple))

RECORDS = [
    (OutPoint, outpoints),
    (TxIn, txins),
    (TxOut, txouts),
    (Transaction, transactions),
    (BlockHeader, headers),
    (Block, blocks),
    (MerkleProof, proofs),
]


@pytest.mark.parametrize("cls,strategy", RECORDS, ids=[c.__name__ for c, _ in RECORDS])
def test_bytes_round_trip(cls, strategy):
    @settings(max_examples=60, deadline=None)
    @given(strategy)
    def check(record):
        data = record.to_bytes()
        assert cls.from_bytes(data) == record
        assert cls.from_bytes(data).to_bytes() == data

    check()


@pytest.mark.parametrize("cls,strategy", RECORDS, ids=[c.__name__ for c, _ in RECORDS])
def test_json_round_trip_through_text(cls, strategy):
    @settings(max_examples=60, deadline=None)
    @given(strategy)
    def check(record):
        text = json.dumps(record.to_json())
        assert cls.from_json(json.loads(text)) == record

    check()


@settings(max_examples=40, deadline=None)
@given(transactions)
def test_every_strict_prefix_of_a_transaction_is_rejected_as_truncated(tx):
    data = tx.to_bytes()
    for cut in range(len(data)):
        with pytest.raises(EncodingError, match="truncated"):
            Transaction.from_bytes(data[:cut])


# --- strict byte decoding ----------------------------------------------------------------

def _tx() -> Transaction:
    addr = Address(ADDRESS_VERSION, bytes(range(20)))
    return Transaction(1, (TxIn(OutPoint(b"\x11" * 32, 3), b"s" * 64, b"\x02" * 33),),
                       (TxOut(5000, addr),), b"hello", 7)


def test_truncation_names_the_field():
    data = _tx().to_bytes()
    with pytest.raises(EncodingError, match=r"truncated Transaction\.inputs\[0\]\.prevout\.txid"):
        Transaction.from_bytes(data[:10])


def test_trailing_bytes_are_rejected():
    with pytest.raises(EncodingError, match="1 unexpected trailing bytes after Transaction"):
        Transaction.from_bytes(_tx().to_bytes() + b"\x00")


def test_non_canonical_list_length_is_rejected():
    data = _tx().to_bytes()
    # version (4 bytes) then the input count 0x01; re-encode it as 0xfd 0x01 0x00
    assert data[4] == 1
    tampered = data[:4] + b"\xfd\x01\x00" + data[5:]
    with pytest.raises(EncodingError, match=r"non-canonical length encoding in Transaction\.inputs"):
        Transaction.from_bytes(tampered)


@pytest.mark.parametrize("encoded,minimum", [
    (b"\xfd\xfc\x00", 0xFD), (b"\xfe\xff\xff\x00\x00", 0x10000),
    (b"\xff\xff\xff\xff\xff\x00\x00\x00\x00", 0x100000000),
])
def test_each_compact_size_form_rejects_values_that_fit_a_shorter_one(encoded, minimum):
    with pytest.raises(EncodingError, match="non-canonical"):
        VarInt().read(Reader(encoded), "n")
    out = bytearray()
    VarInt().write(out, minimum, "n")
    assert VarInt().read(Reader(bytes(out)), "n") == minimum and out[0] == encoded[0]


def test_over_long_list_is_rejected_before_reading_items():
    proof = MerkleProof(0, 1, ())
    data = proof.to_bytes()[:8] + b"\x21"  # claims 33 siblings; the limit is 32
    with pytest.raises(EncodingError, match=r"MerkleProof\.siblings claims 33 items, more than 32"):
        MerkleProof.from_bytes(data)


def test_over_long_bytes_field_is_rejected():
    data = OutPoint(bytes(32), 0).to_bytes() + b"\x41" + b"x" * 65 + b"\x00"
    with pytest.raises(EncodingError, match=r"TxIn\.signature claims 65 bytes, more than 64"):
        TxIn.from_bytes(data)


def test_decoding_something_that_is_not_bytes_is_rejected():
    with pytest.raises(EncodingError, match="expected bytes"):
        Transaction.from_bytes("00ff")


def test_address_with_wrong_version_inside_bytes_is_rejected():
    data = bytearray(TxOut(1, Address(ADDRESS_VERSION, bytes(20))).to_bytes())
    data[8] = 0x00
    with pytest.raises(EncodingError, match=r"TxOut\.address has address version byte 0x00"):
        TxOut.from_bytes(bytes(data))  # the same rule as the text form: bytes and JSON agree
    with pytest.raises(EncodingError, match=r"TxOut\.address"):
        TxOut.from_bytes(bytes(data[:20]))  # a short address is rejected with its name too


# --- strict JSON decoding ----------------------------------------------------------------

@pytest.mark.parametrize("mutate,message", [
    (lambda j: j["outputs"][0].update(amount="5000"), r"Transaction\.outputs\[0\]\.amount must be an integer, got str"),
    (lambda j: j["outputs"][0].update(amount=True), r"Transaction\.outputs\[0\]\.amount must be an integer, got bool"),
    (lambda j: j["outputs"][0].update(amount=-1), r"Transaction\.outputs\[0\]\.amount = -1 is outside"),
    (lambda j: j.update(version=2**32), r"Transaction\.version = 4294967296 is outside"),
    (lambda j: j.update(inputs={}), r"Transaction\.inputs must be a JSON array, got dict"),
    (lambda j: j.update(memo=5), r"Transaction\.memo must be a hex string, got int"),
    (lambda j: j.update(memo="zz"), r"Transaction\.memo is not valid hex"),
    (lambda j: j["inputs"][0]["prevout"].update(txid="ab"), r"Transaction\.inputs\[0\]\.prevout\.txid must be 32 bytes, got 1"),
    (lambda j: j["outputs"][0].update(address="1111"), r"Transaction\.outputs\[0\]\.address"),
    (lambda j: j["inputs"].__setitem__(0, "x"), r"Transaction\.inputs\[0\] must be a JSON object, got str"),
    (lambda j: j.update(colour="red"), r"Transaction has unknown field\(s\): colour"),
    (lambda j: j.pop("lock_height"), r"Transaction is missing field\(s\): lock_height"),
    (lambda j: j["outputs"][0].pop("address"), r"Transaction\.outputs\[0\] is missing field\(s\): address"),
    (lambda j: j.update(txid="00" * 32), r"Transaction\.txid does not match"),
])
def test_bad_transaction_json_names_the_field(mutate, message):
    body = json.loads(json.dumps(_tx().to_json()))
    mutate(body)
    with pytest.raises(EncodingError, match=message):
        Transaction.from_json(body)


def test_json_without_the_derived_txid_is_accepted():
    body = _tx().to_json()
    del body["txid"]
    assert Transaction.from_json(body) == _tx()


def test_block_header_json_with_wrong_hash_is_rejected():
    body = BlockHeader(1, bytes(32), bytes(32), 0, 0x207FFFFF, 0).to_json()
    body["hash"] = "11" * 32
    with pytest.raises(EncodingError, match=r"BlockHeader\.hash does not match"):
        BlockHeader.from_json(body)


def test_top_level_json_must_be_an_object():
    with pytest.raises(EncodingError, match="Block must be a JSON object, got list"):
        Block.from_json([])


def test_encoding_a_wrongly_typed_field_names_it():
    with pytest.raises(EncodingError, match=r"OutPoint\.txid must be 32 bytes, got str"):
        OutPoint("ab" * 32, 0).to_bytes()
