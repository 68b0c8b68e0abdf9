"""One cost model for every kernel: modelled Cortex-M4 cycles, linear in counts of the layer.

Each kernel spec names its terms (``cost_terms``) and computes them for a layer
(``cost_features``); the coefficients live in ``costs.json`` beside this module, measured on QEMU
mps2-an386 (exact executed instructions priced by :mod:`edge_deploy.profile.cycle_model`, SIMD
kernel path, 0 wait states) over random layers of every kernel and fitted by least squares
(``python -m edge_deploy.testing.calibrate`` re-measures them and rewrites the file). The file
records the digest of the kernel sources it was measured on; a test fails when a kernel source
changes without a new calibration. The build never reads anything else: the same model and
options give the same kernels on every machine, and ``report.json`` names the file's digest.

A board whose flash has wait states is priced at its flash: the same runs are profiled again with
each bundled board's flash timing (its code and weights read through the flash accelerator), and
the cycles the flash adds are fitted on the same terms (``flash_stalls`` in ``costs.json``, one
entry per distinct timing). A timing no bundled board has is priced at 0 wait states, and the
build's report says so.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from edge_deploy.boards.clocking import FlashTiming
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


def flash_timing_key(flash: FlashTiming | None) -> str | None:
    """The name of ``flash``'s behaviour in ``costs.json`` (what its stalls depend on: wait
    states, read width, the accelerator's caches), or None for no flash timing or 0 wait states."""
    if flash is None or not flash.wait_states:
        return None
    parts = [f"{flash.wait_states} wait states", f"{flash.read_bytes}-byte reads"]
    art = flash.accelerator
    if art is not None:
        parts.append(f"{art.kind} prefetch {'on' if art.prefetch else 'off'}")
        for name in ("icache", "dcache"):
            cache = getattr(art, name)
            parts.append(f"{name} {cache.lines} x {cache.line_bytes} B" if cache else f"no {name}")
    return ", ".join(parts)


def flash_stalls(flash: FlashTiming | None) -> dict[str, Any] | None:
    """The stall fit for ``flash`` (``boards``, ``coefficients``, ``max_relative_error``), or
    None when ``flash`` has no wait states or no calibration (a timing no bundled board has)."""
    key = flash_timing_key(flash)
    return cost_table().get("flash_stalls", {}).get(key) if key else None


def calibration_error(name: str | None, flash: FlashTiming | None = None) -> float:
    """The largest relative error of kernel ``name``'s cost model over its calibration layers
    (0 for None or a kernel the table has no figure for); with a calibrated ``flash``, the larger
    of that and its error at that flash."""
    if not name:
        return 0.0
    error = float(cost_table().get("max_relative_error", {}).get(name, 0.0))
    stalls = flash_stalls(flash)
    return max(error, float(stalls["max_relative_error"].get(name, 0.0))) if stalls else error


def use_coefficients(name: str, coefficients: dict[str, float]) -> None:
    """Price kernel ``name`` with ``coefficients`` in this process from now on (the calibration,
    fitting a kernel whose features are its base kernel's estimate after that base)."""
    cost_table()["coefficients"][name] = dict(coefficients)


def priced_at(flash: FlashTiming | None) -> str:
    """What the kernel choice prices a board with ``flash`` at, in words (report.json)."""
    key = flash_timing_key(flash)
    if key is None:
        return "0 wait states"
    if flash_stalls(flash) is None:
        return (f"0 wait states: the cost model has no calibration at this board's flash ({key}); "
                f"calibrated: {'; '.join(sorted(cost_table().get('flash_stalls', {}))) or 'none'}")
    return f"the board's flash ({key})"


def cost_source(flash: FlashTiming | None = None) -> dict[str, str | None]:
    """What ``report.json`` records about the cost model: its unit, file and digests, and the
    flash timing the kernels were priced at (``priced_at`` in words, ``flash_timing`` its key in
    ``costs.json``, None at 0 wait states)."""
    table = cost_table()
    data = COSTS_FILE.read_bytes()
    return {"unit": "modelled Cortex-M4 cycles", "file": "edge_deploy/kernels/costs.json",
            "file_sha256": hashlib.sha256(data).hexdigest()[:16], "kernel_sources": table["kernel_sources"],
            "measured_with": table.get("measured_with", ""), "priced_at": priced_at(flash),
            "flash_timing": flash_timing_key(flash) if flash_stalls(flash) is not None else None}


def _linear(coefficients: dict[str, float], kernel: KernelSpec, features: list[float]) -> float:
    return sum(coefficients[t] * float(v) for t, v in zip(kernel.cost_terms, features))


def estimate_prices(kernel: KernelSpec, call: LayerCall, flash: FlashTiming | None = None) -> tuple[int, int]:
    """Modelled Cortex-M4 cycles of ``kernel`` on ``call`` at ``flash`` and at 0 wait states (the
    same figure twice unless ``flash`` is calibrated: :func:`flash_stalls`), its counts taken once.
    Raises EdgeDeployError when the cost table has no coefficients for the kernel (a kernel added
    without a calibration)."""
    stalls = flash_stalls(flash)
    tables = [cost_table()["coefficients"]] + ([stalls["coefficients"]] if stalls is not None else [])
    for table in tables:
        coefficients = table.get(kernel.name)
        if coefficients is None or set(coefficients) != set(kernel.cost_terms):
            raise EdgeDeployError(f"the kernel cost table has no coefficients for {kernel.name} "
                                  f"(terms {', '.join(kernel.cost_terms)})",
                                  "run `python -m edge_deploy.testing.calibrate --write` after adding a kernel")
    features = list(kernel.cost_features(call))
    zero_wait = _linear(tables[0][kernel.name], kernel, features)
    added = _linear(tables[1][kernel.name], kernel, features) if stalls is not None else 0.0
    return max(0, int(round(zero_wait + added))), max(0, int(round(zero_wait)))


def estimate_cycles(kernel: KernelSpec, call: LayerCall, flash: FlashTiming | None = None) -> int:
    """Modelled Cortex-M4 cycles of ``kernel`` on ``call``: at 0 wait states, or with a
    calibrated ``flash`` (:func:`flash_stalls`) the cycles its wait states add on top. Raises
    EdgeDeployError as :func:`estimate_prices`."""
    return estimate_prices(kernel, call, flash)[0]
