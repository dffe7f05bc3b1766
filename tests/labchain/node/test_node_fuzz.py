"""Property-based fuzzing against a real node process: random JSON-RPC parameters and random
P2P frames. The node must answer every call with a result or a JSON-RPC error object, cut off
every peer that sends garbage, and keep serving everyone."""
from __future__ import annotations

import json
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labchain.node.messages import MESSAGE_TYPES, Envelope
from labchain.node.process import NodeProcess

from node_helpers import peer_names, wait_until

#: Methods fuzzed; ``stop`` is left out (it ends the node, by design). ``generate``/``revert``/
#: ``setmining``... are included: their parameters are checked before anything happens.
METHODS = ["getblockcount", "getbestblockhash", "getblock", "getblockchaininfo", "gettransaction",
           "sendrawtransaction", "getmempool", "getbalance", "listunspent", "listaccounts",
           "sendtoaddress", "generate", "setmining", "getpeerinfo", "addpeer", "disconnectpeer",
           "snapshot", "revert", "setmocktime", "increasetime", "invalidateblock", "help"]

json_scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True)
                | st.text(max_size=80) | st.sampled_from(["", "0" * 64, "zz", "ab" * 32, "127.0.0.1:1"]))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8)

#: A valid clock far ahead is not bad input: the target then mines blocks its honest peer
#: rightly refuses as too far in the future, and once its clock is set back the target cannot
#: mine on them until real time catches up (as in Bitcoin). So valid clock moves stay in the
#: past or a minute ahead; invalid ones (negative, huge, wrong type) are fuzzed as they come.
CLOCK_METHODS = ("setmocktime", "increasetime")

COUNTS = {"rpc calls": 0, "rpc errors": 0, "rpc results": 0, "raw bodies": 0, "p2p frames": 0,
          "p2p disconnects": 0}


@pytest.fixture(scope="module")
def fuzz_nodes(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    target = NodeProcess.start(base / "target", index=0)
    honest = NodeProcess.start(base / "honest", index=1, peers=(target.p2p_addr,))
    wait_until(lambda: "node1" in peer_names(target), what="honest peer to connect")
    yield target, honest
    target.kill()
    honest.kill()


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(METHODS),
       params=st.one_of(st.lists(json_values, max_size=5), st.dictionaries(st.text(max_size=10), json_values,
                                                                           max_size=4), json_scalars))
def test_fuzz_rpc_params_always_get_a_result_or_an_error_object(fuzz_nodes, method, params):
    target, _ = fuzz_nodes
    if method in ("generate",) and isinstance(params, list) and params and type(params[0]) is int \
            and params[0] > 20:
        params = [20] + params[1:]  # valid but slow: mining 10 000 blocks is not the point here
    if method == "setmining" and isinstance(params, list) and params and params[0] == "interval":
        params = ["manual"]
    if method in CLOCK_METHODS and isinstance(params, list) and params and type(params[0]) is int \
            and params[0] > 0:
        params = [min(params[0], int(time.time())) if method == "setmocktime"
                  else params[0] % 60] + params[1:]
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    reply = target.rpc.post(body)
    COUNTS["rpc calls"] += 1
    assert reply["id"] == 1
    if "error" in reply:
        COUNTS["rpc errors"] += 1
        assert type(reply["error"]["code"]) is int
        assert isinstance(reply["error"]["message"], str) and len(reply["error"]["message"]) > 10
        assert reply["error"]["code"] != -32603, f"internal error: {reply['error']['message']}"
    else:
        COUNTS["rpc results"] += 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200) | st.text(max_size=100).map(str.encode))
def test_fuzz_raw_http_bodies_get_an_error_object(fuzz_nodes, body):
    target, _ = fuzz_nodes
    COUNTS["raw bodies"] += 1
    try:
        reply = target.rpc.post(body)
    except Exception as exc:  # noqa: BLE001 - report it as a failure with the input
        raise AssertionError(f"body {body!r} broke the connection: {exc}") from None
    if isinstance(reply, dict) and "result" in reply:
        return  # the random body happened to be a valid call
    if reply is None:
        return  # a valid notification-only body: no reply, as JSON-RPC 2.0 says
    errors = reply if isinstance(reply, list) else [reply]
    assert all("error" in r and isinstance(r["error"]["message"], str) for r in errors)


frames = st.one_of(
    st.binary(max_size=120).map(lambda b: struct.pack("<I", len(b)) + b),
    st.tuples(st.sampled_from(sorted(MESSAGE_TYPES)), st.binary(max_size=120)).map(
        lambda cb: (lambda p: struct.pack("<I", len(p)) + p)(Envelope(cb[0], cb[1]).to_bytes())),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(frames)
def test_fuzz_p2p_frames_from_a_peer_never_take_the_node_down(fuzz_nodes, raw_peer, frame):
    target, _ = fuzz_nodes
    peer = raw_peer(target, name=b"fuzzer")
    peer.sock.settimeout(0.3)
    peer.send_raw(frame)
    COUNTS["p2p frames"] += 1
    if peer.closed_by_node():  # else the frame was a valid message (e.g. a well-formed ping)
        COUNTS["p2p disconnects"] += 1
    peer.close()


def test_after_fuzzing_the_node_serves_and_keeps_its_honest_peer(fuzz_nodes):
    target, honest = fuzz_nodes
    target.rpc.setmining("manual")
    assert target.running
    # a fuzzed `disconnectpeer 1` may have dropped it: it redials (``--peer``) within a second
    wait_until(lambda: "node1" in peer_names(target), what="the honest peer to be connected")
    tip = target.rpc.generate(1)[0]
    wait_until(lambda: honest.rpc.getbestblockhash() == tip, what="relay after fuzzing")
    print(f"\nRPC/P2P fuzz against a live node: {COUNTS}")
    assert COUNTS["rpc errors"] > 0 and COUNTS["p2p disconnects"] > 0

