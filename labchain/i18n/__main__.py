"""``python -m labchain.i18n``: produce a lab in one language, or maintain its catalog.

    python -m labchain.i18n localize labs/01-hashes-merkle/01-hashes-merkle.ipynb --lang zh-CN -o out.ipynb
    python -m labchain.i18n localize-labs labs var/lab-zh-CN --lang zh-CN      # make lab LAB_LANG=zh-CN
    python -m labchain.i18n status labs/01-hashes-merkle/01-hashes-merkle.ipynb --lang zh-CN
    python -m labchain.i18n stamp labs/01-hashes-merkle/01-hashes-merkle.ipynb --lang zh-CN [--accept KEY]
    python -m labchain.i18n ids labs/03-utxo-transactions/03-utxo-transactions.ipynb   # nbformat 4.5 ids

Exit codes: 0 done; 1 a missing/outdated translation or an unreadable file (one sentence on
stderr); 2 usage errors.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from labchain.i18n import LANGUAGES, LabchainError, normalize_language
from labchain.i18n import catalog as cat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labchain.i18n", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def lang(p: argparse.ArgumentParser) -> None:
        p.add_argument("--lang", required=True, type=normalize_language, metavar="|".join(LANGUAGES))

    p = sub.add_parser("localize", help="write one notebook in one language")
    p.add_argument("notebook", type=Path)
    lang(p)
    p.add_argument("-o", "--output", type=Path, help="default: overwrite the notebook")
    p = sub.add_parser("localize-labs", help="copy every lab folder with its notebook in one language")
    p.add_argument("labs_dir", type=Path)
    p.add_argument("output_dir", type=Path)
    lang(p)
    p = sub.add_parser("status", help="list missing, outdated and unused translations of a notebook")
    p.add_argument("notebook", type=Path)
    lang(p)
    p = sub.add_parser("stamp", help="rewrite the catalog in canonical form, hashing new entries")
    p.add_argument("notebook", type=Path)
    lang(p)
    p.add_argument("--accept", action="append", default=[], metavar="KEY",
                   help="re-hash this entry: its text was reviewed against the changed English")
    p = sub.add_parser("ids", help="give every cell a stable nbformat 4.5 id and move the lab's "
                                   "catalogs from md-<n> keys to those ids")
    p.add_argument("notebook", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "localize":
            print(cat.localize_file(args.notebook, args.lang, args.output))
        elif args.command == "localize-labs":
            for path in cat.localize_labs(args.labs_dir, args.output_dir, args.lang):
                print(path)
        elif args.command == "ids":
            for old, new in cat.assign_cell_ids(args.notebook).items():
                print(f"{old} -> {new}")
        elif args.command == "stamp":
            print(cat.stamp(args.notebook, args.lang, tuple(args.accept)))
        else:
            nb = json.loads(args.notebook.read_text(encoding="utf-8"))
            problems = cat.catalog_problems(nb, cat.load_catalog(cat.catalog_path(args.notebook.parent, args.lang)))
            for problem in problems:
                print(f"{args.notebook}: {problem.message}", file=sys.stderr)
            return 1 if problems else 0
    except (LabchainError, OSError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
