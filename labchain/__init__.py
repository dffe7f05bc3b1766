"""LabChain: a teaching blockchain with real cryptography, real networked nodes and graded labs.

Start with ``docs/ARCHITECTURE.md`` for the layers; every module's docstring explains its
terms and lists how it simplifies real chains.
"""


def __getattr__(name: str) -> str:
    """``labchain.__version__``, looked up on first use: ``importlib.metadata`` costs every
    process that imports labchain (each testnet node) about 1.5 MiB and a scan of site-packages."""
    if name != "__version__":
        raise AttributeError(f"module 'labchain' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("labchain")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0+source"
