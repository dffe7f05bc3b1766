"""Standard contracts shipped as contract-language source: ``token`` (fungible token),
``collectible`` (non-fungible digital collectible, 数字藏品), ``evidence`` (evidence store, 存证),
``traceability`` (a product's custody chain across organisations).

``source(name)`` returns the text, ``load(name)`` the compiled Program (cached)."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

NAMES = ("token", "collectible", "evidence", "traceability")


def source(name: str) -> str:
    if name not in NAMES:
        from labchain.ledger.contracts.errors import ContractCallError
        raise ContractCallError(f"there is no standard contract {name!r} (there are: {', '.join(NAMES)})", name)
    return resources.files(__package__).joinpath(f"{name}.py").read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def load(name: str):
    from labchain.ledger.contracts.compiler import compile_contract
    return compile_contract(source(name), name)
