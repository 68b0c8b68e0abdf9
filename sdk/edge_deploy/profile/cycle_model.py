"""A Cortex-M4 cycle model: estimated cycles from exact per-address counts.

Inputs are plain data (see ``accesses.py``): how often each instruction address ran and,
optionally, what each address did to memory (:class:`MemoryCounts`). Costs are the Cortex-M4
Technical Reference Manual's (ARM DDI 0439B: Table 3-1 instruction timings, 3.3.2 load/store
timings, Table 7-1 FPU timings); flash wait states go through a model of the board's flash
accelerator (``flash_model.py``, ST's reference manuals). Every rule, its source, and the
defaults that are choices rather than TRM values: docs/cycle-model.md.

Only how often each address ran is known, not the order, so three things are inferred:

* how often a conditional branch was taken: flow conservation, the executions of the
  instruction after it that did not arrive by a known direct branch are its fall-throughs;
* whether a load/store pipelines behind a preceding single load: only for executions that
  reached it by falling through from that load (same basic block);
* the address-generation interlock: a load/store whose base or index was written by the
  data-processing instruction just before it (same basic block) waits one more cycle.

Every estimate is an integer number of cycles per address, so per-layer sums add up exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from edge_deploy.boards.clocking import FlashTiming
from edge_deploy.profile import decode as k
from edge_deploy.profile.accesses import MemoryCounts
from edge_deploy.profile.decode import Insn
from edge_deploy.profile.flash_model import check_geometry, data_stalls, fetch_stalls, misaligned_cycles

# Parameters the TRM gives as a range or not at all: the model's values are choices.
CHOICES = {
    "branch_refill": "P, the pipeline refill after a taken branch: the TRM gives 1 to 3",
    "divide_cycles": "SDIV/UDIV: the TRM gives 2 to 12 (early termination on the operands)",
    "load_to_address_extra": "extra cycles of a load whose address the load just before produced: the TRM "
                             "says it cannot pipeline (2 + 2 = 4) and gives no more",
}


@dataclass(frozen=True)
class CortexM4Timing:
    """The model's parameters.

    ``branch_refill`` (P), ``divide_cycles`` and ``load_to_address_extra`` are choices (see
    ``CHOICES``). ``address_interlock`` applies the one-cycle stall of a load/store whose address
    register was computed by the instruction just before (TRM 3.3.2). ``flash`` is the board's
    flash timing (wait states, accelerator); None means code and data at zero wait states.
    """

    branch_refill: int = 2
    divide_cycles: int = 7
    load_to_address_extra: int = 0
    address_interlock: bool = True
    flash: FlashTiming | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.branch_refill <= 3:
            raise ValueError("branch_refill (P) is 1 to 3 cycles on the Cortex-M4")
        if not 2 <= self.divide_cycles <= 12:
            raise ValueError("divide_cycles is 2 to 12 on the Cortex-M4")
        if not 0 <= self.load_to_address_extra <= 2:
            raise ValueError("load_to_address_extra is 0 to 2")

    @property
    def wait_states(self) -> int:
        """Flash wait states (0 without a flash timing)."""
        return self.flash.wait_states if self.flash else 0

    def with_refill(self, branch_refill: int) -> CortexM4Timing:
        """The same parameters with another P."""
        return replace(self, branch_refill=branch_refill)

    def describe(self) -> dict:
        """The parameters as plain data, with the choices named (for profile.json)."""
        return {
            "name": "cortex-m4-trm",
            "branch_refill": self.branch_refill, "divide_cycles": self.divide_cycles,
            "load_to_address_extra": self.load_to_address_extra, "address_interlock": self.address_interlock,
            "choices": dict(CHOICES),
            "flash": self.flash.model_dump(mode="json") if self.flash else None,
        }


@dataclass(frozen=True)
class CycleEstimate:
    """Cycles per address, the branch outcomes the estimate assumed, and where cycles went:
    ``parts`` sums them as ``core`` (TRM instruction costs, pipelining, interlocks, refills),
    ``fetch`` (instruction fetch from flash), ``data`` (loads from flash) and ``misaligned``."""

    cycles: dict[int, int]
    taken: dict[int, int]      # conditional or unconditional control transfers, per address
    parts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Estimated cycles over every address."""
        return sum(self.cycles.values())


