"""Consensus engines. ``pow/`` is proof of work: compact targets and retargeting
(``difficulty``) and the miner (``miner``); fork choice by most work lives in ``labchain.chain``
until the Engine interface of a later issue (docs/ARCHITECTURE.md)."""
