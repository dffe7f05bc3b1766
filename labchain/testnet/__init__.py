"""Per-student testnets: several LabChain nodes on one machine (local processes or Docker).

``Testnet.start(nodes=4)`` / ``Testnet.connect()`` in Python, ``labchain testnet ...`` in a shell.
Modules: ``backend`` (the interface every backend implements), ``local`` (OS processes),
``docker`` (containers), ``testnet`` (topology, waits, partitions), ``cli``.
"""
from labchain.testnet.backend import Backend, NodeEndpoint, NodeSpec, TestnetError
from labchain.testnet.testnet import SyncTimeoutError, Testnet, TestnetNode, topology_edges

__all__ = ["Backend", "NodeEndpoint", "NodeSpec", "TestnetError", "SyncTimeoutError", "Testnet",
           "TestnetNode", "topology_edges"]
