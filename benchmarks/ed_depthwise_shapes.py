"""``ed_depthwise_conv_3x3_s8`` alone on the 3 x 3 depthwise shapes of MLPerf Tiny's KWS (DS-CNN)
and VWW (MobileNetV1 0.25): one kernel call per shape on QEMU mps2-an386 (Thumb-2 path, -O2),
exact instructions and modelled Cortex-M4 cycles at 0 wait states (``docs/cycle-model.md``), MAC
per cycle against issue 13's target (>= 0.5 for depthwise), each output checked bit for bit
against the reference, in both roundings. Random int8 data and per-channel requantization in
TFLite's ranges, the models' zero points (input and output -128) and their clamp (ReLU / ReLU6
on that zero point: the whole int8 range).

  python benchmarks/ed_depthwise_shapes.py     # about a minute

Prints a table and writes benchmarks/results/ed_depthwise_shapes.json.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from provenance import source_state

from edge_deploy.fsutil import atomic_write_json
from edge_deploy.testing.cases import KernelCase, kernel_case
from edge_deploy.testing.harness import build_qemu, run_qemu

RESULTS = Path(__file__).resolve().parent / "results" / "ed_depthwise_shapes.json"

# (name, input NHWC, stride, padding (t, b, l, r)): TFLite SAME padding of each layer
SHAPES = [
    ("KWS dw 25x5x64 s1", (1, 25, 5, 64), 1, (1, 1, 1, 1)),
    ("VWW dw 48x48x8 s1", (1, 48, 48, 8), 1, (1, 1, 1, 1)),
    ("VWW dw 48x48x16 s2", (1, 48, 48, 16), 2, (0, 1, 0, 1)),
    ("VWW dw 24x24x32 s1", (1, 24, 24, 32), 1, (1, 1, 1, 1)),
    ("VWW dw 24x24x32 s2", (1, 24, 24, 32), 2, (0, 1, 0, 1)),
    ("VWW dw 12x12x64 s1", (1, 12, 12, 64), 1, (1, 1, 1, 1)),
    ("VWW dw 12x12x64 s2", (1, 12, 12, 64), 2, (0, 1, 0, 1)),
    ("VWW dw 6x6x128 s1", (1, 6, 6, 128), 1, (1, 1, 1, 1)),
    ("VWW dw 6x6x128 s2", (1, 6, 6, 128), 2, (0, 1, 0, 1)),
    ("VWW dw 3x3x256 s1", (1, 3, 3, 256), 1, (1, 1, 1, 1)),
]


def cases(rounding: str) -> list[KernelCase]:
    rng = np.random.default_rng(13)
    out = []
    for name, in_shape, stride, padding in SHAPES:
        cout = in_shape[3]
        x = rng.integers(-128, 128, in_shape, dtype=np.int8)
        w = rng.integers(-127, 128, (1, 3, 3, cout), dtype=np.int8)
        bias = rng.integers(-20000, 20000, cout).astype(np.int32)
        params = dict(input_offset=128, output_offset=-128, stride=(stride, stride), padding=padding,
                      dilation=(1, 1), act_min=-128, act_max=127,
                      out_mult=rng.integers(1 << 30, (1 << 31) - 1, cout).astype(np.int32),
                      out_shift=rng.integers(-10, -6, cout).astype(np.int32))
        out.append(kernel_case(name, "ed_depthwise_conv_3x3_s8", "depthwise_conv2d", [x], params, weights=w,
                               bias=bias, attrs={"activation": "none", "depth_multiplier": 1}, rounding=rounding))
    return out


def main() -> int:
    rows = []
    print(f"{'shape':24s} {'MACs':>9s} {'instructions':>13s} {'cycles':>10s} {'MAC/cycle':>10s}  single rounding")
    for rounding in ("double", "single"):
        shapes = cases(rounding)
        with tempfile.TemporaryDirectory() as tmp:
            run = run_qemu(build_qemu(shapes, Path(tmp), path="dsp", rounding=rounding), shapes, timeout_s=600)
        for i, case in enumerate(shapes):
            exact = bool(np.array_equal(run.outputs[i], case.expected)) and run.statuses[i] == 0
            if rounding == "double":
                rows.append({"shape": case.name, "macs": case.macs, "instructions": run.instructions[i],
                             "cycles": run.cycles[i], "mac_per_cycle": round(case.macs / run.cycles[i], 3),
                             "bit_exact": exact})
            else:
                rows[i].update(cycles_single_rounding=run.cycles[i], bit_exact_single_rounding=exact)
    for r in rows:
        ok = r["bit_exact"] and r["bit_exact_single_rounding"]
        print(f"{r['shape']:24s} {r['macs']:9,d} {r['instructions']:13,d} {r['cycles']:10,d} "
              f"{r['mac_per_cycle']:10.3f}  {r['cycles_single_rounding']:10,d}{'' if ok else '  NOT bit-exact'}")
    atomic_write_json(RESULTS, {"command": "python benchmarks/ed_depthwise_shapes.py", "target_mac_per_cycle": 0.5,
                                "source": source_state("firmware", "sdk"), "shapes": rows})
    print(f"wrote {RESULTS.relative_to(RESULTS.parents[2])}")
    return 0 if all(r["bit_exact"] and r["bit_exact_single_rounding"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
