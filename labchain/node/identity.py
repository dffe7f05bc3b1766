"""Authenticated node links on permissioned chains: a signed handshake over the P2P transport.

On a chain whose config has ``identity.mode`` ``permissioned-cert`` or ``permissioned-key``,
each side, right after its ``version``, sends :class:`~labchain.node.messages.AuthHello` with 32
fresh random bytes. The other side answers :class:`~labchain.node.messages.Auth`: its node
certificate (DER; in ``permissioned-key`` mode its 33-byte public key) and a signature, with
the key of that certificate, over::

    b"labchain/p2p-auth\\x00" || the hello's nonce || len(chain id) || chain id || genesis hash

The verifier checks the credential with :meth:`labchain.identity.MemberStore.verify` (trust
roots, CRL, frozen set, suite) or :meth:`~labchain.identity.MemberStore.identify` (registered
keys), requires a node role (``consensus`` or ``common``: a client certificate used as a node
is refused), then checks the signature. A peer is *ready* (blocks and transactions flow) only
once its ``auth`` verified; a refusal sends ``reject`` with the reason, logs the same sentence
(``refusing peer ...: <reason>``) and keeps it for :data:`REFUSED_SECONDS` in
``getrefusedpeers``. On a ``public`` chain nothing here runs and the wire is unchanged.

Terminology
-----------
link authentication
    Proving, on each TCP connection, which member runs the other end (ChainMaker does it with
    mutual TLS on its libp2p net module: ``net.tls.enabled``, ``cert_file``, ``priv_key_file``).
admin operations
    ``freezecert``, ``unfreezecert``, ``revokecert`` apply a :class:`~labchain.identity.MemberOp`
    to *this node's* member store and re-check every connected peer: a peer whose certificate
    is now refused is dropped at once.

Simplifications versus ChainMaker (decisions in docs/identity.md, "Node links"):

* A signed challenge instead of TLS: the traffic is neither encrypted nor bound to the
  authenticated key, so an on-path attacker who relays a whole handshake could then inject
  messages (TLS would stop that). What it does prove is that the dialled or dialling process
  holds the private key of a member certificate, fresh for this connection (the nonce).
* The node uses its *signing* certificate for the link (cryptogen also writes TLS
  certificates; they are unused until links use TLS).
* ``freezecert``/``unfreezecert``/``revokecert`` are local to one node; the chain-wide way is a
  governance transaction (labchain/node/governance.py), which every node applies at the same
  block and which this authenticator then follows (:meth:`LinkAuth.follow`).
"""
from __future__ import annotations

import collections
import logging
import os
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labchain.core.errors import LabchainError
from labchain.crypto.suite import get_suite
from labchain.identity import IdentityError, MemberOp, MemberStore
from labchain.identity.cryptogen import load_key
from labchain.identity.members import CERTS_FREEZE, CERTS_REVOKE, CERTS_UNFREEZE
from labchain.identity.x509 import Certificate, KeyPair
from labchain.node.messages import Auth, AuthHello, Reject

if TYPE_CHECKING:  # pragma: no cover
    from labchain.node.p2p import Peer

log = logging.getLogger("labchain.p2p")

#: roles a node may present on a link (ChainMaker: consensus and common nodes)
NODE_ROLES = ("consensus", "common")
#: how long a refused peer stays in ``getrefusedpeers``
REFUSED_SECONDS = 600
MAX_REFUSED = 200
#: points for an auth message that is malformed or whose signature does not verify
BAD_AUTH_SCORE = 50
DOMAIN = b"labchain/p2p-auth\x00"


class NodeIdentityError(LabchainError):
    """A node identity folder or option that cannot be used (names the path)."""


def auth_message(nonce: bytes, chain_id: str, genesis_hash: bytes) -> bytes:
    """The bytes a node signs to answer ``nonce`` (module docstring)."""
    chain = chain_id.encode()
    return DOMAIN + nonce + bytes([len(chain)]) + chain + genesis_hash


@dataclass(frozen=True)
class NodeCredential:
    """What this node presents: its key and, in ``permissioned-cert`` mode, its certificate."""

    key: KeyPair
    certificate: Certificate | None

    @property
    def wire(self) -> bytes:
        return self.certificate.der if self.certificate is not None else self.key.public_key

    @classmethod
    def load(cls, folder: str | os.PathLike, suite: str, mode: str) -> NodeCredential:
        """A cryptogen node folder (``<name>.sign.key`` and ``<name>.sign.crt``)."""
        folder = Path(folder)
        keys = sorted(folder.glob("*.sign.key")) if folder.is_dir() else []
        if len(keys) != 1:
            raise NodeIdentityError(f"--identity {folder} must be a folder with exactly one *.sign.key file "
                                    f"(a node folder written by `labchain certs generate`), found {len(keys)}",
                                    str(folder))
        try:
            key = load_key(keys[0], suite)
        except (LabchainError, ValueError, OSError) as exc:
            raise NodeIdentityError(f"cannot read the {suite} key {keys[0]}: {exc}", str(keys[0])) from None
        if mode != "permissioned-cert":
            return cls(key, None)
        cert_path = keys[0].with_name(keys[0].name[:-len(".key")] + ".crt")
        try:
            cert = Certificate.load(cert_path.read_text())
        except (OSError, IdentityError) as exc:
            raise NodeIdentityError(f"cannot read the node certificate {cert_path}: {exc}", str(cert_path)) from None
        if cert.public_key != key.public_key:
            raise NodeIdentityError(f"{cert_path} does not certify the key in {keys[0]}", str(cert_path))
        return cls(key, cert)


