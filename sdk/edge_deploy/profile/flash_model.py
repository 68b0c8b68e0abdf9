"""What flash and misaligned accesses add to the Cortex-M4's cycles: the memory half of the
cycle model (docs/cycle-model.md, "Memory").

The flash accelerator is modelled from ST's reference manuals (RM0090 3.5.2 for the STM32F4's
ART, RM0432 / RM0440 for the 64-bit-wide L4+ and G4 flash): a flash read returns
``read_bytes`` after ``wait_states`` extra cycles; a prefetch buffer reads the next sequential
line while the current one is used; an LRU instruction cache and an LRU data cache hold the
lines that were read. Its inputs are line-reuse histograms measured on the run
(:class:`edge_deploy.profile.accesses.MemoryCounts`), so every rule here is arithmetic on counts:

* a data load from flash costs ``wait_states`` more when its line is not among the last
  ``dcache.lines`` data lines loaded (no data cache: every load);
* entering a new read line by a jump costs ``wait_states`` unless the line is among the last
  ``icache.lines`` instruction lines;
* entering the next sequential line costs, unless cached, ``wait_states`` without prefetch, or
  with prefetch what is left of the line's ``wait_states + 1`` read after the core spent its
  time on the line before (RM0090 Figure 5);
* a misaligned access costs one cycle per extra aligned access the bus turns it into.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from edge_deploy.boards.clocking import FlashTiming
from edge_deploy.profile.accesses import LineGeometry, MemoryCounts

CACHED_REGION = "flash"


def line_geometry(flash: FlashTiming) -> LineGeometry:
    """The line sizes the reuse must be measured at for ``flash``: a read line, the instruction
    cache's line and the data cache's line (a read line where there is no such cache)."""
    art = flash.accelerator
    icache = art.icache if art else None
    dcache = art.dcache if art else None
    return LineGeometry(
        fetch_read_bytes=flash.read_bytes,
        fetch_line_bytes=icache.line_bytes if icache else flash.read_bytes,
        data_line_bytes=dcache.line_bytes if dcache else flash.read_bytes,
        cached=CACHED_REGION,
    )


def check_geometry(flash: FlashTiming, memory: MemoryCounts | None) -> None:
    """Raise ValueError unless ``memory`` holds line reuse measured at ``flash``'s geometry."""
    wanted = line_geometry(flash)
    if memory is None or memory.geometry is None:
        raise ValueError(f"flash wait states ({flash.wait_states}) need the run's flash line reuse: count with "
                         f"line geometry {wanted} (profile_elf(..., timing=...) does)")
    if memory.geometry != wanted:
        raise ValueError(f"the counts were measured with lines {memory.geometry}, the flash timing needs {wanted}")


def _cache_lines(flash: FlashTiming, which: str) -> int:
    art = flash.accelerator
    cache = getattr(art, which) if art else None
    return cache.lines if cache else 0


def _rounded(value: Fraction) -> int:
    return int(value + Fraction(1, 2))


def misaligned_cycles(memory: MemoryCounts, executed: Mapping[int, int]) -> dict[int, int]:
    """Extra cycles of misaligned accesses per address (addresses in ``executed`` only): the bus
    splits them into aligned accesses (Cortex-M3/M4 TRM, "unaligned accesses ... are converted
    into two or more aligned accesses"), one cycle each beyond the first: a halfword at an odd
    address or a word at 2 mod 4 is two accesses (+1), a word at an odd address three (+2)."""
    out: dict[int, int] = {}
    for addr, regions in memory.accesses.items():
        if addr not in executed:
            continue
        extra = sum(a.misaligned_half + a.misaligned_word2 + 2 * a.misaligned_word1 for a in regions.values())
        if extra:
            out[addr] = extra
    return out


def data_stalls(flash: FlashTiming, memory: MemoryCounts, executed: Mapping[int, int]) -> dict[int, int]:
    """Wait states of flash data loads that miss the data cache, per address."""
    lines = _cache_lines(flash, "dcache")
    out: dict[int, int] = {}
    for addr, reuse in memory.data_reuse.items():
        if addr in executed:
            misses = reuse.total - reuse.hits(lines)
            if misses:
                out[addr] = misses * flash.wait_states
    return out


def fetch_stalls(flash: FlashTiming, memory: MemoryCounts, counts: Mapping[int, int],
                 busy: Mapping[int, int]) -> dict[int, int]:
    """Instruction-fetch stalls per address: charged to the instruction that entered the line.

    ``busy`` is each address's cycles without fetch stalls; the time the core spends on a read
    line is the per-execution sum over the instructions that start in it (the prefetch of the
    next line runs meanwhile).
    """
    waits = flash.wait_states
    read = flash.read_bytes
    lines = _cache_lines(flash, "icache")
    prefetch = bool(flash.accelerator and flash.accelerator.prefetch)
    time_in_line: dict[int, Fraction] = {}
    for addr, cycles in busy.items():
        time_in_line[addr // read] = time_in_line.get(addr // read, Fraction(0)) + Fraction(cycles, counts[addr])
    out: dict[int, int] = {}
    for addr, reuse in memory.fetch_reuse.items():
        if addr not in busy:
            continue
        jump_misses = reuse.jump.total - reuse.jump.hits(lines)
        seq_misses = reuse.seq.total - reuse.seq.hits(lines)
        if prefetch:
            per_seq = max(Fraction(0), waits + 1 - time_in_line.get(addr // read - 1, Fraction(0)))
        else:
            per_seq = Fraction(waits)
        stall = _rounded(jump_misses * waits + seq_misses * per_seq)
        if stall:
            out[addr] = stall
    return out
