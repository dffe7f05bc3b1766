"""The explorer's HTTP side: Tornado handlers rendering Jinja2 templates.

Every page is rendered on the server; the overview and the nodes page refresh one fragment by
polling (``/n/<net>/live``, a little JavaScript in ``static/explorer.js``), so a new block or a
fork appears without reloading. RPC reads run in a thread pool: a slow or dead node never
blocks the event loop. Errors are pages: 400 (malformed input), 404 (unknown block,
transaction, network or path), 403 (console without its token), 503 (no node answers); the
traceback never reaches the browser (Tornado's ``serve_traceback`` stays off).
"""
from __future__ import annotations

import datetime
import hmac
import json
import logging
import math
import time
from typing import Any, Callable
from urllib.parse import quote, urlencode

import jinja2
import tornado.web
from tornado.ioloop import IOLoop

from labchain.core.errors import LabchainError
from labchain.core.params import COIN
from labchain.explorer import data
from labchain.explorer.i18n import STATIC_DIR, TEMPLATE_DIR, translator
from labchain.i18n import LANGUAGES, LanguageError, current_language, normalize_language

log = logging.getLogger("labchain.explorer")
POLL_MS = 1000          # how often the live fragments refresh
LANG_COOKIE = "labchain_lang"
TOKEN_COOKIE = "labchain_console"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
                             autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["short"] = lambda h, n=12: (h[:n] + "…") if h and len(h) > n else (h or "")
    env.filters["amount"] = lambda v: f"{v / COIN:,.8f}".rstrip("0").rstrip(".") if v is not None else "-"
    env.filters["utc"] = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S") if t else "-"
    env.filters["mib"] = lambda b: f"{b / 2**20:.0f} MiB" if b is not None else "-"
    return env


class Explorer:
    """The application: networks by name, the optional class console, the Tornado app."""

    def __init__(self, networks: dict[str, data.Network] | None = None, console: Any = None,
                 poll_ms: int = POLL_MS) -> None:
        self.networks: dict[str, data.Network] = dict(networks or {})
        self.console = console
        self.poll_ms = poll_ms
        self.env = _env()

    def network(self, name: str) -> data.Network:
        net = self.networks.get(name)
        if net is None and self.console is not None:
            net = self.console.network(name)  # a student's testnet, known to the console
        if net is None:
            raise data.NotFoundError(f"there is no network {name[:40]!r} in this explorer", name)
        return net

    def is_console_network(self, name: str) -> bool:
        """A student's network reached through the console: it needs the console's token too."""
        return name not in self.networks

    def render(self, template: str, lang: str, **context: Any) -> str:
        return self.env.get_template(template).render(_=translator(lang), lang=lang,
                                                      languages=LANGUAGES, poll_ms=self.poll_ms,
                                                      **context)

    def app(self, **settings: Any) -> tornado.web.Application:
        net = r"/n/(?P<net>[A-Za-z0-9._-]{1,64})"
        routes = [
            (r"/", RootHandler),
            (net + r"/?", OverviewHandler),
            (net + r"/live", LiveHandler),
            (net + r"/block/(?P<key>[^/]+)", BlockHandler),
            (net + r"/tx/(?P<txid>[^/]+)", TxHandler),
            (net + r"/address/(?P<address>[^/]+)", AddressHandler),
            (net + r"/mempool", MempoolHandler),
            (net + r"/nodes", NodesHandler),
            (net + r"/search", SearchHandler),
            (net + r"/api/summary", SummaryApiHandler),
            (r"/class/?", ConsoleHandler),
            (r"/static/(.*)", tornado.web.StaticFileHandler, {"path": str(STATIC_DIR)}),
        ]
        return tornado.web.Application(routes, explorer=self, default_handler_class=MissingHandler,
                                       serve_traceback=False, **settings)

    def close(self) -> None:
        for net in self.networks.values():
            net.close()


