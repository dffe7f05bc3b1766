"""The P2P wire format: every message round-trips, and malformed bytes are refused with a
ProtocolError (never another exception), including under hypothesis fuzzing."""
from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labchain.block import account_key, genesis_block
from labchain.node.messages import (
    INV_BLOCK,
    INV_TX,
    MAX_MESSAGE_SIZE,
    BlockMsg,
    Envelope,
    GetBlocks,
    GetData,
    Inv,
    InvItem,
    NotFound,
    Ping,
    Pong,
    ProtocolError,
    Reject,
    TxMsg,
    UnknownMessageError,
    Verack,
    Version,
    check_frame_length,
    decode_frames,
    decode_message,
    encode_message,
)
from labchain.core.params import get_params
from labchain.ledger.utxo.tx import OutPoint, Transaction, TxIn, TxOut

REGTEST = get_params("regtest")
GENESIS = genesis_block(REGTEST)


def _signed_tx() -> Transaction:
    key = account_key(REGTEST, 0)
    coinbase = GENESIS.transactions[0]
    tx = Transaction(1, (TxIn(OutPoint(coinbase.txid, 0)),), (TxOut(5, key.address),), b"memo")
    return tx.sign([key])


SAMPLES = [
    Version(1, b"regtest", GENESIS.hash, 7, 2**64 - 1, 18444, b"node3"),
    Verack(),
    Ping(42),
    Pong(42),
    Inv((InvItem(INV_BLOCK, GENESIS.hash), InvItem(INV_TX, bytes(32)))),
    GetData((InvItem(INV_TX, b"\x01" * 32),)),
    NotFound(()),
    GetBlocks((GENESIS.hash, bytes(32))),
    BlockMsg(GENESIS),
    TxMsg(_signed_tx()),
    Reject(b"network mismatch"),
]
VALID_FRAMES = [encode_message(m) for m in SAMPLES]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips_through_a_frame(message):
    assert decode_frames(encode_message(message)) == [message]


def test_several_frames_decode_in_order():
    assert decode_frames(b"".join(VALID_FRAMES)) == SAMPLES


def test_oversized_frame_is_refused_before_reading_its_payload():
    with pytest.raises(ProtocolError, match="more than the"):
        check_frame_length(struct.pack("<I", MAX_MESSAGE_SIZE + 1))
    assert check_frame_length(struct.pack("<I", MAX_MESSAGE_SIZE)) == MAX_MESSAGE_SIZE


def test_unknown_command_has_its_own_error_type():
    payload = Envelope(b"getaddr", b"").to_bytes()
    with pytest.raises(UnknownMessageError, match="unknown message type 'getaddr'"):
        decode_message(payload)


def test_trailing_bytes_in_a_body_are_refused():
    payload = Envelope(b"ping", struct.pack("<Q", 1) + b"x").to_bytes()
    with pytest.raises(ProtocolError, match="malformed ping message: 1 unexpected trailing bytes"):
        decode_message(payload)


def test_a_block_with_a_truncated_transaction_is_refused():
    body = BlockMsg(GENESIS).to_bytes()[:-3]
    with pytest.raises(ProtocolError, match="malformed block message: truncated"):
        decode_message(Envelope(b"block", body).to_bytes())


def test_an_inv_claiming_too_many_items_is_refused():
    body = b"\xfd" + struct.pack("<H", 60_000)  # 60 000 items announced, none sent
    with pytest.raises(ProtocolError, match="more than 50000"):
        decode_message(Envelope(b"inv", body).to_bytes())


FUZZ = {"random": 0, "mutated": 0, "accepted": 0, "rejected": 0}


def _decode_or_reject(data: bytes) -> None:
    try:
        decode_frames(data)
        FUZZ["accepted"] += 1
    except ProtocolError as exc:
        assert str(exc)  # a sentence, not an empty error
        FUZZ["rejected"] += 1


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_never_raise_anything_but_protocol_error(data):
    FUZZ["random"] += 1
    _decode_or_reject(data)


@st.composite
def mutated_frames(draw):
    frame = bytearray(draw(st.sampled_from(VALID_FRAMES)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "length"]))
        if kind == "flip" and frame:
            i = draw(st.integers(0, len(frame) - 1))
            frame[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut" and frame:
            frame = frame[: draw(st.integers(0, len(frame) - 1))]
        elif kind == "insert":
            i = draw(st.integers(0, len(frame)))
            frame[i:i] = draw(st.binary(min_size=1, max_size=8))
        else:
            frame[0:4] = struct.pack("<I", draw(st.integers(0, 2**32 - 1)))
    return bytes(frame)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_frames())
def test_fuzz_mutated_valid_frames_never_raise_anything_but_protocol_error(data):
    FUZZ["mutated"] += 1
    _decode_or_reject(data)


def test_fuzz_counts_are_reported():
    """Runs after the fuzz tests (file order): prints the counts for the closing note."""
    print(f"\nP2P decoder fuzz: {FUZZ['random']} random + {FUZZ['mutated']} mutated inputs, "
          f"{FUZZ['rejected']} rejected with ProtocolError, {FUZZ['accepted']} decoded, 0 crashes")
    assert FUZZ["rejected"] > 0
