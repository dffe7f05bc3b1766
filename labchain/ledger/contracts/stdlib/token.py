"""Fungible token (in the spirit of ERC-20): a fixed supply minted to the deployer at init,
transfers, allowances and transferFrom. Amounts are ints in the token's smallest unit."""
from contract import *

balances = storage.map(bytes, int)
allowances = storage.map((bytes, bytes), int)
meta = storage.value(dict)
total = storage.value(int)


class Transfer(Event):
    sender: Indexed[bytes]
    to: Indexed[bytes]
    amount: int


class Approval(Event):
    owner: Indexed[bytes]
    spender: Indexed[bytes]
    amount: int


def init(name: str, symbol: str, supply: int):
    require(supply >= 0, "supply must not be negative")
    meta.set({"name": name, "symbol": symbol, "owner": msg.sender})
    total.set(supply)
    balances[msg.sender] = supply
    emit(Transfer(sender=b"", to=msg.sender, amount=supply))


def name() -> str:
    return meta.get()["name"]


def symbol() -> str:
    return meta.get()["symbol"]


def total_supply() -> int:
    return total.get()


def balance_of(owner: bytes) -> int:
    return balances[owner]


def _move(src: bytes, dst: bytes, amount: int):
    require(amount > 0, "amount must be positive")
    have = balances[src]
    require(have >= amount, f"balance {have} is less than {amount}")
    balances[src] = have - amount
    balances[dst] += amount
    emit(Transfer(sender=src, to=dst, amount=amount))


def transfer(to: bytes, amount: int) -> bool:
    _move(msg.sender, to, amount)
    return True


def approve(spender: bytes, amount: int) -> bool:
    require(amount >= 0, "allowance must not be negative")
    allowances[msg.sender, spender] = amount
    emit(Approval(owner=msg.sender, spender=spender, amount=amount))
    return True


def allowance(owner: bytes, spender: bytes) -> int:
    return allowances[owner, spender]


def transfer_from(src: bytes, to: bytes, amount: int) -> bool:
    allowed = allowances[src, msg.sender]
    require(allowed >= amount, f"allowance {allowed} is less than {amount}")
    allowances[src, msg.sender] = allowed - amount
    _move(src, to, amount)
    return True
