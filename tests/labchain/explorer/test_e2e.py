"""End to end in headless Chromium (Debian's, driven by Playwright): the explorer on a live
4-node testnet shows a new block without a reload, draws a partition's fork and then its
resolution, finds a transaction from the search box, and switches to Chinese.

``LABCHAIN_EXPLORER_SCREENSHOTS=docs/screenshots`` also saves the main pages as PNGs there
(how docs/screenshots/ was made); otherwise they go to the test's tmp_path and are checked.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from labchain.explorer.console import Console, local_provider
from labchain.explorer.data import Network
from labchain.explorer.server import Background
from labchain.testnet import Testnet

WAIT_MS = 60_000   # generous: 2 cores shared by many engineers



@pytest.fixture
def shots(tmp_path):
    where = Path(os.environ.get("LABCHAIN_EXPLORER_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def test_live_block_fork_resolution_search_and_language(browser, tmp_path, shots):
    with Testnet.start(nodes=4, dir=tmp_path / "net") as net, \
            Background({"local": Network.from_testnet("local", net)},
                       Console(local_provider({"s001": net}), token="e2e"), poll_ms=300) as bg:
        rpc = net.nodes[0].rpc
        rpc.generate(2)
        net.sync_blocks()
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(bg.url + "/n/local/")
        page.wait_for_selector("#height >> text=2")
        page.evaluate("window.__noReload = 'still here'")

        # a block mined now appears without a reload
        new_tip = rpc.generate(1)[0]
        page.wait_for_selector(f'#recent tr[data-height="3"] a[href$="{new_tip}"]', timeout=WAIT_MS)
        assert page.text_content("#height") == "3"
        assert page.evaluate("window.__noReload") == "still here"

        # a partition draws an open fork; healing resolves it, all live
        net.partition([0, 1], [2, 3])
        rpc.generate(2)
        side = net.nodes[2].rpc.generate(1)[0]
        page.wait_for_selector(f'.branch.open[data-tip="{side}"]', timeout=WAIT_MS)
        page.wait_for_selector(f'#forktree .blk.side[data-hash="{side}"]', timeout=WAIT_MS)
        page.screenshot(path=str(shots / "fork-open.png"), full_page=True)
        net.heal()
        net.sync_blocks()
        page.wait_for_selector(f'.branch.resolved[data-tip="{side}"]', timeout=WAIT_MS)
        page.wait_for_selector(f'#forktree .blk.stale[data-hash="{side}"]', timeout=WAIT_MS)
        assert page.query_selector(".branch.open") is None
        assert page.text_content("#height") == "5"
        assert page.evaluate("window.__noReload") == "still here"
        page.screenshot(path=str(shots / "overview.png"), full_page=True)

        # a transaction id typed in the search box lands on its page
        to = rpc.listaccounts()[2]["address"]
        txid = rpc.sendtoaddress(0, to, 250_000)
        rpc.generate(1)
        net.sync_blocks()
        page.fill("#search", txid)
        page.press("#search", "Enter")
        page.wait_for_url(f"**/n/local/tx/{txid}", timeout=WAIT_MS)
        assert page.text_content("#txid") == txid
        assert to in page.content()
        page.screenshot(path=str(shots / "transaction.png"), full_page=True)

        # the language switch: the same page in Chinese, and it stays Chinese
        page.click("#lang-zh-CN")
        page.wait_for_selector("h1 >> text=交易", timeout=WAIT_MS)
        assert page.get_attribute("html", "lang") == "zh-CN"
        page.click("header nav a >> nth=0")
        page.wait_for_selector("h1 >> text=链概览", timeout=WAIT_MS)
        page.screenshot(path=str(shots / "overview-zh-CN.png"), full_page=True)
        page.click("#lang-en")
        page.wait_for_selector("h1 >> text=Chain overview", timeout=WAIT_MS)

        for name, path in [("block", "/n/local/block/5"), ("address", f"/n/local/address/{to}"),
                           ("nodes", "/n/local/nodes")]:
            page.goto(bg.url + path)
            page.wait_for_selector("h1")
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        rpc.sendtoaddress(0, to, 1_000)
        page.goto(bg.url + "/n/local/mempool")
        page.screenshot(path=str(shots / "mempool.png"), full_page=True)
        net.kill(3)
        page.goto(bg.url + "/n/local/nodes")
        page.wait_for_selector('.peer.down[data-node="node3"]', timeout=WAIT_MS)
        page.screenshot(path=str(shots / "nodes-one-down.png"), full_page=True)
        page.goto(bg.url + "/class?token=e2e")
        page.wait_for_selector('tr[data-student="s001"] >> text=3/4', timeout=WAIT_MS)
        page.screenshot(path=str(shots / "class-console.png"), full_page=True)
        page.close()
    for png in shots.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    assert len(list(shots.glob("*.png"))) >= 10
