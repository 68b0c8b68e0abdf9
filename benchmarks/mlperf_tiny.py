"""MLPerf Tiny's four reference models through edge-deploy's kernels: per layer, per layer type and in
total, against the issue-13 targets and the published silicon latencies; upstream CMSIS-NN beside it.

    python benchmarks/mlperf_tiny.py [--models A.tflite ...] [--work /tmp/edge-deploy-mlperf-tiny]
                                     [--check N] [--cmsis-nn PATH] [--markdown]
                                     [--out benchmarks/results/mlperf_tiny.json]

For each model (default: the four of ../shared/data/mlperf_tiny) the real CLI runs as a subprocess:

  edge-deploy build MODEL --board nucleo-l4r5zi --out DIR
  edge-deploy profile DIR --timing mps2-an386 --json      (0 wait states: the per-layer-type targets)
  edge-deploy profile DIR --timing nucleo-l4r5zi --json   (the L4R5's flash behind the ART: the latency targets)

and with ``--check N`` also ``edge-deploy build MODEL --board mps2-an386`` and ``edge-deploy run
... --check`` on N seeded random inputs (bit-exact against the reference interpreter on QEMU).
Printed per model: each layer's kernel, MACs, instructions, modelled cycles at 0 wait states and
on the L4R5's flash, MAC/cycle, ms at 120 MHz; per layer type (depthwise, conv 1x1, conv k x k,
fully connected, add, ...) the MAC/cycle or cycles per element at 0 wait states against its target;
the total against the published latencies (../shared/data/mlperf_tiny/README.md) and the target;
the flash against the target "the model's int8 weights (its constant tensors) + 40 KB". The build is
the default one (the fastest kernels that fit the board's flash); where it spends more flash than
the target (Winograd's transformed filters take 4x the int8 bytes), the model is also built with
``--flash-limit`` at the target and its latency printed beside it.

Upstream CMSIS-NN beside it: with ``--cmsis-nn PATH`` or ``EDGE_DEPLOY_CMSIS_NN=PATH`` (a checkout of
github.com/ARM-software/CMSIS-NN) each model is also built with ``edge-deploy build --cmsis-nn PATH``
and profiled the same way; the table gets upstream's instructions and cycles per layer and the
layers where edge-deploy executes more instructions. Without a checkout, or when that build fails,
the comparison is skipped with the reason. Writes the JSON to ``--out``; exit status 0 when every
model was measured (and checked), 1 when a check failed, 2 when no model could be measured.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from provenance import source_state
from shared_data import MLPERF

MODELS = ("vww_96_int8.tflite", "kws_ref_model.tflite", "pretrainedResnet_quant.tflite", "ad01_int8.tflite")

BOARD = "nucleo-l4r5zi"            # MLPerf Tiny's reference board: the latency targets
ZERO_WAIT = "mps2-an386"           # the same run priced at 0 wait states: the per-layer-type targets
CHECK_BOARD = "mps2-an386"         # where `edge-deploy run --check` runs (QEMU)
CLOCK_HZ = 120_000_000
# ms per inference on NUCLEO-L4R5ZI at 120 MHz (../shared/data/mlperf_tiny/README.md, MLPerf Tiny closed
# division, median of the submitters' runs).
PUBLISHED_MS = {
    "vww_96_int8": {"tflm-cmsis-nn": 600.6, "microtvm": 301.2, "tiny-onnc": 172.2, "plumerai": 98.8,
                    "x-cube-ai-9.0": 88.9},
    "kws_ref_model": {"tflm-cmsis-nn": 181.9, "microtvm": 99.8, "tiny-onnc": 82.0, "plumerai": 47.8,
                      "x-cube-ai-9.0": 43.2},
    "pretrainedResnet_quant": {"tflm-cmsis-nn": 704.2, "microtvm": 389.6, "tiny-onnc": 298.7, "plumerai": 167.8,
                               "x-cube-ai-9.0": 165.1},
    "ad01_int8": {"tflm-cmsis-nn": 10.05, "microtvm": 8.60, "tiny-onnc": 8.07, "plumerai": 4.05,
                  "x-cube-ai-9.0": 5.26},
}
SHORT = {"vww_96_int8": "VWW", "kws_ref_model": "KWS", "pretrainedResnet_quant": "IC", "ad01_int8": "AD"}
# Issue 13's targets: the fastest published engine per model (ms on the L4R5 model at 120 MHz) and,
# per layer type at 0 wait states, a MAC/cycle floor (or, for ADD, a ceiling in cycles per element).
TARGET_MS = {name: min(engines.values()) for name, engines in PUBLISHED_MS.items()}
TARGET_MAC_PER_CYCLE = {"depthwise": 0.5, "conv 1x1": 1.0, "conv kxk": 1.0, "fully connected": 0.8}
TARGET_ADD_CYCLES_PER_ELEMENT = 2.0
# And flash: at most the model's int8 weights (its constant tensors, as the .tflite holds them) + 40 KB.
FLASH_OVER_WEIGHTS_BYTES = 40 * 1024


def _cli(args: list[str], timeout: float = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_deploy", *args], capture_output=True, text=True,
                          timeout=timeout)


def _first_line(result: subprocess.CompletedProcess) -> str:
    text = (result.stderr or result.stdout).strip()
    return text.splitlines()[0] if text else f"exit status {result.returncode}"


def layer_type(op, graph) -> str:
    """The issue's layer type of graph op ``op``: depthwise, conv 1x1, conv kxk (3x3, DS-CNN's 10x4,
    ...), fully connected, add, or the op kind."""
    if op.kind == "conv2d":
        kh, kw = graph.tensor(op.inputs[1]).shape[1:3]
        return "conv 1x1" if (kh, kw) == (1, 1) else "conv kxk"
    if op.kind == "depthwise_conv2d":
        return "depthwise"
    return op.kind.replace("_", " ")


def _elements(layer: dict) -> int:
    return int(np.prod(layer["output_shape"]))


def measure(model: Path, work: Path, build_args: list[str], label: str) -> dict:
    """Build ``model`` for the L4R5 with ``build_args`` and profile it at both timings: the model's
    row (per-layer figures included), or ``{"skipped": reason}``."""
    from edge_deploy.tflite import load_tflite

    out = work / f"{model.stem}-{label}"
    started = time.monotonic()
    built = _cli(["build", str(model), "--board", BOARD, "--out", str(out), *build_args])
    if built.returncode != 0:
        return {"skipped": " ".join(["edge-deploy build", *build_args]) + f": {_first_line(built)}"}
    profiles = {}
    for timing in (ZERO_WAIT, BOARD):
        run = _cli(["profile", str(out), "--timing", timing, "--json"])
        if run.returncode != 0:
            return {"skipped": f"edge-deploy profile --timing {timing}: {_first_line(run)}"}
        profiles[timing] = json.loads(run.stdout)
    report = json.loads((out / "report.json").read_text())
    graph = load_tflite(out / "model.tflite")
    ops = {op.name: op for op in graph.ops}
    zero_layers = {layer["name"]: layer for layer in profiles[ZERO_WAIT]["layers"]}
    timed_layers = {layer["name"]: layer for layer in profiles[BOARD]["layers"]}
    layers = []
    for meta in report["layers"]:
        if meta["short_name"] not in zero_layers:
            continue  # a view (reshape): no code, no row in the profile
        zero, timed = zero_layers[meta["short_name"]], timed_layers[meta["short_name"]]
        layers.append({
            "name": meta["short_name"], "op": meta["op"], "type": layer_type(ops[meta["name"]], graph),
            "kernel": meta["kernel"], "macs": zero["macs"], "elements": _elements(meta),
            "instructions": zero["instructions"], "cycles_zero_wait": zero["cycles"], "cycles": timed["cycles"],
            "ms": round(timed["cycles"] / CLOCK_HZ * 1e3, 3)})
    zero, timed = profiles[ZERO_WAIT], profiles[BOARD]
    return {"instructions": zero["instructions"], "cycles_zero_wait": zero["cycles"], "cycles": timed["cycles"],
            "stalls": timed["stalls"], "ms": round(timed["cycles"] / CLOCK_HZ * 1e3, 2),
            "flash_bytes": report["flash_bytes"], "weights_bytes": report["weights_bytes"],
            "model_weights_bytes": report["model_weights_bytes"],
            "flash_fallback": report["kernel_policy"]["flash_fallback"],
            "arena_bytes": report["arena_bytes"], "arena_lower_bound_bytes": report["arena_lower_bound_bytes"],
            "arena_peak_layer": report["arena_peak_layer"],
            "arena_peak_op": next(m["op"] for m in report["layers"] if m["short_name"] == report["arena_peak_layer"]),
            "layers": layers, "seconds": round(time.monotonic() - started, 1)}


def by_type(layers: list[dict]) -> dict[str, dict]:
    """Per layer type: layers, MACs, elements, instructions and cycles summed, MAC/cycle at 0 wait
    states (cycles per output element for ADD / MUL), the target and whether it is met."""
    out: dict[str, dict] = {}
    for layer in layers:
        row = out.setdefault(layer["type"], {"layers": 0, "macs": 0, "elements": 0, "instructions": 0,
                                             "cycles_zero_wait": 0, "cycles": 0})
        row["layers"] += 1
        for key in ("macs", "elements", "instructions", "cycles_zero_wait", "cycles"):
            row[key] += layer[key]
    for name, row in out.items():
        row["mac_per_cycle"] = round(row["macs"] / row["cycles_zero_wait"], 3) if row["macs"] else None
        row["cycles_per_element"] = round(row["cycles_zero_wait"] / row["elements"], 2)
        if name in TARGET_MAC_PER_CYCLE:
            row["target"] = f">= {TARGET_MAC_PER_CYCLE[name]} MAC/cycle"
            row["met"] = row["mac_per_cycle"] >= TARGET_MAC_PER_CYCLE[name]
        elif name == "add":
            row["target"] = f"<= {TARGET_ADD_CYCLES_PER_ELEMENT:g} cycles/element"
            row["met"] = row["cycles_per_element"] <= TARGET_ADD_CYCLES_PER_ELEMENT
    return out


def check(model: Path, work: Path, n: int, build_args: list[str]) -> dict:
    """``edge-deploy run --check`` of an mps2-an386 build on ``n`` seeded random inputs."""
    from edge_deploy.tflite import load_tflite

    out = work / f"{model.stem}-check"
    built = _cli(["build", str(model), "--board", CHECK_BOARD, "--out", str(out), *build_args])
    if built.returncode != 0:
        return {"passed": False, "error": _first_line(built)}
    graph = load_tflite(model)
    shape = graph.tensor(graph.inputs[0]).shape[1:]
    inputs = work / f"{model.stem}-check-inputs.npy"
    np.save(inputs, np.random.default_rng(13).integers(-128, 128, (n, *shape), dtype=np.int8))
    run = _cli(["run", str(out), "--inputs", str(inputs), "--out", str(work / f"{model.stem}-check-outputs.npy"),
                "--check", "--timeout", "120"])
    result = json.loads((out / "check.json").read_text()) if (out / "check.json").is_file() else {}
    return {"passed": run.returncode == 0, "inputs": n, "mismatches": result.get("mismatches"),
            **({} if run.returncode == 0 else {"error": _first_line(run)})}


def _cmsis_nn_path(option: Path | None) -> tuple[Path | None, str | None]:
    path = option or (Path(os.environ["EDGE_DEPLOY_CMSIS_NN"]) if os.environ.get("EDGE_DEPLOY_CMSIS_NN") else None)
    if path is None:
        return None, "no upstream checkout: set EDGE_DEPLOY_CMSIS_NN=PATH (or --cmsis-nn PATH) to a CMSIS-NN checkout"
    if not path.is_dir():
        return None, f"EDGE_DEPLOY_CMSIS_NN={path} is not a folder"
    return path, None


def compare_upstream(ours: dict, upstream: dict) -> list[dict]:
    """Per layer: our and upstream's instructions and cycles; layers matched by name."""
    theirs = {layer["name"]: layer for layer in upstream["layers"]}
    rows = []
    for layer in ours["layers"]:
        other = theirs.get(layer["name"])
        if other is None:
            continue
        rows.append({"name": layer["name"], "type": layer["type"], "instructions": layer["instructions"],
                     "upstream_instructions": other["instructions"], "cycles_zero_wait": layer["cycles_zero_wait"],
                     "upstream_cycles_zero_wait": other["cycles_zero_wait"],
                     "more_instructions": layer["instructions"] > other["instructions"]})
    return rows


