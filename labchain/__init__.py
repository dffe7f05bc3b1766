"""LabChain: a teaching blockchain with real cryptography, real networked nodes and graded labs.

Start with ``docs/ARCHITECTURE.md`` for the layers; every module's docstring explains its
terms and lists how it simplifies real chains.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("labchain")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
