"""The upgrade policy hook: may a deployed contract's code be replaced?

The account ledger asks ``may_upgrade(host, ctx, old, new)`` before it swaps the code at
``ctx.contract`` from Program ``old`` to ``new`` (storage is kept, as in ChainMaker's
``UPGRADE_CONTRACT`` system call and OpenZeppelin proxies). It returns None when allowed, or a
sentence saying why not (which the receipt carries). The default policy: only the account that
deployed the contract (``host.creators`` / ``host.creator(address)`` when the host records it)
may upgrade. The permissioned-consensus issue replaces :data:`POLICY` with an endorsement
policy (ChainMaker: ``UPGRADE_CONTRACT`` needs the chain's resource policy, e.g. a majority of
organisation admins).
"""
from __future__ import annotations

from typing import Any, Callable


def deployer_only(host: Any, ctx: Any, old: Any, new: Any) -> str | None:
    creator = None
    if hasattr(host, "creator"):
        creator = host.creator(ctx.contract)
    elif hasattr(host, "creators"):
        creator = host.creators.get(ctx.contract)
    if creator is None:
        return f"the ledger does not record who deployed 0x{ctx.contract.hex()}, so nobody may upgrade it"
    if ctx.sender != creator:
        return (f"only the deployer 0x{creator.hex()} may upgrade contract 0x{ctx.contract.hex()}, "
                f"not 0x{ctx.sender.hex()}")
    return None


#: the policy in force; replace it (e.g. with an endorsement check) to change who may upgrade
POLICY: Callable[[Any, Any, Any, Any], str | None] = deployer_only


def may_upgrade(host: Any, ctx: Any, old: Any, new: Any) -> str | None:
    """None if ``ctx.sender`` may replace contract ``ctx.contract``'s code ``old`` by ``new``,
    else the reason it may not."""
    return POLICY(host, ctx, old, new)
