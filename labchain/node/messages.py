"""P2P messages and their framing on a TCP stream.

Terminology
-----------
frame
    What travels on the socket: a 4-byte little-endian length, then that many bytes of
    payload. A length above :data:`MAX_MESSAGE_SIZE` is refused *before* reading the payload,
    so a peer cannot make a node allocate gigabytes.
envelope
    The payload: the message's command name (``b"version"``, ``b"inv"``...) and its body, both
    length-prefixed, in LabChain's canonical encoding (``labchain/encoding.py``).
message
    A frozen record per command, declared with ``ENCODING`` like every chain record; blocks
    and transactions travel in exactly the bytes that are hashed and signed.

Decoding is strict and never evaluates its input (no pickle, no eval): every malformed frame
raises :class:`ProtocolError` with a sentence that says what is wrong, which the node turns
into a misbehaviour score for the peer that sent it.

Simplifications versus Bitcoin's protocol
-----------------------------------------
* No network magic or checksum in each frame: TCP already checks integrity, and the handshake
  checks the network name and genesis hash once.
* No ``addr`` gossip, no compact blocks, no headers-first sync: peers are given explicitly
  (``--peer``/``addpeer``) and blocks are fetched whole with ``getblocks`` -> ``inv`` -> ``getdata``,
  like Bitcoin Core before 0.10.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from labchain.block import Block
from labchain.core.encoding import FixedBytes, ListOf, Nested, Record, UInt, VarBytes, decode_enveloped
from labchain.core.errors import LabchainError
from labchain.ledger.utxo.tx import Transaction

#: Version of this protocol; a peer with a different major version is refused.
PROTOCOL_VERSION = 1
#: Largest payload accepted (Bitcoin: MAX_PROTOCOL_MESSAGE_LENGTH, 4 MB). Must exceed the
#: largest block of any network (``Params.max_block_size``, 1 MB on regtest and lab).
MAX_MESSAGE_SIZE = 4 * 1024 * 1024
#: Items in one ``inv``/``getdata`` (Bitcoin: MAX_INV_SZ, 50 000).
MAX_INV_ITEMS = 50_000
#: Block hashes answered to one ``getblocks`` (Bitcoin: 500).
MAX_BLOCKS_PER_GETBLOCKS = 500
#: Hashes in a block locator (Bitcoin: MAX_LOCATOR_SZ, 101).
MAX_LOCATOR = 101
LENGTH = struct.Struct("<I")

INV_TX = 1
INV_BLOCK = 2


class ProtocolError(LabchainError):
    """A peer sent bytes that are not a valid message of this protocol."""


class UnknownMessageError(ProtocolError):
    """A well-framed message whose command this node does not know (maybe a newer peer)."""


# --- message records ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Version(Record):
    """First message each side sends: who I am and which chain I follow."""

    COMMAND: ClassVar[bytes] = b"version"
    protocol: int
    network: bytes        # Params.name, e.g. b"regtest"
    genesis_hash: bytes
    height: int           # sender's best height when connecting
    nonce: int            # random per process: detects connecting to oneself
    listen_port: int      # where the sender accepts connections (0: it does not)
    name: bytes           # e.g. b"node2": lets a testnet tell its nodes apart

    ENCODING = (
        ("protocol", UInt(4)),
        ("network", VarBytes(32)),
        ("genesis_hash", FixedBytes(32)),
        ("height", UInt(4)),
        ("nonce", UInt(8)),
        ("listen_port", UInt(2)),
        ("name", VarBytes(64)),
    )


@dataclass(frozen=True, slots=True)
class Verack(Record):
    """"Your version is acceptable": the handshake is complete once both sides sent it."""

    COMMAND: ClassVar[bytes] = b"verack"
    ENCODING = ()


@dataclass(frozen=True, slots=True)
class Ping(Record):
    COMMAND: ClassVar[bytes] = b"ping"
    nonce: int
    ENCODING = (("nonce", UInt(8)),)


@dataclass(frozen=True, slots=True)
class Pong(Record):
    COMMAND: ClassVar[bytes] = b"pong"
    nonce: int
    ENCODING = (("nonce", UInt(8)),)


@dataclass(frozen=True, slots=True)
class InvItem(Record):
    kind: int   # INV_TX or INV_BLOCK
    hash: bytes
    ENCODING = (("kind", UInt(1)), ("hash", FixedBytes(32)))


#: The body of inv, getdata and notfound: a list of inventory items.
INV_LIST = (("items", ListOf(Nested(InvItem), MAX_INV_ITEMS)),)


@dataclass(frozen=True, slots=True)
class Inv(Record):
    """"I have these": announces new blocks and transactions, and answers ``getblocks``."""

    COMMAND: ClassVar[bytes] = b"inv"
    items: tuple[InvItem, ...]
    ENCODING = INV_LIST


@dataclass(frozen=True, slots=True)
class GetData(Record):
    """"Send me these": asks for full blocks/transactions previously announced."""

    COMMAND: ClassVar[bytes] = b"getdata"
    items: tuple[InvItem, ...]
    ENCODING = INV_LIST


@dataclass(frozen=True, slots=True)
class NotFound(Record):
    COMMAND: ClassVar[bytes] = b"notfound"
    items: tuple[InvItem, ...]
    ENCODING = INV_LIST


@dataclass(frozen=True, slots=True)
class GetBlocks(Record):
    """"Which blocks come after these?": ``locator`` lists my chain's hashes, densest near my tip."""

    COMMAND: ClassVar[bytes] = b"getblocks"
    locator: tuple[bytes, ...]
    ENCODING = (("locator", ListOf(FixedBytes(32), MAX_LOCATOR)),)


