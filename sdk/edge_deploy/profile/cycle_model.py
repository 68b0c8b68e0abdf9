"""A Cortex-M4 cycle model: estimated cycles from exact per-address instruction counts.

The costs are the instruction timings of the Cortex-M4 Technical Reference Manual (processor
instruction set summary, load/store timings, FPU instruction timings). Only how often each
address ran is known, not the order, so three things are inferred (docs/cycle-model.md):

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
from dataclasses import dataclass

from edge_deploy.profile import decode as k
from edge_deploy.profile.decode import Insn


@dataclass(frozen=True)
class CortexM4Timing:
    """The model's parameters (the TRM leaves them to the part and the program).

    ``branch_refill``: P, pipeline refill after a taken branch, 1 to 3 in the TRM.
    ``divide_cycles``: SDIV/UDIV take 2 to 12 cycles depending on the operands.
    ``flash_wait_states``: added to every refill and every literal load from code memory
    (sequential fetches are assumed hidden by the prefetch buffer).
    ``address_interlock``: apply the one-cycle stall of a load/store whose address register was
    computed by the instruction just before.
    """

    branch_refill: int = 2
    divide_cycles: int = 7
    flash_wait_states: int = 0
    address_interlock: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.branch_refill <= 3:
            raise ValueError("branch_refill (P) is 1 to 3 cycles on the Cortex-M4")
        if not 2 <= self.divide_cycles <= 12:
            raise ValueError("divide_cycles is 2 to 12 on the Cortex-M4")
        if self.flash_wait_states < 0:
            raise ValueError("flash_wait_states must be >= 0")


@dataclass(frozen=True)
class CycleEstimate:
    """Cycles per address, and the branch outcomes the estimate assumed."""

    cycles: dict[int, int]
    taken: dict[int, int]      # conditional or unconditional control transfers, per address

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


def _base_cycles(insn: Insn, timing: CortexM4Timing) -> int:  # noqa: C901 - one table
    """Cycles of one execution before pipelining, interlocks and branch refills."""
    kind = insn.kind
    if kind == k.LOAD:
        return 2
    if kind == k.STORE:
        # STR with an immediate offset completes in one cycle (its data phase overlaps the next
        # instruction through the write buffer); with a register offset it takes two.
        return 2 if insn.register_offset else 1
    if kind in (k.LOAD_DOUBLE, k.STORE_DOUBLE):
        return 3  # 1 + N with N = 2 words
    if kind in (k.LOAD_MULTIPLE, k.STORE_MULTIPLE):
        return 1 + insn.n_regs
    if kind == k.TABLE_BRANCH:
        return 2
    if kind == k.DIV:
        return timing.divide_cycles
    if kind == k.FPU_MAC:
        return 3
    if kind == k.FPU_DIV:
        return 14
    if kind in (k.FPU_LOAD, k.FPU_STORE):
        return 3 if insn.wide else 2
    if kind in (k.FPU_LOAD_MULTIPLE, k.FPU_STORE_MULTIPLE):
        return 1 + insn.n_regs
    if kind == k.FPU and insn.wide:
        return 2  # VMOV of two core registers
    # ALU, MUL, MAC, long multiplies, DSP MACs, SIMD, IT, FPU arithmetic, branches, system: 1.
    return 1


def _pipelines(insn: Insn) -> bool:
    """A single LDR, or a register-offset STR, saves a cycle behind a single LDR.

    (An immediate-offset STR takes one cycle anyway; loads into the PC and literal loads,
    which contend with the fetch unit, are not pipelined.)
    """
    if insn.writes_pc or insn.pc_relative:
        return False
    return insn.kind == k.LOAD or (insn.kind == k.STORE and insn.register_offset)

_DATA_PROCESSING = (k.ALU, k.MUL, k.MAC, k.MUL_LONG, k.DSP, k.SIMD, k.DIV)


def estimate_cycles(
    insns: Mapping[int, Insn], counts: Mapping[int, int], timing: CortexM4Timing | None = None
) -> CycleEstimate:
    """Estimate Cortex-M4 cycles for instructions that executed ``counts`` times each.

    Takes decoded instructions ({address: Insn}, every counted address must be there), the
    per-address counts and the model parameters. Returns a :class:`CycleEstimate`.
    Raises KeyError if a counted address was not decoded.
    """
    timing = timing or CortexM4Timing()
    taken = branch_outcomes(insns, counts)
    arrivals = _arrivals(insns, taken)
    by_end = {i.end: i for i in insns.values()}
    refill = timing.branch_refill + timing.flash_wait_states
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
            if (_pipelines(insn) and prev.kind == k.LOAD and not (prev.dest_regs & insn.addr_regs)):
                total -= fall  # address phase overlapped with the previous load's data phase
            if (timing.address_interlock and insn.addr_regs and prev.kind in _DATA_PROCESSING
                    and prev.dest_regs & insn.addr_regs):
                total += fall  # address register written by the instruction just before
        if insn.pc_relative and insn.kind in (k.LOAD, k.FPU_LOAD):
            total += n * timing.flash_wait_states
        total += taken.get(addr, 0) * refill
        cycles[addr] = total
    return CycleEstimate(cycles=cycles, taken=taken)