class Page(tornado.web.RequestHandler):
    """Language, rendering in a thread, and error pages for every handler."""

    @property
    def explorer(self) -> Explorer:
        return self.settings["explorer"]

    def language(self) -> str:
        asked = self.get_query_argument("lang", None)
        if asked:
            try:
                lang = normalize_language(asked)
            except LanguageError as exc:
                raise data.BadQueryError(str(exc), asked) from None
            self.set_cookie(LANG_COOKIE, lang, path="/", samesite="Lax")
            return lang
        try:
            return normalize_language(self.get_cookie(LANG_COOKIE) or current_language())
        except LanguageError:
            return current_language()

    def network(self, name: str) -> data.Network:
        net = self.explorer.network(name)
        if self.explorer.is_console_network(name):
            self.check_token()
        return net

    def check_token(self) -> None:
        """Raise ConsoleTokenError (403) unless the request carries the console's token; a token
        given in the URL is kept in a cookie so the console's links keep working."""
        console = self.explorer.console
        in_url = self.get_query_argument("token", None)
        given = (in_url or self.get_cookie(TOKEN_COOKIE) or
                 self.request.headers.get("Authorization", "").removeprefix("Bearer ").strip())
        if console is None or not given or not hmac.compare_digest(given.encode(), console.token.encode()):
            raise ConsoleTokenError("the class console needs the instructor's token "
                                    "(/class?token=..., printed by labchain explorer --class)", None)
        if in_url:
            self.set_cookie(TOKEN_COOKIE, given, path="/", httponly=True, samesite="Strict")

    def lang_links(self) -> dict[str, str]:
        args = {k: self.get_query_argument(k) for k in self.request.query_arguments if k not in ("lang", "token")}
        return {lang: self.request.path + "?" + urlencode(dict(args, lang=lang)) for lang in LANGUAGES}

    async def page(self, template: str, work: Callable[[], dict], net: str | None = None) -> None:
        lang = self.language()
        network = self.network(net) if net else None
        started = time.perf_counter()
        context = await IOLoop.current().run_in_executor(None, lambda: work(network) if net else work())
        fetched = time.perf_counter()
        html = self.explorer.render(template, lang, net=net, lang_links=self.lang_links(), **context)
        done = time.perf_counter()
        # W3C Server-Timing: RPC reads and template rendering (bench/bench_explorer.py reads it)
        self.set_header("Server-Timing", f"rpc;dur={(fetched - started) * 1e3:.2f}, "
                                         f"render;dur={(done - fetched) * 1e3:.2f}")
        self.finish(html)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = str(exc) if isinstance(exc, LabchainError) else ""
        if isinstance(exc, tornado.web.HTTPError):
            message = exc.log_message or ""
        try:
            lang = self.language()
        except data.ExplorerError:
            lang = "en"
        net = self.path_kwargs.get("net") if self.path_kwargs else None
        self.finish(self.explorer.render("error.html", lang, status=status_code, message=message,
                                         net=net if net in self.explorer.networks else None,
                                         lang_links={}))

    def _handle_request_exception(self, e: BaseException) -> None:
        status = _status(e)
        if status:
            self.send_error(status, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)


def _status(exc: BaseException) -> int | None:
    if isinstance(exc, data.NotFoundError):
        return 404
    if isinstance(exc, data.BadQueryError):
        return 400
    if isinstance(exc, data.NetworkDownError):
        return 503
    if isinstance(exc, PermissionError):
        return 403
    if isinstance(exc, LabchainError):  # e.g. the console's Docker engine does not answer
        return 502
    return None


class MissingHandler(Page):
    def prepare(self) -> None:
        raise data.NotFoundError(f"there is no page {self.request.path[:80]!r}", self.request.path)


class RootHandler(Page):
    def get(self) -> None:
        if len(self.explorer.networks) == 1:
            self.redirect("/n/" + quote(next(iter(self.explorer.networks))) + "/")
            return
        lang = self.language()
        self.finish(self.explorer.render("index.html", lang, net=None, lang_links=self.lang_links(),
                                         networks=sorted(self.explorer.networks),
                                         console=self.explorer.console is not None))


def overview_context(network: data.Network) -> dict:
    snap = network.snapshot()
    return {"snap": snap, "blocks": network.recent_blocks(snap), "tree": fork_drawing(network.fork_tree(snap)),
            "network": network}


class OverviewHandler(Page):
    async def get(self, net: str) -> None:
        await self.page("overview.html", overview_context, net)


class LiveHandler(Page):
    """The fragment the overview's script swaps in (same template part as the full page)."""

    async def get(self, net: str) -> None:
        await self.page("live.html", overview_context, net)


class SummaryApiHandler(Page):
    """Heights and tips as JSON (for scripts; the pages do not need it)."""

    async def get(self, net: str) -> None:
        network = self.network(net)
        snap = await IOLoop.current().run_in_executor(None, network.snapshot)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"network": net, "nodes": [
            {"name": s.name, "up": s.up, "height": s.height, "tip": s.tip, "error": s.error} for s in snap.nodes]}))


class BlockHandler(Page):
    async def get(self, net: str, key: str) -> None:
        if key.isdigit() and len(key) <= 12:
            wanted: str | int = int(key)
        else:
            wanted = data.check_hash(key)

        def work(network: data.Network) -> dict:
            snap = network.snapshot()
            return {"block": network.block(wanted, snap), "snap": snap}

        await self.page("block.html", work, net)


class TxHandler(Page):
    async def get(self, net: str, txid: str) -> None:
        txid = data.check_hash(txid)

        def work(network: data.Network) -> dict:
            snap = network.snapshot()
            info = network.transaction(txid, snap)
            inputs = []
            for inp in info["tx"]["inputs"]:
                prev = inp["prevout"]
                row = {"txid": prev["txid"], "index": prev["index"], "address": None, "amount": None}
                try:
                    spent = network.transaction(prev["txid"], snap)["tx"]["outputs"][prev["index"]]
                    row.update(address=spent["address"], amount=spent["amount"])
                except (data.NotFoundError, IndexError):
                    pass
                inputs.append(row)
            if info.get("fee") is None and inputs and all(i["amount"] is not None for i in inputs):
                # a confirmed transaction's fee: what its inputs spend minus what it pays out
                info["fee"] = sum(i["amount"] for i in inputs) - sum(o["amount"] for o in info["tx"]["outputs"])
            return {"info": info, "inputs": inputs, "snap": snap}

        await self.page("tx.html", work, net)


