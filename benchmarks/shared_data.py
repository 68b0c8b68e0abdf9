"""Where the benchmarks find the data kept beside the repository: the four MLPerf Tiny reference
models are in $EDGE_DEPLOY_MLPERF_TINY, else in the first ``shared/data/mlperf_tiny`` found in a
folder above the checkout (a worktree may sit deeper than the main checkout)."""

from __future__ import annotations

import os
from pathlib import Path

from provenance import REPO

_BESIDE = Path("shared") / "data" / "mlperf_tiny"


def mlperf_tiny_dir() -> Path:
    """The MLPerf Tiny folder (it may not exist: callers say so when a model is missing)."""
    if os.environ.get("EDGE_DEPLOY_MLPERF_TINY"):
        return Path(os.environ["EDGE_DEPLOY_MLPERF_TINY"])
    return next((p / _BESIDE for p in REPO.parents if (p / _BESIDE).is_dir()), REPO.parent / _BESIDE)


MLPERF = mlperf_tiny_dir()
