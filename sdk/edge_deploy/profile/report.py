"""Write a profile as ``profile.json``, ``profile.md`` (a table) and ``profile.png`` (a chart).

All three are deterministic for the same profile: sorted JSON keys, no timestamps, no paths,
PNG without software metadata.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge_deploy.fsutil import atomic_output_file, atomic_write_json, atomic_write_text
from edge_deploy.profile.accesses import Accesses
from edge_deploy.profile.profiler import SOURCE_QEMU, Profile
from edge_deploy.profile.renode_counts import SOURCE_RENODE

PROFILE_FORMAT = "edge-deploy/profile"
TOP_FUNCTIONS = 15
# Per count source (profile_elf's ``source``): the emulator it ran in and what it counted.
_SOURCES = {
    SOURCE_QEMU: ("QEMU", "instructions and memory accesses counted exactly by the QEMU plugin"),
    SOURCE_RENODE: ("Renode", "instructions counted exactly by Renode's block hooks (no memory accesses)"),
}


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def _ms(cycles: int, clock_hz: int) -> float:
    return round(cycles / clock_hz * 1e3, 4)


def _memory(memory: dict[str, Accesses]) -> dict[str, dict[str, int]]:
    """Accesses per region as plain data (the misaligned counts only where there are any)."""
    out = {}
    for region, acc in memory.items():
        row = asdict(acc)
        out[region] = {k: v for k, v in row.items() if v or not k.startswith("misaligned")}
    return out


def timing_summary(profile: Profile) -> str:
    """One line: the flash timing the model applied, or that code and data had no wait states."""
    flash = profile.timing.flash
    where = profile.timing_board or "the board"
    if not profile.memory:
        return ("none: no memory accesses were counted, so code and data at zero wait states (the board's flash "
                "timing needs the QEMU profile)")
    if flash is None or not flash.wait_states:
        return f"{where}: code and data at zero wait states"
    art = flash.accelerator
    if art is None:
        accel = "no accelerator"
    else:
        caches = [f"{name} {c.lines} x {c.line_bytes} B" for name, c in (("I-cache", art.icache),
                                                                        ("D-cache", art.dcache)) if c]
        accel = "ART: " + ", ".join((["prefetch"] if art.prefetch else []) + caches)
    return f"{where}: flash at {flash.wait_states} wait states, {flash.read_bytes}-byte reads, {accel}"


def profile_to_dict(profile: Profile, *, board: str, clock_hz: int,
                    prices: BuildPrices | None = None) -> dict[str, Any]:
    """Return the ``profile.json`` content for ``profile`` of a build for ``board``, timed at
    ``clock_hz`` (the clock of the board whose memory timing was applied); with ``prices``, each
    layer's modelled cycles from the build's kernel choice beside its measured ones.

    Latencies are cycles / clock in milliseconds; ratios are None where a count is zero.
    Without memory counts (Renode) there are no stalls to report: ``stalls`` is empty.
    """
    emulator, counted = _SOURCES.get(profile.source, (profile.source, "per-address counts"))
    priced = bool(profile.memory)   # the model saw the run's memory accesses
    layers = [
        {
            "index": layer.index, "name": layer.name, "op": layer.op, "macs": layer.macs,
            "instructions": layer.instructions, "cycles": layer.cycles,
            "cycles_p1": layer.cycles_range[0], "cycles_p3": layer.cycles_range[1],
            "stalls": {k: v for k, v in layer.parts.items() if k != "core" and priced},
            "memory": _memory(layer.memory),
            "mac_per_cycle": _ratio(layer.macs, layer.cycles),
            "mac_per_instruction": _ratio(layer.macs, layer.instructions),
            "latency_ms": _ms(layer.cycles, clock_hz),
        }
        for layer in profile.layers
    ]
    kernel_prices = prices.attach(layers, profile.cycles) if prices is not None else None
    return {
        "format": PROFILE_FORMAT, "version": 2,
        "source": profile.source,
        "source_note": f"{counted}; cycles from the Cortex-M4 model (docs/cycle-model.md)",
        "board": board, "machine": profile.machine, "clock_hz": clock_hz,
        "core": f"{emulator} {profile.machine} (Cortex-M4F)",
        "timing_board": profile.timing_board or board,
        "timing": timing_summary(profile),
        "inferences": profile.inferences,
        "instructions": profile.instructions, "cycles": profile.cycles, "macs": profile.macs,
        "cycles_p1": profile.cycles_range[0], "cycles_p3": profile.cycles_range[1],
        "stalls": {k: v for k, v in profile.parts.items() if k != "core" and priced},
        "memory": _memory(profile.memory),
        "mac_per_cycle": _ratio(profile.macs, profile.cycles),
        "mac_per_instruction": _ratio(profile.macs, profile.instructions),
        "latency_ms": _ms(profile.cycles, clock_hz),
        "run": {"instructions": profile.run_instructions, "cycles": profile.run_cycles},
        "cycle_model": profile.timing.describe(),
        **({"kernel_prices": kernel_prices} if kernel_prices is not None else {}),
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


@dataclass(frozen=True)
class BuildPrices:
    """The cycles the build's kernel choice modelled for each profiled layer (None where it
    chose no kernel), what they were priced at, and whether that is the timing this profile
    applies (else they are not set beside the measured cycles)."""

    cycles: list[int | None]
    priced_at: str
    comparable: bool

    def attach(self, layers: list[dict[str, Any]], measured: int | None, *,
               why_not: str | None = None) -> dict[str, Any]:
        """Set each of ``layers``' ``modelled_cycles`` and ``model_error`` beside its measured
        ``cycles`` (``measured`` their sum) where the prices are comparable and ``why_not`` (a
        reason the measurement is not in cycles) is None; return the ``kernel_prices`` record."""
        comparable = self.comparable and why_not is None and measured is not None
        if comparable:
            note = ("each layer's modelled_cycles: the price the build chose its kernel by, at the timing this "
                    "profile applies; model_error: (modelled - measured) / measured")
        else:
            note = "not set beside the measured cycles: " + (why_not or "the build priced its kernels at another "
                                                               "timing than this profile applies")
        record: dict[str, Any] = {"priced_at": self.priced_at, "comparable": comparable, "note": note}
        if comparable:
            for layer, price in zip(layers, self.cycles):
                layer["modelled_cycles"] = price
                layer["model_error"] = _ratio(price - layer["cycles"], layer["cycles"]) if price is not None else None
            modelled = sum(price or 0 for price in self.cycles)
            record.update(modelled_cycles=modelled, model_error=_ratio(modelled - measured, measured))
        return record


def _priced(data: dict[str, Any]) -> bool:
    return bool(data.get("kernel_prices") and data["kernel_prices"]["comparable"])


def price_header(data: dict[str, Any]) -> tuple[str, str]:
    """The extra header and rule cells of a profile table for the build's prices ('' without)."""
    return (" build's price (error) |", "---:|") if _priced(data) else ("", "")


