"""Governance transactions on a node: find them in blocks, replay them, serve them over RPC.

On a permissioned chain with the account ledger, a governance transaction is an ordinary signed
account transaction (paid for in gas by one of the node's accounts) to the system address
:func:`governance_address` whose ``data`` is a :class:`~labchain.identity.onchain.GovernanceTx`
(an action plus the org admins' endorsements). It is ordered like any transaction (by Raft, PoW,
...), and every node replays the governance transactions of its main chain in block order
(:class:`ChainGovernance`): the config sequence and the member store (CRL, frozen set, trust
roots) of block ``h + 1`` are those after block ``h``. When the member store changes, the
node's link authenticator takes it and drops every connected peer it now refuses (the
reason shows in ``getrefusedpeers`` and the node's log).

On an engine chain the consensus driver follows the governed ``block.block_interval`` and
``block.block_tx_capacity`` from the block after the one that carried the update
(:meth:`labchain.node.consensus.ConsensusDriver.governed`); a config update setting values the
node's engine cannot run with (PBFT: an interval not below ``request_timeout``; any engine: a
capacity over the chain's ``max_block_txs``) is refused by ``checkgovernance``/``sendgovernance``
with the engine's sentence, as values no node could use are by the value rules
(:data:`labchain.identity.onchain.VALUE_RULES`).

RPC methods (registered by :func:`register`, on permissioned chains):
``getgovernance`` (sequence, config, CRL, frozen set, history), ``proposeconfigupdate(changes)``
and ``proposememberop(op, ...)`` (the unsigned record for the next sequence and the bytes each
admin signs), ``checkgovernance(hex)`` (every policy's evaluation trace against the tip's
state, without sending), ``sendgovernance(hex[, from])`` (checks, then sends the transaction;
a record whose policy is not met is refused with the trace's sentence: which policy, which orgs
counted, which are missing, which signers were ignored).

Terminology: see :mod:`labchain.identity.onchain`. Simplifications: the governance address is
a plain account without code (its transactions are carried and charged, not executed by the
VM; ChainMaker runs a system contract); a UTXO chain carries no governance transactions (its
memo holds 255 bytes, less than one certificate): ``sendgovernance`` says so.
"""
from __future__ import annotations

import datetime as _dt
import logging
from typing import TYPE_CHECKING, Any

from labchain.core.errors import LabchainError
from labchain.identity import ConfigChange, ConfigUpdate, IdentityError, MemberOp
from labchain.identity.members import (CERTS_FREEZE, CERTS_REVOKE, CERTS_UNFREEZE, TRUST_ROOT_ADD,
                                       TRUST_ROOT_DELETE)
from labchain.identity.onchain import GovernanceError, GovernanceState, GovernanceTx, trace_json
from labchain.identity.x509 import Certificate

if TYPE_CHECKING:  # pragma: no cover
    from labchain.node.node import Node

log = logging.getLogger("labchain.governance")

#: ``proposememberop`` operation names -> MemberOp kinds
MEMBER_OPS = {"freeze": CERTS_FREEZE, "unfreeze": CERTS_UNFREEZE, "revoke": CERTS_REVOKE,
              "trust-root-add": TRUST_ROOT_ADD, "trust-root-delete": TRUST_ROOT_DELETE}
GAS_MARGIN = 1_000


def governance_address(suite):
    """The system address governance transactions go to (nobody holds its key)."""
    from labchain.ledger.account.tx import AccountAddress, account_version

    return AccountAddress(account_version(suite), suite.hash160(b"labchain/governance"))


def _block_time(block) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(block.header.timestamp, _dt.timezone.utc)


class ChainGovernance:
    """The governance state of ``node``'s main chain, replayed incrementally."""

    def __init__(self, node: Node, members) -> None:
        self.node = node
        self.genesis = GovernanceState.genesis(node.params.name, members)
        self.state = self.genesis
        self._tip = node.chain.genesis_hash         # hash of block state.height
        self.address = governance_address(node.chain.suite) if self.supported else None

    @property
    def supported(self) -> bool:
        return self.node.chain.ledger.name == "account"

    def refresh(self) -> GovernanceState:
        """Bring the state to the chain's tip (from genesis again after a reorganisation)."""
        chain, suite = self.node.chain, self.node.chain.suite
        if not self.supported:                     # no governance transactions on this ledger
            return self.state
        with chain.lock:
            state = self.state
            if state.height > chain.height or chain.get_block(state.height).hash_in(suite) != self._tip:
                state = self.genesis
            for height in range(state.height + 1, chain.height + 1):
                block = chain.get_block(height)
                for tx in block.transactions:
                    if tx.to == self.address:
                        state = self._apply(state, tx, height, block)
                state = _with_height(state, height)
            self._tip = chain.get_block(state.height).hash_in(suite)
        self.state = state
        return state

    def _apply(self, state: GovernanceState, tx, height: int, block) -> GovernanceState:
        txid = tx.txid_in(self.node.chain.suite).hex()
        try:
            gtx = GovernanceTx.from_data(tx.data)
        except GovernanceError as exc:
            new = state.apply(None, height, txid, _block_time(block), str(exc))
        else:
            if gtx is None:
                return state
            new = state.apply(gtx, height, txid, _block_time(block))
        outcome = new.history[-1]
        log.info("governance tx %s at height %d %s: %s%s", txid[:16], height,
                 "accepted" if outcome.accepted else "rejected", outcome.description,
                 "" if outcome.accepted else f" ({outcome.reason})")
        return new


