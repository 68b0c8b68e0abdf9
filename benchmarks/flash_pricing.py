"""The kernel choice at the board's flash: pointwise convolutions where the kernels trade weight
reads for work (``ed_fully_connected_s8`` reads every weight once per position, the convolution
kernels once per four), each measured on QEMU mps2-an386 at 0 wait states and with the firmware's
code and weights read through each bundled flash timing (the STM32F4s', the L4R5's), beside the
cost model's price there and the kernel the chooser takes. Random int8 data, per-channel
requantization (seeded); every output checked bit for bit against the reference.

  python benchmarks/flash_pricing.py     # about 30 seconds

Prints a table and writes benchmarks/results/flash_pricing.json. Exits 1 when an output is wrong.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from provenance import source_state

from edge_deploy.boards.clocking import FlashTiming
from edge_deploy.fsutil import atomic_write_json
from edge_deploy.kernels import get_kernel, kernels_for
from edge_deploy.kernels._layers import conv2d
from edge_deploy.kernels.choose import KernelPolicy, choose_kernels
from edge_deploy.kernels.cost import estimate_cycles
from edge_deploy.testing.calibrate import flash_timings
from edge_deploy.testing.harness import build_qemu, run_qemu
from edge_deploy.testing.random_layers import random_case

RESULTS = Path(__file__).resolve().parent / "results" / "flash_pricing.json"
KERNELS = ("ed_fully_connected_s8", "ed_pointwise_conv_s8", "ed_convolve_s8")

# (name, height, width, input channels, output channels): person_detect's two pointwise layers over
# 3 x 3 positions, and VWW's activation_2 / person_detect's conv2d_1_pointwise (48 x 48, 8 -> 16).
SHAPES = [
    ("3x3 128->256", 3, 3, 128, 256),
    ("3x3 256->256", 3, 3, 256, 256),
    ("48x48 8->16", 48, 48, 8, 16),
]


def measure(shapes: list[tuple], timings: dict[str | None, FlashTiming | None], work: Path) -> list[dict]:
    """One row per shape, kernel and timing: measured and modelled cycles, the chooser's kernel."""
    rows = []
    for name, h, w, cin, cout in shapes:
        layer = {**conv2d(h, w, cin, cout, 1, 1, "valid"), "op": "conv2d"}
        graph_case = random_case(np.random.default_rng(5), KERNELS[-1], layer)
        names = [k.name for k in kernels_for("conv2d") if k.name in KERNELS and not k.applies(graph_case.call)]
        cases = [random_case(np.random.default_rng(5), kernel, layer, name=f"{name} {kernel}") for kernel in names]
        elf = build_qemu(cases, work / name.replace(" ", "_").replace(">", ""))
        for timing, flash in timings.items():
            run = run_qemu(elf, cases, timeout_s=600, flash=flash)
            chosen = choose_kernels(graph_case.call.graph, KernelPolicy(flash=flash))[0].kernel.name
            fastest = names[int(np.argmin(run.cycles))]
            for i, case in enumerate(cases):
                rows.append({"shape": name, "timing": timing or "0 wait states", "kernel": names[i],
                             "cycles": run.cycles[i],
                             "modelled": estimate_cycles(get_kernel(names[i]), case.call, flash),
                             "chosen": names[i] == chosen, "fastest": names[i] == fastest,
                             "bit_exact": bool(np.array_equal(run.outputs[i], case.expected)) and run.statuses[i] == 0})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=RESULTS, help="the JSON to write")
    args = parser.parse_args(argv)
    timings: dict[str | None, FlashTiming | None] = {None: None}
    for key, (flash, boards) in flash_timings().items():
        timings[f"{', '.join(boards)} flash"] = flash
    with tempfile.TemporaryDirectory(prefix="edge-deploy-flash-pricing-") as tmp:
        rows = measure(SHAPES, timings, Path(tmp))
    print(f"{'shape':14s} {'timing':58s} {'kernel':22s} {'cycles':>10s} {'modelled':>10s}")
    for r in rows:
        marks = ("  chosen" if r["chosen"] else "") + ("  fastest" if r["fastest"] else "") + \
            ("" if r["bit_exact"] else "  NOT bit-exact")
        print(f"{r['shape']:14s} {r['timing']:58s} {r['kernel']:22s} {r['cycles']:10,d} {r['modelled']:10,d}{marks}")
    atomic_write_json(args.out, {"command": "python benchmarks/flash_pricing.py",
                                 "source": source_state("firmware", "sdk"), "rows": rows})
    print(f"wrote {args.out}")
    return 0 if all(r["bit_exact"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
