"""``ed_convolve_s8`` alone on the convolution shapes of MLPerf Tiny's KWS (DS-CNN), IC
(ResNet-8) and VWW (MobileNetV1: its first layer and two 1 x 1 layers with few input channels):
one kernel call per shape on QEMU mps2-an386 (Thumb-2 path, -O2), exact instructions and modelled
Cortex-M4 cycles at 0 wait states and with the NUCLEO-L4R5ZI's flash (5 wait states, the ART's 1 KB
instruction and 256 B data caches; ``docs/cycle-model.md``), MAC per cycle against issue 13's
target (>= 1.0 for 1 x 1 and k x k convolutions), each output checked bit for bit
against the reference. Random int8 data and per-channel requantization in TFLite's ranges; each
shape with the ReLU clamp the models have and, for the 1 x 1 shape, without it.

  python benchmarks/ed_convolve_shapes.py     # about a minute

Prints a table and writes benchmarks/results/ed_convolve_shapes.json.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from provenance import source_state

from edge_deploy.boards import load_board
from edge_deploy.fsutil import atomic_write_json
from edge_deploy.profile.attribution import per_mark, segment_cycles
from edge_deploy.profile.cycle_model import CortexM4Timing
from edge_deploy.profile.decode import decode_code
from edge_deploy.profile.memory_map import machine_board, memory_layout
from edge_deploy.profile.qemu_run import run_with_counts
from edge_deploy.testing.cases import KernelCase, kernel_case
from edge_deploy.testing.harness import build_qemu, run_qemu

RESULTS = Path(__file__).resolve().parent / "results" / "ed_convolve_shapes.json"
FLASH_BOARD = "nucleo-l4r5zi"  # the latency targets' board: 5 wait states behind the ART
RELU = (-128 + 108, 127)  # a ReLU on an output zero point of -20
RELU6 = (-128 + 108, 100)  # a ReLU6 on it (6.0 at 120 steps of the output scale)

# (name, input NHWC, output channels, kernel (h, w), stride, padding (t, b, l, r), clamp)
SHAPES = [
    ("KWS 1x1 64->64 25x5", (1, 25, 5, 64), 64, (1, 1), 1, (0, 0, 0, 0), RELU),
    ("KWS 1x1 64->64 25x5, no clamp", (1, 25, 5, 64), 64, (1, 1), 1, (0, 0, 0, 0), (-128, 127)),
    ("KWS 10x4 s2 1->64", (1, 49, 10, 1), 64, (10, 4), 2, (4, 5, 1, 2), RELU),
    ("VWW 3x3 s2 3->8 96x96", (1, 96, 96, 3), 8, (3, 3), 2, (0, 1, 0, 1), RELU6),
    ("IC 3x3 3->16 32x32", (1, 32, 32, 3), 16, (3, 3), 1, (1, 1, 1, 1), RELU),
    ("IC 3x3 16->16 32x32", (1, 32, 32, 16), 16, (3, 3), 1, (1, 1, 1, 1), RELU),
    ("IC 3x3 s2 16->32", (1, 32, 32, 16), 32, (3, 3), 2, (0, 1, 0, 1), RELU),
    ("IC 3x3 32->32 16x16", (1, 16, 16, 32), 32, (3, 3), 1, (1, 1, 1, 1), RELU),
    ("IC 3x3 64->64 8x8", (1, 8, 8, 64), 64, (3, 3), 1, (1, 1, 1, 1), RELU),
    ("IC 1x1 s2 16->32", (1, 32, 32, 16), 32, (1, 1), 2, (0, 0, 0, 0), (-128, 127)),
    ("VWW 1x1 8->16 48x48", (1, 48, 48, 8), 16, (1, 1), 1, (0, 0, 0, 0), RELU),
    ("VWW 1x1 16->32 24x24", (1, 24, 24, 16), 32, (1, 1), 1, (0, 0, 0, 0), RELU),
]


def cases() -> list[KernelCase]:
    rng = np.random.default_rng(13)
    out = []
    for name, in_shape, cout, (kh, kw), stride, padding, (lo, hi) in SHAPES:
        x = rng.integers(-128, 128, in_shape, dtype=np.int8)
        w = rng.integers(-127, 128, (cout, kh, kw, in_shape[3]), dtype=np.int8)
        bias = rng.integers(-20000, 20000, cout).astype(np.int32)
        params = dict(input_offset=128, output_offset=-20, stride=(stride, stride), padding=padding,
                      dilation=(1, 1), act_min=lo, act_max=hi,
                      out_mult=rng.integers(1 << 30, (1 << 31) - 1, cout).astype(np.int32),
                      out_shift=rng.integers(-10, -6, cout).astype(np.int32))
        out.append(kernel_case(name, "ed_convolve_s8", "conv2d", [x], params, weights=w, bias=bias,
                               attrs={"activation": "none"}))
    return out


def flash_cycles(elf: Path, board: str = FLASH_BOARD) -> dict[int, int]:
    """Modelled cycles per case (profiling mark) with ``board``'s flash wait states and
    accelerator (the code and the packed weights in its flash, ``docs/cycle-model.md``)."""
    flash = load_board(board).flash
    run = run_with_counts(elf, timeout_s=600, layout=memory_layout(machine_board("mps2-an386"), flash))
    segments = segment_cycles(run.counts, decode_code(run.counts.code), CortexM4Timing(flash=flash))
    return {mark: tally.cycles for mark, tally in per_mark(segments).items() if mark is not None}


def main() -> int:
    shapes = cases()
    with tempfile.TemporaryDirectory() as tmp:
        elf = build_qemu(shapes, Path(tmp), path="dsp")
        run = run_qemu(elf, shapes, timeout_s=600)
        on_flash = flash_cycles(elf)
    rows = []
    print(f"{'shape':32s} {'MACs':>10s} {'instructions':>13s} {'cycles':>11s} {'MAC/cycle':>10s} "
          f"{'cycles L4R5':>12s} {'MAC/cycle':>10s}")
    for i, case in enumerate(shapes):
        exact = bool(np.array_equal(run.outputs[i], case.expected)) and run.statuses[i] == 0
        rows.append({"shape": case.name, "macs": case.macs, "instructions": run.instructions[i],
                     "cycles": run.cycles[i], "mac_per_cycle": round(case.macs / run.cycles[i], 3),
                     "cycles_flash": on_flash[i], "mac_per_cycle_flash": round(case.macs / on_flash[i], 3),
                     "bit_exact": exact})
        print(f"{case.name:32s} {case.macs:10,d} {run.instructions[i]:13,d} {run.cycles[i]:11,d} "
              f"{case.macs / run.cycles[i]:10.3f} {on_flash[i]:12,d} {case.macs / on_flash[i]:10.3f}"
              f"{'' if exact else '  NOT bit-exact'}")
    atomic_write_json(RESULTS, {"command": "python benchmarks/ed_convolve_shapes.py", "target_mac_per_cycle": 1.0,
                                "flash_board": FLASH_BOARD,
                                "source": source_state("firmware", "sdk"), "shapes": rows})
    print(f"wrote {RESULTS.relative_to(RESULTS.parents[2])}")
    return 0 if all(r["bit_exact"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
