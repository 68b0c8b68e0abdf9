"""Kernel speed on TICNN's layer shapes: exact instructions and estimated Cortex-M4 cycles per
kernel call, SIMD and portable paths, each output checked bit for bit against the reference.

Every TICNN layer is one kernel call here (random int8 data and per-channel requantization in
TFLite's ranges), built with the kernels of ``firmware/kernels`` at -O2 for the Cortex-M4 and run on
QEMU mps2-an386 with the instruction-count plugin; cycles come from the Cortex-M4 model
(``docs/cycle-model.md``). The same network is also run as the build runs it by default: each
conv with its max pool through the Winograd kernel (``ed_convolve_1d_winograd_maxpool2_s8``),
then the fully connected layers. Optionally also profiles a built TICNN firmware end to end.

  python benchmarks/kernels_ticnn.py [--build DIR]   # DIR: an `edge-deploy build` output to profile

Prints a table and writes benchmarks/results/kernels_ticnn.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from edge_deploy.fsutil import atomic_write_json
from edge_deploy.testing.cases import KernelCase, kernel_case
from edge_deploy.testing.harness import build_qemu, run_qemu

RESULTS = Path(__file__).resolve().parent / "results" / "kernels_ticnn.json"


def _conv(name, rng, in_shape, cout, kw, stride, pad) -> KernelCase:
    cin = in_shape[3]
    x = rng.integers(-128, 128, in_shape, dtype=np.int8)
    w = rng.integers(-127, 128, (cout, 1, kw, cin), dtype=np.int8)
    bias = rng.integers(-20000, 20000, cout).astype(np.int32)
    params = dict(input_offset=128, output_offset=-128, stride=(1, stride), padding=(0, 0, pad, pad),
                  out_mult=rng.integers(1 << 30, (1 << 31) - 1, cout).astype(np.int32),
                  out_shift=rng.integers(-11, -6, cout).astype(np.int32), act_min=-128, act_max=127)
    return kernel_case(name, "arm_convolve_s8", "conv2d", [x], params, weights=w, bias=bias)


def _pool(name, rng, in_shape) -> KernelCase:
    x = rng.integers(-128, 128, in_shape, dtype=np.int8)
    return kernel_case(name, "arm_max_pool_s8", "max_pool2d", [x], dict(filter_hw=(1, 2), stride=(1, 2)))


def _fc(name, rng, depth, units) -> KernelCase:
    x = rng.integers(-128, 128, (1, depth), dtype=np.int8)
    w = rng.integers(-127, 128, (units, depth), dtype=np.int8)
    bias = rng.integers(-9000, 9000, units).astype(np.int32)
    params = dict(input_offset=128, output_offset=-128, out_shift=rng.integers(-11, -6, units).astype(np.int32),
                  out_mult=rng.integers(1 << 30, (1 << 31) - 1, units).astype(np.int32))
    return kernel_case(name, "arm_fully_connected_per_channel_s8", "fully_connected", [x], params, weights=w,
                       bias=bias)


def ticnn_cases() -> list[KernelCase]:
    """One kernel call per TICNN layer (dense), in run order."""
    rng = np.random.default_rng(11)
    return [
        _conv("conv1 k64 s8 1->16", rng, (1, 1, 2048, 1), 16, 64, 8, 28),
        _pool("pool1", rng, (1, 1, 256, 16)),
        _conv("conv2 k3 16->32", rng, (1, 1, 128, 16), 32, 3, 1, 1),
        _pool("pool2", rng, (1, 1, 128, 32)),
        _conv("conv3 k3 32->64", rng, (1, 1, 64, 32), 64, 3, 1, 1),
        _pool("pool3", rng, (1, 1, 64, 64)),
        _conv("conv4 k3 64->64", rng, (1, 1, 32, 64), 64, 3, 1, 1),
        _pool("pool4", rng, (1, 1, 32, 64)),
        _conv("conv5 k3 64->64 valid", rng, (1, 1, 16, 64), 64, 3, 1, 0),
        _pool("pool5", rng, (1, 1, 14, 64)),
        _fc("fc1 448->100", rng, 448, 100),
        _fc("fc2 100->10", rng, 100, 10),
    ]


def winograd_cases() -> list[KernelCase]:
    """TICNN as the default SIMD build runs it: conv + max pool fused in the Winograd kernel (ReLU
    range), then the two fully connected layers (same data as :func:`ticnn_cases`)."""
    direct = ticnn_cases()
    cases = []
    pool = ("max_pool2d", {"filter": (1, 2), "stride": (1, 2), "padding": "valid", "activation": "none"})
    for conv in direct[0:10:2]:
        call = conv.call
        params = dict(call.params, act_min=int(call.params["output_offset"]), act_max=127)
        cases.append(kernel_case(conv.name + " + pool (winograd)", "ed_convolve_1d_winograd_maxpool2_s8", "conv2d",
                                 list(conv.inputs.values()), params, weights=call.weights.data, bias=call.bias.data,
                                 epilogue=pool))
    return cases + direct[10:]


def measure(cases: list[KernelCase], path: str, workdir: Path) -> list[dict]:
    """Build and run the cases on one kernel path; per case instructions, cycles, bit-exactness."""
    run = run_qemu(build_qemu(cases, workdir / path, path=path), cases, timeout_s=300)
    rows = []
    for i, case in enumerate(cases):
        exact = bool(np.array_equal(run.outputs[i], case.expected)) and run.statuses[i] == 0
        rows.append({"case": case.name, "macs": case.macs, "instructions": run.instructions[i],
                     "cycles": run.cycles[i], "bit_exact": exact})
    return rows


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, help="an edge-deploy build directory to profile end to end")
    args = parser.parse_args()
    cases = ticnn_cases()
    with tempfile.TemporaryDirectory() as tmp:
        results = {path: measure(cases, path, Path(tmp)) for path in ("dsp", "portable")}
    print(f"{'case':26s} {'MACs':>9s} {'SIMD instr':>11s} {'SIMD cycles':>12s} {'MAC/cyc':>8s} "
          f"{'portable cycles':>16s} {'speed-up':>9s}")
    for dsp, port in zip(results["dsp"], results["portable"]):
        print(f"{dsp['case']:26s} {dsp['macs']:9,d} {dsp['instructions']:11,d} {dsp['cycles']:12,d} "
              f"{_ratio(dsp['macs'], dsp['cycles']):>8s} {port['cycles']:16,d} "
              f"{port['cycles'] / dsp['cycles']:8.1f}x")
    totals = {path: {k: sum(r[k] for r in rows) for k in ("macs", "instructions", "cycles")}
              for path, rows in results.items()}
    for path, t in totals.items():
        print(f"total {path:9s}: {t['instructions']:,} instructions, {t['cycles']:,} cycles, "
              f"{_ratio(t['macs'], t['cycles'])} MAC/cycle")
    with tempfile.TemporaryDirectory() as tmp:
        wino = measure(winograd_cases(), "dsp", Path(tmp))
    print(f"\n{'default build (SIMD)':34s} {'MACs':>9s} {'instructions':>12s} {'cycles':>10s} {'MAC/cyc':>8s}")
    for row in wino:
        print(f"{row['case']:34s} {row['macs']:9,d} {row['instructions']:12,d} {row['cycles']:10,d} "
              f"{_ratio(row['macs'], row['cycles']):>8s}")
    totals["winograd"] = {k: sum(r[k] for r in wino) for k in ("macs", "instructions", "cycles")}
    t = totals["winograd"]
    print(f"total winograd : {t['instructions']:,} instructions, {t['cycles']:,} cycles, "
          f"{_ratio(t['macs'], t['cycles'])} MAC/cycle")
    results["winograd"] = wino
    out = {"cases": results, "totals": totals}
    if args.build:
        from edge_deploy.cli import main as cli_main

        if cli_main(["profile", str(args.build)]) != 0:
            return 1
        out["model_profile"] = json.loads((args.build / "profile.json").read_text())
        prof = out["model_profile"]
        print(f"model {args.build}: {prof['instructions']:,} instructions, {prof['cycles']:,} cycles, "
              f"{prof['mac_per_cycle']:.3f} MAC/cycle")
    atomic_write_json(RESULTS, out)
    bad = [r["case"] for rows in results.values() for r in rows if not r["bit_exact"]]
    if bad:
        print("NOT bit-exact:", ", ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