def branch_outcomes(insns: Mapping[int, Insn], counts: Mapping[int, int]) -> dict[int, int]:
    """Estimate how many executions of each flow-changing instruction transferred control.

    Takes decoded instructions and per-address counts. Unconditional transfers are taken on
    every execution. For a conditional one, the fall-throughs are the executions of the next
    instruction minus the transfers known to land there from other direct branches, clamped to
    [0, executions]. Returns {address: taken count} for every instruction that writes the PC.
    """
    flow = [i for a, i in insns.items() if i.writes_pc and counts.get(a, 0)]
    taken = {i.addr: (0 if i.conditional else counts[i.addr]) for i in flow}
    incoming: dict[int, list[int]] = {}
    for i in flow:
        if i.target is not None:
            incoming.setdefault(i.target, []).append(i.addr)
    conditional = [i for i in flow if i.conditional]
    # Start from "every execution of the next instruction is a fall-through", then refine with
    # the transfers into it; a few rounds settle chains of conditional branches.
    for i in conditional:
        taken[i.addr] = counts[i.addr] - min(counts[i.addr], counts.get(i.end, 0))
    for _ in range(4):
        changed = False
        for i in conditional:
            arriving = sum(taken[src] for src in incoming.get(i.end, ()) if src != i.addr)
            fall = min(max(counts.get(i.end, 0) - arriving, 0), counts[i.addr])
            new = counts[i.addr] - fall
            changed |= new != taken[i.addr]
            taken[i.addr] = new
        if not changed:
            break
    return taken


def _arrivals(insns: Mapping[int, Insn], taken: Mapping[int, int]) -> dict[int, int]:
    """Control transfers into each address from known direct branches."""
    into: dict[int, int] = {}
    for addr, n in taken.items():
        target = insns[addr].target
        if target is not None:
            into[target] = into.get(target, 0) + n
    return into


def _reloads_three(insn: Insn) -> bool:
    """LDR PC and TBB/TBH: the TRM (3.3.2) prices their pipeline reload at three cycles."""
    return insn.kind == k.TABLE_BRANCH or (insn.kind == k.LOAD and insn.writes_pc)


def _base_cycles(insn: Insn, timing: CortexM4Timing) -> int:  # noqa: C901 - one table
    """Cycles of one execution before pipelining, interlocks, refills and memory stalls."""
    kind = insn.kind
    if kind in (k.LOAD, k.STORE_EXCLUSIVE):
        return 2                                   # Table 3-1; STREX "treated more like an LDR" (3.3.2)
    if kind == k.STORE:
        # "STR Rx,[Ry,#imm] is always one cycle"; with a register offset two, "even a stalled
        # STR normally only takes two cycles" (3.3.2).
        return 2 if insn.register_offset else 1
    if kind in (k.LOAD_DOUBLE, k.STORE_DOUBLE):
        return 3                                   # "the two words are pipelined together ... three cycles"
    if kind in (k.LOAD_MULTIPLE, k.STORE_MULTIPLE):
        return 1 + insn.n_regs                     # Table 3-1: 1 + N
    if kind == k.TABLE_BRANCH:
        return 3                                   # "two cycles for the load, one cycle for the add" (+ 3 reload)
    if kind == k.DIV:
        return timing.divide_cycles
    if kind == k.FPU_MAC:
        return 3                                   # Table 7-1: VMLA, VFMA ... 3
    if kind == k.FPU_DIV:
        return 14                                  # Table 7-1 (overlap with integer code: _divide_overlap)
    if kind in (k.FPU_LOAD, k.FPU_STORE):
        return 3 if insn.wide else 2               # Table 7-1: VLDR/VSTR .32 2, .64 3
    if kind in (k.FPU_LOAD_MULTIPLE, k.FPU_STORE_MULTIPLE):
        return 1 + insn.n_regs                     # Table 7-1: 1 + N (words)
    if kind == k.FPU and insn.core_transfer:
        return 2                                   # Table 7-1: one float or two to/from core registers: 2
    # ALU, MUL, MAC, long multiplies, DSP MACs, SIMD, IT, FPU arithmetic, branches, system: 1.
    return 1


def _pipelines(insn: Insn) -> bool:
    """A single LDR (or STREX), or a register-offset STR, saves a cycle behind a single LDR.

    (An immediate-offset STR takes one cycle anyway; loads into the PC and literal loads,
    which contend with the fetch unit, are not pipelined. Loads with base write-back pipeline
    like any LDR: the Cortex-M4 TRM's load/store list drops the Cortex-M3 TRM's "any load with a
    base update is not normally pipelined", docs/cycle-model.md.)
    """
    if insn.writes_pc or insn.pc_relative:
        return False
    return insn.kind in (k.LOAD, k.STORE_EXCLUSIVE) or (insn.kind == k.STORE and insn.register_offset)


