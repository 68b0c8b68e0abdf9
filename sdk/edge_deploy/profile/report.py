"""Write a profile as ``profile.json``, ``profile.md`` (a table) and ``profile.png`` (a chart).

All three are deterministic for the same profile: sorted JSON keys, no timestamps, no paths,
PNG without software metadata.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from edge_deploy.fsutil import atomic_output_file, atomic_write_json, atomic_write_text
from edge_deploy.profile.profiler import Profile

PROFILE_FORMAT = "edge-deploy/profile"
TOP_FUNCTIONS = 15


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def _ms(cycles: int, clock_hz: int) -> float:
    return round(cycles / clock_hz * 1e3, 4)


def profile_to_dict(profile: Profile, *, board: str, clock_hz: int) -> dict[str, Any]:
    """Return the ``profile.json`` content for ``profile`` on ``board`` clocked at ``clock_hz``.

    Latencies are cycles / clock in milliseconds; ratios are None where a count is zero.
    """
    layers = [
        {
            "index": layer.index, "name": layer.name, "op": layer.op, "macs": layer.macs,
            "instructions": layer.instructions, "cycles": layer.cycles,
            "mac_per_cycle": _ratio(layer.macs, layer.cycles),
            "mac_per_instruction": _ratio(layer.macs, layer.instructions),
            "latency_ms": _ms(layer.cycles, clock_hz),
        }
        for layer in profile.layers
    ]
    return {
        "format": PROFILE_FORMAT, "version": 1,
        "source": profile.source,
        "board": board, "machine": profile.machine, "clock_hz": clock_hz,
        "inferences": profile.inferences,
        "instructions": profile.instructions, "cycles": profile.cycles, "macs": profile.macs,
        "mac_per_cycle": _ratio(profile.macs, profile.cycles),
        "mac_per_instruction": _ratio(profile.macs, profile.instructions),
        "latency_ms": _ms(profile.cycles, clock_hz),
        "run": {"instructions": profile.run_instructions, "cycles": profile.run_cycles},
        "cycle_model": {"name": "cortex-m4-trm", **asdict(profile.timing)},
        "layers": layers,
        "functions": [
            {"name": name, "instructions": t.instructions, "cycles": t.cycles}
            for name, t in list(profile.functions.items())[:TOP_FUNCTIONS]
        ],
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def profile_markdown(data: dict[str, Any]) -> str:
    """Render ``profile.json`` content as a Markdown report with a per-layer table."""
    lines = [
        f"# Profile on {data['board']} ({data['clock_hz'] / 1e6:g} MHz)",
        "",
        f"Source: `{data['source']}`. Instructions are exact (counted in the emulator); cycles are a Cortex-M4 "
        "model estimate (docs/cycle-model.md).",
        "",
        "| # | layer | op | MACs | instructions | cycles | MAC/cycle | latency ms |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for layer in data["layers"]:
        lines.append(
            f"| {layer['index']} | {layer['name']} | {layer['op'] or '-'} | {_fmt(layer['macs'])} | "
            f"{_fmt(layer['instructions'])} | {_fmt(layer['cycles'])} | {_fmt(layer['mac_per_cycle'])} | "
            f"{_fmt(layer['latency_ms'])} |"
        )
    lines.append(
        f"| | **total** | | {_fmt(data['macs'])} | {_fmt(data['instructions'])} | {_fmt(data['cycles'])} | "
        f"{_fmt(data['mac_per_cycle'])} | {_fmt(data['latency_ms'])} |"
    )
    lines += ["", "## Hottest functions (whole run)", "", "| function | instructions | cycles |", "|---|---:|---:|"]
    for func in data["functions"]:
        lines.append(f"| {func['name']} | {_fmt(func['instructions'])} | {_fmt(func['cycles'])} |")
    model = data["cycle_model"]
    lines += ["", f"Cycle model: branch refill P = {model['branch_refill']}, divide = {model['divide_cycles']} "
              f"cycles, flash wait states = {model['flash_wait_states']}.", ""]
    return "\n".join(lines)


def write_profile_png(data: dict[str, Any], path: str | Path) -> Path:
    """Draw the per-layer cycles (bars) and MAC/cycle (labels) into ``path``; returns it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [f"{layer['index']}: {layer['name']}" for layer in data["layers"]]
    cycles = [layer["cycles"] for layer in data["layers"]]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(names) + 2), 4.0), dpi=100)
    bars = ax.bar(range(len(names)), cycles, color="#3b6ea5")
    for bar, layer in zip(bars, data["layers"]):
        if layer["mac_per_cycle"] is not None:
            ax.annotate(f"{layer['mac_per_cycle']:.2f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("estimated Cortex-M4 cycles")
    ax.set_title(f"{data['board']}: {data['cycles']:,} cycles, {data['latency_ms']:.2f} ms "
                 f"at {data['clock_hz'] / 1e6:g} MHz (labels: MAC/cycle)", fontsize=9)
    fig.tight_layout()
    with atomic_output_file(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)
    return Path(path)


def write_profile(profile: Profile, out_dir: str | Path, *, board: str, clock_hz: int) -> dict[str, Any]:
    """Write ``profile.json``, ``profile.md`` and ``profile.png`` into ``out_dir``.

    Returns the JSON content. Each file is written atomically.
    """
    out = Path(out_dir)
    data = profile_to_dict(profile, board=board, clock_hz=clock_hz)
    atomic_write_json(out / "profile.json", data)
    atomic_write_text(out / "profile.md", profile_markdown(data))
    write_profile_png(data, out / "profile.png")
    return data
