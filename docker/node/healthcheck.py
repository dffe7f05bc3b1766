"""Docker HEALTHCHECK for a labchain/node container: healthy when JSON-RPC answers.

Calls ``getblockcount`` on the node's own RPC port (``LABCHAIN_RPC_PORT``, default 18443) and
exits 0 when the answer is a JSON-RPC result, 1 otherwise (docker then counts a failure).

It runs every 15 s in every node container (60 of them for a class of 20), so it stays cheap:
``python -I -S`` (no site-packages) and ``http.client`` rather than ``urllib.request``, which
halves the interpreter's start-up work.
"""
import http.client
import json
import os
import sys


def main() -> int:
    port = int(os.environ.get("LABCHAIN_RPC_PORT", "18443"))
    body = json.dumps({"jsonrpc": "2.0", "id": "health", "method": "getblockcount", "params": []})
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
        reply = json.loads(conn.getresponse().read())
        conn.close()
    except (OSError, ValueError, http.client.HTTPException) as exc:
        print(f"unhealthy: {exc}")
        return 1
    if not isinstance(reply, dict) or "result" not in reply or reply.get("error"):
        print(f"unhealthy: {reply}")
        return 1
    print(f"healthy: height {reply['result']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