def _with_height(state: GovernanceState, height: int) -> GovernanceState:
    from dataclasses import replace

    return replace(state, height=height)


def register(node: Node, auth, members) -> ChainGovernance:
    """Add the governance RPC methods to ``node`` and make its links follow the chain's
    member store (``auth``: the node's :class:`~labchain.node.identity.LinkAuth`)."""
    from labchain.node.rpc import Code, Method, Param, RpcError

    gov = ChainGovernance(node, members)
    chain = node.chain
    auth.store = gov.refresh().members     # a restarted node starts from its chain's member store

    followed = [auth.store]     # the member store the links follow (the consensus driver may
                                # have replayed the new block already: compare with this, not gov.state)

    async def on_update(update) -> None:
        try:
            state = gov.refresh()
        except (LabchainError, ValueError) as exc:  # never break the node's block path
            log.error("governance replay failed at height %d: %s", node.chain.height, exc)
            return
        if state.members != followed[0]:
            followed[0] = state.members
            result = await auth.follow(state.members, node.p2p.peers.values())
            log.info("member store changed by governance at height %d; dropped peers %s",
                     state.height, result["dropped_peers"])

    node.update_listeners.append(on_update)

    def _record(hex_text: str) -> GovernanceTx:
        try:
            gtx = GovernanceTx.from_bytes(bytes.fromhex(hex_text))
            gtx.action()
            return gtx
        except (ValueError, LabchainError) as exc:
            raise RpcError(Code.DESERIALIZATION_ERROR, f"not a governance record in hex: {exc}") from None

    def _now() -> _dt.datetime:
        return _dt.datetime.fromtimestamp(int(chain.clock()), _dt.timezone.utc)

    def _proposal(gtx: GovernanceTx, state: GovernanceState) -> dict:
        """The proposal answer, with the sequences of the state ``gtx`` was built on."""
        return {"proposal": gtx.to_bytes().hex(), "sign": gtx.signing_bytes().hex(),
                "description": gtx.describe(), "sequence": state.config.sequence,
                "member_sequence": state.member_sequence}

    def getgovernance() -> dict:
        state = gov.refresh()
        config, members = state.config, state.members
        return {"height": state.height, "sequence": config.sequence, "member_sequence": state.member_sequence,
                "chain_id": config.chain_id,
                "auth_type": config.auth_type, "supported": gov.supported,
                "address": str(gov.address) if gov.address else None,
                "values": {v.key: v.value for v in config.values},
                "consensus_nodes": [[n.org_id, n.node_id] for n in config.consensus_nodes],
                "policies": {p.resource: str(p.policy) for p in config.policies},
                "orgs": list(members.orgs()), "crl": [[r.org_id, r.serial] for r in members.crl],
                "frozen": list(members.frozen), "history": [o.to_json() for o in state.history]}

    def proposeconfigupdate(changes: Any) -> dict:
        if not isinstance(changes, list) or not changes:
            raise RpcError(Code.INVALID_PARAMETER, "changes must be a non-empty list of "
                           "[resource, key, value] triples, e.g. [[\"CHAIN_CONFIG-BLOCK_UPDATE\", "
                           "\"block.block_interval\", \"500\"]]")
        try:
            parsed = tuple(ConfigChange(str(c[0]), str(c[1]), str(c[2]) if len(c) > 2 else "") for c in changes)
        except (TypeError, IndexError, KeyError):
            raise RpcError(Code.INVALID_PARAMETER, f"each change is [resource, key, value], got {changes!r}") from None
        state = gov.refresh()
        update = ConfigUpdate(state.config.chain_id, state.config.sequence + 1, parsed)
        return _proposal(GovernanceTx.of(update), state)

    def proposememberop(op: str, org: str | None = None, certificate: str | None = None,
                        serial: str | None = None) -> dict:
        kind = MEMBER_OPS.get(op)
        if kind is None:
            raise RpcError(Code.INVALID_PARAMETER, f"unknown member operation {op!r}; choose "
                           f"{', '.join(MEMBER_OPS)}")
        data = b""
        if certificate is not None:
            try:
                cert = Certificate.load(certificate)
            except IdentityError as exc:
                raise RpcError(Code.INVALID_PARAMETER, str(exc)) from None
            data, org = cert.der, org or cert.org
        elif kind != CERTS_REVOKE:
            raise RpcError(Code.INVALID_PARAMETER, f"{op} needs the certificate (PEM)")
        if kind == CERTS_REVOKE and not (org and serial):
            raise RpcError(Code.INVALID_PARAMETER, "revoke needs the org and the certificate's hex serial")
        state = gov.refresh()
        op = MemberOp(kind, org or "", data, serial or "", sequence=state.member_sequence + 1)
        return _proposal(GovernanceTx.of(op), state)

    def _engine_refusal(gtx: GovernanceTx) -> str:
        """Why this node's consensus engine could not run with the block values ``gtx`` sets
        ("" if it could, or if ``gtx`` sets none): refused before sending, like a policy."""
        action = gtx.action()
        if node.consensus is None or not isinstance(action, ConfigUpdate):
            return ""
        changes = {c.key: c.value for c in action.changes if c.resource == "CHAIN_CONFIG-BLOCK_UPDATE"}
        try:
            node.consensus.check_params(changes)
        except LabchainError as exc:
            return f"the {node.params.consensus.type} engine cannot use it: {exc}"
        return ""

    def _traces(gtx: GovernanceTx) -> list:
        try:
            traces = gov.refresh().check(gtx, _now())
        except IdentityError as exc:   # a PolicyError's sentence is its trace (PolicyResult.explain)
            raise RpcError(Code.VERIFY_REJECTED, f"governance rejected: {exc}") from None
        refusal = _engine_refusal(gtx)
        if refusal:
            raise RpcError(Code.VERIFY_REJECTED, f"governance rejected: {refusal}")
        return traces

    def checkgovernance(hex_text: str) -> dict:
        gtx = _record(hex_text)
        state = gov.refresh()
        try:
            traces = state.traces(gtx, _now())
        except IdentityError as exc:
            return {"accepted": False, "reason": str(exc), "traces": []}
        try:
            state.check(gtx, _now())
            reason = _engine_refusal(gtx)
        except IdentityError as exc:
            reason = str(exc)
        return {"accepted": not reason, "reason": reason, "description": gtx.describe(),
                "traces": [trace_json(t) for t in traces]}

    async def sendgovernance(hex_text: str, sender: Any = 0) -> dict:
        gtx = _record(hex_text)
        if not gov.supported:
            raise RpcError(Code.MISC_ERROR, f"governance transactions need an account-ledger chain (their "
                           f"endorsements do not fit a {chain.ledger.name} transaction's memo); this chain "
                           f"is {node.params.name}")
        traces = _traces(gtx)
        send = node.rpc.methods["sendtransaction"]
        tx = _sign(node, sender, gov.address, gtx.to_data())
        txid = await send.func(tx.to_bytes().hex())
        state = gov.state
        return {"txid": txid, "description": gtx.describe(), "sequence": state.config.sequence,
                "applies": "from the block after the one that includes it",
                "traces": [trace_json(t) for t in traces]}

    def _sign(node, sender, to, data):
        """A transaction from the node's deterministic account ``sender`` carrying ``data``."""
        from labchain.ledger.account.tx import intrinsic_gas, sign_tx
        from labchain.ledger.account.wallet import AccountWallet

        wallet = AccountWallet(node.params)
        if type(sender) is not int or not 0 <= sender < len(wallet.keys):
            raise RpcError(Code.INVALID_ADDRESS_OR_KEY, f"parameter 'from': {sender!r} is not one of this "
                           f"node's accounts (an index 0..{len(wallet.keys) - 1})")
        nonce = node.rpc.methods["getaccount"].func(str(wallet.address(sender)))["pending_nonce"]
        return sign_tx(wallet.suite, wallet.keys[sender].secret, chain_id=wallet.chain_id, nonce=nonce, to=to,
                       value=0, gas_limit=intrinsic_gas(data, False) + GAS_MARGIN, gas_price=1, data=data)

    P = Param
    for method in (
        Method("getgovernance", getgovernance, (),
               "the chain config's sequence, values, policies, CRL, frozen set and governance history"),
        Method("proposeconfigupdate", proposeconfigupdate, (P("changes", "any"),),
               "an unsigned config update for the next sequence -> {proposal, sign}"),
        Method("proposememberop", proposememberop, (P("op", "str"), P("org", "str", False),
                                                    P("certificate", "str", False), P("serial", "str", False)),
               "an unsigned member operation (freeze, unfreeze, revoke, trust-root-add/delete)"),
        Method("checkgovernance", checkgovernance, (P("hex", "str"),),
               "evaluate an endorsed governance record's policies against the tip (nothing sent)"),
        Method("sendgovernance", sendgovernance, (P("hex", "str"), P("from", "any", False, 0)),
               "send an endorsed governance record as a transaction; refused with the policy trace"),
    ):
        node.rpc.methods[method.name] = method
    return gov
