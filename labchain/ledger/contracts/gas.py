"""Gas prices and hard limits of the contract VM (the table docs/contracts.md shows).

Terminology
-----------
gas
    The unit of work a call pays for. Every operation the interpreter performs subtracts its
    price from the call's gas limit *before* it is done; reaching zero ends the call with
    "out of gas", reverts all its effects and uses the whole limit (as in Ethereum).
word
    64 bits of an integer or 32 bytes of a string/bytes value: the unit sizes are charged in.

Each price carries the Ethereum (EVM, Berlin/London/Shanghai schedule) or ChainMaker analog it is
modelled on. Prices of pure computation are smaller multiples of the EVM's because one of our
operations does about as much as one EVM opcode; storage, logs, calls and creation are priced
exactly as the EVM prices them, so a student can compare a receipt with Etherscan's.

Simplifications versus real chains: no gas refunds for clearing storage (EIP-3529 capped them; we
drop them), no 63/64 rule (EIP-150) since a failed inner call reverts its caller anyway, no
quadratic memory term (we cap sizes instead), intrinsic transaction gas (21000 + calldata) is
charged by the ledger, not by the VM. ChainMaker's own VMs (WASM/EVM/Go) meter per instruction
with a table much like this one.
"""
from __future__ import annotations

from types import MappingProxyType

GAS = MappingProxyType({
    # -- computation ------------------------------------------------------------------------
    "stmt": 2,            # each statement executed            EVM: JUMPDEST 1 + stack ops
    "loop": 3,            # each loop iteration                 EVM: JUMPI 10 (we are cheaper: no stack juggling)
    "load": 1,            # reading a local, constant, msg.*    EVM: DUP/PUSH 3, CALLER 2
    "store": 2,           # assigning a local                   EVM: SWAP+POP ~5
    "arith": 3,           # + - & | ^ ~ unary -, per operation  EVM: ADD/SUB/AND 3
    "mul": 5,             # * // % (ints)                       EVM: MUL/DIV/MOD 5
    "pow": 10,            # ** base price                       EVM: EXP 10
    "pow_byte": 50,       # ** per byte of the exponent         EVM: EXP 50 per exponent byte (EIP-160)
    "shift": 3,           # << >>                               EVM: SHL/SHR 3 (EIP-145)
    "compare": 3,         # == != < <= > >= is, not             EVM: LT/GT/EQ/ISZERO 3
    "bool": 3,            # and / or / if-expression branch     EVM: JUMPI 10 (cheaper here)
    "int_word": 1,        # per 64-bit word of a big int operand beyond the first (add/compare)
                          #   (EVM words are fixed 256 bit; we charge size because ints are unbounded)
    "mul_word": 1,        # per word*word of a multiplication/division of big ints (schoolbook cost)
    "call": 20,           # calling a contract-internal function  EVM: JUMP 8 + frame set-up
    "builtin": 5,         # calling a library builtin (len, min, require, ...) EVM: ~ a cheap opcode
    "subscript": 3,       # x[i] on a list/dict/str/bytes       EVM: MLOAD 3
    "attribute": 2,       # a method lookup on a value          EVM: none (no objects)
    # -- memory (per size of what is built) ---------------------------------------------------
    "item": 3,            # per list item / dict entry built or copied   EVM: MSTORE 3 per word
    "byte_word": 3,       # per 32 bytes of a str/bytes built or copied  EVM: memory 3 per word, CALLDATACOPY 3/word
    # -- storage (exactly the EVM's prices) ---------------------------------------------------
    "sload_cold": 2100,   # first read of a slot in a transaction       EVM: SLOAD cold (EIP-2929)
    "sload_warm": 100,    # later reads of that slot                    EVM: SLOAD warm (EIP-2929)
    "sstore_set": 20000,  # write to an empty slot                      EVM: SSTORE zero->nonzero
    "sstore_reset": 2900, # overwrite or clear a used slot              EVM: SSTORE nonzero->x 5000-2100
    "sstore_cold": 2100,  # surcharge when the slot was not touched yet  EVM: cold slot surcharge (EIP-2929)
    "sstore_word": 640,   # per 32 bytes of a stored value beyond the first 32 (EVM slots are 32 bytes:
                          #   20000/32 per byte rounded; ChainMaker charges storage per byte too)
    # -- events ----------------------------------------------------------------------------
    "log": 375,           # emit                                         EVM: LOG0 375
    "log_topic": 375,     # per topic (event name + each Indexed field)  EVM: 375 per topic
    "log_byte": 8,        # per byte of event data                       EVM: 8 per data byte
    # -- hashing ---------------------------------------------------------------------------
    "sha256": 60,         # sha256(data) base                EVM: SHA256 precompile 60
    "sha256_word": 12,    # per 32 bytes hashed             EVM: SHA256 precompile 12 per word
    # -- accounts, calls, creation --------------------------------------------------------
    "balance": 2600,      # balance(addr)                   EVM: BALANCE cold account (EIP-2929)
    "xcall": 2600,        # call(addr, fn, ...)             EVM: CALL cold account access (EIP-2929)
    "xcall_value": 9000,  # ... with value=... > 0          EVM: CALL positive value surcharge
    "transfer": 9000,     # transfer(to, amount)            EVM: CALL with value 9000
    "create": 32000,      # create(source | address, ...)   EVM: CREATE 32000
    "create_byte": 200,   # per byte of new contract source EVM: code deposit 200 per byte
})

#: Hard limits, checked before the operation that would exceed them (sizes are also charged).
MAX_INT_BITS = 8192         # |int| < 2**8192 (EVM: 256-bit words; big enough for RSA-4096 labs)
MAX_ITEMS = 100_000         # items of one list / entries of one dict
MAX_BYTES = 1 << 20         # bytes of one str (UTF-8) or bytes value
MAX_VALUE_BYTES = 4 << 20   # an encoded value (storage value, argument, return value, event data)
MAX_DEPTH = 32              # nesting of lists/dicts in an encoded value
MAX_CALL_DEPTH = 64         # frames: internal calls + cross-contract calls  (EVM: 1024; ChainMaker: 5 cross-contract)
MAX_NESTING = 40            # syntactic nesting of one function body (expressions + blocks)
MAX_SOURCE_BYTES = 64 * 1024  # contract source (EVM: 24576-byte code limit, EIP-170)


def int_words(v: int) -> int:
    """64-bit words of ``v`` (at least 1)."""
    return (v.bit_length() >> 6) + 1


def byte_words(n: int) -> int:
    """32-byte words covering ``n`` bytes (at least 1)."""
    return (n >> 5) + 1
