"""Docker HEALTHCHECK for a labchain/node container: healthy when JSON-RPC answers.

Calls ``getblockcount`` on the node's own RPC port (``LABCHAIN_RPC_PORT``, default 18443) and
exits 0 when the answer is a JSON-RPC result, 1 otherwise (docker then counts a failure).
"""
import json
import os
import sys
import urllib.request


def main() -> int:
    port = int(os.environ.get("LABCHAIN_RPC_PORT", "18443"))
    body = json.dumps({"jsonrpc": "2.0", "id": "health", "method": "getblockcount", "params": []})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/", data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            reply = json.load(response)
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}")
        return 1
    if "result" not in reply or reply.get("error"):
        print(f"unhealthy: {reply}")
        return 1
    print(f"healthy: height {reply['result']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
