"""The labchain wheel (what the node and lab images install) carries every data file the
package reads at run time: the chain presets, the zh-CN catalogs, the explorer's templates.
Before this test the i18n catalog and the explorer's files were missing from the wheel, so
`LABCHAIN_LANG=zh-CN` gave English errors inside the images."""
from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tracked_data_files() -> set[str]:
    out = subprocess.run(["git", "ls-files", "labchain"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    return {p for p in out if not p.endswith(".py")}


def test_the_wheel_carries_every_tracked_data_file_of_the_package(tmp_path):
    from labchain.deploy.images import build_labchain_wheel   # the images' own wheel build

    wheel = build_labchain_wheel(tmp_path, log=lambda *_: None)
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = _tracked_data_files()
    assert "labchain/i18n/errors.zh-CN.yaml" in wanted
    missing = sorted(wanted - names)
    assert not missing, f"not in the wheel: {missing}"
