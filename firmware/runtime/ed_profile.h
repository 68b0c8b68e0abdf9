/*
 * ed_profile.h: layer boundary marks for the edge-deploy profiler.
 *
 * Call ed_profile_mark(i) right before layer i runs and ed_profile_mark(ED_PROFILE_MARK_END)
 * after the last layer. On QEMU, the insn_count plugin splits the executed-instruction counts at
 * every mark, so the host can attribute every instruction (including shared kernels such as
 * arm_convolve_s8 called by several layers) to the layer that was running. See docs/profiling.md.
 *
 * How the mark reaches the plugin: QEMU 7.2 lets plugins see neither registers nor memory
 * contents, only which instructions run. So the marker jumps to pad number `mark` of
 * ed_profile_mark_pads, a run of 256 two-byte "bx lr" instructions: the address of the pad that
 * runs names the mark. The host reads the pads' address range from the ELF symbols and passes it
 * to the plugin.
 *
 * On a board a mark costs a call, six single-cycle instructions and two branches (about 16
 * cycles) and changes nothing else. The definitions are weak, so every translation unit may
 * include this header and the linker keeps one copy. Off Thumb-2 (host builds of the same
 * sources, for tests) the marker is an empty function.
 */
#ifndef ED_PROFILE_H
#define ED_PROFILE_H

#include <stdint.h>

/* Marks 0 .. ED_PROFILE_MAX_LAYERS-1 name layers; ED_PROFILE_MARK_END closes the last one. */
#define ED_PROFILE_MARK_COUNT 256u
#define ED_PROFILE_MAX_LAYERS (ED_PROFILE_MARK_COUNT - 1u)
#define ED_PROFILE_MARK_END (ED_PROFILE_MARK_COUNT - 1u)

#if defined(__arm__) && defined(__thumb2__)

/* naked: the body is the assembly below, the mark arrives in r0 (AAPCS), r1 is scratch. */
__attribute__((weak, naked, noinline, used))
void ed_profile_mark(uint32_t mark)
{
    (void)mark;
    __asm__ volatile(
        "cmp r0, #255\n\t"              /* marks above ED_PROFILE_MARK_END become END */
        "it hi\n\t"
        "movhi r0, #255\n\t"
        "adr r1, 1f\n\t"
        "add r1, r1, r0, lsl #1\n\t"    /* pad address = pads + 2 * mark */
        "orr r1, r1, #1\n\t"            /* stay in Thumb state */
        "bx r1\n\t"
        ".balign 4\n"
        ".weak ed_profile_mark_pads\n"
        ".type ed_profile_mark_pads, %object\n"
        "ed_profile_mark_pads:\n"
        "1:\n\t"
        ".rept 256\n\t"
        "bx lr\n\t"
        ".endr\n"
        ".size ed_profile_mark_pads, 512\n");
}

#else

__attribute__((weak, noinline))
void ed_profile_mark(uint32_t mark)
{
    (void)mark;
}

#endif

#endif /* ED_PROFILE_H */
