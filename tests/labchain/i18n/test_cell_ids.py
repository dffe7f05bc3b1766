"""assign_cell_ids (``python -m labchain.i18n ids``): stable nbformat 4.5 ids, catalogs moved
from position keys to ids with every other byte kept, and a second run changing nothing."""
from __future__ import annotations

import json

from labchain.i18n import catalog as cat
from labchain.i18n.__main__ import main

CATALOG = """# a comment the migration keeps
language: zh-CN
notebook: lab.ipynb
cells:
  md-0:
    en_sha256: {h0}
    text: |-
      一。 md-1: is text, not a key
  md-1:
    en_sha256: {h1}
    text: 二。
"""


def lab(tmp_path):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["One."]},
             {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": ["x = 1"]},
             {"cell_type": "markdown", "metadata": {}, "source": ["Two."], "id": "c000"}]   # c000 is taken
    notebook = tmp_path / "lab.ipynb"
    notebook.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4},
                                   indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (tmp_path / "i18n").mkdir()
    catalog = tmp_path / "i18n" / "zh-CN.yaml"
    catalog.write_text(CATALOG.format(h0=cat.english_hash("One."), h1=cat.english_hash("Two.")), encoding="utf-8")
    return notebook, catalog


def test_ids_are_unique_and_catalog_keys_follow_them(tmp_path, capsys):
    notebook, catalog = lab(tmp_path)
    assert main(["ids", str(notebook)]) == 0
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    ids = [c["id"] for c in nb["cells"]]
    assert ids == ["c1000", "c001", "c000"] and nb["nbformat_minor"] == 5
    assert "md-0 -> c1000" in capsys.readouterr().out
    text = catalog.read_text(encoding="utf-8")
    assert "  c1000:\n" in text and "  c000:\n" in text and "\n  md-" not in text
    assert text.startswith("# a comment the migration keeps") and "一。 md-1: is text, not a key" in text
    assert cat.catalog_problems(nb, cat.load_catalog(catalog)) == []
    assert [e.key for e in cat.load_catalog(catalog).entries.values()] == ["c1000", "c000"]


def test_a_second_run_changes_nothing(tmp_path):
    notebook, catalog = lab(tmp_path)
    cat.assign_cell_ids(notebook)
    before = notebook.read_bytes(), catalog.read_bytes()
    cat.assign_cell_ids(notebook)
    assert (notebook.read_bytes(), catalog.read_bytes()) == before


def test_labs_03_to_06_carry_ids_and_id_keyed_catalogs():
    from pathlib import Path

    root = Path(__file__).resolve().parents[3] / "labs"
    for name in ("03-utxo-transactions", "04-mining-difficulty", "05-forks-double-spend", "06-p2p-network"):
        nb = json.loads((root / name / f"{name}.ipynb").read_text(encoding="utf-8"))
        assert all(c.get("id") for c in nb["cells"]) and nb["nbformat_minor"] >= 5, name
        catalog = cat.load_catalog(root / name / "i18n" / "zh-CN.yaml")
        assert not any(k.startswith("md-") for k in catalog.entries), name
        assert cat.catalog_problems(nb, catalog) == [], name