class AddressHandler(Page):
    async def get(self, net: str, address: str) -> None:
        kind, _ = data.classify(address)
        if kind != "address":
            raise data.BadQueryError(f"{address[:70]!r} is not an address", address)

        def work(network: data.Network) -> dict:
            snap = network.snapshot()
            return {"info": network.address(address, snap), "snap": snap}

        await self.page("address.html", work, net)


class MempoolHandler(Page):
    async def get(self, net: str) -> None:
        def work(network: data.Network) -> dict:
            snap = network.snapshot()
            txs = network.mempool(snap)
            return {"txs": txs, "snap": snap,
                    "total_out": sum(o["amount"] for t in txs for o in t["outputs"])}

        await self.page("mempool.html", work, net)


class NodesHandler(Page):
    async def get(self, net: str) -> None:
        def work(network: data.Network) -> dict:
            snap = network.snapshot()
            return {"snap": snap, "graph": graph_drawing(network.peer_graph(snap), snap)}

        await self.page("nodes.html", work, net)


class SearchHandler(Page):
    async def get(self, net: str) -> None:
        query = self.get_query_argument("q", "")
        kind, value = data.classify(query)
        lang = self.language()
        suffix = f"?lang={lang}" if self.get_query_argument("lang", None) else ""
        if kind == "height":
            self.redirect(f"/n/{net}/block/{value}{suffix}")
            return
        if kind == "address":
            self.redirect(f"/n/{net}/address/{quote(value)}{suffix}")
            return
        network = self.network(net)

        def find() -> str:
            snap = network.snapshot()
            try:
                network.block(value, snap)
                return "block"
            except data.NotFoundError:
                network.transaction(value, snap)  # NotFoundError: neither, a 404 page
                return "tx"

        where = await IOLoop.current().run_in_executor(None, find)
        self.redirect(f"/n/{net}/{where}/{value}{suffix}")


class ConsoleHandler(Page):
    """The instructor's class console: every student's testnet, behind a token."""

    async def get(self) -> None:
        console = self.explorer.console
        if console is None:
            raise data.NotFoundError("this explorer was started without a class console "
                                     "(labchain explorer --class)", "/class")
        self.check_token()
        await self.page("console.html", lambda: {"rows": console.rows()})


class ConsoleTokenError(data.ExplorerError, PermissionError):
    """The class console was asked for without the right token (HTTP 403)."""


# -- drawings (SVG coordinates computed here, drawn by the templates) ------------------------
BOX_W, BOX_H, GAP_X, ROW_H = 96, 52, 28, 76


def fork_drawing(tree: dict) -> dict:
    """Boxes and links of the fork tree: the main chain on row 0, each branch on its own row."""
    if not tree["main"]:
        return {"boxes": [], "links": [], "width": 0, "height": 0, "branches": []}
    start = tree["start"]
    x = lambda height: 10 + (height - start) * (BOX_W + GAP_X)  # noqa: E731
    boxes, links = [], []
    for block in tree["main"]:
        boxes.append(dict(block, x=x(block["height"]), y=10, row=0, kind="main"))
        if block["height"] > start:
            links.append((x(block["height"] - 1) + BOX_W, 10 + BOX_H / 2, x(block["height"]), 10 + BOX_H / 2))
    for row, branch in enumerate(tree["branches"], 1):
        y = 10 + row * ROW_H
        prev = (x(branch["fork_height"]) + BOX_W / 2, 10 + BOX_H)
        for block in branch["blocks"]:
            kind = "stale" if branch["resolved"] else "side"
            boxes.append(dict(block, x=x(block["height"]), y=y, row=row, kind=kind))
            links.append((prev[0], prev[1], x(block["height"]), y + BOX_H / 2))
            prev = (x(block["height"]) + BOX_W, y + BOX_H / 2)
    right = max(b["x"] for b in boxes) + BOX_W + 10
    return {"boxes": boxes, "links": links, "width": right, "height": 10 + (len(tree["branches"]) + 1) * ROW_H,
            "branches": tree["branches"], "box_w": BOX_W, "box_h": BOX_H}


def graph_drawing(graph: dict, snap: data.Snapshot) -> dict:
    """Nodes on a circle, links between peers; a node that is down is drawn as down."""
    names = graph["nodes"]
    n = max(1, len(names))
    radius, cx, cy = 120, 170, 160
    where = {}
    for i, name in enumerate(names):
        angle = 2 * math.pi * i / n - math.pi / 2
        where[name] = (round(cx + radius * math.cos(angle), 1), round(cy + radius * math.sin(angle), 1))
    state = {s.name: s for s in snap.nodes}
    points = [{"name": name, "x": where[name][0], "y": where[name][1],
               "up": bool(state.get(name) and state[name].up),
               "known": name in state,
               "height": state[name].height if name in state else None} for name in names]
    lines = [(where[a][0], where[a][1], where[b][0], where[b][1]) for a, b in graph["edges"]]
    return {"points": points, "lines": lines, "width": 2 * cx, "height": 2 * cy}
