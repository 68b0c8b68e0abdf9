"""Per-address executed-instruction counts from Renode, in the structure the QEMU plugin gives.

What Renode 1.15 offers for counting:

* execution tracing (``cpu CreateExecutionTracing``): every executed instruction to a file, but
  it asks Renode's LLVM disassembler for each instruction's length, a library the local build
  leaves out (docs/renode.md), and a trace of millions of lines is slow to write and read;
* its profiler (``cpu EnableProfiler``): call stacks per function for Perfetto/speedscope, no
  per-instruction counts;
* ``cpu ExecutedInstructions``: one running total;
* CPU hooks: ``SetHookAtBlockEnd`` calls back after every executed translation block with the
  block's first address and how many of its instructions ran; ``AddHook`` runs at one address.

This module uses the hooks. A Python script run inside Renode (:func:`counter_script`) counts
(first address, instructions run) pairs and closes a segment whenever a block starts at a
profiling-mark pad (the pads of firmware/runtime/ed_profile.h: a branch lands on pad ``i`` for
mark ``i``, so that block is the pad's single ``bx lr``, counted in the segment it opens, as the
QEMU plugin counts it). At the firmware's exit routine it writes the segments to a file
(:func:`parse_block_counts` reads it). A translation block is straight-line code, so each pair
expands to per-address counts by walking the block's instructions in the ELF: a Thumb-2
instruction is 4 bytes when its first halfword starts 0b11101, 0b11110 or 0b11111, else 2
(:func:`expand_blocks`). The result is an :class:`~edge_deploy.profile.counts.InsnCounts`, as
from the QEMU plugin, so the same decoder and Cortex-M4 cycle model price it.
"""

from __future__ import annotations

import bisect
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from edge_deploy.errors import EdgeDeployError
from edge_deploy.fsutil import owned_temp_dir
from edge_deploy.profile.counts import InsnCounts, Segment
from edge_deploy.elf import MarkerSymbols, read_elf_symbols
from edge_deploy.profile.memory_map import MemoryLayout
from edge_deploy.profile.qemu_run import CountedRun

FORMAT_HEADER = "edge-deploy-renode-blocks 1"
SOURCE_RENODE = "renode-block-count+cortex-m4-model"
COUNTS_FILE = "block_counts.txt"


@dataclass(frozen=True)
class BlockSegment:
    """One mark segment as Renode reports it: ``blocks`` maps (first address, instructions run)
    to how many times that happened; ``mark`` is None before the first mark."""

    index: int
    mark: int | None
    blocks: dict[tuple[int, int], int]


@dataclass(frozen=True)
class BlockCounts:
    """The counting script's output: segments in run order and the firmware's exit status."""

    segments: tuple[BlockSegment, ...]
    exit_code: int
    total: int


def counter_script(markers: MarkerSymbols | None, out_path: str | os.PathLike) -> str:
    """IronPython (2.7) for Renode's ``include``: count executed blocks per mark segment and
    write them to ``out_path`` at the firmware's exit. Needs the exit watch of
    :mod:`edge_deploy.emulators.renode` included before it (``edge_deploy_cpu``,
    ``edge_deploy_at_exit``). ``markers`` None counts one segment."""
    lo, hi = (markers.pads.addr, markers.pads.end) if markers is not None else (0, 0)
    return f'''# edge-deploy: executed blocks per profiling-mark segment (generated; IronPython inside Renode).
from System.IO import File, StreamWriter

_ED_PADS_LO = {lo:#x}
_ED_PADS_HI = {hi:#x}
_ED_OUT = r'{Path(out_path)}'
_ed_run = dict(mark=-1, counts=dict(), segments=[])


def _ed_on_block(pc, n):
    if _ED_PADS_LO <= pc < _ED_PADS_HI:
        _ed_run['segments'].append((_ed_run['mark'], _ed_run['counts']))
        _ed_run['counts'] = dict()
        _ed_run['mark'] = int((pc - _ED_PADS_LO) // 2)
    counts = _ed_run['counts']
    key = (pc, n)
    counts[key] = counts.get(key, 0) + 1


def _ed_write_counts(status):
    segments = _ed_run['segments'] + [(_ed_run['mark'], _ed_run['counts'])]
    _ed_run['segments'] = []
    _ed_run['counts'] = dict()
    out = StreamWriter(_ED_OUT + '.part')
    out.Write('{FORMAT_HEADER}\\n')
    total = 0
    for index, (mark, counts) in enumerate(segments):
        out.Write('segment %d %d\\n' % (index, mark))
        for (pc, n), count in sorted(counts.items()):
            out.Write('%x %d %d\\n' % (int(pc), int(n), count))
            total += int(n) * count
    out.Write('exit %d\\n' % status)
    out.Write('end %d\\n' % total)
    out.Close()
    File.Move(_ED_OUT + '.part', _ED_OUT)


edge_deploy_at_exit.append(_ed_write_counts)
edge_deploy_cpu.SetHookAtBlockEnd(_ed_on_block)
'''


