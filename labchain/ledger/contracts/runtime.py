"""The interpreter's run-time half: the state of one execution (:class:`VM`), the faults that end
it, and every operation whose price or result depends on the values (big integers, sequences,
methods, the contract library: storage, events, calls, creation, transfers, hashing).

The compiler (``compiler.py``) turns each AST node into a Python closure ``f(frame)``; a frame
is a list ``[vm, call, return_value, local0, local1, ...]``. Fixed prices of a statement are
charged when it starts (see ``compiler.py``); the functions here charge what depends on sizes,
*before* building anything large.
"""
from __future__ import annotations

import hashlib
from typing import Any

from labchain.ledger.contracts import gas as G
from labchain.ledger.contracts.errors import ContractValueError
from labchain.ledger.contracts.records import CallContext, Event
from labchain.ledger.contracts.values import (KEY_TYPES, decode_value, encode_value, event_signature,
                                               event_topic, fixed_dict_encoder)

GAS = G.GAS
MAX_INT_BITS = G.MAX_INT_BITS
SLOAD_WARM, SLOAD_COLD = GAS["sload_warm"], GAS["sload_cold"]
SSTORE_SET, SSTORE_RESET, SSTORE_COLD = GAS["sstore_set"], GAS["sstore_reset"], GAS["sstore_cold"]
SLOT_CACHE = 4096      # slot keys remembered per storage map (at most 4096 x 32 bytes)
UNSET = object()       # a local not assigned yet
RET = object()         # statement result: the function returned (value in frame[2])
BREAK = object()
CONTINUE = object()


