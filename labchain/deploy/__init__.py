"""Deployment tooling above the testnet: image building (``images``) and classroom fleets
(``classroom``)."""