def price_cell(data: dict[str, Any], row: dict[str, Any]) -> str:
    """The price cell of a layer row, or of the total row (``row`` the profile itself)."""
    if not _priced(data):
        return ""
    source = data["kernel_prices"] if row is data else row
    error = source["model_error"]
    return f" {_fmt(source['modelled_cycles'])} ({'-' if error is None else f'{error:+.1%}'}) |"


def price_lines(data: dict[str, Any]) -> list[str]:
    """The sentence under a profile table on the build's prices (none without them)."""
    prices = data.get("kernel_prices")
    return ["", f"The build priced its kernels at {prices['priced_at']}; {prices['note']}."] if prices else []


def profile_markdown(data: dict[str, Any]) -> str:
    """Render ``profile.json`` content as a Markdown report with a per-layer table."""
    model = data["cycle_model"]
    counted = bool(data["memory"])    # else no flash bytes or stalls to show
    header, rule = price_header(data)
    lines = [
        f"# Profile of the {data['board']} build, {data['timing_board']} timing ({data['clock_hz'] / 1e6:g} MHz)",
        "",
        f"Source: `{data['source']}`: {data['source_note']}.",
        f"Core: {data['core']}. Memory timing: {data['timing']}.",
        f"Cycles at P = {model['branch_refill']} (a choice; P = 1 and P = 3 give "
        f"{_fmt(data['cycles_p1'])} to {_fmt(data['cycles_p3'])}).",
        "",
        "| # | layer | op | MACs | instructions | cycles | P=1..3 | flash read B | MAC/cycle | latency ms |" + header,
        "|---:|---|---|---:|---:|---:|---|---:|---:|---:|" + rule,
    ]
    for layer in data["layers"]:
        flash_bytes = layer["memory"].get("flash", {}).get("load_bytes", 0) if counted else None
        lines.append(
            f"| {layer['index']} | {layer['name']} | {layer['op'] or '-'} | {_fmt(layer['macs'])} | "
            f"{_fmt(layer['instructions'])} | {_fmt(layer['cycles'])} | "
            f"{_fmt(layer['cycles_p1'])}..{_fmt(layer['cycles_p3'])} | {_fmt(flash_bytes)} | "
            f"{_fmt(layer['mac_per_cycle'])} | {_fmt(layer['latency_ms'])} |" + price_cell(data, layer)
        )
    flash_total = data["memory"].get("flash", {}).get("load_bytes", 0) if counted else None
    lines.append(
        f"| | **total** | | {_fmt(data['macs'])} | {_fmt(data['instructions'])} | {_fmt(data['cycles'])} | "
        f"{_fmt(data['cycles_p1'])}..{_fmt(data['cycles_p3'])} | {_fmt(flash_total)} | "
        f"{_fmt(data['mac_per_cycle'])} | {_fmt(data['latency_ms'])} |" + price_cell(data, data)
    )
    stalls = ", ".join(f"{k} {_fmt(v)}" for k, v in data["stalls"].items())
    lines += ["", f"Of the cycles, memory stalls: {stalls}." if counted else
              "Memory stalls: not modelled (no memory accesses were counted)."]
    lines += price_lines(data)
    lines += ["", "## Hottest functions (whole run)", "", "| function | instructions | cycles |", "|---|---:|---:|"]
    for func in data["functions"]:
        lines.append(f"| {func['name']} | {_fmt(func['instructions'])} | {_fmt(func['cycles'])} |")
    lines += ["", f"Cycle model: branch refill P = {model['branch_refill']}, divide = {model['divide_cycles']} "
              f"cycles, load feeding the next load's address + {model['load_to_address_extra']} (all three "
              "choices: docs/cycle-model.md).", ""]
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
    ax.set_title(f"{data['board']} build, {data['timing_board']} timing: {data['cycles']:,} cycles, "
                 f"{data['latency_ms']:.2f} ms at {data['clock_hz'] / 1e6:g} MHz (labels: MAC/cycle)", fontsize=9)
    fig.tight_layout()
    with atomic_output_file(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)
    return Path(path)


def write_profile(profile: Profile, out_dir: str | Path, *, board: str, clock_hz: int,
                  prices: BuildPrices | None = None) -> dict[str, Any]:
    """Write ``profile.json``, ``profile.md`` and ``profile.png`` into ``out_dir`` (with
    ``prices``, the build's modelled cycles beside the measured ones).

    Returns the JSON content. Each file is written atomically.
    """
    out = Path(out_dir)
    data = profile_to_dict(profile, board=board, clock_hz=clock_hz, prices=prices)
    atomic_write_json(out / "profile.json", data)
    atomic_write_text(out / "profile.md", profile_markdown(data))
    write_profile_png(data, out / "profile.png")
    return data