def parse_block_counts(text: str, *, source: str = "Renode block counts") -> BlockCounts:
    """Parse the counting script's output. Raises EdgeDeployError on a malformed or truncated
    file (no ``end`` line, or one that disagrees with the counts)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != FORMAT_HEADER:
        raise EdgeDeployError(f"{source} is not a Renode block-count file",
                              hint="the Renode run ended before its exit routine; rerun the profile")
    segments: list[BlockSegment] = []
    exit_code = declared = None
    try:
        for line in lines[1:]:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "segment":
                mark = int(parts[2])
                segments.append(BlockSegment(int(parts[1]), None if mark < 0 else mark, {}))
            elif parts[0] == "exit":
                exit_code = int(parts[1])
            elif parts[0] == "end":
                declared = int(parts[1])
            elif segments:
                segments[-1].blocks[(int(parts[0], 16), int(parts[1]))] = int(parts[2])
            else:
                raise ValueError(f"unexpected line {line!r}")
    except (ValueError, IndexError) as exc:
        raise EdgeDeployError(f"{source} is malformed: {exc}", hint="rerun the profile") from exc
    total = sum(n * count for seg in segments for (_, n), count in seg.blocks.items())
    if declared is None or exit_code is None or declared != total:
        raise EdgeDeployError(f"{source} is truncated (no matching 'end' line)", hint="rerun the profile")
    return BlockCounts(tuple(segments), exit_code, total)


class ElfCode:
    """The bytes of an ELF's loadable segments, by address (what the core fetches)."""

    def __init__(self, elf: str | os.PathLike) -> None:
        from elftools.elf.elffile import ELFFile

        self._starts: list[int] = []
        self._data: list[bytes] = []
        with open(elf, "rb") as handle:
            for segment in ELFFile(handle).iter_segments():
                if segment["p_type"] == "PT_LOAD" and segment["p_filesz"]:
                    self._starts.append(segment["p_paddr"])
                    self._data.append(segment.data())
        order = sorted(range(len(self._starts)), key=self._starts.__getitem__)
        self._starts = [self._starts[i] for i in order]
        self._data = [self._data[i] for i in order]

    def read(self, addr: int, size: int) -> bytes:
        """``size`` bytes at ``addr``; raises EdgeDeployError outside the ELF's loaded bytes."""
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0:
            offset = addr - self._starts[i]
            data = self._data[i][offset:offset + size]
            if len(data) == size:
                return data
        raise EdgeDeployError(f"address {addr:#x} ran in Renode but is not in the firmware's loaded code",
                              hint="profile firmware that runs from its own flash image")


def thumb_size(first_halfword: int) -> int:
    """Bytes of the Thumb-2 instruction whose first halfword is ``first_halfword``."""
    return 4 if (first_halfword >> 11) in (0b11101, 0b11110, 0b11111) else 2


def expand_blocks(segments: tuple[BlockSegment, ...], code: ElfCode) -> InsnCounts:
    """Per-address counts and instruction bytes from block counts (see the module notes)."""
    insn_bytes: dict[int, bytes] = {}
    layouts: dict[tuple[int, int], list[int]] = {}
    out: list[Segment] = []
    for seg in segments:
        counts: Counter[int] = Counter()
        for (first, n), times in seg.blocks.items():
            addresses = layouts.get((first, n))
            if addresses is None:
                addresses, addr = [], first
                for _ in range(n):
                    size = thumb_size(int.from_bytes(code.read(addr, 2), "little"))
                    insn_bytes[addr] = code.read(addr, size)
                    addresses.append(addr)
                    addr += size
                layouts[(first, n)] = addresses
            for addr in addresses:
                counts[addr] += times
        out.append(Segment(seg.index, seg.mark, dict(sorted(counts.items()))))
    return InsnCounts(code=dict(sorted(insn_bytes.items())), segments=tuple(out))


def run_with_counts_renode(
    elf: str | Path,
    *,
    machine: str = "stm32f4-discovery",
    markers: MarkerSymbols | None | bool = True,
    timeout_s: float = 120.0,
    layout: MemoryLayout | None = None,
) -> CountedRun:
    """Run ``elf`` on the Renode board ``machine`` until it reaches its exit routine; count
    every executed instruction, split at the profiling marks. The same call and result as
    :func:`edge_deploy.profile.qemu_run.run_with_counts`, so :func:`profile_elf` takes either,
    but without memory accesses: the block hooks see none, so the counts carry no
    :class:`~edge_deploy.profile.accesses.MemoryCounts` and ``layout`` must be None.

    Raises EdgeDeployError when a ``layout`` is given, Renode is missing, the board has no
    Renode platform, the ELF has no exit routine, or the firmware does not reach it within
    ``timeout_s`` seconds.
    """
    import subprocess

    from edge_deploy.emulators.renode import EXIT_ROUTINE, start_renode

    elf = Path(elf)
    if layout is not None:
        raise EdgeDeployError("Renode's block hooks count instructions, not memory accesses, so no memory layout "
                              "or flash timing can be measured in Renode",
                              hint="profile in Renode with a timing without flash (CortexM4Timing()), or on QEMU "
                                   "for the board's memory timing")
    if markers is True:
        markers = read_elf_symbols(elf).markers()
    elif markers is False:
        markers = None
    code = ElfCode(elf)
    tmp = owned_temp_dir("edge-deploy-renode-profile-")
    try:
        out = tmp / COUNTS_FILE
        script = tmp / "count_blocks.py"
        script.write_text(counter_script(markers, out))
        with start_renode(machine, elf, scripts=[script], work_dir=tmp / "renode") as target:
            if target.status_path is None:
                raise EdgeDeployError(f"{elf.name} has no {EXIT_ROUTINE}, so Renode cannot tell when it ends",
                                      hint="profile firmware linked with the runtime's semihost.c")
            try:
                target.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired as exc:
                raise EdgeDeployError(
                    f"{elf.name} did not reach {EXIT_ROUTINE} within {timeout_s:g} s in Renode ({machine})",
                    hint="raise the timeout for long runs, or check the firmware on QEMU first") from exc
        blocks = parse_block_counts(out.read_text(), source=str(out)) if out.is_file() else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if blocks is None:
        raise EdgeDeployError("Renode ended without writing its block counts", hint="rerun the profile")
    return CountedRun(exit_code=blocks.exit_code, stdout="", stderr="", counts=expand_blocks(blocks.segments, code))
