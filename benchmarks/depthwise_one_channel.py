"""Depthwise layers over one input channel (a channel multiplier fans a single channel out to N:
the first layers of TFLM's micro_speech and person_detect) on the kernels that can run them:
``ed_convolve_s8`` (the convolution such a layer is, what the cost model now chooses) and
``ed_depthwise_conv_s8`` (the depthwise kernel that ran them before), each on its DSP and portable
paths. One kernel call per shape on QEMU mps2-an386 (-O2): exact instructions, modelled Cortex-M4
cycles at 0 wait states, MAC per cycle, the cost model's estimate, and each output checked bit for
bit against the reference. Random int8 data and per-channel requantization (seeded).

  python benchmarks/depthwise_one_channel.py     # about 20 seconds

Prints a table and writes benchmarks/results/depthwise_one_channel.json.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from provenance import source_state

from edge_deploy.fsutil import atomic_write_json
from edge_deploy.kernels.choose import KernelPolicy, choose_kernels
from edge_deploy.kernels.cost import estimate_cycles
from edge_deploy.testing.harness import build_qemu, run_qemu
from edge_deploy.testing.random_layers import random_case

RESULTS = Path(__file__).resolve().parent / "results" / "depthwise_one_channel.json"
KERNELS = ("ed_convolve_s8", "ed_depthwise_conv_s8")

# (name, input NHWC, window (h, w), stride, multiplier): micro_speech's first layer (a 49 x 40
# spectrogram, 10 x 8 window, stride 2, 8 channels) and person_detect's (96 x 96 grayscale,
# 3 x 3 stride 2, 8 channels), both with 'same' padding.
SHAPES = [
    ("micro_speech 49x40x1 10x8 s2 x8", (1, 49, 40, 1), (10, 8), 2, 8),
    ("person_detect 96x96x1 3x3 s2 x8", (1, 96, 96, 1), (3, 3), 2, 8),
]


def layer(in_shape, window, stride, mult) -> dict:
    return {"in": [in_shape], "w": (1, *window, mult), "op": "depthwise_conv2d",
            "attrs": {"stride": (stride, stride), "dilation": (1, 1), "padding": "same", "depth_multiplier": mult}}


def main() -> int:
    rows = []
    print(f"{'shape':34s} {'kernel':22s} {'path':9s} {'MACs':>9s} {'instructions':>13s} {'cycles':>11s} "
          f"{'MAC/cycle':>10s} {'estimate':>11s}")
    for kernel in KERNELS:
        cases = [random_case(np.random.default_rng(21), kernel, layer(*shape[1:]), name=shape[0]) for shape in SHAPES]
        for path in ("dsp", "portable"):
            with tempfile.TemporaryDirectory() as tmp:
                run = run_qemu(build_qemu(cases, Path(tmp), path=path), cases, timeout_s=600)
            for i, case in enumerate(cases):
                exact = bool(np.array_equal(run.outputs[i], case.expected)) and run.statuses[i] == 0
                estimate = estimate_cycles(case.kernel, case.call) if path == "dsp" else None
                chosen = [c.kernel.name for c in choose_kernels(case.call.graph, KernelPolicy())][0]
                rows.append({"shape": case.name, "kernel": kernel, "path": path, "macs": case.macs,
                             "instructions": run.instructions[i], "cycles": run.cycles[i],
                             "mac_per_cycle": round(case.macs / run.cycles[i], 3), "estimate": estimate,
                             "chosen": chosen, "bit_exact": exact})
                print(f"{case.name:34s} {kernel:22s} {path:9s} {case.macs:9,d} {run.instructions[i]:13,d} "
                      f"{run.cycles[i]:11,d} {case.macs / run.cycles[i]:10.3f} "
                      f"{'' if estimate is None else f'{estimate:,d}':>11s}{'' if exact else '  NOT bit-exact'}")
    print("chosen by the cost model: " + ", ".join(sorted({f"{r['shape']}: {r['chosen']}" for r in rows})))
    atomic_write_json(RESULTS, {"command": "python benchmarks/depthwise_one_channel.py",
                                "source": source_state("firmware", "sdk"), "rows": rows})
    print(f"wrote {RESULTS.relative_to(RESULTS.parents[2])}")
    return 0 if all(r["bit_exact"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