def run_model(model: Path, work: Path, check_inputs: int, cmsis_nn: Path | None, cmsis_skip: str | None,
              flash_target: bool = True) -> dict:
    """Every figure of one model; with ``flash_target`` (MLPerf Tiny's models: issue 13's target)
    its flash against the model's weights + 40 KB, and the model within that where it is over."""
    name = model.stem
    row = {"model": name, "short": SHORT.get(name, name), "published_ms": PUBLISHED_MS.get(name, {}),
           "target_ms": TARGET_MS.get(name)}
    ours = measure(model, work, [], "edge-deploy")
    if "skipped" in ours:
        return {**row, "skipped": ours["skipped"]}
    macs = sum(layer["macs"] for layer in ours["layers"])
    row.update(ours, macs=macs, mac_per_cycle_zero_wait=round(macs / ours["cycles_zero_wait"], 3),
               types=by_type(ours["layers"]))
    if row["target_ms"] is not None:
        row["target_met"] = row["ms"] <= row["target_ms"]
    if flash_target:
        row["flash_target_bytes"] = ours["model_weights_bytes"] + FLASH_OVER_WEIGHTS_BYTES
        row["flash_target_met"] = ours["flash_bytes"] <= row["flash_target_bytes"]
    if flash_target and not row["flash_target_met"]:
        # The default build spends the board's flash on speed (Winograd's filters): the same model
        # within the flash target, with the kernels that trade flash for speed given back.
        limit = str(row["flash_target_bytes"])
        limited = measure(model, work, ["--flash-limit", limit], "flash-limit")
        row["within_flash_target"] = limited if "skipped" in limited else {
            "build_args": ["--flash-limit", limit], "flash_fallback": limited["flash_fallback"],
            **{k: limited[k] for k in ("instructions", "cycles_zero_wait", "cycles", "ms", "flash_bytes",
                                       "arena_bytes")},
            "target_met": row["target_ms"] is None or limited["ms"] <= row["target_ms"],
            "types": by_type(limited["layers"])}
    if check_inputs:
        row["check"] = check(model, work, check_inputs, [])
    if cmsis_nn is None:
        row["cmsis_nn"] = {"skipped": cmsis_skip}
    else:
        upstream = measure(model, work, ["--cmsis-nn", str(cmsis_nn)], "cmsis-nn")
        if "skipped" in upstream:
            row["cmsis_nn"] = upstream
        else:
            layers = compare_upstream(ours, upstream)
            row["cmsis_nn"] = {"path": str(cmsis_nn), "instructions": upstream["instructions"],
                               "cycles_zero_wait": upstream["cycles_zero_wait"], "cycles": upstream["cycles"],
                               "ms": upstream["ms"], "layers": layers,
                               "layers_with_more_instructions": [r["name"] for r in layers if r["more_instructions"]]}
    return row


