"""Benchmark: inference windows per second over the serial protocol on QEMU mps2-an386.

    python benchmarks/link_throughput.py [--n 300] [--work /tmp/edge-deploy-link-bench]
                                         [--out benchmarks/results/link_throughput.json]

TICNN with its default architecture (2,048 int8 inputs, 10 outputs; weights untrained, which
changes nothing on the link), quantized with the bundled excerpt's training windows and built for
mps2-an386 with the default kernels. Its inputs are the excerpt's test windows, quantized,
repeated to --n. Each configuration runs them through the firmware on QEMU and checks every
output against the reference interpreter (mismatches must be 0):

* ``uart, one request at a time``: the link as it was: the UART on a loopback port, each window
  a LOAD_INPUT, RUN and READ_OUTPUT round trip (--n-slow windows, it is slow);
* ``uart, RUN_BATCH pipelined``: the same UART, RUN_BATCH requests (two windows per 4 KiB frame),
  four in flight;
* ``semihost, one request at a time``: QEMU's semihosting stdin/stdout link, round trips;
* ``semihost, RUN_BATCH pipelined``: what ``edge-deploy run`` does (``run_batch``).

Windows per second count the link and the inferences (QEMU already up); ``run_batch`` is also
timed whole, QEMU start and firmware boot included. Prints a table, writes JSON with the commit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from provenance import source_state

REPO = Path(__file__).resolve().parent.parent
BOARD = "mps2-an386"


def ticnn_build(work: Path):
    """TICNN (default architecture) quantized on excerpt windows and built for BOARD; returns
    (graph, build)."""
    import torch

    from edge_deploy.build.firmware_build import build_graph
    from edge_deploy.data import load_windows
    from edge_deploy.models import build_model
    from edge_deploy.quantize.lower import lower_module
    from edge_deploy.quantize.pipeline import to_ir_layout
    from edge_deploy.quantize.ptq import quantize_graph

    torch.manual_seed(0)
    model = build_model("ticnn").eval()
    x, _, _ = load_windows(None, "train", window=2048, stride=512)
    graph = quantize_graph(lower_module(model, (1, 1, 2048), name="ticnn"), to_ir_layout(x[:64]))
    return graph, build_graph(graph, BOARD, work / "ticnn")


def test_windows(graph, n: int) -> np.ndarray:
    """``n`` int8 test windows of the bundled excerpt (repeated if it has fewer)."""
    from edge_deploy.data import load_windows
    from edge_deploy.quantize.pipeline import to_ir_layout
    from edge_deploy.quantize.ptq import quantize_input

    x, _, _ = load_windows(None, "test", window=2048)
    batch = quantize_input(to_ir_layout(x), graph.tensor(graph.inputs[0]).quant)
    return np.resize(batch, (n, *batch.shape[1:]))


def measure(elf: Path, batch: np.ndarray, link: str, batched: bool) -> tuple[float, np.ndarray]:
    """Windows per second for ``batch`` on ``link``; returns it and the outputs."""
    from edge_deploy.emulators import start_emulator

    samples = [sample.tobytes() for sample in batch]
    with start_emulator(BOARD, elf, emulator="qemu", link=link) as target:
        with target.connect(window=4 if batched else 1) as device:
            model = device.model_info()
            start = time.monotonic()
            if batched:
                outputs = [output for _, output in device.run_inputs(samples)]
            else:
                outputs = []
                for sample in samples:
                    device.load_input(sample)
                    device.run()
                    outputs.append(device.read_output())
            elapsed = time.monotonic() - start
    assert model.input_bytes == batch[0].size
    return len(batch) / elapsed, np.stack([np.frombuffer(o, np.int8) for o in outputs])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="windows per fast configuration")
    parser.add_argument("--n-slow", type=int, default=20, help="windows per one-request-at-a-time UART run")
    parser.add_argument("--work", type=Path, default=Path("/tmp/edge-deploy-link-bench"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "link_throughput.json")
    args = parser.parse_args()

    from edge_deploy.build.device_run import run_batch
    from edge_deploy.interp.interpreter import run

    graph, build = ticnn_build(args.work)
    batch = test_windows(graph, args.n)
    expected = run(graph, batch, rounding="double").reshape(len(batch), -1)
    rows = []
    for name, link, batched, n in (("uart, one request at a time", "uart", False, args.n_slow),
                                   ("uart, RUN_BATCH pipelined", "uart", True, args.n_slow),
                                   ("semihost, one request at a time", "semihost", False, args.n),
                                   ("semihost, RUN_BATCH pipelined", "semihost", True, args.n)):
        rate, outputs = measure(build.elf, batch[:n], link, batched)
        mismatches = int((outputs != expected[:n]).any(axis=1).sum())
        rows.append({"config": name, "link": link, "windows": n, "windows_per_s": round(rate, 2),
                     "mismatches": mismatches})
        print(f"{name:<34} {n:>5} windows  {rate:8.1f} windows/s  {mismatches} mismatches", flush=True)
    start = time.monotonic()
    result = run_batch(build.out_dir, batch)
    whole = time.monotonic() - start
    mismatches = int((result.outputs.reshape(len(batch), -1) != expected).any(axis=1).sum())
    print(f"run_batch (edge-deploy run): {len(batch)} windows in {whole:.2f} s with QEMU start "
          f"({len(batch) / whole:.1f} windows/s), {mismatches} mismatches")
    data = {
        "board": BOARD, "model": "ticnn (default architecture)", "input_bytes": int(batch[0].size),
        "output_bytes": int(expected.shape[1]), "configs": rows,
        "run_batch": {"windows": len(batch), "seconds": round(whole, 3),
                      "windows_per_s": round(len(batch) / whole, 2), "mismatches": mismatches},
        "target_windows_per_s": 50,
        **source_state("firmware", "sdk/edge_deploy/link", "sdk/edge_deploy/emulators",
                       "benchmarks/link_throughput.py"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(f"-> {args.out}")
    failed = mismatches or any(row["mismatches"] for row in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