class LinkAuth:
    """The P2P network's authenticator (``P2PNetwork.auth``) and the refused-peer log."""

    def __init__(self, store: MemberStore, credential: NodeCredential, chain_id: str,
                 genesis_hash: bytes) -> None:
        self.store = store
        self.credential = credential
        self.chain_id = chain_id
        self.genesis_hash = genesis_hash
        self.refused: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_REFUSED)
        self.local_ops: list[MemberOp] = []      # freezecert/unfreezecert/revokecert on this node
        self._credentials: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # peer -> its credential

    # -- the handshake (called by p2p.P2PNetwork) ---------------------------------------------
    async def hello(self, peer: Peer) -> None:
        peer.auth_nonce = os.urandom(32)
        await peer.send(AuthHello(peer.auth_nonce))

    async def on_message(self, peer: Peer, message: Any) -> None:
        if isinstance(message, AuthHello):
            signature = self.credential.key.sign(auth_message(message.nonce, self.chain_id, self.genesis_hash))
            await peer.send(Auth(self.credential.wire, signature))
            return
        if peer.identity is not None:
            peer.misbehaving(10, "sent auth twice")
            return
        try:
            identity = self.check(message.credential, message.signature, peer.auth_nonce)
        except _BadAuth as exc:
            peer.misbehaving(BAD_AUTH_SCORE, str(exc))
            await self.refuse(peer, str(exc), "bad-auth")
            return
        except IdentityError as exc:
            await self.refuse(peer, str(exc), getattr(exc, "reason", "refused"))
            return
        peer.identity = identity
        self._credentials[peer] = bytes(message.credential)
        log.info("authenticated %s as %s (serial %s)", peer, identity, identity.serial or "-")

    def check(self, credential: bytes, signature: bytes, nonce: bytes | None):
        """The :class:`~labchain.identity.Identity` proven by an ``auth``; raises IdentityError
        (refused member) or :class:`_BadAuth` (malformed, or a signature that does not verify)."""
        try:
            identity = self.store.identify(bytes(credential), required_role=NODE_ROLES)
        except IdentityError as exc:
            if getattr(exc, "reason", "") == "malformed":
                raise _BadAuth(f"its auth carries no readable certificate ({exc})") from None
            raise
        if nonce is None:
            raise _BadAuth("it sent auth before we sent our hello")
        message = auth_message(nonce, self.chain_id, self.genesis_hash)
        try:
            ok = get_suite(self.store.suite).verify(identity.public_key, message, bytes(signature))
        except (LabchainError, ValueError):
            ok = False
        if not ok:
            raise _BadAuth(f"the auth signature of {identity} does not verify over our nonce, chain id "
                           "and genesis (it does not hold the certificate's private key)")
        return identity

    async def refuse(self, peer: Peer, reason: str, code: str) -> None:
        log.warning("refusing %s: %s", peer, reason)
        self.refused.append({"time": int(time.time()), "addr": peer.addr, "name": peer.name,
                             "inbound": peer.inbound, "code": code, "reason": reason,
                             "misbehaviour_score": peer.score})
        if not peer.closed:
            await peer.send(Reject(reason.encode()[:256]))
        peer.close(reason)

    def peer_fields(self, peer: Peer) -> dict[str, Any]:
        """Extra ``getpeerinfo`` fields: who the peer proved to be."""
        who = peer.identity
        return {"org": who.org if who else None, "role": who.role if who else None,
                "cert_serial": (who.serial or None) if who else None,
                "identity": who.name if who else None}

    def recent_refusals(self, now: float | None = None) -> list[dict[str, Any]]:
        cutoff = (time.time() if now is None else now) - REFUSED_SECONDS
        return [dict(r) for r in self.refused if r["time"] >= cutoff]

    # -- admin operations ---------------------------------------------------------------------
    async def apply(self, op: MemberOp, peers) -> dict[str, Any]:
        """Apply ``op`` to this node's store, then drop every peer it now refuses."""
        self.store = self.store.apply(op)
        self.local_ops.append(op)
        return await self._recheck(op.describe(), peers)

    async def follow(self, store: MemberStore, peers) -> dict[str, Any]:
        """Take the chain's member store (governance, node/governance.py), with this node's
        own admin operations on top where they still apply; drop every peer now refused."""
        for op in self.local_ops:
            try:
                store = store.apply(op)
            except IdentityError:
                pass                      # governance did the same already (or undid its object)
        self.store = store
        return await self._recheck("the chain's member store", peers)

    async def _recheck(self, applied: str, peers) -> dict[str, Any]:
        dropped = []
        for peer in list(peers):
            if peer.closed or peer.identity is None:
                continue
            try:
                self.store.identify(self._credentials[peer], required_role=NODE_ROLES)
            except IdentityError as exc:
                dropped.append(peer.id)
                await self.refuse(peer, str(exc), getattr(exc, "reason", "refused"))
        return {"applied": applied, "dropped_peers": dropped}


