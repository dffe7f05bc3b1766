"""LabChain's networked node: P2P relay, JSON-RPC and the process handle.

Modules: ``messages`` (wire format), ``p2p`` (connections, handshake, misbehaviour),
``rpc`` (JSON-RPC 2.0 server and client), ``methods`` (the RPC contract), ``payments``
(``sendtoaddress``), ``accounts`` (deterministic funded accounts), ``node`` (the node itself),
``process`` (``NodeProcess``: start/stop a node process, like Bitcoin Core's TestNode),
``cli`` (``labchain node``). See docs/node.md.
"""
