"""Group-sparse kernel speed on TICNN's conv / fully connected shapes at Scalpel's sparsity.

Each TICNN weighted layer is one kernel call (random int8 data; a random ``--zero-groups``
fraction of each row's groups of 4 zeroed, default conv1 0.5, conv2-5 0.75, fc1 0.9), run with
the dense kernel (arm_convolve_s8 / arm_fully_connected_s8) and with the group-sparse one
(ed_convolve_group_sparse_s8 / ed_fully_connected_group_sparse_s8) on QEMU mps2-an386, SIMD
path, -O2: exact executed instructions (plugin), estimated Cortex-M4 cycles (docs/cycle-model.md),
each output compared bit for bit with the reference interpreter. Needs no trained model.

  python benchmarks/sparse_kernels_ticnn.py [--zero-groups '{"conv1": 0.5, ...}']

Prints a table and writes benchmarks/results/sparse_kernels_ticnn.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from edge_deploy.build.kernel_firmware import build_kernel_firmware, run_kernel_firmware
from edge_deploy.codegen.sparse_cases import kernel_case, random_layer, reference_output
from edge_deploy.fsutil import atomic_write_json
from edge_deploy.profile.attribution import per_mark, segment_cycles
from edge_deploy.profile.cycle_model import CortexM4Timing
from edge_deploy.profile.decode import decode_code
from edge_deploy.profile.qemu_run import run_with_counts

RESULTS = Path(__file__).resolve().parent / "results" / "sparse_kernels_ticnn.json"
LAYERS = [  # name, kind, shape (conv: width in, cin, taps, stride, cout, pad; fc: features, units)
    ("conv1", "conv2d", (2048, 1, 64, 8, 16, 28)),
    ("conv2", "conv2d", (128, 16, 3, 1, 32, 1)),
    ("conv3", "conv2d", (64, 32, 3, 1, 64, 1)),
    ("conv4", "conv2d", (32, 64, 3, 1, 64, 1)),
    ("conv5", "conv2d", (16, 64, 3, 1, 64, 0)),
    ("fc1", "fully_connected", (448, 100)),
]
DEFAULT_ZERO_GROUPS = {"conv1": 0.5, "conv2": 0.75, "conv3": 0.75, "conv4": 0.75, "conv5": 0.75, "fc1": 0.9}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zero-groups", default=json.dumps(DEFAULT_ZERO_GROUPS),
                        help="fraction of zero groups of 4 per layer (JSON)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    zero_groups = {**DEFAULT_ZERO_GROUPS, **json.loads(args.zero_groups)}
    rng = np.random.default_rng(7)
    layers = []
    for name, kind, shape in LAYERS:
        base = random_layer(rng, kind, shape, "dense", zero_groups[name], 0.0)
        for kernel in ("dense", "group4"):
            from edge_deploy.codegen.sparse import encode_sparse, kernel_rows

            kept = int(base["arrays"]["w"].size) if kernel == "dense" else \
                encode_sparse(kernel_rows(base["arrays"]["w"], kind), 4).kept_groups
            layers.append({**base, "kernel": kernel, "kept": kept, "name": f"{name}-{kernel}"})
    cases = [kernel_case(layer) for layer in layers]
    with tempfile.TemporaryDirectory() as tmp:
        elf = build_kernel_firmware(cases, tmp, path="dsp")
        run = run_kernel_firmware(elf, cases)
        counts = run_with_counts(elf, timeout_s=300)
    tallies = per_mark(segment_cycles(counts.counts, decode_code(counts.counts.code), CortexM4Timing()))
    rows = []
    for i, layer in enumerate(layers):
        want = reference_output(layer)
        exact = run.statuses[i] == 0 and np.array_equal(run.outputs[i].reshape(want.shape), want)
        rows.append({"case": layer["name"], "kept": layer["kept"], "instructions": tallies[i].instructions,
                     "cycles": tallies[i].cycles, "bit_exact": bool(exact)})
    print(f"{'layer':8s} {'zero groups':>11s} {'dense instr':>12s} {'sparse instr':>13s} {'x fewer':>8s} "
          f"{'dense cycles':>13s} {'sparse cycles':>14s} {'x fewer':>8s}")
    totals = {"dense": [0, 0], "group4": [0, 0]}
    for (name, _, _), dense, sparse in zip(LAYERS, rows[0::2], rows[1::2]):
        totals["dense"][0] += dense["instructions"]
        totals["dense"][1] += dense["cycles"]
        totals["group4"][0] += sparse["instructions"]
        totals["group4"][1] += sparse["cycles"]
        print(f"{name:8s} {zero_groups[name]:11.2f} {dense['instructions']:12,d} {sparse['instructions']:13,d} "
              f"{dense['instructions'] / sparse['instructions']:8.2f} {dense['cycles']:13,d} "
              f"{sparse['cycles']:14,d} {dense['cycles'] / sparse['cycles']:8.2f}")
    d, s = totals["dense"], totals["group4"]
    print(f"{'total':8s} {'':11s} {d[0]:12,d} {s[0]:13,d} {d[0] / s[0]:8.2f} {d[1]:13,d} {s[1]:14,d} "
          f"{d[1] / s[1]:8.2f}")
    atomic_write_json(args.out, {"zero_groups": zero_groups, "cases": rows,
                                 "totals": {k: {"instructions": v[0], "cycles": v[1]} for k, v in totals.items()}})
    bad = [r["case"] for r in rows if not r["bit_exact"]]
    if bad:
        print("NOT bit-exact:", ", ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