class _BadAuth(IdentityError):
    reason = "bad-auth"



@dataclass(frozen=True)
class NodeIdentity:
    """A node's member store (from the chain config) and its own credential (``--identity``)."""

    store: MemberStore
    credential: NodeCredential

    def attach(self, node) -> LinkAuth:
        """Make ``node``'s P2P links authenticate, and add the identity RPC methods."""
        from labchain.node.rpc import Code, Method, Param, RpcError

        auth = LinkAuth(self.store, self.credential, node.params.name, node.chain.genesis_hash)
        node.p2p.auth = auth

        def certificate(text: str) -> Certificate:
            try:
                return Certificate.load(text)
            except IdentityError as exc:
                raise RpcError(Code.INVALID_PARAMS, str(exc)) from None

        async def run(op: MemberOp) -> dict:
            try:
                return await auth.apply(op, node.p2p.peers.values())
            except IdentityError as exc:
                raise RpcError(Code.INVALID_PARAMS, str(exc)) from None

        async def freezecert(pem: str) -> dict:
            cert = certificate(pem)
            return await run(MemberOp(CERTS_FREEZE, cert.org, cert.der))

        async def unfreezecert(pem: str) -> dict:
            cert = certificate(pem)
            return await run(MemberOp(CERTS_UNFREEZE, cert.org, cert.der))

        async def revokecert(org: str, serial: str) -> dict:
            return await run(MemberOp(CERTS_REVOKE, org, serial=serial))

        def getrefusedpeers() -> list[dict]:
            return auth.recent_refusals()

        def getidentity() -> dict:
            cred = self.credential
            return {"mode": auth.store.mode, "suite": auth.store.suite, "orgs": list(auth.store.orgs()),
                    "public_key": cred.key.public_key.hex(),
                    "certificate": cred.certificate.label if cred.certificate else None,
                    "serial": cred.certificate.serial_hex if cred.certificate else None,
                    "crl": [[r.org_id, r.serial] for r in auth.store.crl], "frozen": list(auth.store.frozen)}

        connected = node.rpc.methods["getpeerinfo"].func

        def getpeerinfo(refused: bool = False) -> list[dict]:
            """Connected peers as before; with ``refused``, also the recently refused ones
            (``refused: true``, ``code``, ``reason``): the list keeps its shape by default."""
            peers = connected()
            return peers + [dict(r, refused=True) for r in auth.recent_refusals()] if refused else peers

        P = Param
        for method in (
            Method("getpeerinfo", getpeerinfo, (P("refused", "bool", False, False),),
                   "connected peers; refused=true adds the peers refused in the last "
                   f"{REFUSED_SECONDS // 60} minutes, with the reason"),
            Method("getrefusedpeers", getrefusedpeers, (),
                   f"peers refused in the last {REFUSED_SECONDS // 60} minutes, with the reason"),
            Method("getidentity", getidentity, (), "this node's identity mode, certificate, CRL and frozen set"),
            Method("freezecert", freezecert, (P("certificate", "str"),),
                   "freeze a member certificate (PEM) on this node; drops a peer using it"),
            Method("unfreezecert", unfreezecert, (P("certificate", "str"),), "unfreeze a certificate (PEM)"),
            Method("revokecert", revokecert, (P("org", "str"), P("serial", "str")),
                   "put (org, hex serial) on this node's CRL; drops a peer using it"),
        ):
            node.rpc.methods[method.name] = method
        from labchain.node.governance import register

        node.governance = register(node, auth, self.store)   # governance transactions on chain
        return auth


def node_identity(chain_identity, folder: str | os.PathLike | None, node_index: int = 0) -> NodeIdentity | None:
    """The :class:`NodeIdentity` for a chain config's ``identity`` section (a
    :class:`labchain.core.config.IdentityConfig`, or None) and ``--identity FOLDER``; None on a
    public chain. Without ``folder``, the section's ``node_identities[node_index]`` (testnets)."""
    if chain_identity is None or chain_identity.store.mode == "public":
        return None
    if folder is None:
        folders = chain_identity.node_identities
        if node_index >= len(folders):
            raise NodeIdentityError(f"this chain's identity mode is {chain_identity.store.mode}: give the node "
                                    "its certificate and key with --identity FOLDER (a node folder written by "
                                    "`labchain certs generate`)", node_index)
        folder = folders[node_index]
    store = chain_identity.store
    return NodeIdentity(store, NodeCredential.load(folder, store.suite, store.mode))
