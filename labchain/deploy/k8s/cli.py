"""``labchain deploy k8s render --roster FILE --out DIR`` (see labchain.deploy.k8s)."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    deploy = subparsers.add_parser("deploy", help="deployment manifests for cluster engines")
    engines = deploy.add_subparsers(dest="engine", metavar="ENGINE", required=True)
    k8s = engines.add_parser("k8s", help="Kubernetes (Zero to JupyterHub + a namespace per student)")
    actions = k8s.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser("render", help="write per-student manifests and Z2JH values (docs/k8s.md)")
    p.add_argument("--roster", required=True, help="CSV with an 'id' column, one row per student")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--nodes", type=int, default=3, help="testnet nodes per student (default 3)")
    p.add_argument("--image", default=None, help="node image (default labchain/node:0.1.0)")
    p.set_defaults(func=_render)


def _render(args) -> int:
    from labchain.deploy.k8s.render import ClassSpec, render

    spec = ClassSpec(nodes=args.nodes, **({"image": args.image} if args.image else {}))
    for path in render(args.roster, args.out, spec):
        print(f"wrote {path}")
    return 0