class VMFault(Exception):
    """Ends a call: the reason is a sentence, the line where it happened is filled in by the
    statement it passes through first."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


class OutOfGas(VMFault):
    pass


class Revert(VMFault):
    pass


def oog() -> None:
    raise OutOfGas("out of gas")


def charge(vm: "VM", amount: int) -> None:
    vm.gas -= amount
    if vm.gas < 0:
        raise OutOfGas("out of gas")


class CallInfo:
    """The contract frame a function runs in (shared by its internal calls)."""

    __slots__ = ("ctx", "program", "address")

    def __init__(self, ctx: CallContext, program: Any) -> None:
        self.ctx = ctx
        self.program = program
        self.address = ctx.contract


class VM:
    """The state of one top-level execution (a transaction's call or a deployment)."""

    __slots__ = ("gas", "limit", "host", "depth", "events", "warm", "tracer", "diff", "traced", "top")

    def __init__(self, host: Any, gas_limit: int, tracer: Any = None) -> None:
        self.gas = gas_limit
        self.limit = gas_limit
        self.host = host
        self.depth = 0
        self.events: list[Event] = []
        self.warm: set = set()
        self.tracer = tracer
        self.traced = tracer is not None
        self.diff: dict | None = {} if tracer is not None else None
        self.top = b""               # the called contract (trace labels of other contracts get a prefix)

    @property
    def used(self) -> int:
        return self.limit - self.gas


def tname(v: Any) -> str:
    return "None" if v is None else type(v).__name__


def an(v: Any) -> str:
    """'an int', 'a list', 'None' (for messages)."""
    name = tname(v)
    return name if v is None else ("an " if name[0] in "aeiou" else "a ") + name


def hexaddr(a: Any) -> str:
    return "0x" + a.hex() if isinstance(a, bytes) else repr(a)


# -- sizes ----------------------------------------------------------------------------------

def size_cost(v: Any) -> int:
    """Extra price of handling a value of this size once (copy, compare, membership, hashing)."""
    t = type(v)
    if t is int:
        return v.bit_length() >> 6
    if t is str or t is bytes:
        return GAS["byte_word"] * (len(v) >> 5)
    if t is list or t is dict:
        return GAS["item"] * len(v)
    return 0


def check_int(v: int) -> int:
    if v.bit_length() > MAX_INT_BITS:
        raise Revert(f"integer overflow: a result of {v.bit_length()} bits is larger than the {MAX_INT_BITS}-bit limit")
    return v


def check_len(vm: VM, v: Any) -> Any:
    """Charge building ``v`` (a new str/bytes/list/dict) and enforce the size caps."""
    t = type(v)
    if t is str or t is bytes:
        n = len(v)
        if n > G.MAX_BYTES:
            raise Revert(f"a {t.__name__} of {n} characters is longer than the {G.MAX_BYTES} limit")
        charge(vm, GAS["byte_word"] * ((n >> 5) + 1))
    elif t is list or t is dict:
        n = len(v)
        if n > G.MAX_ITEMS:
            raise Revert(f"a {t.__name__} of {n} items is longer than the {G.MAX_ITEMS}-item limit")
        charge(vm, GAS["item"] * n)
    return v


def precheck_size(vm: VM, kind: str, n: int) -> None:
    """Refuse and charge a sequence of ``n`` items/bytes before it is built."""
    limit = G.MAX_BYTES if kind in ("str", "bytes") else G.MAX_ITEMS
    if n > limit:
        raise Revert(f"a {kind} of {n} {'characters' if kind == 'str' else 'bytes' if kind == 'bytes' else 'items'} "
                     f"would exceed the {limit} limit")
    charge(vm, GAS["byte_word"] * ((n >> 5) + 1) if kind in ("str", "bytes") else GAS["item"] * n)


# -- arithmetic (slow paths: big ints, sequences, errors) ------------------------------------

SYMBOL = {"add": "+", "sub": "-", "mul": "*", "floordiv": "//", "mod": "%", "pow": "**",
          "lshift": "<<", "rshift": ">>", "and": "&", "or": "|", "xor": "^"}
SEQ = (str, bytes, list)


def _as_int(v: Any) -> Any:
    return int(v) if type(v) is bool else v


def arith(vm: VM, op: str, a: Any, b: Any) -> Any:
    a, b = _as_int(a), _as_int(b)
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        wa, wb = a.bit_length() >> 6, b.bit_length() >> 6
        if op in ("add", "sub", "and", "or", "xor"):
            charge(vm, GAS["int_word"] * max(wa, wb))
            r = a + b if op == "add" else a - b if op == "sub" else a & b if op == "and" else a | b if op == "or" else a ^ b
            return check_int(r)
        if op in ("mul", "floordiv", "mod"):
            charge(vm, GAS["mul_word"] * ((wa + 1) * (wb + 1) - 1))
            if op == "mul":
                return check_int(a * b)
            if b == 0:
                raise Revert("division by zero")
            return a // b if op == "floordiv" else a % b
        if op == "pow":
            if b < 0:
                raise Revert("a negative exponent gives a fraction, and contracts have no floats")
            charge(vm, GAS["pow_byte"] * ((b.bit_length() + 7) // 8))
            if abs(a) <= 1 or b <= 1:
                return a ** b if b or a else 1
            bl = abs(a).bit_length()
            if (bl - 1) * b + 1 > MAX_INT_BITS:        # lower bound of the result's size
                raise Revert(f"integer overflow: {a} ** {b} has more than {MAX_INT_BITS} bits")
            charge(vm, GAS["mul_word"] * ((bl * b) >> 6))  # upper bound, <= 2 x the cap
            return check_int(a ** b)
        if op == "lshift":
            if b < 0:
                raise Revert("negative shift count")
            if a and a.bit_length() + b > MAX_INT_BITS:
                raise Revert(f"integer overflow: {a} << {b} has more than {MAX_INT_BITS} bits")
            charge(vm, GAS["int_word"] * ((a.bit_length() + b) >> 6))
            return a << b
        if op == "rshift":
            if b < 0:
                raise Revert("negative shift count")
            charge(vm, GAS["int_word"] * wa)
            return a >> b
    if op == "add" and ta is tb and ta in SEQ:
        precheck_size(vm, ta.__name__, len(a) + len(b) if ta is not str else len(a) + len(b))
        return a + b
    if op == "mul" and ((ta in SEQ and tb is int) or (tb in SEQ and ta is int)):
        seq, n = (a, b) if ta in SEQ else (b, a)
        n = max(n, 0)
        precheck_size(vm, type(seq).__name__, len(seq) * n)
        return seq * n
    if op == "mod" and ta is str:
        raise Revert("string formatting with % is not supported in contracts; use an f-string")
    raise Revert(f"unsupported operand types for {SYMBOL[op]}: {tname(a)} and {tname(b)}")


def unary(vm: VM, op: str, v: Any) -> Any:
    if type(v) is bool:
        v = int(v)
    if type(v) is not int:
        raise Revert(f"bad operand type for unary {op}: {tname(v)}")
    charge(vm, GAS["int_word"] * (v.bit_length() >> 6))
    return -v if op == "-" else +v if op == "+" else ~v


def compare(vm: VM, op: str, a: Any, b: Any) -> bool:
    """Comparisons other than small ints; charged by size of what is compared."""
    charge(vm, size_cost(a) + size_cost(b))
    try:
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        if op == ">=":
            return a >= b
    except TypeError:
        raise Revert(f"cannot compare {tname(a)} with {tname(b)} using {op}") from None
    except RecursionError:
        raise Revert("values nested too deeply to compare") from None
    raise AssertionError(op)


def contains(vm: VM, item: Any, seq: Any) -> bool:
    t = type(seq)
    charge(vm, size_cost(seq))
    if t is dict:
        if type(item) not in KEY_TYPES and not (type(item) is bool):
            return False
        return item in seq
    if t is list:
        try:
            return item in seq
        except RecursionError:
            raise Revert("values nested too deeply to compare") from None
    if t is str or t is bytes:
        if type(item) is not t and not (t is bytes and type(item) is int):
            raise Revert(f"'in <{t.__name__}>' needs a {t.__name__} on the left, not {tname(item)}")
        try:
            return item in seq
        except ValueError as e:
            raise Revert(str(e)) from None
    raise Revert(f"'in' needs a list, dict, str or bytes on the right, not {tname(seq)}")


def truth(v: Any) -> bool:
    return bool(v)


# -- subscripts -----------------------------------------------------------------------------

def getitem(vm: VM, obj: Any, key: Any) -> Any:
    t = type(obj)
    if t is dict:
        try:
            return obj[key]
        except KeyError:
            raise Revert(f"key {key!r} is not in the dict") from None
        except TypeError:
            raise Revert(f"a dict key must be str, int or bytes, not {tname(key)}") from None
    if t is list or t is str or t is bytes:
        if type(key) is not int:
            raise Revert(f"{t.__name__} indices must be integers, not {tname(key)}")
        try:
            return obj[key]
        except IndexError:
            raise Revert(f"index {key} is out of range for a {t.__name__} of length {len(obj)}") from None
    raise Revert(f"{an(obj)} cannot be indexed")


def getslice(vm: VM, obj: Any, lo: Any, hi: Any, step: Any) -> Any:
    if type(obj) not in SEQ:
        raise Revert(f"{an(obj)} cannot be sliced")
    for part in (lo, hi, step):
        if part is not None and type(part) is not int:
            raise Revert(f"slice bounds must be integers or None, not {tname(part)}")
    if step == 0:
        raise Revert("slice step cannot be zero")
    r = obj[lo:hi:step]
    return check_len(vm, r)


def setitem(vm: VM, obj: Any, key: Any, value: Any) -> None:
    t = type(obj)
    if t is dict:
        if type(key) not in KEY_TYPES:
            raise Revert(f"a dict key must be str, int or bytes, not {tname(key)}")
        if key not in obj:
            if len(obj) >= G.MAX_ITEMS:
                raise Revert(f"a dict may have at most {G.MAX_ITEMS} entries")
            charge(vm, GAS["item"])
        obj[key] = value
    elif t is list:
        if type(key) is not int:
            raise Revert(f"list indices must be integers, not {tname(key)}")
        try:
            obj[key] = value
        except IndexError:
            raise Revert(f"index {key} is out of range for a list of length {len(obj)}") from None
    else:
        raise Revert(f"{an(obj)} does not support item assignment")


def delitem(vm: VM, obj: Any, key: Any) -> None:
    t = type(obj)
    if t is dict:
        if type(key) not in KEY_TYPES or key not in obj:
            raise Revert(f"key {key!r} is not in the dict")
        del obj[key]
    elif t is list:
        if type(key) is not int:
            raise Revert(f"list indices must be integers, not {tname(key)}")
        try:
            charge(vm, GAS["item"] * max(0, len(obj) - (key % len(obj) if obj else 0)) // 8)
            del obj[key]
        except IndexError:
            raise Revert(f"index {key} is out of range for a list of length {len(obj)}") from None
    else:
        raise Revert(f"{an(obj)} does not support item deletion")


def iterate(vm: VM, obj: Any) -> Any:
    """What a for loop or comprehension walks over (dicts: a snapshot of their keys)."""
    t = type(obj)
    if t is range or t is list or t is str or t is bytes:
        return obj
    if t is dict:
        charge(vm, GAS["item"] * len(obj))
        return list(obj)
    raise Revert(f"{an(obj)} is not iterable")


def unpack(value: Any, n: int) -> Any:
    if type(value) is not list or len(value) != n:
        got = f"a list of {len(value)}" if type(value) is list else f"{an(value)}"
        raise Revert(f"cannot unpack {got} into {n} names")
    return value


def fmt(v: Any) -> str:
    """One value inside an f-string."""
    t = type(v)
    if t is str:
        return v
    if t is int or t is bool or v is None:
        return str(v)
    if t is bytes:
        return "0x" + v.hex()
    raise Revert(f"a {t.__name__} cannot be formatted in an f-string; format its items")


# -- methods of values ---------------------------------------------------------------------

def _need(args: list, lo: int, hi: int, what: str) -> None:
    if not lo <= len(args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise Revert(f"{what}() takes {want} argument(s), {len(args)} given")


def _typed(v: Any, t: type, what: str) -> Any:
    if type(v) is not t:
        raise Revert(f"{what} needs a {t.__name__}, not {tname(v)}")
    return v


def m_list(vm: VM, obj: list, name: str, args: list) -> Any:
    w = f"list.{name}"
    if name == "append":
        _need(args, 1, 1, w)
        if len(obj) >= G.MAX_ITEMS:
            raise Revert(f"a list may have at most {G.MAX_ITEMS} items")
        charge(vm, GAS["item"])
        obj.append(args[0])
        return None
    if name == "pop":
        _need(args, 0, 1, w)
        if not obj:
            raise Revert("pop from an empty list")
        i = _typed(args[0], int, w) if args else -1
        try:
            return obj.pop(i)
        except IndexError:
            raise Revert(f"pop index {i} is out of range for a list of length {len(obj)}") from None
    if name == "insert":
        _need(args, 2, 2, w)
        if len(obj) >= G.MAX_ITEMS:
            raise Revert(f"a list may have at most {G.MAX_ITEMS} items")
        charge(vm, GAS["item"] * (1 + len(obj) // 8))
        obj.insert(_typed(args[0], int, w), args[1])
        return None
    if name == "extend":
        _need(args, 1, 1, w)
        other = _typed(args[0], list, w)
        precheck_size(vm, "list", len(obj) + len(other))
        obj.extend(other)
        return None
    if name in ("index", "count", "remove"):
        _need(args, 1, 1, w)
        charge(vm, size_cost(obj))
        if name == "count":
            return obj.count(args[0])
        try:
            return obj.index(args[0]) if name == "index" else obj.remove(args[0])
        except ValueError:
            raise Revert(f"{args[0]!r} is not in the list") from None
    if name in ("reverse", "clear", "copy"):
        _need(args, 0, 0, w)
        charge(vm, size_cost(obj))
        return obj.copy() if name == "copy" else obj.reverse() if name == "reverse" else obj.clear()
    if name == "sort":
        _need(args, 0, 0, w)
        charge(vm, size_cost(obj) * max(1, len(obj).bit_length()))
        try:
            obj.sort()
        except TypeError:
            raise Revert("cannot sort a list mixing types that do not compare") from None
        return None
    raise Revert(f"a list has no method {name}()")


def m_dict(vm: VM, obj: dict, name: str, args: list) -> Any:
    w = f"dict.{name}"
    if name == "get":
        _need(args, 1, 2, w)
        k = args[0]
        return obj.get(k, args[1] if len(args) > 1 else None) if type(k) in KEY_TYPES else (
            args[1] if len(args) > 1 else None)
    if name in ("keys", "values", "items"):
        _need(args, 0, 0, w)
        charge(vm, GAS["item"] * len(obj) * (2 if name == "items" else 1))
        if name == "keys":
            return list(obj)
        if name == "values":
            return list(obj.values())
        return [[k, v] for k, v in obj.items()]
    if name == "pop":
        _need(args, 1, 2, w)
        k = args[0]
        if type(k) in KEY_TYPES and k in obj:
            return obj.pop(k)
        if len(args) > 1:
            return args[1]
        raise Revert(f"key {k!r} is not in the dict")
    if name in ("copy", "clear"):
        _need(args, 0, 0, w)
        charge(vm, size_cost(obj))
        return obj.copy() if name == "copy" else obj.clear()
    if name == "update":
        _need(args, 1, 1, w)
        other = _typed(args[0], dict, w)
        precheck_size(vm, "dict", len(obj) + len(other))
        obj.update(other)
        return None
    if name == "setdefault":
        _need(args, 2, 2, w)
        k = args[0]
        if type(k) not in KEY_TYPES:
            raise Revert(f"a dict key must be str, int or bytes, not {tname(k)}")
        if k not in obj:
            setitem(vm, obj, k, args[1])
        return obj[k]
    raise Revert(f"a dict has no method {name}()")


def m_str(vm: VM, obj: Any, name: str, args: list) -> Any:
    t = type(obj)
    w = f"{t.__name__}.{name}"
    charge(vm, size_cost(obj))
    if name in ("upper", "lower", "strip", "isdigit", "isalpha", "isalnum"):
        if t is not str and name.startswith("is"):
            raise Revert(f"bytes has no method {name}()")
        _need(args, 0, 0, w)
        return check_len(vm, getattr(obj, name)())
    if name in ("startswith", "endswith", "find", "count"):
        _need(args, 1, 1, w)
        _typed(args[0], t, w)
        return getattr(obj, name)(args[0])
    if name == "split":
        _need(args, 0, 1, w)
        if args:
            if not _typed(args[0], t, w):
                raise Revert("empty separator")
            parts = obj.split(args[0])
        else:
            parts = obj.split()
        return check_len(vm, parts)
    if name == "join":
        _need(args, 1, 1, w)
        items = _typed(args[0], list, w)
        for it in items:
            if type(it) is not t:
                raise Revert(f"{w}() needs a list of {t.__name__}, found {an(it)}")
        precheck_size(vm, t.__name__, sum(len(i) for i in items) + len(obj) * max(0, len(items) - 1))
        return obj.join(items)
    if name == "replace":
        _need(args, 2, 2, w)
        old, new = _typed(args[0], t, w), _typed(args[1], t, w)
        n = obj.count(old)
        precheck_size(vm, t.__name__, len(obj) + n * (len(new) - len(old)))
        return obj.replace(old, new)
    if t is str and name == "encode":
        _need(args, 0, 0, w)
        return check_len(vm, obj.encode("utf-8", "surrogatepass"))
    if t is bytes and name == "decode":
        _need(args, 0, 0, w)
        try:
            return check_len(vm, obj.decode("utf-8"))
        except UnicodeDecodeError:
            raise Revert("these bytes are not valid UTF-8") from None
    if t is bytes and name == "hex":
        _need(args, 0, 0, w)
        precheck_size(vm, "str", 2 * len(obj))
        return obj.hex()
    raise Revert(f"a {t.__name__} has no method {name}()")


def m_int(vm: VM, obj: int, name: str, args: list) -> Any:
    w = f"int.{name}"
    if name == "bit_length":
        _need(args, 0, 0, w)
        return obj.bit_length()
    if name == "to_bytes":
        _need(args, 1, 1, w)
        n = _typed(args[0], int, w)
        if not 0 <= n <= G.MAX_INT_BITS // 8 + 1:
            raise Revert(f"int.to_bytes length must be between 0 and {G.MAX_INT_BITS // 8 + 1}")
        try:
            return check_len(vm, obj.to_bytes(n, "big"))
        except OverflowError:
            raise Revert(f"{obj} does not fit in {n} unsigned big-endian bytes") from None
    raise Revert(f"an int has no method {name}()")


def call_method(vm: VM, obj: Any, name: str, args: list) -> Any:
    t = type(obj)
    if t is list:
        return m_list(vm, obj, name, args)
    if t is dict:
        return m_dict(vm, obj, name, args)
    if t is str or t is bytes:
        return m_str(vm, obj, name, args)
    if t is int:
        return m_int(vm, obj, name, args)
    raise Revert(f"{an(obj)} has no method {name}()")


# -- type checks (annotations, storage, events) ----------------------------------------------

TYPES = {"int": int, "str": str, "bytes": bytes, "bool": bool, "list": list, "dict": dict, "any": None}


def check_type(value: Any, tp: type | None, what: str) -> Any:
    if tp is not None and type(value) is not tp:
        raise Revert(f"{what} must be {tp.__name__}, not {tname(value)}")
    return value


def copy_value(vm: VM, v: Any, what: str) -> Any:
    """A deep copy through the canonical encoding (validates and charges by size)."""
    if type(v) in (int, bool, str, bytes) or v is None:
        return v
    try:
        data = encode_value(v)
    except ContractValueError as e:
        raise Revert(f"{what}: {e.message}") from None
    charge(vm, GAS["byte_word"] * ((len(data) >> 5) + 1))
    return decode_value(data)


# -- storage ---------------------------------------------------------------------------------

class StorageDecl:
    """A top-level ``name = storage.map(K, V)`` or ``name = storage.value(V)``."""

    __slots__ = ("name", "is_map", "key_types", "value_type", "prefix", "key_type", "scalar", "zero", "slots")

    def __init__(self, name: str, is_map: bool, key_types: tuple, value_type: type | None) -> None:
        self.name = name
        self.is_map = is_map
        self.key_types = key_types       # () for a value; (bytes,) or (bytes, bytes) for maps
        self.value_type = value_type     # None: any contract value
        self.prefix = name.encode() + (b":" if is_map else b"")
        self.key_type = key_types[0] if len(key_types) == 1 else None   # the one key type of a simple map
        self.scalar = value_type in (int, bool, str, bytes)           # values whose zero clears the slot
        self.zero = value_type() if self.scalar else None
        self.slots: dict = {}             # key -> slot bytes, for keys of a simple map encoding to < 32 bytes

    def default(self) -> Any:
        t = self.value_type
        return None if t is None else t()

    def slot(self, vm: VM, key: Any) -> bytes:
        if not self.is_map:
            return self.prefix
        kt = self.key_type
        if kt is not None:
            if type(key) is not kt:
                check_type(key, kt, f"the key of storage map '{self.name}'")
            slot = self.slots.get(key)
            if slot is not None:          # a pure function of the key, and free: nothing to charge
                return slot
        else:
            if type(key) is not list or len(key) != len(self.key_types):
                raise Revert(f"storage map '{self.name}' takes {len(self.key_types)} keys: {self.name}[a, b]")
            for k, t in zip(key, self.key_types):
                check_type(k, t, f"a key of storage map '{self.name}'")
        try:
            kb = encode_value(key)
        except ContractValueError as e:
            raise Revert(e.message) from None
        if len(kb) >= 32:                  # keys shorter than a word cost nothing extra
            charge(vm, GAS["byte_word"] * (len(kb) >> 5))
            return self.prefix + kb
        if kt is None:
            return self.prefix + kb
        if len(self.slots) >= SLOT_CACHE:
            self.slots.clear()
        slot = self.slots[key] = self.prefix + kb
        return slot

    def label(self, key: Any) -> str:
        if not self.is_map:
            return self.name
        parts = key if len(self.key_types) > 1 else [key]
        return f"{self.name}[{', '.join(_show(p) for p in parts)}]"


def _show(v: Any) -> str:
    return "0x" + v.hex() if type(v) is bytes else repr(v)


def _read_slot(vm: VM, call: CallInfo, decl: StorageDecl, key: Any) -> bytes:
    """The slot's key bytes, charged as a read (EIP-2929: cold the first time in a transaction)."""
    slot = decl.slot(vm, key)
    wkey = (call.address, slot)
    warm = vm.warm
    if wkey in warm:
        vm.gas -= SLOAD_WARM
    else:
        vm.gas -= SLOAD_COLD
        warm.add(wkey)
    if vm.gas < 0:
        raise OutOfGas("out of gas")
    return slot


def sload(vm: VM, call: CallInfo, decl: StorageDecl, key: Any) -> Any:
    slot = _read_slot(vm, call, decl, key)
    data = vm.host.storage_get(call.address, slot)
    if data is None:
        return decl.default()
    if len(data) >= 32:
        charge(vm, GAS["byte_word"] * (len(data) >> 5))
    return decode_value(data)


def shas(vm: VM, call: CallInfo, decl: StorageDecl, key: Any) -> bool:
    slot = _read_slot(vm, call, decl, key)
    return vm.host.storage_get(call.address, slot) is not None


def sstore(vm: VM, call: CallInfo, decl: StorageDecl, key: Any, value: Any, delete: bool = False) -> None:
    """Write (or with ``delete``, clear) a storage slot; the type's zero value also clears it."""
    slot = decl.slot(vm, key)
    if not delete and decl.value_type is not None and type(value) is not decl.value_type:
        check_type(value, decl.value_type, f"a value of storage {'map' if decl.is_map else 'value'} '{decl.name}'")
    # (the value has the declared type here, so a scalar equal to the type's zero is that zero)
    if delete or value is None or (decl.scalar and value == decl.zero):
        data = None                     # the type's zero value: the slot is cleared (EVM: SSTORE 0)
    else:
        try:
            data = encode_value(value)
        except ContractValueError as e:
            raise Revert(f"cannot store in '{decl.name}': {e.message}") from None
    address = call.address
    wkey = (address, slot)
    warm = vm.warm
    if wkey in warm:
        cost = 0
    else:
        cost = SSTORE_COLD
        warm.add(wkey)
    host = vm.host
    old = host.storage_get(address, slot)
    if data is None:
        cost += SSTORE_RESET
    else:
        cost += SSTORE_SET if old is None else SSTORE_RESET
        if len(data) > 32:
            cost += GAS["sstore_word"] * ((len(data) - 1) >> 5)
    vm.gas -= cost
    if vm.gas < 0:
        raise OutOfGas("out of gas")
    if vm.diff is not None:
        label = decl.label(key)
        if address != vm.top:
            label = f"0x{address.hex()[:8]}:{label}"
        before = vm.diff[label][0] if label in vm.diff else (decl.default() if old is None else decode_value(old))
        vm.diff[label] = (before, decl.default() if data is None else decode_value(data))
    host.storage_set(address, slot, data)


# -- events ----------------------------------------------------------------------------------

class EventDecl:
    __slots__ = ("name", "fields", "types", "indexed", "signature", "encode_data")

    def __init__(self, name: str, fields: tuple, types: tuple, indexed: tuple) -> None:
        self.name, self.fields, self.types, self.indexed = name, fields, types, indexed
        self.signature = event_signature(name)      # topic 0, the same for every emit
        self.encode_data = fixed_dict_encoder(fields)   # encode_value of {field: value}


def emit(vm: VM, call: CallInfo, decl: EventDecl, values: list) -> None:
    fields = {}
    topics = [decl.signature]
    for name, tp, idx, v in zip(decl.fields, decl.types, decl.indexed, values):
        check_type(v, tp, f"field '{name}' of event {decl.name}")
        fields[name] = v
        if idx:
            try:
                topics.append(event_topic(v))
            except ContractValueError as e:
                raise Revert(f"event {decl.name}.{name}: {e.message}") from None
    try:
        data = decl.encode_data(fields)
    except ContractValueError as e:
        raise Revert(f"event {decl.name}: {e.message}") from None
    charge(vm, GAS["log"] + GAS["log_topic"] * len(topics) + GAS["log_byte"] * len(data))
    vm.events.append(Event(call.address, decl.name, tuple(topics), data))


# -- library builtins --------------------------------------------------------------------------

def b_sha256(vm: VM, data: Any) -> bytes:
    if type(data) is str:
        data = data.encode("utf-8", "surrogatepass")
    if type(data) is not bytes:
        raise Revert(f"sha256() needs bytes or str, not {tname(data)}")
    charge(vm, GAS["sha256"] + GAS["sha256_word"] * ((len(data) + 31) >> 5))
    return hashlib.sha256(data).digest()


def _address(v: Any, what: str) -> bytes:
    if type(v) is not bytes or not v:
        raise Revert(f"{what} must be an address (non-empty bytes), not {tname(v)}")
    return v


def b_balance(vm: VM, call: CallInfo, addr: Any) -> int:
    charge(vm, GAS["balance"])
    return vm.host.balance(_address(addr, "balance()'s argument"))


def b_transfer(vm: VM, call: CallInfo, to: Any, amount: Any) -> None:
    _address(to, "transfer()'s recipient")
    if type(amount) is not int or amount < 0:
        raise Revert(f"transfer() needs a non-negative int amount, not {amount!r}")
    charge(vm, GAS["transfer"])
    try:
        vm.host.transfer(call.address, to, amount)
    except Exception as e:      # the host's shortfall error (any kind): a revert, never a crash
        raise Revert(f"transfer of {amount} to {hexaddr(to)} failed: {e}") from None


def run_function(vm: VM, call: CallInfo, fn: Any, args: list) -> Any:
    """Run compiled function ``fn`` of ``call.program`` with argument values ``args``."""
    if vm.depth >= G.MAX_CALL_DEPTH:
        raise Revert(f"call depth limit of {G.MAX_CALL_DEPTH} frames exceeded (recursion too deep)")
    frame = [vm, call, None]
    if fn.untyped and len(args) == fn.nparams:      # the common case, without bind()'s checks
        frame += args
        frame += fn.pad
    else:
        frame += fn.bind(args)
    vm.depth += 1
    fn.body(frame)
    vm.depth -= 1
    return frame[2]


def b_call(vm: VM, call: CallInfo, addr: Any, fname: Any, args: list, value: Any = 0) -> Any:
    _address(addr, "call()'s first argument")
    if type(fname) is not str:
        raise Revert(f"call()'s second argument is the function name (a str), not {tname(fname)}")
    if type(value) is not int or value < 0:
        raise Revert(f"call() value must be a non-negative int, not {value!r}")
    charge(vm, GAS["xcall"] + (GAS["xcall_value"] if value else 0))
    if call.ctx.depth + 1 >= G.MAX_CALL_DEPTH:
        raise Revert(f"cross-contract call depth limit of {G.MAX_CALL_DEPTH} exceeded")
    program = vm.host.code(addr)
    if program is None:
        raise Revert(f"there is no contract at {hexaddr(addr)}")
    compiled = program.compiled(vm.traced)
    fn = compiled.public.get(fname)
    if fn is None:
        raise Revert(f"the contract at {hexaddr(addr)} has no public function {fname}()")
    args = copy_value(vm, list(args), "call() arguments")
    if value:
        b_transfer(vm, call, addr, value)
    ctx = call.ctx
    inner = CallInfo(CallContext(call.address, ctx.origin, addr, value, ctx.block_height, ctx.block_timestamp,
                                 ctx.chain_id, ctx.depth + 1), compiled)
    try:
        result = run_function(vm, inner, fn, args)
    except Revert as e:
        raise Revert(f"call to {fname}() of {hexaddr(addr)} reverted"
                     f"{'' if e.line is None else f' at its line {e.line}'}: {e.reason}") from None
    return copy_value(vm, result, "the return value of call()")


def b_create(vm: VM, call: CallInfo, code: Any, args: list) -> bytes:
    from labchain.ledger.contracts.compiler import compile_contract
    from labchain.ledger.contracts.errors import ContractCompileError
    if type(code) is str:
        precheck_size(vm, "str", len(code))
        charge(vm, GAS["create"] + GAS["create_byte"] * len(code.encode("utf-8", "surrogatepass")))
        try:
            program = compile_contract(code, "created")
        except ContractCompileError as e:
            raise Revert(f"create(): the source does not compile: {e}") from None
    elif type(code) is bytes:
        program = vm.host.code(code)
        if program is None:
            raise Revert(f"create(): there is no contract at {hexaddr(code)} to copy")
        charge(vm, GAS["create"] + GAS["create_byte"] * len(program.source.encode("utf-8", "surrogatepass")))
    else:
        raise Revert(f"create() needs contract source (str) or the address of a contract to copy, not {tname(code)}")
    if call.ctx.depth + 1 >= G.MAX_CALL_DEPTH:
        raise Revert(f"cross-contract call depth limit of {G.MAX_CALL_DEPTH} exceeded")
    address = vm.host.create(call.address, program)
    compiled = program.compiled(vm.traced)
    fn = compiled.functions.get("init")
    if fn is not None:
        ctx = call.ctx
        inner = CallInfo(CallContext(call.address, ctx.origin, address, 0, ctx.block_height, ctx.block_timestamp,
                                     ctx.chain_id, ctx.depth + 1), compiled)
        args = copy_value(vm, list(args), "create() arguments")
        try:
            run_function(vm, inner, fn, args)
        except Revert as e:
            raise Revert(f"init() of the created contract reverted"
                         f"{'' if e.line is None else f' at its line {e.line}'}: {e.reason}") from None
    elif args:
        raise Revert("create(): the new contract has no init() to take arguments")
    return address


def python_error(e: BaseException) -> str:
    """The revert reason for a Python-level error inside student code (deterministic text)."""
    if isinstance(e, ZeroDivisionError):
        return "division by zero"
    if isinstance(e, RecursionError):
        return "values or calls nested too deeply"
    if isinstance(e, (MemoryError, OverflowError)):
        return "a value grew beyond the VM's limits"
    return f"{type(e).__name__}: {e}"
