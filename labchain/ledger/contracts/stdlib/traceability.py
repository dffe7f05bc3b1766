"""Traceability registry (溯源): a product's custody chain across organisations. The deployer is
the registry's administrator and registers organisations (farm, processor, carrier, retailer...).
A registered organisation creates a product (by its serial), then each hand-over is recorded:
the current custodian transfers custody to another registered organisation, which must accept
it; every step stores who, what (an action and a document hash), where and when. Anyone can read
the whole history of a product."""
from contract import *

admin = storage.value(bytes)
orgs = storage.map(bytes, dict)
products = storage.map(str, dict)
history = storage.map(str, list)


class ProductCreated(Event):
    serial: Indexed[str]
    org: Indexed[bytes]


class CustodyStep(Event):
    serial: Indexed[str]
    org: Indexed[bytes]
    action: str


def init():
    admin.set(msg.sender)


def register_org(org: bytes, name: str, role: str):
    require(msg.sender == admin.get(), "only the registry administrator registers organisations")
    require(org not in orgs, "organisation already registered")
    orgs[org] = {"name": name, "role": role}


def org_info(org: bytes) -> dict:
    require(org in orgs, "unknown organisation")
    return orgs[org]


def _step(serial: str, action: str, location: str, doc_hash: bytes):
    steps = history[serial]
    steps.append({"org": msg.sender, "action": action, "location": location, "doc": doc_hash,
                  "height": block.height, "timestamp": block.timestamp})
    history[serial] = steps
    emit(CustodyStep(serial=serial, org=msg.sender, action=action))


def create_product(serial: str, description: str, location: str, doc_hash: bytes):
    require(msg.sender in orgs, "only registered organisations create products")
    require(serial not in products, f"product {serial} already exists")
    products[serial] = {"description": description, "custodian": msg.sender, "pending": b"", "creator": msg.sender}
    emit(ProductCreated(serial=serial, org=msg.sender))
    _step(serial, "created", location, doc_hash)


def hand_over(serial: str, to: bytes, location: str, doc_hash: bytes):
    require(serial in products, f"unknown product {serial}")
    p = products[serial]
    require(p["custodian"] == msg.sender, "only the current custodian can hand the product over")
    require(to in orgs, "the recipient is not a registered organisation")
    require(to != msg.sender, "cannot hand over to yourself")
    p["pending"] = to
    products[serial] = p
    _step(serial, "handed over to 0x" + to.hex(), location, doc_hash)


def accept(serial: str, location: str, doc_hash: bytes):
    require(serial in products, f"unknown product {serial}")
    p = products[serial]
    require(p["pending"] == msg.sender, "this product is not being handed to you")
    p["custodian"] = msg.sender
    p["pending"] = b""
    products[serial] = p
    _step(serial, "accepted", location, doc_hash)


def custodian(serial: str) -> bytes:
    require(serial in products, f"unknown product {serial}")
    return products[serial]["custodian"]


def trace_product(serial: str) -> list:
    """Every custody step, oldest first, with the organisation names filled in."""
    require(serial in products, f"unknown product {serial}")
    out = []
    for step in history[serial]:
        step["org_name"] = orgs[step["org"]]["name"]
        out.append(step)
    return out
