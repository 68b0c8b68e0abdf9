"""Group-sparse kernel speed on TICNN's conv / fully connected shapes at Scalpel's sparsity.

Each TICNN weighted layer is one kernel call (random int8 data; a random ``--zero-groups``
fraction of each row's groups of 4 zeroed, default conv1 0.5, conv2-5 0.75, fc1 0.9), run with
the dense kernel (arm_convolve_s8 / arm_fully_connected_s8) and with the group-sparse one
(ed_convolve_group_sparse_s8 / ed_fully_connected_group_sparse_s8) on QEMU mps2-an386, SIMD
path, -O2: exact executed instructions (plugin), estimated Cortex-M4 cycles (docs/cycle-model.md),
each output compared bit for bit with the reference interpreter. Needs no trained model.

  python benchmarks/sparse_kernels_ticnn.py [--zero-groups '{"conv1": 0.5, ...}']

Each conv is also run with the max pool after it (window 2, stride 2, as in TICNN): dense conv +
arm_max_pool_s8 against ed_convolve_group_sparse_maxpool2_s8 (the pool fused in).

Prints a table and writes benchmarks/results/sparse_kernels_ticnn.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from edge_deploy.fsutil import atomic_write_json
from edge_deploy.kernels._sparse_format import encode_sparse
from edge_deploy.testing.cases import kernel_case
from edge_deploy.testing.harness import build_qemu, run_qemu
from edge_deploy.testing.random_layers import random_case

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
    kernels = {"conv2d": ("arm_convolve_s8", "ed_convolve_group_sparse_s8"),
               "fully_connected": ("arm_fully_connected_per_channel_s8", "ed_fully_connected_group_sparse_s8")}
    cases, pooled = [], []
    for name, kind, shape in LAYERS:
        if kind == "conv2d":
            width, cin, taps, stride, cout, pad = shape
            desc = {"h": 1, "w": width, "cin": cin, "cout": cout, "kh": 1, "kw": taps, "stride": (1, stride),
                    "padding": (0, 0, pad, pad)}
        else:
            desc = {"depth": shape[0], "units": shape[1]}
        seed = int(rng.integers(1 << 30))
        for tag, kernel in zip(("dense", "group4"), kernels[kind]):  # the same layer, each kernel
            cases.append(random_case(np.random.default_rng(seed), kernel, desc, zero_groups=zero_groups[name],
                                     name=f"{name}-{tag}"))
    for name, kind, _ in LAYERS:
        if kind == "conv2d":  # the group-sparse conv with its max pool fused
            conv = next(case for case in cases if case.name == f"{name}-group4")
            call = conv.call
            pool = ("max_pool2d", {"filter": (1, 2), "stride": (1, 2), "padding": "valid", "activation": "none"})
            cases.append(kernel_case(f"{name}-group4-pool", "ed_convolve_group_sparse_maxpool2_s8", "conv2d",
                                     list(conv.inputs.values()), call.params, weights=call.weights.data,
                                     bias=call.bias.data, epilogue=pool, check=False))
            pooled.append(name)
    for name in pooled:  # the dense row's pool, on the dense conv's output
        conv = next(case for case in cases if case.name == f"{name}-dense")
        cases.append(kernel_case(f"{name}-pool", "arm_max_pool_s8", "max_pool2d", [conv.expected],
                                 {"filter_hw": (1, 2), "stride": (1, 2)}))
    with tempfile.TemporaryDirectory() as tmp:
        run = run_qemu(build_qemu(cases, tmp, path="dsp"), cases, timeout_s=300)
    rows = []
    for i, case in enumerate(cases):
        exact = run.statuses[i] == 0 and np.array_equal(run.outputs[i], case.expected)
        kept = 0
        if case.call.weights is not None:
            kept = int(case.call.weights.data.size) if case.kernel.family is None else \
                encode_sparse(case.call.weight_rows, 4).kept_groups
        rows.append({"case": case.name, "kept": kept, "instructions": run.instructions[i], "cycles": run.cycles[i],
                     "bit_exact": bool(exact)})
    by_name = {r["case"]: r for r in rows}
    print(f"{'layer':8s} {'zero groups':>11s} {'dense instr':>12s} {'sparse instr':>13s} {'x fewer':>8s} "
          f"{'dense cycles':>13s} {'sparse cycles':>14s} {'x fewer':>8s}")
    totals = {"dense": [0, 0], "group4": [0, 0]}
    for (name, _, _), dense, sparse in zip(LAYERS, rows[0:2 * len(LAYERS):2], rows[1:2 * len(LAYERS):2]):
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
    print(f"\n{'with pool':10s} {'dense conv+pool instr':>22s} {'fused instr':>12s} {'x fewer':>8s} "
          f"{'dense cycles':>13s} {'fused cycles':>13s} {'x fewer':>8s}")
    pool_totals = {"dense": [0, 0], "fused": [0, 0]}
    for name in pooled:
        d = [by_name[f"{name}-dense"][k] + by_name[f"{name}-pool"][k] for k in ("instructions", "cycles")]
        f = [by_name[f"{name}-group4-pool"][k] for k in ("instructions", "cycles")]
        for key, value in (("dense", d), ("fused", f)):
            pool_totals[key][0] += value[0]
            pool_totals[key][1] += value[1]
        print(f"{name:10s} {d[0]:22,d} {f[0]:12,d} {d[0] / f[0]:8.2f} {d[1]:13,d} {f[1]:13,d} {d[1] / f[1]:8.2f}")
    d, f = pool_totals["dense"], pool_totals["fused"]
    print(f"{'convs':10s} {d[0]:22,d} {f[0]:12,d} {d[0] / f[0]:8.2f} {d[1]:13,d} {f[1]:13,d} {d[1] / f[1]:8.2f}")
    atomic_write_json(args.out, {"zero_groups": zero_groups, "cases": rows,
                                 "totals": {k: {"instructions": v[0], "cycles": v[1]} for k, v in totals.items()},
                                 "pool_totals": {k: {"instructions": v[0], "cycles": v[1]}
                                                 for k, v in pool_totals.items()}})
    bad = [r["case"] for r in rows if not r["bit_exact"]]
    if bad:
        print("NOT bit-exact:", ", ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
