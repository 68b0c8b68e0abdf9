"""Instruction model of the dense and sparse conv / fully connected kernels, for the build's
per-layer choice (:mod:`edge_deploy.codegen.sparse`).

Each kernel's executed instructions are a linear function of a few counts of the layer: its
multiply work (MACs for dense; kept groups times four-position blocks for sparse), its outputs
(requantization), its input patch elements (column building; for the group-sparse conv on a
qualifying 1-D layer the input row it widens once) and a constant. The coefficients
are measured once on QEMU mps2-an386 with exact instruction counts (:func:`calibrate`: a set of
random layers per kernel, least squares) and cached by a hash of the kernel sources in
``~/.cache/edge-deploy/sparse-cost/`` (``$EDGE_DEPLOY_CACHE`` moves it). Without a cached
calibration the build uses :data:`DEFAULT_COEFFICIENTS`, measured the same way when the kernels
were written (``python -m edge_deploy.codegen.sparse_cost`` re-measures and prints them).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KINDS = ("conv2d", "fully_connected")
KERNEL_NAMES = ("dense", "group4", "csr")
COLUMNS = 4  # output positions per block in the sparse conv kernels (ED_SPARSE_COLUMNS)


@dataclass(frozen=True)
class LayerShape:
    """What the cost of a conv / fully connected layer depends on: ``positions`` output
    positions per batch row (1 for fully connected), ``batches``, ``channels`` outputs per
    position and ``row_length`` weights per output (kh * kw * cin, or the input features)."""

    positions: int
    batches: int
    channels: int
    row_length: int
    row_elems: int = 0  # conv: the input row the group-sparse kernel widens once (sparse.conv_row_elems)


def features(kind: str, kernel: str, shape: LayerShape, kept: int) -> list[float]:
    """The model's inputs for one layer. ``kept`` is the stored weights for dense (all of
    them), kept groups of 4 for ``group4``, nonzero weights for ``csr``."""
    outputs = shape.positions * shape.batches * shape.channels
    padded = -(-shape.row_length // 4) * 4
    if kind == "conv2d":
        blocks = -(-shape.positions // COLUMNS) * shape.batches
        if kernel == "dense":
            work = shape.positions * shape.batches * kept
            return [work, outputs, shape.positions * shape.batches * shape.row_length, 1.0]
        # columns: the widened input row once per batch row (group4 on a qualifying 1-D conv),
        # else four widened patches per block
        columns = shape.batches * shape.row_elems if kernel == "group4" and shape.row_elems else \
            shape.positions * shape.batches * padded
        return [kept * blocks, outputs, columns, blocks * shape.channels, 1.0]
    work = shape.batches * kept
    return [work, outputs, shape.batches * padded, 1.0]


# Measured by calibrate() on QEMU 7.2 mps2-an386, arm-none-eabi-gcc -O2, SIMD path (group-sparse
# kernels with the assembly blocks and the once-widened input row; on a second random set of the
# same shapes the group4 conv model is within 14 % (mean 3 %) of the measured counts).
DEFAULT_COEFFICIENTS: dict[str, list[float]] = {
    "conv2d/dense": [1.1593, 22.7762, 3.9679, 1252.4621],
    "conv2d/group4": [17.9383, -12.7945, 4.0612, 92.5581, 1467.6426],
    "conv2d/csr": [12.6991, -12.6484, 22.7867, 177.7297, 1009.7673],
    "fully_connected/dense": [1.5753, 62.5103, -0.6865, 907.7975],
    "fully_connected/group4": [9.0009, 77.171, 2.4869, 239.5411],
    "fully_connected/csr": [6.0011, 77.5861, 19.0285, 179.3936],
}


def kernel_sources_digest() -> str:
    """A hash of every kernel source: a calibration is valid for exactly these sources."""
    from edge_deploy.build.hostlib import kernel_sources

    digest = hashlib.sha256()
    for path in kernel_sources():
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_file() -> Path:
    root = os.environ.get("EDGE_DEPLOY_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "edge-deploy")
    return Path(root) / "sparse-cost" / f"{kernel_sources_digest()}.json"


def load_coefficients() -> tuple[dict[str, list[float]], str]:
    """The coefficients to use and where they come from (``calibrated`` for these kernel
    sources, or ``default``)."""
    path = _cache_file()
    if path.is_file():
        try:
            return json.loads(path.read_text())["coefficients"], "calibrated"
        except (OSError, ValueError, KeyError):
            pass
    return DEFAULT_COEFFICIENTS, "default"


def estimate_instructions(kind: str, kernel: str, shape: LayerShape, kept: int,
                          coefficients: dict[str, list[float]] | None = None) -> int:
    """Modelled executed instructions of ``kernel`` ("dense", "group4", "csr") on one layer of
    ``kind`` ("conv2d", "fully_connected"); ``kept`` as in :func:`features`."""
    coeffs = (coefficients or load_coefficients()[0]).get(f"{kind}/{kernel}")
    if coeffs is None:
        raise ValueError(f"no cost coefficients for {kind}/{kernel}")
    return max(0, int(round(float(np.dot(coeffs, features(kind, kernel, shape, kept))))))


def _prune_rows(rng: np.random.Generator, rows: np.ndarray, zero_groups: float, zero_weights: float) -> np.ndarray:
    rows = rows.copy()
    k = rows.shape[1]
    groups = -(-k // 4)
    mask = rng.random((rows.shape[0], groups)) < zero_groups
    rows[np.repeat(mask, 4, axis=1)[:, :k]] = 0
    rows[rng.random(rows.shape) < zero_weights] = 0
    return rows


def calibration_layers(seed: int = 0) -> list[dict]:
    """Random conv and fully connected layers of TICNN-like shapes and sparsities, each with a
    kernel to time: the calibration set (also used by the QEMU tests)."""
    from edge_deploy.codegen.sparse_cases import random_layer

    rng = np.random.default_rng(seed)
    conv_shapes = [  # (width in, cin, taps, stride, cout, pad)
        (512, 1, 64, 8, 16, 28), (128, 16, 3, 1, 32, 1), (64, 32, 3, 1, 64, 1), (32, 64, 3, 1, 64, 1),
        (16, 64, 3, 1, 64, 0), (40, 8, 5, 2, 12, 2), (24, 24, 3, 1, 20, 1), (96, 4, 9, 3, 8, 0)]
    fc_shapes = [(448, 100), (100, 10), (256, 64), (1024, 32), (64, 64), (301, 17)]
    layers = []
    for i, shape in enumerate(conv_shapes):
        for kernel, (zg, zw) in (("dense", (0.0, 0.0)), ("group4", (0.75, 0.0)), ("group4", (0.4, 0.0)),
                                 ("csr", (0.0, 0.75)), ("csr", (0.0, 0.4))):
            layers.append(random_layer(rng, "conv2d", shape, kernel, zg, zw, name=f"conv{i}-{kernel}-{zg + zw}"))
    for i, shape in enumerate(fc_shapes):
        for kernel, (zg, zw) in (("dense", (0.0, 0.0)), ("group4", (0.8, 0.0)), ("group4", (0.3, 0.0)),
                                 ("csr", (0.0, 0.8)), ("csr", (0.0, 0.3))):
            layers.append(random_layer(rng, "fully_connected", shape, kernel, zg, zw,
                                       name=f"fc{i}-{kernel}-{zg + zw}"))
    return layers


def calibrate(work_dir: str | os.PathLike, *, write_cache: bool = True) -> dict[str, list[float]]:
    """Measure every kernel on QEMU (exact instruction counts), fit the model by least squares
    and cache it for the current kernel sources. Returns ``{"kind/kernel": coefficients}``.
    Raises EdgeDeployError when the toolchain or QEMU fails."""
    from edge_deploy.build.kernel_firmware import build_kernel_firmware, run_kernel_firmware
    from edge_deploy.codegen.sparse_cases import kernel_case
    from edge_deploy.fsutil import atomic_write_json

    layers = calibration_layers()
    cases = [kernel_case(layer) for layer in layers]
    elf = build_kernel_firmware(cases, work_dir, path="dsp")
    run = run_kernel_firmware(elf, cases)
    coefficients: dict[str, list[float]] = {}
    for kind in KINDS:
        for kernel in KERNEL_NAMES:
            picked = [(layer, n) for layer, n in zip(layers, run.instructions)
                      if layer["kind"] == kind and layer["kernel"] == kernel]
            a = np.array([features(kind, kernel, layer["shape"], layer["kept"]) for layer, _ in picked])
            b = np.array([n for _, n in picked], dtype=float)
            coefficients[f"{kind}/{kernel}"] = [round(float(c), 4) for c in np.linalg.lstsq(a, b, rcond=None)[0]]
    if write_cache:
        atomic_write_json(_cache_file(), {"coefficients": coefficients, "kernels": kernel_sources_digest()})
    return coefficients


if __name__ == "__main__":  # python -m edge_deploy.codegen.sparse_cost
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(calibrate(tmp), indent=1))
