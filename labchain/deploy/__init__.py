"""Deployment tooling above the testnet: image building (``images``), classroom fleets
(``classroom``) and lab sessions, ``make lab`` (``lab``)."""
