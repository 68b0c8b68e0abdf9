"""Per-layer counts read from a running firmware's own counter, over the serial link.

On a board (``--port``) or in Renode the firmware times every layer with ``ed_cycles_now()``
(DWT CYCCNT where it counts) and RUN returns the counts (docs/protocol.md). Only DWT on a board
counts core cycles: Renode's DWT counts its virtual time and, without a DWT (QEMU), SysTick
counts ticks of the virtual clock, so those profiles carry ``ticks`` and leave ``cycles`` null.
The device cannot count instructions, so ``instructions`` is null too, and said so. A board's
counts vary a little from run to run (interrupts, bus contention), so the inference is run
several times and each layer's minimum is reported, with its maximum beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.fsutil import atomic_output_file, atomic_write_json, atomic_write_text
from edge_deploy.profile.report import price_cell, price_header, price_lines

PROFILE_FORMAT = "edge-deploy/profile"
NO_INSTRUCTIONS = ("the device counts time only (cycles or ticks); exact instruction counts come from "
                   "'edge-deploy profile DIR --emulator qemu'")
_SOURCE_NOTES = {
    "dwt": "DWT CYCCNT read by the firmware at every layer boundary: core clock cycles",
    "renode-dwt": "Renode's DWT read by the firmware at every layer boundary: ticks of Renode's virtual time "
                  "(instructions at the platform's MIPS rate), not core cycles",
    "systick": "SysTick ticks read by the firmware at every layer boundary (the target has no DWT, e.g. QEMU, "
               "where one tick is 1e9 / clock_hz instructions under -icount shift=0): not cycles; modelled "
               "cycles: 'edge-deploy profile DIR' on QEMU",
}


def _ratio(num: float, den: float | None) -> float | None:
    return round(num / den, 4) if den else None


def _ms(cycles: int, hz: int) -> float:
    return round(cycles / hz * 1e3, 4)


def measure_on_device(url: str, report: dict[str, Any], layers: list[dict[str, Any]], sample: np.ndarray, *,
                      target: str, runs: int = 5, timeout: float = 10.0) -> dict[str, Any]:
    """Run ``sample`` ``runs`` times on the firmware at ``url`` and return the ``profile.json``
    content: per-layer cycles (minimum over the runs, and the maximum), ``instructions`` null.

    ``layers`` are the build's run layers (mark order); ``target`` says where the firmware runs
    (``renode``, ``port /dev/ttyACM0``), for the report. Raises EdgeDeployError when the device
    runs another model (other sizes or layer names) or the link fails.
    """
    from edge_deploy.link import DeviceClient

    if runs < 1:
        raise EdgeDeployError("--runs must be at least 1", hint="pass --runs 5")
    expected = [layer.get("short_name", layer["name"]) for layer in layers]
    with DeviceClient(url, timeout=timeout) as device:
        info = device.info()
        model = device.model_info()
        sample_bytes = np.ascontiguousarray(sample).tobytes()  # int8, or a float32 / uint8 interface's type
        if model.layer_names != expected or model.input_bytes != len(sample_bytes):
            raise EdgeDeployError(
                f"the device at {url} runs model '{model.name}' with layers {model.layer_names}, "
                f"not this build's '{report['model']}' ({expected})",
                hint="flash this build's firmware.elf first (edge-deploy flash DIR --board B)",
            )
        device.load_input(sample_bytes)
        results = [device.run() for _ in range(runs)]
    per_layer = np.array([r.layer_cycles for r in results], dtype=np.int64).reshape(runs, len(layers))
    totals = np.array([r.total_cycles for r in results], dtype=np.int64)
    hz = info.cycle_hz
    source = "renode-dwt" if target == "renode" and info.cycle_source == "dwt" else info.cycle_source
    unit = "cycles" if source == "dwt" else "ticks"
    out_layers = []
    for i, layer in enumerate(layers):
        low, high = int(per_layer[:, i].min()), int(per_layer[:, i].max())
        cycles = low if unit == "cycles" else None
        out_layers.append({
            "index": i, "name": expected[i], "op": layer["op"], "macs": int(layer["macs"]),
            "instructions": None, "cycles": cycles, "cycles_max": high if unit == "cycles" else None,
            **({"ticks": low, "ticks_max": high} if unit == "ticks" else {}),
            "mac_per_cycle": _ratio(layer["macs"], cycles), "mac_per_instruction": None,
            "latency_ms": _ms(cycles, hz) if cycles is not None else None,
        })
    counted = sum(layer[unit] for layer in out_layers)
    macs = sum(layer["macs"] for layer in out_layers)
    cycles = counted if unit == "cycles" else None
    return {
        "format": PROFILE_FORMAT, "version": 2,
        "source": source, "unit": unit,
        "source_note": _SOURCE_NOTES.get(source, source),
        "board": report["board"], "device_board": info.board, "machine": target,
        "clock_hz": info.clock_hz, "cycle_hz": hz, "clock": info.fields.get("clock", "?"),
        "inferences": runs,
        "instructions": None, "instructions_note": NO_INSTRUCTIONS,
        "cycles": cycles, "macs": macs,
        **({"ticks": counted} if unit == "ticks" else {}),
        "mac_per_cycle": _ratio(macs, cycles), "mac_per_instruction": None,
        "latency_ms": _ms(cycles, hz) if cycles is not None else None,
        "run": {"instructions": None, unit: int(totals.min()), f"{unit}_max": int(totals.max())},
        "layers": out_layers,
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def device_profile_markdown(data: dict[str, Any]) -> str:
    """Render a device profile (``profile.json`` content) as a Markdown table."""
    unit = data["unit"]
    header, rule = price_header(data)
    lines = [
        f"# Profile on {data['board']} ({data['clock_hz'] / 1e6:g} MHz)",
        "",
        f"Source: `{data['source']}`: {data['source_note']}. Each layer's minimum over "
        f"{data['inferences']} inferences (maximum beside it). Instructions: {data['instructions_note']}.",
        "",
        f"| # | layer | op | MACs | {unit} | max {unit} | MAC/cycle | latency ms |" + header,
        "|---:|---|---|---:|---:|---:|---:|---:|" + rule,
    ]
    for layer in data["layers"]:
        lines.append(f"| {layer['index']} | {layer['name']} | {layer['op'] or '-'} | {_fmt(layer['macs'])} | "
                     f"{_fmt(layer[unit])} | {_fmt(layer[unit + '_max'])} | {_fmt(layer['mac_per_cycle'])} | "
                     f"{_fmt(layer['latency_ms'])} |" + price_cell(data, layer))
    lines.append(f"| | **total** | | {_fmt(data['macs'])} | {_fmt(data[unit])} | | "
                 f"{_fmt(data['mac_per_cycle'])} | {_fmt(data['latency_ms'])} |" + price_cell(data, data))
    lines += ["", f"Whole RUN request (layers plus the runtime's timing and marks): {_fmt(data['run'][unit])} {unit}.",
              *price_lines(data), ""]
    return "\n".join(lines)


def write_device_profile_png(data: dict[str, Any], path: str | Path) -> Path:
    """Bar chart of the measured cycles per layer (labels: MAC/cycle) into ``path``; returns it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    unit = data["unit"]
    names = [f"{layer['index']}: {layer['name']}" for layer in data["layers"]]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(names) + 2), 4.0), dpi=100)
    bars = ax.bar(range(len(names)), [layer[unit] for layer in data["layers"]], color="#a5573b")
    for bar, layer in zip(bars, data["layers"]):
        if layer["mac_per_cycle"] is not None:
            ax.annotate(f"{layer['mac_per_cycle']:.2f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(f"measured {unit} ({data['source']})")
    if unit == "cycles":
        title = (f"{data['board']}: {data['cycles']:,} cycles, {data['latency_ms']:.2f} ms at "
                 f"{data['cycle_hz'] / 1e6:g} MHz (labels: MAC/cycle)")
    else:
        title = f"{data['board']} on {data['machine']}: {data['ticks']:,} {data['source']} ticks (not cycles)"
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_output_file(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)
    return Path(path)


def write_device_profile(data: dict[str, Any], out_dir: str | Path) -> dict[str, Any]:
    """Write ``profile.json``, ``profile.md`` and ``profile.png`` for a device profile into
    ``out_dir``; returns ``data``."""
    out = Path(out_dir)
    atomic_write_json(out / "profile.json", data)
    atomic_write_text(out / "profile.md", device_profile_markdown(data))
    write_device_profile_png(data, out / "profile.png")
    return data
