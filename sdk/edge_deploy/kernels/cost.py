"""One cost model for every kernel: modelled Cortex-M4 cycles, linear in counts of the layer.

Each kernel spec names its terms (``cost_terms``) and computes them for a layer
(``cost_features``); the coefficients live in ``costs.json`` beside this module, measured on QEMU
mps2-an386 (exact executed instructions priced by :mod:`edge_deploy.profile.cycle_model`, SIMD
kernel path, 0 wait states) over random layers of every kernel and fitted by least squares
(``python -m edge_deploy.testing.calibrate`` re-measures them and rewrites the file). The file
records the digest of the kernel sources it was measured on; a test fails when a kernel source
changes without a new calibration. The build never reads anything else: the same model and
options give the same kernels on every machine, and ``report.json`` names the file's digest.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from edge_deploy.errors import EdgeDeployError
from edge_deploy.kernels.base import KernelSpec, LayerCall
from edge_deploy.paths import resource_dir

COSTS_FILE = Path(__file__).resolve().parent / "costs.json"


def kernel_sources() -> list[Path]:
    """The kernel C files and headers, sorted: the inputs every calibration is valid for."""
    firmware = resource_dir("firmware")
    return sorted((firmware / "kernels").glob("*.[ch]")) + sorted((firmware / "include").glob("*.h"))


def kernel_sources_digest() -> str:
    """A hash of every kernel source (names and bytes)."""
    digest = hashlib.sha256()
    for path in kernel_sources():
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@cache
def cost_table() -> dict[str, Any]:
    """The contents of ``costs.json``: ``coefficients`` (kernel -> term -> cycles per unit),
    ``kernel_sources`` (the digest they were measured on) and ``measured_with``."""
    try:
        return json.loads(COSTS_FILE.read_text())
    except (OSError, ValueError) as exc:
        raise EdgeDeployError(f"the kernel cost table {COSTS_FILE} is unreadable ({exc})",
                              "reinstall edge-deploy") from None


def calibration_error(name: str | None) -> float:
    """The largest relative error of kernel ``name``'s cost model over its calibration layers
    (0 for None or a kernel the table has no figure for)."""
    return float(cost_table().get("max_relative_error", {}).get(name, 0.0)) if name else 0.0


def use_coefficients(name: str, coefficients: dict[str, float]) -> None:
    """Price kernel ``name`` with ``coefficients`` in this process from now on (the calibration,
    fitting a kernel whose features are its base kernel's estimate after that base)."""
    cost_table()["coefficients"][name] = dict(coefficients)


def cost_source() -> dict[str, str]:
    """What ``report.json`` records about the cost model: its unit, file and digests."""
    table = cost_table()
    data = COSTS_FILE.read_bytes()
    return {"unit": "modelled Cortex-M4 cycles", "file": "edge_deploy/kernels/costs.json",
            "file_sha256": hashlib.sha256(data).hexdigest()[:16], "kernel_sources": table["kernel_sources"],
            "measured_with": table.get("measured_with", "")}


def estimate_cycles(kernel: KernelSpec, call: LayerCall) -> int:
    """Modelled Cortex-M4 cycles of ``kernel`` on ``call``. Raises EdgeDeployError when the cost
    table has no coefficients for the kernel (a kernel added without a calibration)."""
    coefficients = cost_table()["coefficients"].get(kernel.name)
    if coefficients is None or set(coefficients) != set(kernel.cost_terms):
        raise EdgeDeployError(f"the kernel cost table has no coefficients for {kernel.name} "
                              f"(terms {', '.join(kernel.cost_terms)})",
                              "run `python -m edge_deploy.testing.calibrate --write` after adding a kernel")
    features = kernel.cost_features(call)
    return max(0, int(round(sum(coefficients[t] * float(v) for t, v in zip(kernel.cost_terms, features)))))
