"""Logging in from an LMS with LTI 1.3, and the tool key that later posts grades back (docs/hub.md).

Terminology (IMS LTI 1.3 / LTI Advantage): the *platform* is the LMS (Moodle, Canvas...), the
*tool* is this class server. A *launch* is OpenID Connect's implicit flow started by the
platform: the LMS sends the browser to the tool's login-initiation URL
(``/hub/lti13/oauth_login``), the tool redirects to the platform's ``authorize_url`` with a
state and a nonce, the platform POSTs an RS256-signed ``id_token`` (an ``LtiResourceLinkRequest``)
to ``/hub/lti13/oauth_callback``. The *issuer* (``iss``) names the platform, ``sub`` the LMS
user, ``aud``/``client_id`` the tool's registration in that platform. The signature, issuer,
audience, nonce and state are checked by ``jupyterhub-ltiauthenticator``'s
``LTI13Authenticator``; this module only maps the verified user to a student id.

Student ids: an LMS ``sub`` is an opaque string of any length (often a UUID or an e-mail), so
it cannot name containers and volumes. The hub user is ``"u" + first 16 hex of
sha256(iss | sub | course salt)``: a valid ``labchain.testnet.docker.STUDENT_ID``, stable
across launches, different between platforms, and not reversible without the salt (a random
secret of the hub, ``secrets/lti-salt``). The mapping back (student -> iss, sub, the AGS line
item of the last launch) is written to ``lti-users.json`` in the state folder (mode 0600): the
grade passback (``labchain-grade publish --lti``) reads it there, beside the tool's private key
(``secrets/lti-tool-key.pem``), so neither ever enters a student's container.

Simplifications versus a production LTI tool: one platform (issuer) per hub; no dynamic
registration (the instructor copies the platform's issuer, client id and endpoints into the hub
settings and gives the platform the tool's public key, ``labchain hub lti-jwks``); no key
rotation; LTI names and roles are not used for authorisation (instructors are ``admin_users``
by student id); 64 bits of hash make a collision between two students of one hub negligible
(about 1 in 10^9 for 200,000 students) but not impossible.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from labchain.deploy.hub.auth import read_private_map, write_private_map
from labchain.deploy.hub.settings import HubError

#: keys of the hub setting ``lti`` (required when ``authenticator: lti13``)
REQUIRED_KEYS = ("issuer", "client_id", "authorize_url", "jwks_endpoint")
#: optional keys: the platform's OAuth2 token endpoint (grade passback) and deployment id
OPTIONAL_KEYS = ("token_url", "deployment_id")
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
CONTEXT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/context"
SALT_SECRET = "lti-salt"
TOOL_KEY_SECRET = "lti-tool-key.pem"
USERS_FILE = "lti-users.json"


class LtiError(HubError):
    """An LTI setting, launch or key that is wrong or missing (the sentence says which)."""


def check_lti_settings(lti: Any) -> None:
    """Raise :class:`LtiError` naming the first missing or unknown key of the ``lti`` setting."""
    if not isinstance(lti, dict):
        raise LtiError(f"hub setting lti must be a mapping of {', '.join(REQUIRED_KEYS)}", lti)
    unknown = sorted(set(lti) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise LtiError(f"unknown lti setting(s): {', '.join(unknown)}; known: "
                       f"{', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)}", unknown)
    for key in REQUIRED_KEYS:
        if not isinstance(lti.get(key), str) or not lti[key]:
            raise LtiError(f"hub setting lti.{key} is missing; authenticator lti13 needs "
                           f"{', '.join(REQUIRED_KEYS)}", key)


def student_id(iss: str, sub: str, salt: str) -> str:
    """The LabChain student id (hub user name) of LMS user ``sub`` on platform ``iss``."""
    if not sub or not iss:
        raise LtiError("an LTI launch without iss or sub cannot name a student", (iss, sub))
    digest = hashlib.sha256(f"{iss}|{sub}|{salt}".encode()).hexdigest()
    return "u" + digest[:16]


# --- the tool's key pair (hub side only) ------------------------------------------------------

def tool_key_path(state_dir: Path) -> Path:
    return Path(state_dir) / "secrets" / TOOL_KEY_SECRET


def ensure_tool_key(state_dir: Path) -> Path:
    """Make the tool's RSA key (2048 bits, PEM, mode 0600) unless it exists."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    path = tool_key_path(state_dir)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return path


def load_tool_key(state_dir: Path):
    from cryptography.hazmat.primitives import serialization

    path = tool_key_path(state_dir)
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise LtiError(f"no LTI tool key at {path}; `labchain hub up` with authenticator lti13 "
                       "makes it", str(path)) from None


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def public_jwk(private_key) -> dict[str, str]:
    """The tool's public key as a JWK (RFC 7517), ``kid`` = its RFC 7638 thumbprint."""
    numbers = private_key.public_key().public_numbers()
    body = {"e": _b64(numbers.e), "kty": "RSA", "n": _b64(numbers.n)}
    kid = base64.urlsafe_b64encode(hashlib.sha256(
        json.dumps(body, separators=(",", ":"), sort_keys=True).encode()).digest()).rstrip(b"=").decode()
    return dict(body, kid=kid, alg="RS256", use="sig")


def tool_jwks(state_dir: Path) -> dict[str, Any]:
    """What the platform needs to verify the tool's client-credentials JWTs."""
    return {"keys": [public_jwk(load_tool_key(state_dir))]}


# --- who launched: student id -> LMS identity ---------------------------------------------------

def users_file(state_dir: Path) -> Path:
    return Path(state_dir) / USERS_FILE


def read_users(state_dir: Path) -> dict[str, dict[str, Any]]:
    return read_private_map(users_file(state_dir), "LTI user map", LtiError)


def record_launch(state_dir: Path, student: str, id_token: dict[str, Any]) -> None:
    """Remember ``student``'s LMS identity and the AGS endpoints of this launch (atomically)."""
    users = read_users(state_dir)
    entry = {"iss": id_token["iss"], "sub": id_token["sub"]}
    ags = id_token.get(AGS_CLAIM)
    if isinstance(ags, dict):
        entry["ags"] = {k: ags[k] for k in ("lineitem", "lineitems", "scope") if k in ags}
    context = id_token.get(CONTEXT_CLAIM)
    if isinstance(context, dict) and "id" in context:
        entry["context"] = context["id"]
    users[student] = entry
    write_private_map(users_file(state_dir), users)


def authenticator_class():
    """``LTI13Authenticator`` with hashed student ids (imported lazily: the ``[hub]`` extra)."""
    from ltiauthenticator.lti13.auth import LTI13Authenticator
    from traitlets import Unicode

    class LabchainLTI13Authenticator(LTI13Authenticator):
        """A verified LTI 1.3 launch logs in ``u<hash>``; the LMS identity stays on the hub."""

        state_dir = Unicode(config=True, help="the hub's state folder (salt, user map)")

        async def authenticate(self, handler, data=None):
            token = data or {}
            salt = (Path(self.state_dir) / "secrets" / SALT_SECRET).read_text(encoding="ascii").strip()
            name = student_id(token.get("iss", ""), token.get("sub", ""), salt)
            record_launch(Path(self.state_dir), name, token)
            self.log.info("LTI 1.3 launch of %s from %s", name, token.get("iss"))
            return {"name": name}

    return LabchainLTI13Authenticator
