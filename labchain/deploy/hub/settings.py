"""The class server's settings: one small YAML file (or the defaults), checked before anything starts.

Every key is optional; ``labchain hub up --settings hub.yml`` reads them, the defaults fit one
class on one host. A wrong key or value raises :class:`HubConfigError` naming the key, the value
and what is allowed. The settings are written as JSON into the state folder, where the
JupyterHub config file (``jupyterhub_config.py`` beside this module) reads them back.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labchain.core.errors import LabchainError
from labchain.deploy.images import image_tag


class HubError(LabchainError):
    """The class server could not be started, found or stopped; the sentence says why."""


class HubConfigError(HubError, ValueError):
    """A hub settings file or value that is wrong (names the key)."""


def default_state_dir() -> Path:
    return Path(os.environ.get("LABCHAIN_HUB_DIR", Path.cwd() / "var" / "hub"))


@dataclass(frozen=True, slots=True)
class HubSettings:
    #: where secrets, the SQLite database, pid files and logs live (mode 0700)
    state_dir: Path = field(default_factory=default_state_dir)
    #: the address students open (the proxy's public side); 0.0.0.0 for a real class
    public_ip: str = "127.0.0.1"
    public_port: int = 8000
    #: the proxy's REST API (JupyterHub adds and removes routes through it); loopback only
    proxy_api_port: int = 8001
    #: the hub's own port; it listens on the labs bridge's host address so lab containers reach
    #: its API (and nothing else on the host: see docs/hub.md, "Network")
    hub_port: int = 8081
    #: single-user image: labchain/lab with jupyterhub-singleuser (built by `labchain images build`)
    image: str = field(default_factory=lambda: image_tag("lab"))
    #: SQLAlchemy URL of the hub database; empty: SQLite in state_dir
    db_url: str = ""
    #: "local" (password file in state_dir, `labchain hub passwd`) or "lti13"
    authenticator: str = "local"
    admin_users: tuple[str, ...] = ()
    #: nodes in each student's private testnet
    nodes: int = 3
    #: seconds without activity before the culler stops a server (its nodes stop too)
    cull_idle_timeout: int = 3600
    cull_every: int = 60
    #: how often lab servers and the proxy report activity to the hub (JupyterHub's
    #: last_activity_interval, JUPYTERHUB_ACTIVITY_INTERVAL): the culler sees idleness this late
    activity_interval: int = 300
    #: seconds an idle kernel lives inside a lab server (MappingKernelManager.cull_idle_timeout)
    kernel_cull_idle_timeout: int = 1800
    #: JupyterHub's concurrent_spawn_limit: more simultaneous spawns are told to retry
    concurrent_spawn_limit: int = 20
    #: per lab container (the nodes have their own limits, labchain.testnet.docker.DockerSettings)
    mem_limit: str = "1536M"              # K, M, G suffixes (JupyterHub's ByteSpecification)
    cpu_limit: float = 1.0
    pids_limit: int = 256
    #: LTI 1.3 (authenticator: lti13): the platform's issuer, client_id, authorize_url,
    #: jwks_endpoint, and token_url for grade passback (labchain.deploy.hub.lti)
    lti: dict[str, str] = field(default_factory=dict)
    #: the Docker volume `labchain hub release` fills, read-only at /srv/release in every lab
    #: container (one course per hub)
    release_volume: str = "labchain-hub-release"

    def __post_init__(self) -> None:
        object.__setattr__(self, "state_dir", Path(self.state_dir))
        for key in ("public_port", "proxy_api_port", "hub_port"):
            value = getattr(self, key)
            if type(value) is not int or not 1 <= value <= 65535:
                raise HubConfigError(f"hub setting {key} is {value!r}, but it must be a port "
                                     "number between 1 and 65535", value)
        ports = [self.public_port, self.proxy_api_port, self.hub_port]
        if len(set(ports)) != 3:
            raise HubConfigError(f"hub settings public_port, proxy_api_port and hub_port must "
                                 f"differ, got {ports}", ports)
        try:
            ipaddress.ip_address(self.public_ip)
        except ValueError:
            raise HubConfigError(f"hub setting public_ip is {self.public_ip!r}, not an IP "
                                 "address", self.public_ip) from None
        if self.authenticator not in ("local", "lti13"):
            raise HubConfigError(f"hub setting authenticator is {self.authenticator!r}; allowed: "
                                 "local, lti13", self.authenticator)
        for key, low in (("nodes", 1), ("cull_idle_timeout", 10), ("cull_every", 1),
                         ("kernel_cull_idle_timeout", 10), ("activity_interval", 1), ("concurrent_spawn_limit", 1),
                         ("pids_limit", 32)):
            value = getattr(self, key)
            if type(value) is not int or value < low:
                raise HubConfigError(f"hub setting {key} is {value!r}, but it must be an "
                                     f"integer of at least {low}", value)
        if not isinstance(self.mem_limit, str) or not re.fullmatch(r"[1-9][0-9]*[KMG]?", self.mem_limit):
            raise HubConfigError(f"hub setting mem_limit is {self.mem_limit!r}; write bytes with an "
                                 "optional K, M or G suffix, e.g. 1536M", self.mem_limit)
        if not isinstance(self.image, str) or not self.image:
            raise HubConfigError("hub setting image must name a Docker image", self.image)
        if not isinstance(self.release_volume, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{1,63}",
                                                                          self.release_volume):
            raise HubConfigError(f"hub setting release_volume is {self.release_volume!r}; name a Docker "
                                 "volume with letters, digits, '_', '.' or '-'", self.release_volume)
        object.__setattr__(self, "admin_users", tuple(self.admin_users))
        if self.authenticator == "lti13":
            from labchain.deploy.hub.lti import check_lti_settings

            check_lti_settings(self.lti)

    # --- derived ------------------------------------------------------------------------
    @property
    def mem_limit_bytes(self) -> int:
        units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
        if self.mem_limit[-1] in units:
            return int(self.mem_limit[:-1]) * units[self.mem_limit[-1]]
        return int(self.mem_limit)

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.state_dir / 'jupyterhub.sqlite'}"

    @property
    def public_url(self) -> str:
        host = "127.0.0.1" if self.public_ip == "0.0.0.0" else self.public_ip
        return f"http://{host}:{self.public_port}"

    @property
    def settings_file(self) -> Path:
        return self.state_dir / "settings.json"

    def to_json(self) -> dict[str, Any]:
        body = dataclasses.asdict(self)
        body["state_dir"] = str(self.state_dir)
        body["admin_users"] = list(self.admin_users)
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> HubSettings:
        return cls(**body)


def load_settings(path: str | Path | None = None, **overrides: Any) -> HubSettings:
    """Settings from a YAML file (all keys optional), then ``overrides`` (None values ignored)."""
    body: dict[str, Any] = {}
    if path is not None:
        import yaml

        path = Path(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise HubConfigError(f"cannot read the hub settings {path}: {exc.strerror}", str(path)) from None
        except yaml.YAMLError as exc:
            raise HubConfigError(f"{path} is not valid YAML: {exc}", str(path)) from None
        if loaded is not None and not isinstance(loaded, dict):
            raise HubConfigError(f"{path} must hold a mapping of settings, not "
                                 f"{type(loaded).__name__}", str(path))
        body.update(loaded or {})
    body.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(HubSettings)}
    unknown = sorted(set(body) - known)
    if unknown:
        raise HubConfigError(f"unknown hub setting(s): {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(known))}", unknown)
    return HubSettings(**body)


def read_state_settings(state_dir: Path) -> HubSettings:
    """The settings a running (or stopped) hub was started with."""
    path = Path(state_dir) / "settings.json"
    try:
        return HubSettings.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise HubError(f"no class server was started from {state_dir} (no settings.json); "
                       "run `labchain hub up` first", str(state_dir)) from None
