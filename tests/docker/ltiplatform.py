"""A small LTI 1.3 platform (the LMS side) on loopback, for the class-server tests.

It does what an LMS does in a launch and in grade passback, with real keys and signatures:
``/jwks`` (its public key), ``/authorize`` (OIDC authentication request -> an auto-submitting
form POSTing an RS256-signed ``LtiResourceLinkRequest`` id_token to the tool's redirect_uri),
``/token`` (OAuth2 client credentials with a ``private_key_jwt`` assertion, checked against the
tool's registered public key) and ``/lineitems/<id>/scores`` (LTI AGS scores, bearer token with
the score scope). A test can make the next launch forged (signed by another key under the
platform's key id) or addressed to another client id.
"""
from __future__ import annotations

import html
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
CLIENT_ID = "labchain-tool-1"
DEPLOYMENT_ID = "deployment-1"


class Platform:
    def __init__(self, port: int = 0):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "platform-key-1"
        self.tool_jwks: dict = {"keys": []}       # registered by the test (the tool's public key)
        self.forge_next = False                   # sign the next id_token with a foreign key
        self.audience_next: str | None = None     # address the next id_token to another client id
        self.tokens: dict[str, set[str]] = {}     # access token -> scopes
        self.scores: list[dict] = []              # what AGS received: {"lineitem", "score"}
        self.token_refusals = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = self.url
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Platform:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def lti_settings(self) -> dict[str, str]:
        return {"issuer": self.issuer, "client_id": CLIENT_ID, "authorize_url": f"{self.url}/authorize",
                "jwks_endpoint": f"{self.url}/jwks", "token_url": f"{self.url}/token",
                "deployment_id": DEPLOYMENT_ID}

    def lineitem(self, n: int = 1) -> str:
        return f"{self.url}/lineitems/{n}"

    # --- the id_token of a launch -------------------------------------------------------
    def id_token(self, sub: str, nonce: str, target: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer, "sub": sub, "aud": self.audience_next or CLIENT_ID, "azp": CLIENT_ID,
            "iat": now, "exp": now + 300, "nonce": nonce, "email": f"{sub}@example.edu",
            LTI + "message_type": "LtiResourceLinkRequest", LTI + "version": "1.3.0",
            LTI + "deployment_id": DEPLOYMENT_ID, LTI + "target_link_uri": target,
            LTI + "resource_link": {"id": "lab-01"},
            LTI + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
            LTI + "context": {"id": "course-42", "label": "BC101", "title": "Blockchains"},
            AGS: {"scope": [SCORE_SCOPE], "lineitem": self.lineitem(1)},
        }
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if self.forge_next else self.key
        self.forge_next, self.audience_next = False, None
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})

    def jwks(self) -> dict:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [dict(jwk, kid=self.kid, alg="RS256", use="sig")]}

    # --- OAuth2 client credentials (RFC 7523 private_key_jwt) ---------------------------
    def grant(self, form: dict[str, str]) -> tuple[int, dict]:
        assertion = form.get("client_assertion", "")
        try:
            kid = jwt.get_unverified_header(assertion).get("kid")
            jwk = next(k for k in self.tool_jwks["keys"] if k.get("kid") == kid)
            claims = jwt.decode(assertion, jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk)),
                                algorithms=["RS256"], audience=f"{self.url}/token", issuer=CLIENT_ID)
        except (StopIteration, jwt.PyJWTError):
            self.token_refusals += 1
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "client_credentials" or claims.get("sub") != CLIENT_ID:
            return 400, {"error": "invalid_request"}
        token = uuid.uuid4().hex
        self.tokens[token] = set(form.get("scope", "").split())
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                     "scope": form.get("scope", "")}


def _handler(platform: Platform):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, body, kind: str = "application/json") -> None:
            raw = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path == "/jwks":
                return self._send(200, platform.jwks())
            if url.path == "/authorize":
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if q.get("response_type") != "id_token" or q.get("client_id") != CLIENT_ID:
                    return self._send(400, {"error": "unknown client or response type"})
                token = platform.id_token(q["login_hint"], q["nonce"], q["redirect_uri"])
                form = (f'<form method="post" action="{html.escape(q["redirect_uri"])}">'
                        f'<input type="hidden" name="id_token" value="{token}">'
                        f'<input type="hidden" name="state" value="{html.escape(q["state"])}">'
                        '</form><script>document.forms[0].submit()</script>')
                return self._send(200, form, "text/html")
            return self._send(404, {"error": "not found"})

        def do_POST(self):
            url = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if url.path == "/token":
                status, reply = platform.grant({k: v[0] for k, v in parse_qs(body).items()})
                return self._send(status, reply)
            match = re.fullmatch(r"/lineitems/(\d+)/scores", url.path)
            if match:
                auth = self.headers.get("Authorization", "")
                scopes = platform.tokens.get(auth.removeprefix("Bearer "), set())
                if SCORE_SCOPE not in scopes:
                    return self._send(401, {"error": "no token with the score scope"})
                if self.headers.get("Content-Type") != "application/vnd.ims.lis.v1.score+json":
                    return self._send(415, {"error": "wrong content type"})
                platform.scores.append({"lineitem": platform.lineitem(int(match[1])),
                                        "score": json.loads(body)})
                return self._send(200, {})
            return self._send(404, {"error": "not found"})

    return Handler


def launch(hub_url: str, platform: Platform, sub: str,
           session: requests.Session | None = None) -> requests.Response:
    """Do what the browser does in an LTI 1.3 launch; return the hub's answer to the id_token
    POST (302 when logged in). ``session`` keeps the hub's cookies."""
    session = session or requests.Session()
    init = session.post(f"{hub_url}/hub/lti13/oauth_login", allow_redirects=False, timeout=30,
                        data={"iss": platform.issuer, "login_hint": sub, "client_id": CLIENT_ID,
                              "target_link_uri": f"{hub_url}/hub/home",
                              "lti_deployment_id": DEPLOYMENT_ID})
    assert init.status_code == 302, (init.status_code, init.text[:500])
    form = session.get(init.headers["Location"], timeout=30)
    assert form.status_code == 200, form.text
    action = html.unescape(re.search(r'action="([^"]+)"', form.text)[1])
    fields = {name: html.unescape(value)
              for name, value in re.findall(r'name="(\w+)" value="([^"]*)"', form.text)}
    reply = session.post(action, data=fields, allow_redirects=False, timeout=30)
    reply.session = session
    return reply
