"""Measure every kernel on QEMU and fit the cost model's coefficients (``edge_deploy/kernels/costs.json``).

    python -m edge_deploy.testing.calibrate            # measure, print the fit and its error
    python -m edge_deploy.testing.calibrate --write    # ... and rewrite costs.json

Each kernel runs on the random layers its spec lists (``calibration``: shapes of the networks
edge-deploy builds, TICNN's 1-D convolutions, MobileNet / DS-CNN / ResNet-style 2-D layers,
classifier heads) on the SIMD path; the profiler gives each call's exact executed instructions and
its modelled Cortex-M4 cycles (:mod:`edge_deploy.profile.cycle_model`, 0 wait states). The cycles
are fitted per kernel by least squares on the kernel's cost terms. The file records the digest of
the kernel sources measured, which a test compares with the sources in the tree.

The same cases then run once per distinct flash timing of the bundled boards (the firmware's
code and weights read from flash through that timing's accelerator), and what the flash adds to
each case is fitted on the same terms: the ``flash_stalls`` the build adds for a board with that
flash (:func:`edge_deploy.kernels.cost.estimate_cycles`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from edge_deploy.boards import list_boards
from edge_deploy.boards.clocking import FlashTiming
from edge_deploy.kernels import all_kernels
from edge_deploy.kernels.cost import (COSTS_FILE, estimate_cycles, flash_timing_key, kernel_sources_digest,
                                      use_coefficients)
from edge_deploy.testing.cases import KernelCase
from edge_deploy.testing.harness import build_qemu, run_qemu
from edge_deploy.testing.random_layers import calibration_cases

def measure(cases: list[KernelCase], work_dir: str | Path,
            flashes: dict[str, FlashTiming] | None = None) -> dict[str | None, list[int]]:
    """Modelled cycles of each case on QEMU (SIMD path): under None at 0 wait states, and under
    each key of ``flashes`` at that flash timing; every output checked against the reference.
    Raises RuntimeError on a mismatch (a calibration of a wrong kernel is worthless)."""
    timings: dict[str | None, FlashTiming | None] = {None: None, **(flashes or {})}
    cycles: dict[str | None, list[int]] = {key: [] for key in timings}
    for start in range(0, len(cases), 200):  # the profiling marks name at most 255 cases
        batch = cases[start:start + 200]
        elf = build_qemu(batch, Path(work_dir) / f"batch{start}", path="dsp")
        for key, flash in timings.items():
            run = run_qemu(elf, batch, timeout_s=600, flash=flash)
            for case, out, status in zip(batch, run.outputs, run.statuses):
                if status != 0 or not np.array_equal(out, case.expected):
                    raise RuntimeError(f"calibration case {case.name} is wrong on QEMU (status {status})")
            cycles[key] += run.cycles
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


def fit_stalls(cases: list[KernelCase], cycles: list[int],
               flash_cycles: list[int]) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Coefficients per kernel of the cycles a flash timing adds (``flash_cycles`` less
    ``cycles``, the 0-wait-state fit's coefficients in use), non-negative least squares on the
    error relative to the flash cycles, and each kernel's largest relative error of the whole
    estimate at that flash."""
    coefficients, errors = {}, {}
    for spec in all_kernels():
        picked = [(case, c, f) for case, c, f in zip(cases, cycles, flash_cycles) if case.kernel.name == spec.name]
        if not picked:
            continue
        a = np.array([spec.cost_features(case.call) for case, _, _ in picked], dtype=float)
        zero = np.array([estimate_cycles(spec, case.call) for case, _, _ in picked], dtype=float)
        total = np.array([f for _, _, f in picked], dtype=float)
        added = total - np.array([c for _, c, _ in picked], dtype=float)
        solution = nnls(a / total[:, None], added / total)[0]
        coefficients[spec.name] = {t: round(float(v), 4) for t, v in zip(spec.cost_terms, solution)}
        errors[spec.name] = float(np.max(np.abs(zero + a @ solution - total) / total))
    return coefficients, errors


def flash_timings() -> dict[str, tuple[FlashTiming, list[str]]]:
    """Each distinct flash timing with wait states among the bundled boards (by
    :func:`flash_timing_key`), with the boards that have it."""
    out: dict[str, tuple[FlashTiming, list[str]]] = {}
    for board in list_boards():
        key = flash_timing_key(board.flash)
        if key is not None:
            out.setdefault(key, (board.flash, []))[1].append(board.name)
    return dict(sorted(out.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rewrite edge_deploy/kernels/costs.json")
    args = parser.parse_args(argv)
    cases = calibration_cases()
    timings = flash_timings()
    with tempfile.TemporaryDirectory(prefix="edge-deploy-calibrate-") as tmp:
        measured = measure(cases, tmp, {key: flash for key, (flash, _) in timings.items()})
    cycles = measured[None]
    coefficients, errors = fit(cases, cycles)
    missing = sorted({k.name for k in all_kernels()} - set(coefficients))
    for name in sorted(coefficients):
        print(f"{name:40s} max error {errors[name]:6.1%}  {coefficients[name]}")
    stalls = {}
    for key, (_, boards) in timings.items():
        stall_coefficients, stall_errors = fit_stalls(cases, cycles, measured[key])
        stalls[key] = {"boards": boards, "coefficients": stall_coefficients,
                       "max_relative_error": {k: round(v, 4) for k, v in sorted(stall_errors.items())}}
        print(f"\nat {key} ({', '.join(boards)}): largest error with the flash stalls "
              f"{max(stall_errors.values()):.1%}")
        for name in sorted(stall_coefficients):
            print(f"  {name:38s} max error {stall_errors[name]:6.1%}  stalls {stall_coefficients[name]}")
    if missing:
        print(f"no calibration shapes for: {', '.join(missing)}", file=sys.stderr)
        return 1
    if args.write:
        table = {"measured_with": "QEMU mps2-an386, SIMD kernel path, arm-none-eabi-gcc -O2, modelled Cortex-M4 "
                                  "cycles (edge_deploy.profile.cycle_model defaults), least squares over "
                                  "each kernel spec's calibration layers; flash_stalls: the same runs at each "
                                  "distinct flash timing of the bundled boards, what the flash adds fitted on the "
                                  "same terms",
                 "kernel_sources": kernel_sources_digest(), "coefficients": coefficients,
                 "max_relative_error": {k: round(v, 4) for k, v in sorted(errors.items())},
                 "flash_stalls": stalls}
        COSTS_FILE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
        print(f"wrote {COSTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
