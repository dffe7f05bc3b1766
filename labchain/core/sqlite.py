"""One SQLite transaction helper for every store of the package (chain, account state).

``BEGIN IMMEDIATE`` takes the write lock at once, so two writers never both read and then
collide at commit; any exception (``BaseException``: a KeyboardInterrupt too) rolls back, so a
block is stored whole or not at all.
"""
from __future__ import annotations

import contextlib
import sqlite3
from typing import Iterator


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """All statements inside commit together or not at all."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
