"""Logging in to the class server without an LMS: a password file of hashed passwords.

``labchain hub passwd STUDENT`` adds or changes a student's password; the file
(``<state>/passwords.json``, mode 0600) maps student ids to PBKDF2-SHA256 hashes (600,000
iterations, 16-byte salt: OWASP's 2023 figure), never to passwords. The JupyterHub
authenticator (:class:`PasswordFileAuthenticator`) reads the file at every login, so a password
set while the hub runs works at once. A student's hub user name is their student id, the same id
that names their Docker testnet (``lc-<id>-node0``...).

Simplification: no self-service password reset (the instructor sets passwords), no lockout
after failed attempts (JupyterHub logs them).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from labchain.deploy.hub.settings import HubError
from labchain.testnet.docker import check_student

ITERATIONS = 600_000
SCHEME = "pbkdf2_sha256"


def hash_password(password: str, iterations: int = ITERATIONS) -> str:
    if not isinstance(password, str) or len(password) < 8:
        raise HubError("a password must have at least 8 characters", None)
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != SCHEME:
            return False
        computed = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    except (ValueError, AttributeError):
        return False
    return hmac.compare_digest(computed.hex(), digest)


def password_file(state_dir: Path) -> Path:
    return Path(state_dir) / "passwords.json"


def read_private_map(path: Path, what: str, error=HubError) -> dict:
    """A JSON object file of the state folder ({} when absent); ``error`` names ``what`` it is."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise error(f"cannot read the {what} {path}: {exc}", str(path)) from None
    if not isinstance(body, dict):
        raise error(f"the {what} {path} must map student ids to entries", str(path))
    return body


def write_private_map(path: Path, body: dict) -> None:
    """Replace ``path`` atomically (a crash leaves the old file), mode 0600."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(body, out, indent=1, sort_keys=True)
    os.replace(tmp, path)


def read_passwords(state_dir: Path) -> dict[str, str]:
    path = password_file(state_dir)
    body = read_private_map(path, "password file")
    if not all(isinstance(v, str) for v in body.values()):
        raise HubError(f"the password file {path} must map student ids to hashes", str(path))
    return body


def set_password(state_dir: Path, student: str, password: str) -> None:
    """Add or change ``student``'s password (atomically: a crash leaves the old file)."""
    check_student(student)
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    entries = read_passwords(state_dir)
    entries[student] = hash_password(password)
    write_private_map(password_file(state_dir), entries)


def authenticator_class():
    """The JupyterHub authenticator (imported lazily: jupyterhub is the ``[hub]`` extra)."""
    from jupyterhub.auth import Authenticator
    from traitlets import Unicode

    class PasswordFileAuthenticator(Authenticator):
        """Students log in with their id and the password the instructor set."""

        state_dir = Unicode(config=True, help="the hub's state folder (holds passwords.json)")

        async def authenticate(self, handler, data):
            name = (data or {}).get("username", "").strip().lower()
            password = (data or {}).get("password", "")
            stored = read_passwords(Path(self.state_dir)).get(name)
            # PBKDF2 takes ~0.3 s: off the hub's event loop, so other logins go on meanwhile
            if stored is None or not await asyncio.to_thread(check_password, password, stored):
                self.log.warning("failed login for %r", name)
                return None
            return name

    return PasswordFileAuthenticator
