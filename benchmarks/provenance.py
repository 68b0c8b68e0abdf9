"""What a benchmark's figures were measured on: the commit, and the uncommitted changes under the
paths the benchmark runs. Imported by the scripts beside it (``python benchmarks/NAME.py`` puts
this folder on ``sys.path``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def source_state(*paths: str) -> dict:
    """``{"commit": short hash ("unknown" outside a git checkout), "uncommitted": [changed or new
    files under paths]}``."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return ""

    changed = git("status", "--porcelain", "--", *paths).splitlines()
    return {"commit": git("rev-parse", "--short", "HEAD").strip() or "unknown",
            "uncommitted": [line[3:] for line in changed if line.strip()]}  # "XY path"
