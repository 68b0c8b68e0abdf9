"""Profile a firmware ELF on QEMU: exact instructions and memory accesses, estimated cycles,
per layer.

:func:`profile_elf` is the one call the CLI and the benchmarks make: it runs the ELF under QEMU
with the count plugin, decodes what ran, applies the Cortex-M4 cycle model per mark segment (at
the chosen P and at P = 1 and 3, the range the TRM allows) and returns a :class:`Profile` that
:mod:`edge_deploy.profile.report` writes out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edge_deploy.errors import EdgeDeployError
from edge_deploy.profile.accesses import Accesses, merge_memory
from edge_deploy.profile.attribution import SegmentCycles, Tally, merge, per_function, per_mark, segment_cycles
from edge_deploy.profile.cycle_model import CortexM4Timing
from edge_deploy.profile.decode import decode_code
from edge_deploy.elf import read_elf_symbols
from edge_deploy.profile.memory_map import MemoryLayout, machine_board, memory_layout
from edge_deploy.profile.qemu_run import DEFAULT_MACHINE, CountedRun, run_with_counts

SOURCE_QEMU = "qemu-insn-count+cortex-m4-model"


@dataclass(frozen=True)
class LayerInfo:
    """What the build knows about a layer: its ``name``, IR ``op`` and multiply-accumulates."""

    name: str
    op: str = ""
    macs: int = 0


@dataclass(frozen=True)
class LayerProfile:
    """One layer's measured instructions and memory accesses and its estimated cycles, per
    inference: ``cycles`` at the timing's P, ``cycles_range`` at P = 1 and P = 3; ``parts``
    where the cycles went (core, fetch, data, misaligned); ``memory`` its accesses by region."""

    index: int
    name: str
    op: str
    macs: int
    instructions: int
    cycles: int
    cycles_range: tuple[int, int] = (0, 0)
    parts: dict[str, int] = field(default_factory=dict)
    memory: dict[str, Accesses] = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    """Everything one profiling run measured.

    ``instructions``/``cycles`` cover the inference (all layers, per inference);
    ``run_instructions``/``run_cycles`` the whole run (start-up and exit included).
    """

    source: str
    machine: str
    inferences: int
    layers: list[LayerProfile]
    instructions: int
    cycles: int
    run_instructions: int
    run_cycles: int
    functions: dict[str, Tally]
    timing: CortexM4Timing
    exit_code: int
    macs: int = field(default=0)
    cycles_range: tuple[int, int] = (0, 0)
    parts: dict[str, int] = field(default_factory=dict)
    memory: dict[str, Accesses] = field(default_factory=dict)
    timing_board: str | None = None    # the board whose flash timing the model applied


def _divide(total: int, parts: int, what: str) -> int:
    if total % parts:
        raise EdgeDeployError(
            f"{what}: {total} is not the same for each of the {parts} inferences",
            hint="profile firmware that runs the same input for every inference, or a single one",
        )
    return total // parts


def _per_inference_accesses(memory: dict[str, Accesses], inferences: int, what: str) -> dict[str, Accesses]:
    return {region: Accesses(*(_divide(getattr(acc, f), inferences, f"{what} {region} {f}")
                               for f in Accesses.__dataclass_fields__))
            for region, acc in memory.items()}


def _sum_parts(segments: Sequence[SegmentCycles]) -> dict[str, int]:
    out: dict[str, int] = {}
    for seg in segments:
        for key, value in seg.parts.items():
            out[key] = out.get(key, 0) + value
    return out


def profile_elf(
    elf: str | Path,
    layers: Sequence[LayerInfo] | None = None,
    *,
    timing: CortexM4Timing | None = None,
    machine: str = DEFAULT_MACHINE,
    timeout_s: float = 120.0,
    layout: MemoryLayout | None = None,
    timing_board: str | None = None,
    run_counts: Callable[..., CountedRun] = run_with_counts,
    source: str = SOURCE_QEMU,
) -> Profile:
    """Run ``elf`` on QEMU with the count plugin and build its per-layer profile.

    ``layers``: what the build knows about layer i (mark i); None names them ``layer_<i>``.
    ``timing``: the model's parameters, with the flash timing to apply (``timing_board`` names
    the board it came from, for the report). ``layout``: the memory regions of the board the
    ELF was linked for (default: the bundled board QEMU emulates as ``machine``); flash line
    reuse is measured at ``timing``'s geometry. The firmware must call ``ed_profile_mark(i)``
    before layer i and ``ed_profile_mark(ED_PROFILE_MARK_END)`` after the last
    (firmware/runtime/ed_profile.h), then exit through semihosting. Returns a :class:`Profile`,
    with per-inference layer figures when the firmware ran several identical inferences.
    ``run_counts`` is where the per-address counts come from (QEMU's plugin by default, or
    :func:`edge_deploy.profile.renode_counts.run_with_counts_renode` on board ``machine``,
    which counts no memory accesses: give it a ``timing`` without flash and no ``layout``),
    named by ``source`` in the profile.
    Raises EdgeDeployError when the firmware has no marks, exits with an error status, its
    marks do not match ``layers``, or QEMU fails.
    """
    timing = timing or CortexM4Timing()
    symbols = read_elf_symbols(elf)
    markers = symbols.markers()
    if markers is None:
        raise EdgeDeployError(
            f"{Path(elf).name} has no profiling marks (symbol ed_profile_mark_pads)",
            hint="build the firmware with firmware/runtime/ed_profile.h and call ed_profile_mark() "
            "at every layer boundary",
        )
    if layout is None and timing.flash is not None:
        layout = memory_layout(machine_board(machine), timing.flash)   # else run_counts' own default
    run = run_counts(elf, machine=machine, markers=markers, timeout_s=timeout_s, layout=layout)
    if run.exit_code != 0:
        raise EdgeDeployError(
            f"{Path(elf).name} exited with status {run.exit_code} on {machine}",
            hint="run it with 'edge-deploy run' to see what failed; output was:\n" + run.stdout[-1000:],
        )
    insns = decode_code(run.counts.code)
    segments = segment_cycles(run.counts, insns, timing)
    ranges = [per_mark(segment_cycles(run.counts, insns, timing.with_refill(p))) for p in (1, 3)]
    tallies = per_mark(segments)
    end_mark = markers.end_mark
    layer_marks = sorted(m for m in tallies if m is not None and m != end_mark)
    if not layer_marks:
        raise EdgeDeployError(f"{Path(elf).name} ran without making any layer mark",
                              hint="call ed_profile_mark(i) before each layer")
    inferences = sum(1 for seg in segments if seg.mark == layer_marks[0])
    if layers is not None and len(layers) != len(layer_marks):
        raise EdgeDeployError(
            f"the firmware marked {len(layer_marks)} layers ({layer_marks}) but the build lists {len(layers)}",
            hint="rebuild the firmware so its marks match the model's layers",
        )
    if layer_marks != list(range(len(layer_marks))):
        raise EdgeDeployError(f"layer marks are not 0..{len(layer_marks) - 1}: {layer_marks}",
                              hint="number the marks by layer index from 0")
    out_layers = []
    for i in layer_marks:
        info = layers[i] if layers is not None else LayerInfo(f"layer_{i}")
        mine = [seg for seg in segments if seg.mark == i]
        what = f"layer {info.name}"
        out_layers.append(LayerProfile(
            index=i, name=info.name, op=info.op, macs=info.macs,
            instructions=_divide(tallies[i].instructions, inferences, f"{what} instructions"),
            cycles=_divide(tallies[i].cycles, inferences, f"{what} cycles"),
            cycles_range=tuple(_divide(r[i].cycles, inferences, f"{what} cycles") for r in ranges),
            parts={k: _divide(v, inferences, f"{what} {k}") for k, v in _sum_parts(mine).items()},
            memory=_per_inference_accesses(merge_memory(seg.memory for seg in mine).by_region(), inferences, what),
        ))
    counts, cycles = merge(segments)
    parts: dict[str, int] = {}
    memory: dict[str, Accesses] = {}
    for layer in out_layers:
        for key, value in layer.parts.items():
            parts[key] = parts.get(key, 0) + value
        for region, acc in layer.memory.items():
            memory[region] = memory.get(region, Accesses()) + acc
    return Profile(
        source=source,
        machine=machine,
        inferences=inferences,
        layers=out_layers,
        instructions=sum(layer.instructions for layer in out_layers),
        cycles=sum(layer.cycles for layer in out_layers),
        run_instructions=run.counts.total,
        run_cycles=sum(cycles.values()),
        functions=per_function(counts, cycles, symbols),
        timing=timing,
        exit_code=run.exit_code,
        macs=sum(layer.macs for layer in out_layers),
        cycles_range=(sum(layer.cycles_range[0] for layer in out_layers),
                      sum(layer.cycles_range[1] for layer in out_layers)),
        parts=parts,
        memory=dict(sorted(memory.items())),
        timing_board=timing_board,
    )