def _print_model(row: dict) -> None:
    if "skipped" in row:
        print(f"\n{row['model']}: skipped: {row['skipped']}")
        return
    upstream = {r["name"]: r for r in row["cmsis_nn"].get("layers", [])}
    print(f"\n{row['short']} ({row['model']}): {row['macs']:,} MACs, {row['instructions']:,} instructions, "
          f"{row['cycles_zero_wait']:,} cycles at 0 wait states ({row['mac_per_cycle_zero_wait']} MAC/cycle), "
          f"{row['cycles']:,} on the L4R5 flash = {row['ms']} ms at 120 MHz"
          + (f" (target {row['target_ms']} ms: {'met' if row['target_met'] else 'missed'})"
             if row["target_ms"] is not None else ""))
    head = f"  {'#':>3s} {'layer':24s} {'type':16s} {'kernel':34s} {'MACs':>10s} {'instr.':>10s} {'cyc@0ws':>10s} " \
           f"{'MAC/cyc':>7s} {'cyc@L4R5':>10s} {'ms':>7s}"
    print(head + ("  upstream instr." if upstream else ""))
    for i, layer in enumerate(row["layers"]):
        mpc = f"{layer['macs'] / layer['cycles_zero_wait']:.3f}" if layer["macs"] else "-"
        line = (f"  {i:3d} {layer['name'][:24]:24s} {layer['type'][:16]:16s} {layer['kernel'][:34]:34s} "
                f"{layer['macs']:10,d} {layer['instructions']:10,d} {layer['cycles_zero_wait']:10,d} {mpc:>7s} "
                f"{layer['cycles']:10,d} {layer['ms']:7.2f}")
        if layer["name"] in upstream:
            line += f"  {upstream[layer['name']]['upstream_instructions']:,}"
        print(line)
    for name, t in sorted(row["types"].items(), key=lambda kv: -kv[1]["cycles_zero_wait"]):
        figure = f"{t['mac_per_cycle']} MAC/cycle" if t["mac_per_cycle"] is not None else \
            f"{t['cycles_per_element']} cycles/element"
        goal = f"  target {t['target']}: {'met' if t['met'] else 'missed'}" if "target" in t else ""
        share = t["cycles_zero_wait"] / row["cycles_zero_wait"]
        print(f"  {name:16s} {t['layers']:2d} layers {t['cycles_zero_wait']:11,d} cycles ({share:5.1%}) {figure}{goal}")
    print(f"  arena {row['arena_bytes']:,} B (lower bound {row['arena_lower_bound_bytes']:,} B, set by "
          f"{row['arena_peak_layer']}, a {row['arena_peak_op']})")
    target = (f" (target <= {row['flash_target_bytes']:,} B: {'met' if row['flash_target_met'] else 'missed'})"
              if "flash_target_bytes" in row else "")
    over = row["flash_bytes"] - row["model_weights_bytes"]
    print(f"  flash {row['flash_bytes']:,} B: the model's weights {row['model_weights_bytes']:,} B "
          + (f"+ {over:,} B" if over >= 0 else f"less {-over:,} B (weights stored smaller)") + f"{target}; "
          f"beyond the weights as the kernels store them ({row['weights_bytes']:,} B): "
          f"{row['flash_bytes'] - row['weights_bytes']:,} B")
    limited = row.get("within_flash_target")
    if limited and "skipped" in limited:
        print(f"  within the flash target: skipped: {limited['skipped']}")
    elif limited:
        kxk = limited["types"].get("conv kxk", {})
        families = Counter(entry.rsplit(": no ", 1)[1] for entry in limited["flash_fallback"])
        given = ", ".join(f"{family} on {n} layer{'s' * (n > 1)}" for family, n in sorted(families.items()))
        print(f"  within the flash target ({' '.join(limited['build_args'])}; given back: {given or 'nothing'}): "
              f"flash {limited['flash_bytes']:,} B, "
              f"{limited['cycles_zero_wait']:,} cycles at 0 wait states, {limited['cycles']:,} on the L4R5 flash = "
              f"{limited['ms']} ms (target {row['target_ms']} ms: {'met' if limited['target_met'] else 'missed'})"
              + (f", conv kxk {kxk['mac_per_cycle']} MAC/cycle" if kxk else ""))
    if "check" in row:
        c = row["check"]
        print(f"  run --check on {CHECK_BOARD}: {'passed' if c['passed'] else 'FAILED'} "
              f"({c.get('inputs')} inputs, mismatches {c.get('mismatches')}){' ' + c['error'] if 'error' in c else ''}")
    cm = row["cmsis_nn"]
    if "skipped" in cm:
        print(f"  upstream CMSIS-NN: skipped: {cm['skipped']}")
    else:
        print(f"  upstream CMSIS-NN ({cm['path']}): {cm['instructions']:,} instructions, {cm['cycles_zero_wait']:,} "
              f"cycles at 0 wait states, {cm['ms']} ms at 120 MHz; layers where edge-deploy executes more "
              f"instructions: {', '.join(cm['layers_with_more_instructions']) or 'none'}")


