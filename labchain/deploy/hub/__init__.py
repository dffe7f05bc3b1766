"""The class server: JupyterHub with a lab server and a private Docker testnet per student.

``labchain hub up|status|down|passwd|release|gather|return-feedback|lti-jwks`` (docs/hub.md). Parts:

* :mod:`.settings` -- ``HubSettings``: one small YAML file of optional keys, checked up front;
* :mod:`.service` -- starts configurable-http-proxy and JupyterHub as two processes, checks
  ports, image and database first, waits for readiness; status through the hub's REST API;
* :mod:`.config` -- fills JupyterHub's config from the settings (``jupyterhub_config.py``);
* :mod:`.spawner` -- DockerSpawner + the student's testnet (up before spawn, stopped after);
* :mod:`.auth` -- the password-file authenticator for a class without an LMS;
* :mod:`.lti` -- LTI 1.3 launches (hashed student ids) and the tool key for grade passback;
* :mod:`.exchange` -- the student's side of the assignment flow: fetch a released lab, submit
  (every submission kept), read returned feedback;
* :mod:`.volumes` -- the host's side: the release, outbox and feedback volumes; release, gather
  (newest submission) and return feedback.

Terminology: *hub* (JupyterHub: logins, spawning, the REST API), *proxy*
(configurable-http-proxy: the one public port, routing ``/user/<id>/`` to each lab server),
*lab server* (``jupyterhub-singleuser`` in the student's ``labchain/lab`` container), *culler*
(``jupyterhub-idle-culler``, a hub-managed service stopping idle servers).

Simplifications versus a production deployment (Zero to JupyterHub): one host; plain HTTP on
the public port (put TLS in front: docs/hub.md); the browser test and the login-storm
benchmark are not built yet (issue #14, see docs/hub.md).
"""
from labchain.deploy.hub.settings import HubConfigError, HubError, HubSettings, load_settings

__all__ = ["HubConfigError", "HubError", "HubSettings", "load_settings"]
