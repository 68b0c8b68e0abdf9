"""Turn per-address counts into per-function, per-range and per-layer figures.

The cycle model is applied to each mark segment on its own (a shared kernel runs with other
loop trip counts in each layer), so per-layer cycles add up exactly to the total.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from edge_deploy.profile.accesses import MemoryCounts
from edge_deploy.profile.counts import InsnCounts
from edge_deploy.profile.cycle_model import CortexM4Timing, estimate_cycles
from edge_deploy.profile.decode import Insn
from edge_deploy.elf import ElfSymbols

UNKNOWN_FUNCTION = "<unknown>"
OUTSIDE_RANGES = "<other>"


@dataclass(frozen=True)
class Tally:
    """Instructions executed and their estimated cycles."""

    instructions: int
    cycles: int


@dataclass(frozen=True)
class SegmentCycles:
    """One mark segment with its per-address counts, estimated cycles, where the cycles went
    (``parts``: core, fetch, data, misaligned) and its memory accesses."""

    mark: int | None
    counts: dict[int, int]
    cycles: dict[int, int]
    parts: dict[str, int] = field(default_factory=dict)
    memory: MemoryCounts = field(default_factory=MemoryCounts)


def segment_cycles(counts: InsnCounts, insns: Mapping[int, Insn], timing: CortexM4Timing) -> list[SegmentCycles]:
    """Estimate cycles per address for every segment of a run, in run order."""
    out = []
    for seg in counts.segments:
        estimate = estimate_cycles(insns, seg.counts, timing, seg.memory)
        out.append(SegmentCycles(seg.mark, seg.counts, estimate.cycles, estimate.parts, seg.memory))
    return out


def merge(segments: Sequence[SegmentCycles]) -> tuple[dict[int, int], dict[int, int]]:
    """Sum counts and cycles per address over ``segments``; returns (counts, cycles)."""
    n: Counter[int] = Counter()
    c: Counter[int] = Counter()
    for seg in segments:
        n.update(seg.counts)
        c.update(seg.cycles)
    return dict(n), dict(c)


def per_function(
    counts: Mapping[int, int], cycles: Mapping[int, int], symbols: ElfSymbols
) -> dict[str, Tally]:
    """Group counts and cycles by the ELF function that holds each address.

    Addresses outside every function go to ``<unknown>``. Returns {function: Tally}, sorted by
    cycles, largest first (ties by name).
    """
    n: Counter[str] = Counter()
    c: Counter[str] = Counter()
    for addr, count in counts.items():
        func = symbols.function_at(addr)
        name = func.name if func else UNKNOWN_FUNCTION
        n[name] += count
        c[name] += cycles.get(addr, 0)
    order = sorted(n, key=lambda name: (-c[name], name))
    return {name: Tally(n[name], c[name]) for name in order}


def per_range(
    counts: Mapping[int, int], cycles: Mapping[int, int], ranges: Mapping[str, tuple[int, int]]
) -> dict[str, Tally]:
    """Group counts and cycles by named address ranges [lo, hi).

    Ranges must not overlap (ValueError otherwise). Addresses in no range go to ``<other>``,
    so the tallies always add up to the totals. Returns {range name: Tally} in input order.
    """
    spans = sorted((lo, hi, name) for name, (lo, hi) in ranges.items())
    for (lo1, hi1, a), (lo2, _hi2, b) in zip(spans, spans[1:]):
        if lo2 < hi1:
            raise ValueError(f"address ranges {a} and {b} overlap")
    n: Counter[str] = Counter()
    c: Counter[str] = Counter()
    for addr, count in counts.items():
        name = next((nm for lo, hi, nm in spans if lo <= addr < hi), OUTSIDE_RANGES)
        n[name] += count
        c[name] += cycles.get(addr, 0)
    names = [*ranges, OUTSIDE_RANGES]
    return {name: Tally(n[name], c[name]) for name in names if name in ranges or n[name]}


def per_mark(segments: Sequence[SegmentCycles]) -> dict[int | None, Tally]:
    """Total instructions and cycles per mark over every segment it opened (None: before any)."""
    out: dict[int | None, list[int]] = {}
    for seg in segments:
        tally = out.setdefault(seg.mark, [0, 0])
        tally[0] += sum(seg.counts.values())
        tally[1] += sum(seg.cycles.values())
    return {mark: Tally(v[0], v[1]) for mark, v in out.items()}