def _markdown(rows: list[dict]) -> None:
    measured = [r for r in rows if "skipped" not in r]
    print("\n| model | MACs | instructions | cycles, 0 wait states | MAC/cycle | cycles, L4R5 flash | ms at 120 MHz "
          "| target ms | X-CUBE-AI 9.0 | Plumerai | TFLM + CMSIS-NN | flash (target: weights + 40 KB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in measured:
        pub = r["published_ms"]
        print(f"| {r['short']} | {r['macs']:,} | {r['instructions']:,} | {r['cycles_zero_wait']:,} | "
              f"{r['mac_per_cycle_zero_wait']} | {r['cycles']:,} | **{r['ms']}** | {r['target_ms']} | "
              f"{pub.get('x-cube-ai-9.0', '-')} | {pub.get('plumerai', '-')} | {pub.get('tflm-cmsis-nn', '-')} | "
              f"{r['flash_bytes']:,} B ({r['flash_target_bytes']:,}: {'met' if r['flash_target_met'] else 'missed'}) |")
    for r in measured:
        limited = r.get("within_flash_target")
        if limited and "skipped" not in limited:
            print(f"| {r['short']}, {' '.join(limited['build_args'])} | | | {limited['cycles_zero_wait']:,} | | "
                  f"{limited['cycles']:,} | **{limited['ms']}** | {r['target_ms']} | | | | "
                  f"{limited['flash_bytes']:,} B (met) |")
    types = sorted({t for r in measured for t in r["types"]})
    print("\n| layer type (0 wait states) | " + " | ".join(r["short"] for r in measured) + " | target |")
    print("|---|" + "---:|" * (len(measured) + 1))
    for name in types:
        cells, target = [], "-"
        for r in measured:
            t = r["types"].get(name)
            if t is None:
                cells.append("-")
                continue
            figure = f"{t['mac_per_cycle']} MAC/c" if t["mac_per_cycle"] is not None else \
                f"{t['cycles_per_element']} c/elem"
            cells.append(f"{figure}, {t['cycles_zero_wait'] / r['cycles_zero_wait']:.0%} of cycles")
            target = t.get("target", target)
        print(f"| {name} | " + " | ".join(cells) + f" | {target} |")


def add_run_options(parser: argparse.ArgumentParser, work: str, out: str) -> None:
    """The options of a benchmark that measures whole models as this one does: ``--work`` (default
    ``work``), ``--check N``, ``--cmsis-nn PATH``, ``--out`` (default ``results/OUT``),
    ``--markdown``."""
    parser.add_argument("--work", type=Path, default=Path(work))
    parser.add_argument("--check", type=int, default=0, metavar="N",
                        help="also run N random inputs through an mps2-an386 build with `edge-deploy run --check`")
    parser.add_argument("--cmsis-nn", type=Path, default=None,
                        help="upstream CMSIS-NN checkout to compare with (default: $EDGE_DEPLOY_CMSIS_NN)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / out)
    parser.add_argument("--markdown", action="store_true", help="also print the tables of docs/benchmarks.md")


def finish(rows: list[dict], out: Path, command: str, **extra) -> int:
    """Write the measured ``rows`` (with ``extra`` fields) to ``out``; the exit status: 0 when every
    model was measured (and checked), 1 when a check failed or a model was skipped, 2 when none
    was measured (nothing written)."""
    measured = [r for r in rows if "skipped" not in r]
    if not measured:
        return 2
    from edge_deploy.fsutil import atomic_write_json

    atomic_write_json(out, {"board": BOARD, "zero_wait_timing": ZERO_WAIT, "clock_hz": CLOCK_HZ, **extra,
                            "models": rows, "source": source_state("firmware/kernels", "firmware/include",
                                                                   "sdk/edge_deploy/kernels"),
                            "command": command})
    print(f"\nwrote {out}")
    failed = [r for r in measured if not r.get("check", {"passed": True})["passed"]]
    return 1 if failed or len(measured) < len(rows) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", type=Path, default=[MLPERF / name for name in MODELS])
    add_run_options(parser, "/tmp/edge-deploy-mlperf-tiny", "mlperf_tiny.json")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    cmsis_nn, cmsis_skip = _cmsis_nn_path(args.cmsis_nn)
    rows = []
    for model in args.models:
        row = run_model(model, args.work, args.check, cmsis_nn, cmsis_skip)
        _print_model(row)
        rows.append(row)
    if args.markdown:
        _markdown(rows)
    return finish(rows, args.out, "python benchmarks/mlperf_tiny.py " + " ".join(argv or sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
