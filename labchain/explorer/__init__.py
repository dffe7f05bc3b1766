"""A block explorer and class console in the browser, reading nodes over JSON-RPC only.

Terminology
-----------
explorer
    A web app (``labchain explorer``) showing a chain: overview (height, recent blocks, fork
    tree), block, transaction (inputs and outputs), address (balance, unspent outputs,
    history), mempool, nodes and peers (graph), and a search box (height, hash, address).
network
    The set of nodes one explorer view reads, served under ``/n/<name>/`` (``data.Network``).
fork tree
    The main chain's last blocks with every side branch the explorer saw a node on
    (``data`` explains why "saw": the node RPC has no ``getchaintips``).
class console
    ``/class``: every student's testnet with health, height, peers, memory and last activity,
    linking to ``/n/<student>/``; only with the instructor's token (``console``).

Decisions (docs/explorer.md): Tornado + Jinja2, both already installed with JupyterLab;
server-rendered pages with one small polling script; bilingual through ``i18n`` (English
source strings, ``ui.zh-CN.yaml``); no state on the nodes and no database of its own.

Simplifications versus real explorers (Etherscan, ChainMaker's explorer, FISCO BCOS's WeBASE):
no indexer or database, so an address's history covers only the last ``HISTORY_BLOCKS``
blocks and the mempool (Etherscan and WeBASE index every block into a database); side
branches are only those some node had as its tip while the explorer polled; live updates
poll once a second instead of a websocket/SSE push of new blocks; UTXO chains only (receipts
and events of an account chain are not drawn yet); one shared console token, no hub login.
"""