def _pipelines_others(insn: Insn) -> bool:
    """A single load (or STREX) that the next load or store can pipeline behind."""
    return insn.kind in (k.LOAD, k.STORE_EXCLUSIVE) and not insn.writes_pc


_DATA_PROCESSING = (k.ALU, k.MUL, k.MAC, k.MUL_LONG, k.DSP, k.SIMD, k.DIV)


def _divide_overlap(insns: Mapping[int, Insn], addr: int, per_execution: Mapping[int, float]) -> float:
    """Cycles of the integer instructions that run while a VDIV/VSQRT at ``addr`` finishes: the
    ones after it in straight-line code up to the next FPU instruction (which waits for the
    divider). With no FPU instruction before the flow leaves the block, everything overlaps."""
    overlap = 0.0
    insn = insns[addr]
    while True:
        nxt = insns.get(insn.end)
        if nxt is None or nxt.addr not in per_execution:
            return float("inf")
        if nxt.fpu:
            return overlap
        overlap += per_execution[nxt.addr]
        if nxt.writes_pc:
            return float("inf")
        insn = nxt


def _core_cycles(insns: Mapping[int, Insn], counts: Mapping[int, int], taken: Mapping[int, int],
                 timing: CortexM4Timing) -> dict[int, int]:
    """TRM instruction costs with pipelining, interlocks and refills, per address."""
    arrivals = _arrivals(insns, taken)
    by_end = {i.end: i for i in insns.values()}
    cycles: dict[int, int] = {}
    for addr in sorted(counts):
        n = counts[addr]
        if n == 0:
            continue
        insn = insns[addr]
        total = n * _base_cycles(insn, timing)
        prev = by_end.get(addr)
        if prev is not None and not prev.writes_pc and counts.get(prev.addr, 0):
            # Executions that fell through from the previous instruction (same basic block).
            fall = min(max(n - arrivals.get(addr, 0), 0), counts[prev.addr])
            if _pipelines(insn) and _pipelines_others(prev):
                if prev.dest_regs & insn.addr_regs:
                    total += fall * timing.load_to_address_extra   # the load result is the address
                else:
                    total -= fall  # address phase overlapped with the previous load's data phase
            if (timing.address_interlock and insn.addr_regs and prev.kind in _DATA_PROCESSING
                    and prev.dest_regs & insn.addr_regs):
                total += fall  # address register written by the instruction just before
        refill = 3 if _reloads_three(insn) else timing.branch_refill
        total += taken.get(addr, 0) * refill
        cycles[addr] = total
    per_execution = {a: cycles[a] / counts[a] for a in cycles}
    for addr in cycles:
        if insns[addr].kind == k.FPU_DIV:
            waited = max(0.0, 13 - _divide_overlap(insns, addr, per_execution))
            cycles[addr] = counts[addr] * (1 + round(waited))
    return cycles


def estimate_cycles(
    insns: Mapping[int, Insn],
    counts: Mapping[int, int],
    timing: CortexM4Timing | None = None,
    memory: MemoryCounts | None = None,
) -> CycleEstimate:
    """Estimate Cortex-M4 cycles for instructions that executed ``counts`` times each.

    Takes decoded instructions ({address: Insn}, every counted address must be there), the
    per-address counts, the model parameters and what each address did to memory (needed for
    misaligned accesses, and for flash wait states: the reuse of flash lines). Returns a
    :class:`CycleEstimate`. Raises KeyError if a counted address was not decoded, ValueError when
    the timing has flash wait states but ``memory`` carries no line reuse at its geometry.
    """
    timing = timing or CortexM4Timing()
    if timing.wait_states:
        check_geometry(timing.flash, memory)
    taken = branch_outcomes(insns, counts)
    core = _core_cycles(insns, counts, taken, timing)
    misaligned = misaligned_cycles(memory, core) if memory is not None else {}
    data = data_stalls(timing.flash, memory, core) if timing.wait_states else {}
    busy = {a: core[a] + misaligned.get(a, 0) + data.get(a, 0) for a in core}
    fetch = fetch_stalls(timing.flash, memory, counts, busy) if timing.wait_states else {}
    cycles = {a: busy[a] + fetch.get(a, 0) for a in core}
    parts = {"core": sum(core.values()), "fetch": sum(fetch.values()), "data": sum(data.values()),
             "misaligned": sum(misaligned.values())}
    return CycleEstimate(cycles=cycles, taken=taken, parts=parts)

