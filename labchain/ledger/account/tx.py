"""Account-model transactions: a signed order from one account, with a nonce, gas and data.

Terminology
-----------
account address (``AccountAddress``)
    A version byte and the suite's ``hash160`` of the public key, Base58Check like UTXO
    addresses, but with a version byte of its own per suite (:func:`account_version`: the
    suite's UTXO version with the top bit set, ``0xB0`` for p256-sha256, ``0xBF`` for
    sm2-sm3), so an account address is never taken for a UTXO address or for an address of
    the other suite.
nonce
    How many transactions the sender has had confirmed. A transaction must carry exactly the
    sender's next nonce: lower is a replay (``NonceTooLowError``), higher leaves a gap
    (``NonceGapError``). Ethereum's rule.
chain id
    The name of the chain the transaction was signed for (``Params.name``), inside the signed
    bytes: a transaction of ``lab`` does not verify on ``regtest`` (EIP-155's replay protection).
gas, gas limit, gas price
    Execution is paid in gas: the sender offers at most ``gas_limit`` gas at ``gas_price``
    base units each, reserves ``gas_limit * gas_price`` up front and gets back what was not used.
    The used part goes to the block's proposer (Ethereum before EIP-1559: no base fee burnt).
intrinsic gas
    What a transaction costs before any contract runs (Ethereum's yellow paper ``g0``):
    21000, plus 16 per non-zero and 4 per zero data byte (EIP-2028), plus 32000 for a
    contract creation (``G_txcreate``).
data
    Empty for a plain transfer; for a contract creation (``to`` empty) a :class:`DeployData`
    (contract source and encoded constructor arguments); for a call a :class:`CallData`
    (function name and encoded arguments). Arguments are canonical bytes of the contract VM's
    values (``labchain.ledger.contracts.encode_value``).
signing message
    ``b"LabChain account tx\\x00"`` + the transaction's encoding with an empty signature; the
    suite hashes it and signs (ECDSA P-256 with SHA-256, or SM2 with SM3).
txid
    The suite's id hash (``hash256``) of the full encoding, signature included.

Simplifications versus real chains
----------------------------------
* Ethereum encodes with RLP and recovers the sender from the signature (``v``); LabChain
  carries the 33-byte public key, as ChainMaker and FISCO BCOS do with their certificates or
  keys, and checks it against nothing but the signature.
* The chain id is a short name, not Ethereum's integer.
* No access lists, no EIP-1559 fee market (one ``gas_price``), no blob data.
* Data sent to an account without code is carried and charged but not interpreted (Ethereum
  does the same); a contract with no function named in ``CallData`` reverts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labchain.core.encoding import Codec, EncodingError, ListOf, Reader, Record, UInt, VarBytes
from labchain.core.errors import AddressError, InvalidKeyError
from labchain.crypto import b58decode, b58encode, hash256
from labchain.crypto.suite import Suite, suite_names, get_suite

from labchain.ledger.account.errors import (
    BadSignatureError,
    GasLimitError,
    InsufficientBalanceError,
    IntrinsicGasError,
    MalformedTransactionError,
    NonceGapError,
    NonceTooLowError,
    WrongChainError,
)

# --- gas schedule of a transaction (Ethereum yellow paper, Appendix G) --------------------
TX_GAS = 21_000                 # G_transaction: every transaction
TX_CREATE_GAS = 32_000          # G_txcreate: a contract creation on top of G_transaction
TX_DATA_NONZERO_GAS = 16        # G_txdatanonzero (EIP-2028)
TX_DATA_ZERO_GAS = 4            # G_txdatazero

MAX_DATA = 128 * 1024           # bytes of data per transaction (geth: txMaxSize 128 KiB)
MAX_ARGS = 64                   # arguments of one call or constructor
SIGNING_DOMAIN = b"LabChain account tx\x00"


def account_version(suite: Suite) -> int:
    """The version byte of account addresses on a chain of ``suite``: its UTXO version with the
    top bit set (p256-sha256 0x30 -> 0xB0, sm2-sm3 0x3F -> 0xBF)."""
    return suite.address_version | 0x80


def _suite_of_account_version(version: int) -> Suite | None:
    for name in suite_names():
        suite = get_suite(name)
        if account_version(suite) == version:
            return suite
    return None


@dataclass(frozen=True, slots=True, order=True)
class AccountAddress:
    """An account: version byte + 20-byte key fingerprint (or a contract's derived id)."""

    version: int
    key_hash: bytes

    def __post_init__(self) -> None:
        if type(self.version) is not int or not 0x80 <= self.version <= 0xFF:
            raise AddressError(f"an account address version is a byte with the top bit set, got "
                               f"{self.version!r}", self.version)
        if not isinstance(self.key_hash, bytes) or len(self.key_hash) != 20:
            raise AddressError("an account address holds a 20-byte key hash", self.key_hash)

    @classmethod
    def of(cls, suite: Suite, public_key: bytes) -> AccountAddress:
        """The address of ``public_key`` on a chain of ``suite``."""
        return cls(account_version(suite), suite.hash160(public_key))

    def to_bytes(self) -> bytes:
        return bytes([self.version]) + self.key_hash

    @classmethod
    def from_bytes(cls, raw: bytes) -> AccountAddress:
        if not isinstance(raw, bytes) or len(raw) != 21:
            raise AddressError(f"a binary account address is 21 bytes, got {raw!r}", raw)
        return cls(raw[0], raw[1:])

    def __str__(self) -> str:
        payload = self.to_bytes()
        return b58encode(payload + hash256(payload)[:4])

    def __repr__(self) -> str:
        return f"AccountAddress({str(self)!r})"

    @classmethod
    def from_string(cls, text: str, suite: Suite | None = None) -> AccountAddress:
        """Parse Base58Check text; with ``suite``, refuse an address of another suite."""
        if not isinstance(text, str) or not text:
            raise AddressError(f"an account address must be a non-empty string, got {text!r}", text)
        raw = b58decode(text.strip())
        if len(raw) != 25:
            raise AddressError(f"account address {text!r} decodes to {len(raw)} bytes, expected 25 "
                               "(1 version + 20 hash + 4 checksum)", text)
        payload, checksum = raw[:21], raw[21:]
        if hash256(payload)[:4] != checksum:
            raise AddressError(f"account address {text!r} has a bad checksum: it was probably mistyped", text)
        if payload[0] < 0x80:
            raise AddressError(f"{text!r} is a UTXO address (version byte 0x{payload[0]:02x}), not an "
                               "account address", text)
        address = cls(payload[0], payload[1:])
        if suite is not None:
            check_address_suite(address, suite, "address")
        return address


def check_address_suite(address: AccountAddress, suite: Suite, what, obj: Any = None) -> None:
    """Raise unless ``address`` is an account address of ``suite``'s chains (``what``: the
    message's subject, or a callable making it, so nothing is formatted when all is well)."""
    if address.version != account_version(suite):
        what = what() if callable(what) else what
        other = _suite_of_account_version(address.version)
        whose = f"the {other.name} crypto suite" if other else "no known crypto suite"
        raise MalformedTransactionError(
            f"{what} {address} is an account address of {whose} (version byte 0x{address.version:02x}), "
            f"but this chain uses {suite.name} (0x{account_version(suite):02x})", obj or address)


class AccountAddressCodec(Codec):
    """21 bytes on the wire, Base58Check in JSON; ``optional``: empty / null means none."""

    def __init__(self, optional: bool = False) -> None:
        self.optional = optional
        self._raw = VarBytes(21)

    def write(self, out: bytearray, value: AccountAddress | None, field: str) -> None:
        if value is None and self.optional:
            out.append(0)
            return
        if not isinstance(value, AccountAddress):
            raise EncodingError(f"{field} must be an AccountAddress, got {type(value).__name__}", value)
        if self.optional:
            out.append(21)
        out += value.to_bytes()

    def read(self, reader: Reader, field: str) -> AccountAddress | None:
        if self.optional:
            raw = self._raw.read(reader, field)
            if not raw:
                return None
            if len(raw) != 21:
                raise EncodingError(f"{field} is {len(raw)} bytes: an account address is 21, or 0 for none", raw)
        else:
            raw = reader.take(21, field)
        try:
            return AccountAddress.from_bytes(raw)
        except AddressError as exc:
            raise EncodingError(f"{field}: {exc}", raw) from None

    def to_json(self, value: AccountAddress | None) -> str | None:
        return None if value is None else str(value)

    def from_json(self, value: Any, field: str) -> AccountAddress | None:
        if value is None and self.optional:
            return None
        try:
            return AccountAddress.from_string(value)
        except AddressError as exc:
            raise EncodingError(f"{field}: {exc}", value) from None


class Text(Codec):
    """UTF-8 text, length-prefixed, at most ``max_len`` bytes; a JSON string."""

    def __init__(self, max_len: int) -> None:
        self.bytes = VarBytes(max_len)

    def write(self, out: bytearray, value: str, field: str) -> None:
        if not isinstance(value, str):
            raise EncodingError(f"{field} must be a string, got {type(value).__name__}", value)
        self.bytes.write(out, value.encode("utf-8"), field)

    def read(self, reader: Reader, field: str) -> str:
        raw = self.bytes.read(reader, field)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise EncodingError(f"{field} is not valid UTF-8", raw) from None

    def from_json(self, value: Any, field: str) -> str:
        if not isinstance(value, str):
            raise EncodingError(f"{field} must be a string, got {type(value).__name__}", value)
        self.bytes.check(value.encode("utf-8"), field)
        return value


@dataclass(frozen=True, slots=True)
class DeployData(Record):
    """The data of a contract creation: its source and its encoded constructor arguments."""

    source: str
    args: tuple[bytes, ...] = ()

    ENCODING = (("source", Text(MAX_DATA)), ("args", ListOf(VarBytes(MAX_DATA), MAX_ARGS)))


@dataclass(frozen=True, slots=True)
class CallData(Record):
    """The data of a contract call: the function's name and its encoded arguments."""

    function: str
    args: tuple[bytes, ...] = ()

    ENCODING = (("function", Text(64)), ("args", ListOf(VarBytes(MAX_DATA), MAX_ARGS)))


def intrinsic_gas(data: bytes, creation: bool) -> int:
    """Gas charged before execution (yellow paper g0; EIP-2028 data prices)."""
    zeros = data.count(0)
    return (TX_GAS + (TX_CREATE_GAS if creation else 0)
            + TX_DATA_ZERO_GAS * zeros + TX_DATA_NONZERO_GAS * (len(data) - zeros))


@dataclass(frozen=True, slots=True)
class AccountTx(Record):
    """A signed account-model transaction (Ethereum's legacy transaction, LabChain encoding)."""

    chain_id: str
    nonce: int
    gas_limit: int
    gas_price: int
    to: AccountAddress | None      # None: create a contract from ``data`` (a DeployData)
    value: int
    data: bytes = b""
    public_key: bytes = b""        # 33 bytes SEC1 compressed once signed
    signature: bytes = b""         # 64 bytes r || s once signed
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    ENCODING = (
        ("chain_id", Text(32)),
        ("nonce", UInt(8)),
        ("gas_limit", UInt(8)),
        ("gas_price", UInt(8)),
        ("to", AccountAddressCodec(optional=True)),
        ("value", UInt(8)),
        ("data", VarBytes(MAX_DATA)),
        ("public_key", VarBytes(33)),
        ("signature", VarBytes(64)),
    )

    # -- derived values (cached: the record is immutable) ----------------------------------
    def _cached(self, key: str, make):
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = make()
            return value

    def to_bytes(self) -> bytes:
        return self._cached("bytes", lambda: Record.to_bytes(self))

    def txid(self, suite: Suite) -> bytes:
        """The suite's ``hash256`` of the full encoding (signature included)."""
        return self._cached("id:" + suite.name, lambda: suite.hash256(self.to_bytes()))

    def txid_in(self, suite: Suite) -> bytes:
        """:meth:`txid`, under the name the chain and node layers ask every transaction."""
        return self.txid(suite)

    def signing_message(self) -> bytes:
        """What the sender signs: a domain tag and the encoding with an empty signature."""
        return self._cached("msg", lambda: SIGNING_DOMAIN + Record.to_bytes(self.with_signature(b"")))

    def sender(self, suite: Suite) -> AccountAddress:
        return self._cached("from:" + suite.name, lambda: AccountAddress.of(suite, self.public_key))

    def with_signature(self, signature: bytes, public_key: bytes | None = None) -> AccountTx:
        return AccountTx(self.chain_id, self.nonce, self.gas_limit, self.gas_price, self.to, self.value,
                         self.data, self.public_key if public_key is None else public_key, signature)

    @property
    def is_creation(self) -> bool:
        return self.to is None

    @property
    def intrinsic_gas(self) -> int:
        return intrinsic_gas(self.data, self.is_creation)

    @property
    def max_cost(self) -> int:
        """What the sender must hold: value + gas_limit * gas_price."""
        return self.value + self.gas_limit * self.gas_price

    def deploy_data(self) -> DeployData:
        return DeployData.from_bytes(self.data)

    def call_data(self) -> CallData:
        return CallData.from_bytes(self.data)

    def short_id(self, suite: Suite) -> str:
        return self.txid(suite).hex()[:8]

    def __str__(self) -> str:
        kind = "create" if self.to is None else f"to {self.to}"
        return f"account tx nonce {self.nonce} {kind} value {self.value}"

    def verify(self, suite: Suite, chain_id: str, state=None, max_gas: int | None = None) -> None:
        """See :func:`verify_tx`."""
        verify_tx(self, suite, chain_id, state, max_gas)


def sign_tx(suite: Suite, secret: int, *, chain_id: str, nonce: int, to: AccountAddress | None,
            value: int = 0, gas_limit: int = TX_GAS, gas_price: int = 1, data: bytes | Record = b"") -> AccountTx:
    """A transaction signed by ``secret`` with ``suite`` (``data`` may be a CallData/DeployData)."""
    if isinstance(data, Record):
        data = data.to_bytes()
    unsigned = AccountTx(chain_id, nonce, gas_limit, gas_price, to, value, data, suite.public_key(secret), b"")
    return unsigned.with_signature(suite.sign(secret, unsigned.signing_message()))


def check_tx_syntax(tx: AccountTx, suite: Suite, chain_id: str, max_gas: int | None = None,
                    check_signature: bool = True) -> None:
    """Rules that need nothing but the transaction and the chain: raise the precise error."""
    if not isinstance(tx, AccountTx):
        raise MalformedTransactionError(f"expected an AccountTx, got {type(tx).__name__}", tx)
    if tx.chain_id != chain_id:
        raise WrongChainError(
            f"{tx} was signed for chain {tx.chain_id!r}, but this chain is {chain_id!r}: a transaction "
            "of one chain cannot be replayed on another", tx)
    if len(tx.signature) != 64 or len(tx.public_key) != 33:
        raise MalformedTransactionError(f"{tx} is not signed (needs a 64-byte signature and a 33-byte "
                                        "public key)", tx)
    try:
        suite.check_public_key(tx.public_key)
    except InvalidKeyError as exc:
        raise MalformedTransactionError(f"{tx} carries a public key that is not a point of the "
                                        f"{suite.name} curve: {exc}", tx) from None
    if tx.to is not None:
        check_address_suite(tx.to, suite, lambda: f"the recipient of {tx},", tx)
    else:
        try:
            tx.deploy_data()
        except EncodingError as exc:
            raise MalformedTransactionError(f"{tx} creates a contract but its data is not a DeployData: {exc}",
                                            tx) from None
    if tx.gas_limit < tx.intrinsic_gas:
        raise IntrinsicGasError(
            f"{tx} has gas limit {tx.gas_limit}, below its intrinsic gas {tx.intrinsic_gas} "
            f"({TX_GAS} per transaction{' + ' + str(TX_CREATE_GAS) + ' for a creation' if tx.is_creation else ''}"
            f" + {len(tx.data)} data bytes)", tx)
    if max_gas is not None and tx.gas_limit > max_gas:
        raise GasLimitError(f"{tx} has gas limit {tx.gas_limit}, above the block gas limit {max_gas}", tx)
    if check_signature and not suite.verify(tx.public_key, tx.signing_message(), tx.signature):
        raise BadSignatureError(f"the signature of {tx} does not verify with its public key ({suite.name})", tx)


def check_tx_state(tx: AccountTx, suite: Suite, state) -> None:
    """Rules against the sender's account (``state.account(address)`` with nonce and balance)."""
    sender = tx.sender(suite)
    account = state.account(sender)
    if tx.nonce < account.nonce:
        raise NonceTooLowError(f"{tx} from {sender} has nonce {tx.nonce}, but the account's next nonce is "
                               f"{account.nonce}: nonce {tx.nonce} was already used", tx)
    if tx.nonce > account.nonce:
        raise NonceGapError(f"{tx} from {sender} has nonce {tx.nonce}, but the account's next nonce is "
                            f"{account.nonce}: transactions with nonces {account.nonce}..{tx.nonce - 1} "
                            "must come first", tx)
    if account.balance < tx.max_cost:
        raise InsufficientBalanceError(
            f"{tx} from {sender} needs value + gas_limit * gas_price = {tx.value} + {tx.gas_limit} * "
            f"{tx.gas_price} = {tx.max_cost}, but the account holds {account.balance}", tx)


def verify_tx(tx: AccountTx, suite: Suite, chain_id: str, state=None, max_gas: int | None = None) -> None:
    """Every rule a transaction must pass before it runs; with ``state``, nonce and balance too."""
    check_tx_syntax(tx, suite, chain_id, max_gas)
    if state is not None:
        check_tx_state(tx, suite, state)
