"""JSON-RPC 2.0 over HTTP: the server inside a node and the client notebooks use.

Terminology
-----------
method
    A name from the node's contract (``getblockcount``, ``sendtoaddress``...) with declared
    parameters (:class:`Param`). Parameters may be given by position (a JSON array) or by name
    (a JSON object), as JSON-RPC 2.0 allows.
error object
    ``{"code": int, "message": str}``. Codes follow JSON-RPC 2.0 for protocol errors and
    Bitcoin Core's ``RPC_*`` numbers for application errors (:class:`Code`); the message is a
    sentence a student can act on.

The server is a deliberately small HTTP/1.1 implementation on asyncio streams (keep-alive,
``Content-Length`` bodies, POST only): it runs on the node's event loop, so every method sees
the chain from the same single thread.

Simplifications: no authentication (loopback only, like a personal dev chain such as
Ganache), no chunked request bodies, no notifications over websockets.
"""
from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import time
import urllib.parse
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from labchain.core.errors import LabchainError

if TYPE_CHECKING:  # the client imports it when used: node processes never load it (RAM)
    import http.client

log = logging.getLogger("labchain.rpc")

MAX_REQUEST_BYTES = 4 * 1024 * 1024   # a raw transaction in hex fits many times over
MAX_BATCH = 1000
MAX_JSON_DEPTH = 32                   # arrays/objects inside each other; real calls need 3
READ_TIMEOUT_SECONDS = 60.0


class Code(IntEnum):
    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    MISC_ERROR = -1                  # Bitcoin: RPC_MISC_ERROR
    INVALID_ADDRESS_OR_KEY = -5      # Bitcoin: unknown block/tx/address
    INSUFFICIENT_FUNDS = -6          # Bitcoin: RPC_WALLET_INSUFFICIENT_FUNDS
    INVALID_PARAMETER = -8           # Bitcoin: RPC_INVALID_PARAMETER
    DESERIALIZATION_ERROR = -22      # Bitcoin: RPC_DESERIALIZATION_ERROR
    VERIFY_REJECTED = -26            # Bitcoin: RPC_VERIFY_REJECTED
    VERIFY_ALREADY_IN_CHAIN = -27    # Bitcoin: RPC_VERIFY_ALREADY_IN_CHAIN
    CLIENT_NODE_NOT_CONNECTED = -29  # Bitcoin: peer not found


class RpcError(LabchainError):
    """An RPC call that failed: raised by methods on the server, and by the client."""

    def __init__(self, code: int, message: str, method: str | None = None, obj: Any = None) -> None:
        super().__init__(message, obj)
        self.code = int(code)
        self.method = method

    def __str__(self) -> str:
        """``method: sentence (code N)``; the sentence in the *reader's* language.

        The node always sends the English sentence (it serves many clients, each with its own
        ``LABCHAIN_LANG``); the client translates it here, through the same catalog as a local
        error (:mod:`labchain.i18n.messages`), so a zh-CN notebook reads the refusal in Chinese.
        """
        where = f"{self.method}: " if self.method else ""
        text = LabchainError.__str__(self)      # translated when LABCHAIN_LANG asks for it
        if text != self.message:
            return f"{where}{text}（错误码 {self.code}）"
        return f"{where}{self.message} (code {self.code})"


class RpcConnectionError(LabchainError, ConnectionError):
    """The node did not answer at all (not started, stopped, or crashed)."""


# --- parameter checking -------------------------------------------------------------------

_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})*$")


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int subclass: refused


def _check(kind: str, name: str, value: Any) -> Any:
    """``value`` converted for parameter ``name`` of type ``kind``, or an RpcError."""
    def bad(expected: str) -> RpcError:
        shown = json.dumps(value)[:40] if _jsonable(value) else repr(value)[:40]
        return RpcError(Code.INVALID_PARAMS, f"parameter '{name}' must be {expected}, got {shown}")

    if kind == "int":
        if not _is_int(value):
            raise bad("an integer")
    elif kind in ("count", "amount", "seconds", "height"):
        if not _is_int(value) or value < 0:
            raise bad("a non-negative integer" + (" number of base units" if kind == "amount" else ""))
        if value > 2**63 - 1:
            raise bad("an integer below 2**63")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise bad("true or false")
    elif kind == "str":
        if not isinstance(value, str):
            raise bad("a string")
    elif kind == "hex":
        if not isinstance(value, str) or not _HEX.match(value):
            raise bad("a hex string (an even number of 0-9/a-f digits)")
    elif kind == "hash":
        if not isinstance(value, str) or len(value) != 64 or not _HEX.match(value):
            raise bad("a 64-digit hex hash")
    elif kind == "hash_or_height":
        if _is_int(value):
            if value < 0:
                raise bad("a block hash or a non-negative height")
        elif not isinstance(value, str) or len(value) != 64 or not _HEX.match(value):
            raise bad("a block hash (64 hex digits) or a height (integer)")
    elif kind == "number":
        if not (_is_int(value) or isinstance(value, float)) or value != value or value < 0:
            raise bad("a non-negative number")
    elif kind == "any":
        pass
    else:  # pragma: no cover - a programming error in a method declaration
        raise ValueError(f"unknown parameter kind {kind}")
    return value


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    required: bool = True
    default: Any = None
    help: str = ""


