"""Where the tests find the four MLPerf Tiny reference models: $EDGE_DEPLOY_MLPERF_TINY, else
``shared/data/mlperf_tiny`` beside the repository (tests needing them skip when it is missing)."""

from __future__ import annotations

import os
from pathlib import Path

MLPERF = Path(os.environ.get("EDGE_DEPLOY_MLPERF_TINY")
              or Path(__file__).resolve().parents[2] / "shared" / "data" / "mlperf_tiny")
MISSING = f"the MLPerf Tiny models are not here ({MLPERF}; set EDGE_DEPLOY_MLPERF_TINY)"