@dataclass(frozen=True, slots=True)
class BlockMsg(Record):
    COMMAND: ClassVar[bytes] = b"block"
    block: Block
    ENCODING = (("block", Nested(Block)),)


@dataclass(frozen=True, slots=True)
class TxMsg(Record):
    COMMAND: ClassVar[bytes] = b"tx"
    tx: Transaction
    ENCODING = (("tx", Nested(Transaction)),)


@dataclass(frozen=True, slots=True)
class Reject(Record):
    """Sent just before disconnecting, so the other side can log why."""

    COMMAND: ClassVar[bytes] = b"reject"
    reason: bytes
    ENCODING = (("reason", VarBytes(256)),)


@dataclass(frozen=True, slots=True)
class AuthHello(Record):
    """Permissioned chains only, right after ``version``: "prove who you are by signing this"."""

    COMMAND: ClassVar[bytes] = b"authhello"
    nonce: bytes          # 32 fresh random bytes; the peer signs them (labchain/node/identity.py)
    ENCODING = (("nonce", FixedBytes(32)),)


@dataclass(frozen=True, slots=True)
class Auth(Record):
    """The answer to :class:`AuthHello`: a certificate (DER) or registered public key, and a
    signature over the peer's nonce, the chain id and the genesis hash."""

    COMMAND: ClassVar[bytes] = b"auth"
    credential: bytes
    signature: bytes
    ENCODING = (("credential", VarBytes(16 * 1024)), ("signature", VarBytes(128)))


MESSAGE_TYPES: dict[bytes, type[Record]] = {
    cls.COMMAND: cls
    for cls in (Version, Verack, Ping, Pong, Inv, GetData, NotFound, GetBlocks, BlockMsg, TxMsg, Reject,
                AuthHello, Auth)
}


@dataclass(frozen=True, slots=True)
class Envelope(Record):
    command: bytes
    body: bytes
    ENCODING = (("command", VarBytes(12)), ("body", VarBytes(MAX_MESSAGE_SIZE)))


# --- encode / decode ----------------------------------------------------------------------

def encode_message(message: Record) -> bytes:
    """The frame (length prefix + envelope) that carries ``message``."""
    payload = Envelope(type(message).COMMAND, message.to_bytes()).to_bytes()
    if len(payload) > MAX_MESSAGE_SIZE:
        raise ProtocolError(f"message {type(message).COMMAND.decode()} is {len(payload)} bytes, "
                            f"more than the {MAX_MESSAGE_SIZE}-byte limit", message)
    return LENGTH.pack(len(payload)) + payload


def check_frame_length(header: bytes) -> int:
    """Payload length announced by a 4-byte frame header; refuses oversized frames."""
    (length,) = LENGTH.unpack(header)
    if length > MAX_MESSAGE_SIZE:
        raise ProtocolError(f"peer announced a {length}-byte message, more than the "
                            f"{MAX_MESSAGE_SIZE}-byte limit", length)
    return length


def decode_message(payload: bytes) -> Record:
    """The message inside one frame's payload. Raises :class:`ProtocolError` when malformed."""
    return decode_enveloped(payload, Envelope, MESSAGE_TYPES, ProtocolError, UnknownMessageError,
                            "message envelope", "message type")


def decode_frames(data: bytes) -> list[Record]:
    """Every message in a byte string of whole frames (used by tests and tools)."""
    messages, pos = [], 0
    while pos < len(data):
        if len(data) - pos < LENGTH.size:
            raise ProtocolError("truncated frame header", data[pos:])
        length = check_frame_length(data[pos:pos + LENGTH.size])
        pos += LENGTH.size
        if len(data) - pos < length:
            raise ProtocolError(f"truncated frame: {length} bytes announced, "
                                f"{len(data) - pos} present", length)
        messages.append(decode_message(data[pos:pos + length]))
        pos += length
    return messages
