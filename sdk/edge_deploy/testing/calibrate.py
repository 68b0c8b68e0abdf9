"""Measure every kernel on QEMU and fit the cost model's coefficients (``edge_deploy/kernels/costs.json``).

    python -m edge_deploy.testing.calibrate            # measure, print the fit and its error
    python -m edge_deploy.testing.calibrate --write    # ... and rewrite costs.json

Each kernel runs on the random layers its spec lists (``calibration``: shapes of the networks
edge-deploy builds, TICNN's 1-D convolutions, MobileNet / DS-CNN / ResNet-style 2-D layers,
classifier heads) on the SIMD path; the profiler gives each call's exact executed instructions and
its modelled Cortex-M4 cycles (:mod:`edge_deploy.profile.cycle_model`, 0 wait states). The cycles
are fitted per kernel by least squares on the kernel's cost terms. The file records the digest of
the kernel sources measured, which a test compares with the sources in the tree.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from edge_deploy.kernels import all_kernels
from edge_deploy.kernels.cost import COSTS_FILE, kernel_sources_digest, use_coefficients
from edge_deploy.testing.cases import KernelCase
from edge_deploy.testing.harness import build_qemu, run_qemu
from edge_deploy.testing.random_layers import calibration_cases

def measure(cases: list[KernelCase], work_dir: str | Path) -> list[int]:
    """Modelled cycles of each case on QEMU (SIMD path), checking every output against the
    reference. Raises RuntimeError on a mismatch (a calibration of a wrong kernel is worthless)."""
    cycles: list[int] = []
    for start in range(0, len(cases), 200):  # the profiling marks name at most 255 cases
        batch = cases[start:start + 200]
        run = run_qemu(build_qemu(batch, Path(work_dir) / f"batch{start}", path="dsp"), batch, timeout_s=600)
        for case, out, status in zip(batch, run.outputs, run.statuses):
            if status != 0 or not np.array_equal(out, case.expected):
                raise RuntimeError(f"calibration case {case.name} is wrong on QEMU (status {status})")
        cycles += run.cycles
    return cycles


def fit(cases: list[KernelCase], cycles: list[int]) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Coefficients per kernel, non-negative least squares on the relative error (each layer
    weighs the same, small or large), and each kernel's largest relative error. A kernel with a
    base (its features include the base's estimate) is fitted after the base, on the base's new
    coefficients."""
    coefficients, errors = {}, {}
    for spec in sorted(all_kernels(), key=lambda k: k.base is not None):
        picked = [(case, c) for case, c in zip(cases, cycles) if case.kernel.name == spec.name]
        if not picked:
            continue
        a = np.array([spec.cost_features(case.call) for case, _ in picked], dtype=float)
        b = np.array([c for _, c in picked], dtype=float)
        # Non-negative: every term costs cycles, so a fit cannot buy accuracy inside the calibration
        # set with a negative term that would price a smaller layer below zero.
        solution = nnls(a / b[:, None], np.ones_like(b))[0]
        coefficients[spec.name] = {t: round(float(v), 4) for t, v in zip(spec.cost_terms, solution)}
        use_coefficients(spec.name, coefficients[spec.name])
        errors[spec.name] = float(np.max(np.abs(a @ solution - b) / b))
    return coefficients, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rewrite edge_deploy/kernels/costs.json")
    args = parser.parse_args(argv)
    cases = calibration_cases()
    with tempfile.TemporaryDirectory(prefix="edge-deploy-calibrate-") as tmp:
        cycles = measure(cases, tmp)
    coefficients, errors = fit(cases, cycles)
    missing = sorted({k.name for k in all_kernels()} - set(coefficients))
    for name in sorted(coefficients):
        print(f"{name:40s} max error {errors[name]:6.1%}  {coefficients[name]}")
    if missing:
        print(f"no calibration shapes for: {', '.join(missing)}", file=sys.stderr)
        return 1
    if args.write:
        table = {"measured_with": "QEMU mps2-an386, SIMD kernel path, arm-none-eabi-gcc -O2, modelled Cortex-M4 "
                                  "cycles (edge_deploy.profile.cycle_model defaults), least squares over "
                                  "each kernel spec's calibration layers",
                 "kernel_sources": kernel_sources_digest(), "coefficients": coefficients,
                 "max_relative_error": {k: round(v, 4) for k, v in sorted(errors.items())}}
        COSTS_FILE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
        print(f"wrote {COSTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
