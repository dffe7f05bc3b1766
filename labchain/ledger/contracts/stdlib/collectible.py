"""Non-fungible digital collectible (数字藏品, in the spirit of ERC-721): the issuer mints tokens
with a metadata URI and content hash; owners transfer them; an owner may approve one operator
per token. China's platforms forbid secondary trading on most chains, so `transferable` can be
switched off by the issuer (the collection then only allows gifting back to the issuer)."""
from contract import *

owners = storage.map(int, bytes)
metadata = storage.map(int, dict)
approved = storage.map(int, bytes)
held = storage.map(bytes, int)
config = storage.value(dict)
minted = storage.value(int)


class Minted(Event):
    token_id: Indexed[int]
    to: Indexed[bytes]
    content_hash: bytes


class Transferred(Event):
    token_id: Indexed[int]
    sender: Indexed[bytes]
    to: Indexed[bytes]


def init(name: str, transferable: bool):
    config.set({"name": name, "issuer": msg.sender, "transferable": transferable})


def _issuer() -> bytes:
    return config.get()["issuer"]


def mint(to: bytes, uri: str, content_hash: bytes) -> int:
    require(msg.sender == _issuer(), "only the issuer may mint")
    require(len(content_hash) == 32, "content_hash must be 32 bytes (SHA-256 of the artwork)")
    token_id = minted.get() + 1
    minted.set(token_id)
    owners[token_id] = to
    metadata[token_id] = {"uri": uri, "hash": content_hash, "height": block.height}
    held[to] += 1
    emit(Minted(token_id=token_id, to=to, content_hash=content_hash))
    return token_id


def owner_of(token_id: int) -> bytes:
    require(token_id in owners, f"token {token_id} does not exist")
    return owners[token_id]


def token_info(token_id: int) -> dict:
    require(token_id in owners, f"token {token_id} does not exist")
    info = metadata[token_id]
    info["owner"] = owners[token_id]
    return info


def balance_of(owner: bytes) -> int:
    return held[owner]


def total_minted() -> int:
    return minted.get()


def approve(operator: bytes, token_id: int):
    require(owner_of(token_id) == msg.sender, "only the owner may approve an operator")
    approved[token_id] = operator


def transfer(to: bytes, token_id: int):
    owner = owner_of(token_id)
    require(msg.sender == owner or approved[token_id] == msg.sender, "not the owner or its approved operator")
    require(config.get()["transferable"] or to == _issuer(), "this collection does not allow transfers")
    require(to != owner, "the token already belongs to the recipient")
    owners[token_id] = to
    del approved[token_id]
    held[owner] -= 1
    held[to] += 1
    emit(Transferred(token_id=token_id, sender=owner, to=to))
