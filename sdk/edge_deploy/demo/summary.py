"""The demo's ``summary.json`` and the text it prints, from the files the stages wrote.

Every figure is copied from where its stage put it: sizes and the layer list from the build's
``report.json``, instructions and cycles from ``profile.json``, the comparison from
``check.json``, parameters and MACs from the pipeline's ``train/metrics.json`` and
``slim/slim.json``; only the accuracies on the test windows are computed by the demo itself.
Accuracies are fractions (0..1), sizes bytes, latencies milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_deploy.boards import Board

SUMMARY_FORMAT = "edge-deploy/demo-summary"
REFERENCE_CLOCK_HZ = 168_000_000  # an STM32F4 at full speed, the usual Cortex-M4 comparison point


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _model_figures(build_dir: Path, report: dict[str, Any]) -> dict[str, Any]:
    """Parameters and MACs before and after slimming (the float model's counts; the int8 graph's
    MACs are the build's ``macs``)."""
    metrics = _read_json(build_dir / "pipeline" / "train" / "metrics.json") or {}
    slim = _read_json(build_dir / "pipeline" / "slim" / "slim.json")
    if slim is None:
        before = {"params": metrics.get("parameters"), "macs": metrics.get("macs")}
        after, methods = dict(before), []
    else:
        before = {"params": slim["params_before"], "macs": slim["macs_before"]}
        after = {"params": slim["params_after"], "macs": slim["macs_after"]}
        methods = list(slim["methods"])
    return {
        "slim_methods": methods,
        "params_before": before["params"], "params_after": after["params"],
        "macs_before": before["macs"], "macs_after": after["macs"],
        "int8_macs": report["macs"], "layers": report["n_layers"],
        "float_accuracy_trained": metrics.get("accuracy"),
    }


def _latency_ms(cycles: int, hz: int) -> float:
    return round(cycles / hz * 1e3, 4)


def demo_summary(*, out_dir: Path, pipeline_file: Path, board: Board, report: dict[str, Any],
                 profile: dict[str, Any], target: dict[str, Any], seconds: dict[str, float]) -> dict[str, Any]:
    """The ``summary.json`` content of a demo in ``out_dir``: ``passed``, ``accuracy``,
    ``check``, ``model``, ``memory``, ``profile`` (per layer), ``seconds`` and ``files``
    (relative to ``out_dir``)."""
    build_dir = out_dir / "build"
    check = target["check"]
    layers = [{key: layer[key] for key in ("name", "op", "macs", "instructions", "cycles", "mac_per_cycle")}
              for layer in profile["layers"]]
    files = {
        "pipeline": pipeline_file.name,
        "firmware": "build/firmware.elf",
        "project": "build/src",
        "report": "build/report.json",
        "check": "build/check.json",
        "profile": "build/profile.json",
        "profile_table": "build/profile.md",
        "profile_chart": "build/profile.png",
        "plan_chart": "build/plan.png",
        "model": "build/model.tflite",
        "checkpoints": "build/pipeline",
        "test_windows": "test_windows.npy",
    }
    return {
        "format": SUMMARY_FORMAT, "version": 1,
        "passed": check["mismatches"] == 0,
        "model_name": report["model"], "board": board.name, "kernels": report["kernels"],
        "accuracy": target["accuracy"],
        "check": {key: check[key] for key in ("n", "mismatches", "mismatched_elements", "max_abs_diff",
                                              "first_mismatches")},
        "model": _model_figures(build_dir, report),
        "memory": {
            "flash_bytes": report["flash_bytes"], "ram_bytes": report["ram_bytes"],
            "arena_bytes": report["arena_bytes"], "arena_lower_bound_bytes": report["arena_lower_bound_bytes"],
            "weights_bytes": report["weights_bytes"], "stack_bytes": report["stack_bytes"],
            "board_flash_bytes": board.memory.flash.size, "board_ram_bytes": board.memory.ram.size,
        },
        "profile": {
            "source": profile["source"], "instructions": profile["instructions"], "cycles": profile["cycles"],
            "macs": profile["macs"], "mac_per_cycle": profile["mac_per_cycle"],
            "clock_hz": board.clock_hz, "latency_ms": profile["latency_ms"],
            "reference_clock_hz": REFERENCE_CLOCK_HZ,
            "latency_ms_reference_clock": _latency_ms(profile["cycles"], REFERENCE_CLOCK_HZ),
            "layers": layers,
        },
        "seconds": {key: round(value, 1) for key, value in seconds.items()},
        "files": files,
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:6.2f} %"


def _num(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:.2f}"


def _layer_table(layers: list[dict[str, Any]], profile: dict[str, Any]) -> list[str]:
    header = ("#", "layer", "op", "MACs", "instructions", "cycles", "MAC/cycle")
    rows = [(str(i), layer["name"], layer["op"], _num(layer["macs"]), _num(layer["instructions"]),
             _num(layer["cycles"]), _num(layer["mac_per_cycle"] if layer["macs"] else None))
            for i, layer in enumerate(layers)]
    rows.append(("", "total", "", _num(profile["macs"]), _num(profile["instructions"]), _num(profile["cycles"]),
                 _num(profile["mac_per_cycle"])))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    left = {1, 2}  # names left-aligned, numbers right-aligned
    return ["  " + "  ".join(cell.ljust(w) if i in left else cell.rjust(w)
                             for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
            for row in [header, *rows]]


_TARGET_NAMES = {"qemu": "QEMU", "renode": "Renode"}
_METHOD_NAMES = {"slimming": "Network Slimming", "scalpel": "Scalpel", "activation": "activation pruning"}


def _file_lines(out: Path, files: dict[str, str]) -> list[str]:
    entries = [
        (f"{out / files['pipeline']}", "the pipeline that ran, self-contained (edge-deploy build rebuilds it)"),
        (f"{out / 'build'}/", "firmware.elf, src/ (the C project), report.json, check.json, profile.json/.md/.png, "
                              "plan.png, pipeline/ (checkpoints)"),
        (f"{out / files['test_windows']}", "the int8 test windows (edge-deploy run --inputs)"),
        (f"{out / 'summary.json'}", "these figures"),
    ]
    width = max(len(path) for path, _ in entries)
    return [f"  {path.ljust(width)}  {what}" for path, what in entries]


def format_summary(summary: dict[str, Any], out_dir: str | Path) -> str:
    """The text ``edge-deploy demo`` prints for ``summary`` (files shown under ``out_dir``)."""
    acc, check, model = summary["accuracy"], summary["check"], summary["model"]
    mem, prof = summary["memory"], summary["profile"]
    out = Path(out_dir)
    trained = "trained, before slimming" if model["slim_methods"] else "trained"
    verdict = ("0 mismatches" if summary["passed"]
               else f"{check['mismatches']} MISMATCHES (first: {check['first_mismatches']})")
    lines = [
        f"{summary['model_name']} on {summary['board']} ({summary['kernels']} kernels): "
        f"{'passed' if summary['passed'] else 'FAILED'}",
        "",
        f"accuracy on {acc['windows']} of {acc['windows_in_split']} {acc['split']} windows "
        f"({acc['data']}, {', '.join(str(v) for v in acc['load_hp'])} HP)",
        f"  float, PyTorch               {_pct(acc['float'])}   ({trained}: "
        f"{_pct(model['float_accuracy_trained']).strip()} on the whole split)",
        f"  int8, reference interpreter  {_pct(acc['int8_reference'])}",
        f"  int8, firmware on {_TARGET_NAMES.get(acc['target'], acc['target']):<10} {_pct(acc['on_target'])}   "
        f"{verdict} with the reference "
        f"over {check['n']} outputs",
    ]
    methods = " + ".join(_METHOD_NAMES.get(m, m) for m in model["slim_methods"]) or "not slimmed"
    factor = model["macs_before"] / model["macs_after"] if model["macs_after"] else 0.0
    lines += [
        f"model ({methods})",
        f"  parameters  {_num(model['params_before'])} -> {_num(model['params_after'])}",
        f"  MACs        {_num(model['macs_before'])} -> {_num(model['macs_after'])} ({factor:.2f}x fewer)"
        + (f"; the int8 graph runs {_num(model['int8_macs'])}" if model["int8_macs"] != model["macs_after"] else ""),
        f"memory on {summary['board']} ({mem['board_flash_bytes'] // 1024:,} KiB flash, "
        f"{mem['board_ram_bytes'] // 1024:,} KiB RAM)",
        f"  flash  {_num(mem['flash_bytes'])} B (weights {_num(mem['weights_bytes'])} B)",
        f"  RAM    {_num(mem['ram_bytes'])} B: arena {_num(mem['arena_bytes'])} B (lower bound "
        f"{_num(mem['arena_lower_bound_bytes'])} B), stack {_num(mem['stack_bytes'])} B",
        f"per layer on QEMU ({prof['source']}: exact instructions, modelled Cortex-M4 cycles)",
        *_layer_table(prof["layers"], prof),
        f"latency  {prof['latency_ms']:.3f} ms at {prof['clock_hz'] / 1e6:g} MHz (the board's clock), "
        f"{prof['latency_ms_reference_clock']:.3f} ms at {prof['reference_clock_hz'] / 1e6:g} MHz",
        "files",
        *_file_lines(out, summary["files"]),
    ]
    sec = summary["seconds"]
    lines.append(f"time  pipeline {sec['pipeline']:.0f} s, build {sec['build']:.0f} s, target run "
                 f"{sec['target']:.0f} s, profile {sec['profile']:.0f} s; {sec['total']:.0f} s in all")
    return "\n".join(lines)
