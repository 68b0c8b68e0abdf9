"""The hand-counted micro-benchmarks (``microbench.py`` has the frame and the sources cited in
the comments: T3-1, LS, T7-1, UA, ART): core loops at zero wait states and flash loops at the
flash timings below. Every count is written from the manuals, never from the cycle model."""

from __future__ import annotations

from edge_deploy.boards.clocking import CacheLines, FlashAccelerator, FlashTiming
from edge_deploy.profile.cycle_model import CortexM4Timing
from edge_deploy.profile.microbench import N, MicroBenchmark, counted_loop

# Flash timings for the flash benchmarks: an STM32F4 at 168 MHz (RM0090: 5 wait states, ART),
# the same with prefetch but no caches, and a plain flash with no accelerator at all.
W = 5
ART_F4 = FlashTiming(wait_states=W, read_bytes=16, accelerator=FlashAccelerator(
    kind="stm32-art", prefetch=True, icache=CacheLines(lines=64, line_bytes=16),
    dcache=CacheLines(lines=8, line_bytes=16)))
PREFETCH_ONLY = FlashTiming(wait_states=W, read_bytes=16,
                            accelerator=FlashAccelerator(kind="stm32-art", prefetch=True))
PLAIN_FLASH = FlashTiming(wait_states=W, read_bytes=16)
FLASH_TIMINGS = {"art": ART_F4, "prefetch-only": PREFETCH_ONLY, "plain": PLAIN_FLASH}


_DEFAULT = CortexM4Timing()   # P = 2, divide 7: the timing the flash hand counts assume

