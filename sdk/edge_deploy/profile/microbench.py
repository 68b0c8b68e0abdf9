"""Hand-counted Cortex-M4 micro-benchmarks: small assembly loops of known cycle cost.

Each benchmark is a loop of ``iterations`` passes over a few instructions, built with
arm-none-eabi-gcc into a bare-metal ELF for QEMU ``mps2-an386`` that exits through semihosting.
Next to every instruction its Cortex-M4 TRM cost is written by hand, and ``hand_cycles`` adds
them up for the loop (``bench_loop`` to ``bench_loop_end``) under given model parameters. The
tests and ``benchmarks/profile_microbench.py`` check the plugin's counts and the cycle model
against them.

Register use: r4 counts iterations down, r6 and r7 point at two scratch buffers in RAM.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_deploy.profile.baremetal import build_elf
from edge_deploy.profile.cycle_model import CortexM4Timing

N = 100  # iterations of every loop


@dataclass(frozen=True)
class MicroBenchmark:
    """One loop: ``body`` (assembly) runs ``iterations`` times, followed by subs/bne.

    ``setup`` runs once before the loop, ``after`` is placed after the function (callees).
    ``hand_cycles(timing)`` is the hand count of the loop range, and ``hand_counts`` gives
    the expected execution count of each loop instruction in order (None: all ``iterations``).
    """

    name: str
    body: str
    hand_cycles: Callable[[CortexM4Timing], int]
    setup: str = ""
    after: str = ""
    iterations: int = N
    hand_counts: tuple[int, ...] | None = None


def _loop(body_cycles: int, t: CortexM4Timing, n: int = N) -> int:
    """A simple counted loop: body, SUBS (1), BNE taken n-1 times (1+P) and not taken once (1)."""
    return n * (body_cycles + 1) + (n - 1) * (1 + t.branch_refill + t.flash_wait_states) + 1


BENCHMARKS: tuple[MicroBenchmark, ...] = (
    MicroBenchmark(
        "alu",
        """
        adds r0, r0, #1      @ 1
        eors r1, r1, r0      @ 1
        lsls r2, r1, #3      @ 1
        orrs r3, r3, r2      @ 1
        """,
        lambda t: _loop(4, t),
    ),
    MicroBenchmark(
        "loads_pipelined",
        """
        ldr r0, [r6]         @ 2
        ldr r1, [r6, #4]     @ 1: pipelined behind the previous LDR
        ldr r2, [r6, #8]     @ 1
        ldr r3, [r6, #12]    @ 1
        """,
        lambda t: _loop(5, t),
    ),
    MicroBenchmark(
        "load_address_dependency",
        """
        ldr r0, [r6]         @ 2
        ldr r1, [r0]         @ 2: its address is the previous load's result, no pipelining
        """,
        lambda t: _loop(4, t),
        setup="str r6, [r6]",
    ),
    MicroBenchmark(
        "load_store_pairs",
        """
        ldr r0, [r6]         @ 2
        str r0, [r7, #4]     @ 1: immediate-offset STR is always one cycle
        ldr r1, [r6, r5]     @ 2: nothing pipelines after a store
        str r1, [r7, r5]     @ 1: register-offset STR (2) pipelined behind an LDR
        """,
        lambda t: _loop(6, t),
        setup="movs r5, #8",
    ),
    MicroBenchmark(
        "address_interlock",
        """
        add r0, r6, #4       @ 1
        ldr r1, [r0]         @ 2 + 1: base register computed by the instruction before
        mov r2, r7           @ 1
        str r1, [r2, #8]     @ 1 + 1: same interlock for a store
        """,
        lambda t: _loop(5 + (2 if t.address_interlock else 0), t),
    ),
    MicroBenchmark(
        "s8_mac",
        """
        ldr r0, [r6]              @ 2
        ldr r1, [r7]              @ 1: pipelined
        sxtb16 r2, r0             @ 1
        sxtb16 r0, r0, ror #8     @ 1
        sxtb16 r3, r1             @ 1
        sxtb16 r1, r1, ror #8     @ 1
        smlad r8, r2, r3, r8      @ 1
        smlad r8, r0, r1, r8      @ 1
        """,
        lambda t: _loop(9, t),
    ),
    MicroBenchmark(
        "load_store_multiple",
        """
        ldmia r6, {r0-r3}    @ 1 + 4
        stmia r7, {r0-r3}    @ 1 + 4
        ldrd r0, r1, [r6]    @ 1 + 2
        strd r0, r1, [r7]    @ 1 + 2
        push {r0, r1}        @ 1 + 2
        pop {r0, r1}         @ 1 + 2
        """,
        lambda t: _loop(22, t),
    ),
    MicroBenchmark(
        "multiplies",
        """
        mul r0, r1, r2           @ 1
        mla r0, r1, r2, r0       @ 1
        smull r0, r1, r2, r3     @ 1
        umlal r0, r1, r2, r3     @ 1
        smlabb r0, r1, r2, r0    @ 1
        smlald r0, r1, r2, r3    @ 1
        """,
        lambda t: _loop(6, t),
    ),
    MicroBenchmark(
        "divides",
        """
        udiv r0, r1, r2      @ D (2..12, the model's divide_cycles)
        sdiv r0, r1, r2      @ D
        """,
        lambda t: _loop(2 * t.divide_cycles, t),
        setup="movs r1, #200\n        movs r2, #7",
    ),
    MicroBenchmark(
        "fpu",
        """
        vldr s0, [r6]              @ 2
        vmla.f32 s1, s0, s0        @ 3
        vadd.f32 s2, s1, s0        @ 1
        vdiv.f32 s3, s2, s0        @ 14
        vmov r0, s3                @ 1
        vstr s3, [r7]              @ 2
        vldmia r6, {s4-s7}         @ 1 + 4
        """,
        lambda t: _loop(28, t),
    ),
    MicroBenchmark(
        "call_return",
        """
        bl leaf              @ 1 + P
        adds r0, r0, #1      @ 1
        """,
        lambda t: _loop((1 + t.branch_refill + t.flash_wait_states) + 1, t),
        after="""
        .thumb_func
leaf:
        bx lr
        """,
    ),
    MicroBenchmark(
        "literal_loads",
        """
        ldr r0, =0x12345678  @ 2 + flash wait states (literal pool in code memory)
        ldr r1, =0x0badcafe  @ 2 + ws: literal loads are not pipelined
        """,
        lambda t: _loop(4 + 2 * t.flash_wait_states, t),
    ),
    MicroBenchmark(
        "nested_loops",
        """
        movs r5, #3          @ 1
inner:
        adds r0, r0, #1      @ 1, 3 times
        subs r5, r5, #1      @ 1, 3 times
        bne inner            @ taken twice (1 + P), not taken once (1)
        """,
        lambda t: N * (1 + 3 * 2 + 2 * (1 + t.branch_refill + t.flash_wait_states) + 1)
        + N + (N - 1) * (1 + t.branch_refill + t.flash_wait_states) + 1,
        hand_counts=(N, 3 * N, 3 * N, 3 * N, N, N),
    ),
    MicroBenchmark(
        "if_else",
        """
        tst r4, #1           @ 1
        beq even             @ taken on the 50 even counter values: 1 + P, else 1
        adds r0, r0, #1      @ 1, odd passes
        b join               @ 1 + P, odd passes
even:
        adds r1, r1, #1      @ 1, even passes
join:
        """,
        lambda t: N + (N + (N // 2) * (t.branch_refill + t.flash_wait_states)) + N // 2
        + (N // 2) * (1 + t.branch_refill + t.flash_wait_states) + N // 2
        + N + (N - 1) * (1 + t.branch_refill + t.flash_wait_states) + 1,
        hand_counts=(N, N, N // 2, N // 2, N // 2, N, N),
    ),
    MicroBenchmark(
        "it_block",
        """
        cmp r4, #50          @ 1
        ite hi               @ 1 (IT folding not modelled)
        addhi r0, r0, #1     @ 1 (executes or not, one cycle either way)
        addls r1, r1, #1     @ 1
        """,
        lambda t: _loop(4, t),
    ),
)

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
    .balign 4
bench:
    push {{r4-r8, lr}}
    {setup}
    nop                          @ keeps the setup's last instruction out of the loop's timing
    .global bench_loop
bench_loop:
    {body}
    subs r4, r4, #1
    bne bench_loop
    .global bench_loop_end
bench_loop_end:
    pop {{r4-r8, pc}}
    .ltorg
{after}

    .bss
    .balign 8
buf_a: .space 256
buf_b: .space 256
"""

def microbenchmark_source(bench: MicroBenchmark) -> str:
    """Return the complete assembly source of ``bench``."""
    return _TEMPLATE.format(
        iterations=bench.iterations, setup=bench.setup, body=bench.body.strip("\n"), after=bench.after
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