@dataclass(frozen=True)
class Method:
    name: str
    func: Callable[..., Any | Awaitable[Any]]
    params: tuple[Param, ...] = ()
    help: str = ""

    def bind(self, raw: Any) -> list[Any]:
        """Positional arguments for ``func`` from JSON-RPC ``params`` (array, object or absent)."""
        if raw is None:
            raw = []
        if isinstance(raw, dict):
            unknown = [k for k in raw if k not in {p.name for p in self.params}]
            if unknown:
                raise RpcError(Code.INVALID_PARAMS, f"{self.name} has no parameter named "
                               f"{unknown[0]!r}; its parameters are: {self.usage()}")
            values = [raw.get(p.name, _MISSING) for p in self.params]
        elif isinstance(raw, list):
            if len(raw) > len(self.params):
                raise RpcError(Code.INVALID_PARAMS, f"{self.name} takes at most {len(self.params)} "
                               f"parameter(s) ({self.usage()}), got {len(raw)}")
            values = list(raw) + [_MISSING] * (len(self.params) - len(raw))
        else:
            raise RpcError(Code.INVALID_REQUEST, "'params' must be a JSON array or object")
        args = []
        for param, value in zip(self.params, values):
            if value is _MISSING or (value is None and not param.required):
                if param.required:
                    raise RpcError(Code.INVALID_PARAMS, f"{self.name} needs parameter "
                                   f"'{param.name}' ({self.usage()})")
                args.append(param.default)
            else:
                args.append(_check(param.kind, param.name, value))
        return args

    def usage(self) -> str:
        if not self.params:
            return "none"
        return ", ".join(p.name if p.required else f"[{p.name}]" for p in self.params)


_MISSING = object()


# --- the server ---------------------------------------------------------------------------

