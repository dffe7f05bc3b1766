"""Evidence store (存证): anyone submits the SHA-256 of a document; the chain records who
submitted it, at which block height and time, with a short note. A submission cannot be changed
or removed, a second submission of the same hash is refused (the first one stands), and a
verifier later asks `verify(hash)` (the node's getproof gives the Merkle proof of that storage
slot against the block's state root)."""
from contract import *

records = storage.map(bytes, dict)
by_submitter = storage.map(bytes, list)
count = storage.value(int)


class Submitted(Event):
    digest: Indexed[bytes]
    submitter: Indexed[bytes]
    height: int


def submit(digest: bytes, note: str) -> int:
    require(len(digest) == 32, "digest must be the 32-byte SHA-256 of the document")
    require(len(note) <= 200, "note must be at most 200 characters")
    require(digest not in records, "this digest was already submitted")
    n = count.get() + 1
    count.set(n)
    records[digest] = {"submitter": msg.sender, "height": block.height, "timestamp": block.timestamp,
                       "note": note, "serial": n}
    mine = by_submitter[msg.sender]
    mine.append(digest)
    by_submitter[msg.sender] = mine
    emit(Submitted(digest=digest, submitter=msg.sender, height=block.height))
    return n


def verify(digest: bytes) -> dict:
    """The record of `digest`, or an empty dict if it was never submitted."""
    if digest in records:
        return records[digest]
    return {}


def verify_document(document: bytes) -> dict:
    return verify(sha256(document))


def submissions_of(submitter: bytes) -> list:
    return by_submitter[submitter]


def total() -> int:
    return count.get()
