# JupyterHub configuration of the LabChain class server (docs/hub.md). `labchain hub up` starts
# `jupyterhub -f <this file>` with LABCHAIN_HUB_SETTINGS naming the settings.json it wrote;
# every value below comes from those settings (labchain/deploy/hub/settings.py), none is edited here.
# ruff: noqa: F821 -- `c` is the config object JupyterHub passes to this file
import json
import os
import sys
from pathlib import Path

from labchain.deploy.hub.config import configure

configure(c, json.loads(Path(os.environ["LABCHAIN_HUB_SETTINGS"]).read_text(encoding="utf-8")),
          python=sys.executable)
