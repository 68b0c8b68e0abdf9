"""The distribution: an sdist that builds a wheel, and a wheel that carries what the command needs."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from edge_deploy.paths import resource_dir

hatchling = pytest.importorskip("hatchling", reason="hatchling (the build backend) is not installed: pip install hatchling")


def _hatch_build(source: Path, target: str, out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", target, "-d", str(out)], cwd=source,
                   check=True, capture_output=True, text=True, timeout=120)
    suffix = ".tar.gz" if target == "sdist" else ".whl"
    (built,) = out.glob(f"*{suffix}")
    return built


def test_the_sdist_builds_a_wheel_that_carries_templates_firmware_boards_and_data(repo_root, tmp_path):
    sdist = _hatch_build(repo_root, "sdist", tmp_path / "sdist")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (source,) = (tmp_path / "unpacked").iterdir()
    wheel = _hatch_build(source, "wheel", tmp_path / "wheel")   # from the sdist, as pip and `build` do
    names = set(zipfile.ZipFile(wheel).namelist())

    data = "edge_deploy/_data"
    for board in sorted(resource_dir("boards").glob("*.yaml")):
        assert f"{data}/boards/{board.name}" in names
    for template in sorted(resource_dir("templates").glob("*.j2")):
        assert f"{data}/templates/{template.name}" in names
    firmware = resource_dir("firmware")
    for source_file in sorted(firmware.rglob("*.[ch]")):
        assert f"{data}/firmware/{source_file.relative_to(firmware).as_posix()}" in names
    assert f"{data}/examples/pipeline_ticnn.yaml" in names
    assert "edge_deploy/data/cwru_0hp_excerpt.npz" in names
    assert not any(name.startswith(("runs/", "tests/")) or "/runs/" in name for name in names)