CORE_BENCHMARKS: tuple[MicroBenchmark, ...] = (
    MicroBenchmark(
        "alu",
        """
        adds r0, r0, #1      @ 1 (T3-1: ADD 1)
        eors r1, r1, r0      @ 1
        lsls r2, r1, #3      @ 1
        orrs r3, r3, r2      @ 1
        """,
        lambda t: counted_loop(4, t),
    ),
    MicroBenchmark(
        "loads_pipelined",
        """
        ldr r0, [r6]         @ 2 (T3-1: LDR 2)
        ldr r1, [r6, #4]     @ 1 (LS: pipelined behind an LDR: one cycle removed)
        ldr r2, [r6, #8]     @ 1
        ldr r3, [r6, #12]    @ 1
        """,
        lambda t: counted_loop(5, t),
    ),
    MicroBenchmark(
        "load_address_dependency",
        """
        ldr r0, [r6]         @ 2
        ldr r1, [r0]         @ 2 (LS: not pipelined, "the destination of the first LDR is used to
                             @    compute the address"); + load_to_address_extra (a choice)
        """,
        lambda t: counted_loop(4 + t.load_to_address_extra, t),
        setup="str r6, [r6]",
    ),
    MicroBenchmark(
        "load_store_pairs",
        """
        ldr r0, [r6]         @ 2
        str r0, [r7, #4]     @ 1 (LS: "STR Rx,[Ry,#imm] is always one cycle")
        ldr r1, [r6, r5]     @ 2 (LS: "nothing can be pipelined after the store")
        str r1, [r7, r5]     @ 1 (LS: register-offset STR pipelined behind an LDR, 2 - 1)
        """,
        lambda t: counted_loop(6, t),
        setup="movs r5, #8",
    ),
    MicroBenchmark(
        "address_interlock",
        """
        add r0, r6, #4       @ 1
        ldr r1, [r0]         @ 2 + 1 (LS: address from the data processing just before)
        mov r2, r7           @ 1
        str r1, [r2, #8]     @ 1 + 1 (LS: the same for a store)
        """,
        lambda t: counted_loop(5 + (2 if t.address_interlock else 0), t),
    ),
    MicroBenchmark(
        "writeback_loads",
        """
        ldr r0, [r6], #4     @ 2 (T3-1)
        ldr r1, [r7], #4     @ 1 (LS: pipelined; the M4 TRM names no base-update exception)
        subs r6, r6, #4      @ 1
        subs r7, r7, #4      @ 1
        """,
        lambda t: counted_loop(5, t),
    ),
    MicroBenchmark(
        "exclusives",
        """
        adds r2, r2, #1      @ 1
        strex r1, r0, [r6]   @ 2 (LS: "STREX is treated more like an LDR")
        ldrex r0, [r7]       @ 1 (LS: LDREX pipelined behind it, "exactly as LDR")
        """,
        lambda t: counted_loop(4, t),
    ),
    MicroBenchmark(
        "misaligned",
        """
        ldr r0, [r5]         @ 2 + 1 (T3-1; UA: a word at 2 mod 4 is two halfword accesses)
        nop                  @ 1 (keeps the loads apart: no pipelining)
        ldr r1, [r3]         @ 2 + 2 (UA: a word at an odd address is a byte, a halfword, a byte)
        nop                  @ 1
        ldrh r2, [r3]        @ 2 + 1 (UA: a halfword at an odd address is two bytes)
        """,
        lambda t: counted_loop(12, t),
        setup="adds r5, r6, #2\n        adds r3, r6, #1",
    ),
    MicroBenchmark(
        "s8_mac",
        """
        ldr r0, [r6]              @ 2
        ldr r1, [r7]              @ 1 (LS: pipelined)
        sxtb16 r2, r0             @ 1 (T3-1: SXTB16 1)
        sxtb16 r0, r0, ror #8     @ 1
        sxtb16 r3, r1             @ 1
        sxtb16 r1, r1, ror #8     @ 1
        smlad r8, r2, r3, r8      @ 1 (T3-1: SMLAD 1)
        smlad r8, r0, r1, r8      @ 1
        """,
        lambda t: counted_loop(9, t),
    ),
    MicroBenchmark(
        "load_store_multiple",
        """
        ldmia r6, {r0-r3}    @ 1 + 4 (T3-1: LDM 1 + N)
        stmia r7, {r0-r3}    @ 1 + 4
        ldrd r0, r1, [r6]    @ 3 (LS: "the two words are pipelined together ... three cycles")
        strd r0, r1, [r7]    @ 3
        push {r0, r1}        @ 1 + 2 (T3-1: PUSH 1 + N)
        pop {r0, r1}         @ 1 + 2
        """,
        lambda t: counted_loop(22, t),
    ),
    MicroBenchmark(
        "multiplies",
        """
        mul r0, r1, r2           @ 1 (T3-1)
        mla r0, r1, r2, r0       @ 1
        smull r0, r1, r2, r3     @ 1
        umlal r0, r1, r2, r3     @ 1
        smlabb r0, r1, r2, r0    @ 1
        smlald r0, r1, r2, r3    @ 1
        """,
        lambda t: counted_loop(6, t),
    ),
    MicroBenchmark(
        "divides",
        """
        udiv r0, r1, r2      @ D (T3-1: 2 to 12; the model's divide_cycles, a choice)
        sdiv r0, r1, r2      @ D
        """,
        lambda t: counted_loop(2 * t.divide_cycles, t),
        setup="movs r1, #200\n        movs r2, #7",
    ),
    MicroBenchmark(
        "fpu",
        """
        vldr s0, [r6]              @ 2 (T7-1: VLDR.32 2)
        vmla.f32 s1, s0, s0        @ 3 (T7-1: VMLA 3)
        vadd.f32 s2, s1, s0        @ 1 (T7-1: VADD 1)
        vdiv.f32 s3, s2, s0        @ 14 (T7-1: VDIV 14; the next instruction is an FPU one: no overlap)
        vmov r0, s3                @ 2 (T7-1: one float to a core register 2)
        vstr s3, [r7]              @ 2 (T7-1: VSTR.32 2)
        vldmia r6, {s4-s7}         @ 1 + 4 (T7-1: VLDM.32 1 + N)
        """,
        lambda t: counted_loop(29, t),
        setup="movs r0, #1\n        str r0, [r6]",
    ),
    MicroBenchmark(
        "vmov_core",
        """
        vmov s3, r0                @ 2 (T7-1: one float from one core register)
        vmov s0, s1, ip, fp        @ 2 (T7-1: two floats from two core registers)
        vmov ip, fp, s0, s1        @ 2 (T7-1: two floats to two core registers)
        vmov d2, r2, r3            @ 2 (T7-1: one double from two core registers)
        vmov.f32 s6, s7            @ 1 (T7-1: float to float register 1)
        """,
        lambda t: counted_loop(9, t),
    ),
    MicroBenchmark(
        "divide_overlap",
        """
        vdiv.f32 s2, s0, s1        @ 14 in the FPU (T7-1), integer instructions run meanwhile:
        adds r0, r0, #1            @ 1, during the divide
        adds r1, r1, #1            @ 1, during the divide
        adds r2, r2, #1            @ 1, during the divide
        vadd.f32 s3, s2, s0        @ 1 after the divide's 14: from the VDIV issue 14 + 1 = 15 in all
        """,
        lambda t: counted_loop(15, t),
        setup="vmov.f32 s1, #2.0",
    ),
    MicroBenchmark(
        "call_return",
        """
        bl leaf              @ 1 + P (T3-1: BL 1 + P)
        adds r0, r0, #1      @ 1
        """,
        lambda t: counted_loop((1 + t.branch_refill) + 1 + (1 + t.branch_refill), t),
        after="""
        .thumb_func
leaf:
        bx lr                @ 1 + P (T3-1: BX 1 + P)
        """,
    ),
    MicroBenchmark(
        "pop_pc",
        """
        bl leaf_pop          @ 1 + P (T3-1)
        """,
        lambda t: counted_loop((1 + t.branch_refill) + 2 + (2 + t.branch_refill), t),
        after="""
        .thumb_func
leaf_pop:
        push {lr}            @ 1 + 1
        pop {pc}             @ 1 + 1 + P (T3-1: POP with PC 1 + N + P)
        """,
    ),
    MicroBenchmark(
        "ldr_pc",
        """
        ldr pc, [r6]         @ 5 (LS: "at least two cycles for the load, and three cycles for the
                             @    pipeline reload")
ldr_pc_target:
        adds r0, r0, #1      @ 1
        """,
        lambda t: counted_loop(6, t),
        setup="ldr r0, =ldr_pc_target + 1\n        str r0, [r6]",
    ),
    MicroBenchmark(
        "table_branch",
        """
        tbb [pc, r5]         @ 6 (LS: "two cycles for the load, one cycle for the add, and three
                             @    cycles for the pipeline reload")
        .byte 1, 0           @ (the table: entry 0 skips the table itself)
        adds r0, r0, #1      @ 1
        """,
        lambda t: counted_loop(7, t),
        setup="movs r5, #0",
    ),
    MicroBenchmark(
        "literal_loads",
        """
        ldr r0, =0x12345678  @ 2 (T3-1; LS: literal loads contend with the fetch unit, not pipelined)
        ldr r1, =0x0badcafe  @ 2
        """,
        lambda t: counted_loop(4, t),
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
        lambda t: N * (1 + 3 * 2 + 2 * (1 + t.branch_refill) + 1) + N + (N - 1) * (1 + t.branch_refill) + 1,
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
        lambda t: N + (N + (N // 2) * t.branch_refill) + N // 2 + (N // 2) * (1 + t.branch_refill) + N // 2
        + N + (N - 1) * (1 + t.branch_refill) + 1,
        hand_counts=(N, N, N // 2, N // 2, N // 2, N, N),
    ),
    MicroBenchmark(
        "it_block",
        """
        cmp r4, #50          @ 1
        ite hi               @ 1 (T3-1: IT 1; folding not modelled)
        addhi r0, r0, #1     @ 1 (executes or not, one cycle either way)
        addls r1, r1, #1     @ 1
        """,
        lambda t: counted_loop(4, t),
    ),
)


def _flash_loop(body_cycles: int) -> int:
    """The core part of a flash benchmark's loop at P = 2 (every flash benchmark is a loop)."""
    return counted_loop(body_cycles, _DEFAULT)


# The flash benchmarks: each loop starts on a 16-byte line the code before jumps to (never the
# prefetched one), so its first fetch is a cold miss: W (ART: "the penalty ... is at least equal
# to the number of wait states"). A loop within one line then runs from the current buffer.
FLASH_BENCHMARKS: tuple[MicroBenchmark, ...] = (
    MicroBenchmark(
        "flash_load_cached",
        """
        ldr r0, [r8]         @ 2; the same flash word every time: a data cache miss once (W),
                             @    then hits (ART: "If some data contained in the ... cache ...
                             @    are requested by the CPU, they are provided without delay")
        """,
        lambda t: counted_loop(2, t),
        cold_entry=True,
        # plain: no cache, every load pays W; prefetch-only: no data cache either.
        flash_cycles={"art": _flash_loop(2) + W + W, "prefetch-only": _flash_loop(2) + N * W + W,
                      "plain": _flash_loop(2) + N * W + W},
    ),
    MicroBenchmark(
        "flash_load_sequential",
        """
        ldr r0, [r8], #4     @ 2; words in a row: one miss per 16-byte line (every fourth load)
        """,
        lambda t: counted_loop(2, t),
        cold_entry=True,
        flash_cycles={"art": _flash_loop(2) + (N // 4) * W + W, "plain": _flash_loop(2) + N * W + W},
    ),
    MicroBenchmark(
        "flash_load_strided",
        """
        ldr r0, [r8], #16    @ 2; one load per 16-byte line, never the same line: every load misses
        """,
        lambda t: counted_loop(2, t),
        cold_entry=True,
        flash_cycles={"art": _flash_loop(2) + N * W + W},
    ),
    MicroBenchmark(
        "flash_load_strided_8_lines",
        """
        ldr r0, [r8, r5]     @ 2; 8 lines in turn: they fit the 8-row LRU data cache: 8 misses
        adds r5, r5, #16     @ 1
        and r5, r5, #127     @ 1 (128 bytes: 8 lines of 16)
        """,
        lambda t: counted_loop(4, t),
        setup="movs r5, #0",
        cold_entry=True,
        flash_cycles={"art": _flash_loop(4) + 8 * W + W},
    ),
    MicroBenchmark(
        "flash_load_strided_9_lines",
        """
        ldr r0, [r8, r5]     @ 2; 9 lines in turn: one more than the 8 rows; LRU evicts each line
                             @    just before it comes round again: every load misses
        adds r5, r5, #16     @ 1
        cmp r5, #144         @ 1
        it eq                @ 1
        moveq r5, #0         @ 1
        """,
        lambda t: counted_loop(6, t),
        setup="movs r5, #0",
        cold_entry=True,
        flash_cycles={"art": _flash_loop(6) + N * W + W},
    ),
    MicroBenchmark(
        "flash_code_4_lines",
        """
        .rept 14
        add.w r0, r0, #1     @ 1 each, 4 bytes: four to a 16-byte line (four lines with SUBS/BNE)
        .endr
        """,
        lambda t: counted_loop(14, t),
        cold_entry=True,
        # First pass: line 0 by a jump (W), lines 1-3 from the prefetch buffer, each after four
        # one-cycle instructions of the line before: W + 1 - 4 = 2 (ART Figure 5). Then the
        # instruction cache holds the four lines: nothing more.
        flash_cycles={"art": _flash_loop(14) + W + 3 * (W + 1 - 4),
                      # Without caches every pass pays it: line 0 after the BNE (a jump, W) ...
                      "prefetch-only": _flash_loop(14) + N * (W + 3 * (W + 1 - 4)),
                      # ... and without prefetch every line is a whole read: 4 W a pass.
                      "plain": _flash_loop(14) + N * 4 * W},
    ),
    MicroBenchmark(
        "flash_code_80_lines",
        """
        .rept 318
        add.w r0, r0, #1     @ 1 each: 318 * 4 + 4 = 1,276 bytes, 80 lines: more than the 64-line
        .endr                @    instruction cache, which LRU empties of each line before reuse
        """,
        lambda t: counted_loop(318, t, n=20),
        iterations=20,
        cold_entry=True,
        # Every pass: line 0 by a jump (W), 79 lines from the prefetch buffer (2 each); the last
        # line holds two ADD.W, SUBS and BNE, and the line before four ADD.W, as for the others.
        flash_cycles={"art": counted_loop(318, _DEFAULT, n=20) + 20 * (W + 79 * (W + 1 - 4))},
    ),
)

BENCHMARKS: tuple[MicroBenchmark, ...] = CORE_BENCHMARKS + FLASH_BENCHMARKS
