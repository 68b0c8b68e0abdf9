"""Hand-counted Cortex-M4 micro-benchmarks: the frame (a loop in assembly, built for QEMU) and the
hand-count helper; the benchmarks themselves are in ``microbench_cases.py``.

Each benchmark is a loop of ``iterations`` passes over a few instructions, built with
arm-none-eabi-gcc into a bare-metal ELF for QEMU ``mps2-an386`` (code and constants at 0x0,
the board's flash region; data in RAM at 0x20000000) that exits through semihosting. Next to
every instruction its cost is written by hand from the manuals, with the source, and
``hand_cycles(timing)`` adds them up for the loop (``bench_loop`` to ``bench_loop_end``). The
hand counts never call the cycle model: a wrong rule in the model fails a test.

Sources, as cited beside the instructions:

* ``T3-1``: Cortex-M4 TRM (ARM DDI 0439B) Table 3-1, instruction set summary: "B<cc> 1 or
  1 + P", "LDR 2", "LDM 1 + N", "MUL/MLA/SMLAD ... 1", "SDIV/UDIV 2 to 12";
* ``LS``: the same TRM, 3.3.2 load/store timings ("LDR [any] are pipelined when possible ...
  one cycle is removed from the cost of the next instruction", "STR Rx,[Ry,#imm] is always one
  cycle", "Any load or store that generates an address dependent on the result of a preceding
  data processing operation stalls the pipeline for an additional cycle", "LDR PC,[any] ... at
  least five cycles", "TBB and TBH ... at least six cycles", "LDREX and STREX can be pipelined
  exactly as LDR", "LDRD and STRD ... three cycles");
* ``T7-1``: the same TRM, Table 7-1, FPU instruction timings ("VDIV 14", "VMLA 3", "VLDR .32 2",
  "one float to/from one core register: 2", "two floats to/from two core registers: 2");
* ``UA``: Cortex-M3/M4 TRM, unaligned accesses "are converted into two or more aligned accesses"
  by the bus interface: a word at 2 mod 4 is two halfwords (+1), at an odd address a byte, a
  halfword and a byte (+2);
* ``ART``: RM0090 3.5.2 (STM32F4 flash, 128-bit reads): a miss costs the wait states; prefetch
  reads the next line meanwhile (Figure 5: a line of four 32-bit instructions takes four cycles
  to run, so with W wait states W + 1 - 4 remain); "64 lines of 128 bits" instruction cache and
  "8 rows of 128 bits" data cache, LRU; RM0440 3.3.4: "If a loop is present in the current
  buffer, no new flash access is performed".

Register use: r4 counts iterations down, r6 and r7 point at two scratch buffers in RAM, r8 at a
1 KiB table of constants in flash (``.rodata``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from edge_deploy.profile.baremetal import build_elf
from edge_deploy.profile.cycle_model import CortexM4Timing

N = 100  # iterations of every loop


@dataclass(frozen=True)
class MicroBenchmark:
    """One loop: ``body`` (assembly) runs ``iterations`` times, followed by subs/bne.

    ``setup`` runs once before the loop, ``after`` is placed after the function (callees).
    ``hand_cycles(timing)`` is the hand count of the loop range (``bench_loop`` to
    ``bench_loop_end``, plus ``bench_after`` to ``bench_after_end``, the callees) for a core
    timing without flash
    wait states; ``flash_cycles`` maps a name of ``microbench_cases.FLASH_TIMINGS`` to the hand count with that
    flash (P = 2, divide 7). ``hand_counts`` gives the expected execution count of each loop
    instruction in order (None: all ``iterations``). ``cold_entry``: the loop starts on a
    16-byte line that the code before it jumps to, so its first fetch is a miss.
    """

    name: str
    body: str
    hand_cycles: Callable[[CortexM4Timing], int]
    setup: str = ""
    after: str = ""
    iterations: int = N
    hand_counts: tuple[int, ...] | None = None
    flash_cycles: Mapping[str, int] = field(default_factory=dict)
    cold_entry: bool = False


def counted_loop(body_cycles: int, t: CortexM4Timing, n: int = N) -> int:
    """A counted loop: body, SUBS (1, T3-1), BNE taken n-1 times (1 + P, T3-1) and not once (1)."""
    return n * (body_cycles + 1) + (n - 1) * (1 + t.branch_refill) + 1


_TEMPLATE = """\
    .syntax unified
    .cpu cortex-m4
    .fpu fpv4-sp-d16
    .thumb

    .section .vectors, "a"
    .word 0x20010000
    .word reset

    .text
    .thumb_func
    .global reset
reset:
    ldr r0, =0xE000ED88          @ CPACR: enable CP10/CP11 so FPU instructions run
    ldr r1, [r0]
    orr r1, r1, #(0xF << 20)
    str r1, [r0]
    dsb
    isb
    ldr r6, =buf_a
    ldr r7, =buf_b
    ldr r4, ={iterations}
    bl bench
    movs r0, #0x18               @ semihosting SYS_EXIT
    ldr r1, =0x20026             @ ADP_Stopped_ApplicationExit
    bkpt 0xab
    b .
    .ltorg

    .thumb_func
    .global bench
    .balign 16
bench:
    push {{r4-r8, lr}}
    ldr r8, =flash_table
    {setup}
    nop                          @ keeps the setup's last instruction out of the loop's timing
{entry}
    .global bench_loop
bench_loop:
    {body}
    subs r4, r4, #1
    bne bench_loop
    .global bench_loop_end
bench_loop_end:
    pop {{r4-r8, pc}}
    .ltorg
    .global bench_after
bench_after:
{after}
    .global bench_after_end
bench_after_end:
    nop

    .section .rodata
    .balign 16
flash_table:
    .rept 512
    .word 0x01020304
    .endr

    .bss
    .balign 8
buf_a: .space 256
buf_b: .space 256
"""

# A jump over one whole 16-byte line to a line boundary: the loop's line is neither the current
# nor the prefetched one, so its first fetch is a plain miss.
_COLD_ENTRY = """\
    b bench_loop
    .balign 16
    .rept 8
    nop                          @ never executed: the line the prefetch buffer holds
    .endr"""


def microbenchmark_source(bench: MicroBenchmark) -> str:
    """Return the complete assembly source of ``bench``."""
    return _TEMPLATE.format(
        iterations=bench.iterations, setup=bench.setup, body=bench.body.strip("\n"), after=bench.after,
        entry=_COLD_ENTRY if bench.cold_entry else "",
    )


def build_microbenchmark(bench: MicroBenchmark, out_dir: str | Path) -> Path:
    """Assemble and link ``bench`` for mps2-an386 into ``out_dir/<name>.elf``; return its path.

    Raises EdgeDeployError when arm-none-eabi-gcc is missing or the build fails.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    src = out / f"{bench.name}.S"
    src.write_text(microbenchmark_source(bench))
    return build_elf([src], out / f"{bench.name}.elf", with_startup=False)