class RpcServer:
    """HTTP JSON-RPC 2.0 server on the running asyncio loop."""

    def __init__(self, methods: dict[str, Method], host: str = "127.0.0.1", port: int = 0) -> None:
        self.methods = methods
        self.host, self.port = host, port
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.requests = 0
        self.metrics = None   # a labchain.node.metrics.NodeMetrics: GET /metrics and RPC timing

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("JSON-RPC listening on %s", self.url)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
        for writer in list(self._writers):  # idle keep-alive connections
            writer.close()
        await asyncio.sleep(0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await asyncio.wait_for(_read_http_request(reader), READ_TIMEOUT_SECONDS)
                if request is None:
                    break
                status, body, keep_alive = request
                content_type = "application/json"
                if status == 200:
                    body = await self.handle_body(body)
                elif status == GET_METRICS:
                    status, body, content_type = self._metrics_response()
                _write_http_response(writer, status, body, keep_alive, content_type)
                await writer.drain()
                if not keep_alive:
                    break
        except (asyncio.TimeoutError, ConnectionError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, OSError, asyncio.CancelledError):
            pass  # the client went away, or the node is stopping
        finally:
            self._writers.discard(writer)
            writer.close()

    async def handle_body(self, body: bytes) -> bytes:
        """The JSON response to one HTTP request body (a call or a batch)."""
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return _dump(_error_response(None, RpcError(
                Code.PARSE_ERROR, f"the request body is not valid JSON: {exc}")))
        except RecursionError:  # deeper than the interpreter's stack: json gave up
            request = _TOO_DEEP
        if request is _TOO_DEEP or _too_deep(request):
            return _dump(_error_response(None, RpcError(
                Code.PARSE_ERROR, f"the request nests JSON arrays/objects more than "
                f"{MAX_JSON_DEPTH} levels deep, the limit of this node")))
        if isinstance(request, list):
            if not request or len(request) > MAX_BATCH:
                return _dump(_error_response(None, RpcError(
                    Code.INVALID_REQUEST, f"a batch must hold 1 to {MAX_BATCH} calls")))
            responses = [await self.call(r) for r in request]
            return _dump([r for r in responses if r is not None] or None)
        return _dump(await self.call(request))

    def _metrics_response(self) -> tuple[int, bytes, str]:
        if self.metrics is None:
            return 404, _dump(_error_response(None, RpcError(
                Code.INVALID_REQUEST, "this server has no metrics"))), "application/json"
        try:
            body, content_type = self.metrics.exposition()
        except Exception as exc:  # a bug: say so, keep serving
            log.exception("internal error writing /metrics")
            return 500, _dump(_error_response(None, RpcError(
                Code.INTERNAL_ERROR, f"internal error in /metrics: {type(exc).__name__}: {exc}"))), \
                "application/json"
        return 200, body, content_type

    async def call(self, request: Any) -> dict | None:
        """Run one JSON-RPC request object; never raises. Timed per method for /metrics."""
        if self.metrics is None:
            return await self._call(request)
        start = time.perf_counter()
        response = await self._call(request)
        name = request.get("method") if isinstance(request, dict) else None
        self.metrics.rpc_call(name if isinstance(name, str) and name in self.methods else "unknown",
                              time.perf_counter() - start, bool(response and "error" in response))
        return response

    async def _call(self, request: Any) -> dict | None:
        self.requests += 1
        if not isinstance(request, dict):
            return _error_response(None, RpcError(Code.INVALID_REQUEST,
                                                  "a JSON-RPC request must be a JSON object"))
        req_id = request.get("id")
        if not (req_id is None or isinstance(req_id, (str, int, float)) and not isinstance(req_id, bool)):
            req_id = None
        name = request.get("method")
        try:
            if not isinstance(name, str):
                raise RpcError(Code.INVALID_REQUEST, "the request has no 'method' string")
            method = self.methods.get(name)
            if method is None:
                hint = _closest(name, self.methods)
                raise RpcError(Code.METHOD_NOT_FOUND, f"there is no method {name[:40]!r}"
                               + (f"; did you mean {hint!r}?" if hint else ""))
            args = method.bind(request.get("params"))
            result = method.func(*args)
            if inspect.isawaitable(result):
                result = await result
        except RpcError as exc:
            exc.method = exc.method or (name if isinstance(name, str) else None)
            return _error_response(req_id, exc)
        except LabchainError as exc:
            return _error_response(req_id, RpcError(_code_for(exc), exc.message))  # English: clients translate
        except Exception as exc:  # a bug: report it, keep serving
            log.exception("internal error in RPC %r", name)
            return _error_response(req_id, RpcError(
                Code.INTERNAL_ERROR, f"internal error in {name}: {type(exc).__name__}: {exc}"))
        if "id" not in request:
            return None  # a notification: no response
        return {"jsonrpc": "2.0", "id": req_id, "result": result}


_TOO_DEEP = object()


def _too_deep(value: Any) -> bool:
    """Does ``value`` nest lists/dicts more than :data:`MAX_JSON_DEPTH` levels? (no recursion,
    so a deep request cannot exhaust the stack of the code that handles it)"""
    level, depth = [value], 0
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            return True
        inner = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
            inner += [c for c in children if isinstance(c, (list, dict))]
        level = inner
    return False


def _code_for(exc: LabchainError) -> int:
    from labchain.core import errors

    if isinstance(exc, (errors.UnknownBlockError, errors.UnknownTransactionError, errors.AddressError)):
        return Code.INVALID_ADDRESS_OR_KEY
    if isinstance(exc, errors.InsufficientFundsError):
        return Code.INSUFFICIENT_FUNDS
    if isinstance(exc, errors.EncodingError):
        return Code.DESERIALIZATION_ERROR
    if isinstance(exc, errors.ValidationError):
        return Code.VERIFY_REJECTED
    return Code.MISC_ERROR


def _closest(name: str, methods: dict) -> str | None:
    import difflib

    match = difflib.get_close_matches(name.lower(), list(methods), n=1, cutoff=0.7)
    return match[0] if match else None


def _error_response(req_id: Any, exc: RpcError) -> dict:
    return {"jsonrpc": "2.0", "id": req_id, "error": {"code": exc.code, "message": exc.message}}


def _dump(obj: Any) -> bytes:
    return b"" if obj is None else json.dumps(obj).encode()


async def _read_http_request(reader: asyncio.StreamReader) -> tuple[int, bytes, bool] | None:
    """(status, body, keep_alive) of the next request; None at end of stream.

    A status other than 200 means the request is refused with that HTTP status and the body
    is the JSON error to send.
    """
    try:
        line = await reader.readuntil(b"\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        return 400, _dump(_error_response(None, RpcError(Code.INVALID_REQUEST, "request line too long"))), False
    parts = line.decode("latin-1").split()
    headers: dict[str, str] = {}
    for _ in range(100):
        raw = await reader.readuntil(b"\r\n")
        if raw == b"\r\n":
            break
        key, _, value = raw.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    else:
        return 431, _dump(_error_response(None, RpcError(Code.INVALID_REQUEST, "too many headers"))), False
    version = parts[2] if len(parts) == 3 else "HTTP/1.0"
    keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
    if len(parts) == 3 and parts[0] == "GET" and parts[1].split("?")[0] == "/metrics":
        return GET_METRICS, b"", keep_alive   # Prometheus scrapes (GET, no body)
    if len(parts) != 3 or parts[0] != "POST":
        return 405, _dump(_error_response(None, RpcError(
            Code.INVALID_REQUEST, "send JSON-RPC requests with HTTP POST"))), False
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        length = -1
    if not 0 <= length <= MAX_REQUEST_BYTES:
        return 413, _dump(_error_response(None, RpcError(
            Code.INVALID_REQUEST, f"the request body must have a Content-Length of at most "
            f"{MAX_REQUEST_BYTES} bytes"))), False
    body = await reader.readexactly(length)
    return 200, body, keep_alive


#: the status :func:`_read_http_request` gives a ``GET /metrics`` (not an HTTP status)
GET_METRICS = 0

_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large", 431: "Request Header Fields Too Large", 500: "Internal Server Error"}


def _write_http_response(writer: asyncio.StreamWriter, status: int, body: bytes, keep_alive: bool,
                         content_type: str = "application/json") -> None:
    if status == 200 and not body:
        status = 204
    head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n")
    writer.write(head.encode() + body)


# --- the client ---------------------------------------------------------------------------

class RpcClient:
    """Calls a node's JSON-RPC methods as Python methods: ``RpcClient(url).getblockcount()``.

    Positional arguments become a JSON array, keyword arguments a JSON object (not both).
    Errors are raised as :class:`RpcError` carrying the node's code and sentence.
    """

    def __init__(self, url: str, timeout: float = 60.0, label: str = "") -> None:
        self.url = url
        self.timeout = timeout
        self.label = label
        parts = urllib.parse.urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._path = parts.path or "/"
        self._conn: http.client.HTTPConnection | None = None
        self._ids = 0

    def __repr__(self) -> str:
        return f"RpcClient({self.url!r})"

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def method(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, *args, **kwargs)

        method.__name__ = name
        return method

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if args and kwargs:
            raise TypeError("pass RPC parameters by position or by name, not both")
        self._ids += 1
        request = {"jsonrpc": "2.0", "id": self._ids, "method": method,
                   "params": kwargs if kwargs else list(args)}
        reply = self.post(json.dumps(request).encode(), method)
        if not isinstance(reply, dict):
            raise RpcError(Code.INTERNAL_ERROR, f"unexpected reply {reply!r}", method)
        if reply.get("error"):
            err = reply["error"]
            raise RpcError(err.get("code", Code.MISC_ERROR), err.get("message", "?"), self._where(method))
        return reply.get("result")

    def _where(self, method: str) -> str:
        return f"{self.label} {method}" if self.label else method

    def post(self, body: bytes, method: str = "") -> Any:
        """POST raw bytes; the decoded JSON reply (None for an empty 204 reply)."""
        import http.client

        for attempt in (1, 2):  # a kept-alive connection the server closed: retry once
            try:
                if self._conn is None:
                    self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
                self._conn.request("POST", self._path, body, {"Content-Type": "application/json"})
                response = self._conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return json.loads(data) if data else None
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if attempt == 2 or method == "stop":
                    raise RpcConnectionError(f"the node at {self.url} closed the connection during "
                                             f"{method or 'a request'}: {exc}") from None
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise RpcConnectionError(f"cannot reach the node at {self.url} ({method or 'request'}): "
                                         f"{exc}. Is it running?") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
