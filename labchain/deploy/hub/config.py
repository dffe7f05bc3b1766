"""Fill JupyterHub's config object from :class:`HubSettings` (called by ``jupyterhub_config.py``).

Kept as a function over plain data so a test can check the configuration without a hub, and so
the config file itself holds no logic. Secrets (the proxy's token, the cookie secret, the admin
service's token) are files in the state folder, mode 0600, made by ``labchain hub up``.
"""
from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from labchain.deploy.hub.exchange import FEEDBACK, OUTBOX, RELEASE
from labchain.deploy.hub.settings import HubSettings
from labchain.testnet import docker as backend

ADMIN_SERVICE = "labchain-admin"
CULLER_SERVICE = "idle-culler"


def read_secret(state_dir: Path, name: str) -> str:
    return (Path(state_dir) / "secrets" / name).read_text(encoding="ascii").strip()


def _as_is(text: str) -> str:
    return text


def hub_connect_ip() -> str:
    """The host's address on the labs bridge: where lab containers reach the hub API."""
    return str(ipaddress.ip_network(backend.DockerSettings().labs_subnet)[1])


def lab_command(settings: HubSettings) -> list[str]:
    return ["jupyterhub-singleuser", "--ServerApp.root_dir=/home/student/labs",
            f"--MappingKernelManager.cull_idle_timeout={settings.kernel_cull_idle_timeout}",
            "--MappingKernelManager.cull_interval=60"]


def configure(c: Any, body: dict[str, Any], python: str) -> HubSettings:
    settings = HubSettings.from_json(body)
    state = settings.state_dir
    from labchain.deploy.hub.auth import authenticator_class
    from labchain.deploy.hub.spawner import spawner_class

    # --- the hub process and its proxy (started separately: a hub restart keeps users connected)
    c.JupyterHub.bind_url = f"http://{settings.public_ip}:{settings.public_port}"
    c.JupyterHub.hub_bind_url = f"http://{hub_connect_ip()}:{settings.hub_port}"
    c.JupyterHub.hub_connect_ip = hub_connect_ip()
    c.ConfigurableHTTPProxy.should_start = False
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
    c.ConfigurableHTTPProxy.auth_token = read_secret(state, "proxy-token")
    c.JupyterHub.cookie_secret_file = str(state / "secrets" / "cookie-secret")
    c.JupyterHub.db_url = settings.database_url
    c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
    c.JupyterHub.cleanup_servers = False        # `hub down` / a restart leaves lab servers running
    c.JupyterHub.cleanup_proxy = False
    c.JupyterHub.concurrent_spawn_limit = settings.concurrent_spawn_limit
    c.JupyterHub.active_server_limit = 0
    c.JupyterHub.shutdown_on_logout = False
    c.JupyterHub.default_url = "/hub/home"
    c.JupyterHub.last_activity_interval = settings.activity_interval

    # --- who may log in
    if settings.authenticator == "local":
        c.JupyterHub.authenticator_class = authenticator_class()
        c.Authenticator.state_dir = str(state)
    else:  # lti13: launches from the LMS (labchain.deploy.hub.lti)
        from labchain.deploy.hub.lti import authenticator_class as lti_authenticator

        c.JupyterHub.authenticator_class = lti_authenticator()
        c.Authenticator.state_dir = str(state)
        c.LTI13Authenticator.issuer = settings.lti["issuer"]
        c.LTI13Authenticator.client_id = {settings.lti["client_id"]}
        c.LTI13Authenticator.authorize_url = settings.lti["authorize_url"]
        c.LTI13Authenticator.jwks_endpoint = settings.lti["jwks_endpoint"]
        c.LTI13Authenticator.username_key = "sub"   # hashed by the authenticator, never shown raw
    c.Authenticator.allow_all = True
    c.Authenticator.admin_users = set(settings.admin_users)

    # --- one lab container + one private testnet per student
    c.JupyterHub.spawner_class = spawner_class()
    c.DockerSpawner.image = settings.image
    c.DockerSpawner.pull_policy = "never"        # images come from `labchain images build`, not a registry
    c.DockerSpawner.remove = True                # the home volume keeps the student's work
    c.DockerSpawner.name_template = "lc-{username}-hublab"
    # user names are student ids, already limited to [a-z0-9_-] (checked by the spawner), so
    # they name containers and volumes as they are: lc-s001-hublab, lc-s001-lab-home
    c.DockerSpawner.escape = _as_is
    c.DockerSpawner.network_name = backend.LABS_NETWORK
    c.DockerSpawner.use_internal_ip = True
    c.DockerSpawner.volumes = {"lc-{username}-lab-home": "/home/student",   # made by the spawner
                               "lc-{username}-submit": OUTBOX}              # (volumes.py)
    c.DockerSpawner.read_only_volumes = {settings.release_volume: RELEASE,
                                         "lc-{username}-feedback": FEEDBACK}
    c.LabchainSpawner.release_volume = settings.release_volume
    c.DockerSpawner.cmd = lab_command(settings)
    c.DockerSpawner.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": str(settings.activity_interval)}
    c.DockerSpawner.mem_limit = settings.mem_limit_bytes
    c.DockerSpawner.cpu_limit = settings.cpu_limit
    c.DockerSpawner.extra_host_config = {
        "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"], "read_only": True,
        "tmpfs": {"/tmp": "rw,nosuid,nodev,size=64m"}, "pids_limit": settings.pids_limit,
        "init": True, "memswap_limit": settings.mem_limit_bytes,
    }
    c.DockerSpawner.extra_create_kwargs = {"labels": {
        backend.LABEL_STUDENT: "{username}", backend.LABEL_TESTNET: "{username}",
        backend.LABEL_ROLE: "hub-lab"}}
    c.LabchainSpawner.nodes = settings.nodes
    c.Spawner.start_timeout = 180
    c.Spawner.http_timeout = 180                # a loaded 2-core host took >90 s to answer

    # --- services: the admin token `labchain hub status` uses, and the idle culler
    c.JupyterHub.services = [
        {"name": ADMIN_SERVICE, "api_token": read_secret(state, "admin-token")},
        {"name": CULLER_SERVICE,
         "command": [python, "-m", "jupyterhub_idle_culler",
                     f"--timeout={settings.cull_idle_timeout}", f"--cull-every={settings.cull_every}"]},
    ]
    c.JupyterHub.load_roles = [
        {"name": ADMIN_SERVICE, "services": [ADMIN_SERVICE],
         "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "read:hub",
                    "list:users", "read:users"]},
        {"name": CULLER_SERVICE, "services": [CULLER_SERVICE],
         "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
    ]
    return settings
