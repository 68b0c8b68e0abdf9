/* Fault reporting: HardFault (and any unexpected exception) sends one FAULT frame with the
 * faulting PC and registers over the link, then stops. An image without the link (the kernel-case
 * harness, templates/kernel_cases.c.j2) defines its own ed_fault_emit. The payload is 15
 * little-endian u32:
 *   pc, lr, sp, xpsr, r0, r1, r2, r3, r12, cfsr, hfsr, mmfar, bfar, exc_return, ipsr
 * where pc..r12 are the registers the core stacked on exception entry.
 *
 * One HardFault is expected: the BKPT of ed_semihost_available()'s probe on a board with no
 * semihosting host. That one is skipped (the core resumes after the BKPT) and the probe told. */
#include <stdint.h>

#include "ed_link.h"
#include "ed_protocol.h"
#include "ed_regs.h"
#include "ed_semihost.h"

/* Returns only after skipping the probe's BKPT: the caller branched here with LR still holding
 * EXC_RETURN, so returning ends the exception. */
void ed_fault_report(uint32_t *stacked, uint32_t exc_return) __attribute__((used));

/* Sends the report and never returns. Weak: an image may route it elsewhere. */
void ed_fault_emit(const uint32_t *report, uint32_t words) __attribute__((noreturn));

#define BKPT_SEMIHOSTING 0xBEABu   /* Thumb encoding of BKPT 0xAB */
#define HFSR_DEBUGEVT (1u << 31)

/* The stacked frame is on the main or the process stack, as EXC_RETURN bit 2 says. */
#define ED_FAULT_ENTRY                         \
    __asm volatile("tst lr, #4\n"              \
                   "ite eq\n"                  \
                   "mrseq r0, msp\n"           \
                   "mrsne r0, psp\n"           \
                   "mov r1, lr\n"              \
                   "b ed_fault_report\n")

__attribute__((naked)) void HardFault_Handler(void)
{
    ED_FAULT_ENTRY;
}

__attribute__((naked)) void Default_Handler(void)
{
    ED_FAULT_ENTRY;
}

void ed_fault_report(uint32_t *stacked, uint32_t exc_return)
{
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    if (ed_semihost_probing == ED_SEMIHOST_PROBE_RUNNING
        && *(const volatile uint16_t *)(uintptr_t)stacked[6] == BKPT_SEMIHOSTING) {
        SCB_HFSR = HFSR_DEBUGEVT;   /* write one to clear */
        stacked[6] += 2u;           /* resume after the BKPT */
        ed_semihost_probing = ED_SEMIHOST_PROBE_FAULTED;
        return;
    }
    /* The stack pointer before the exception: past the 8-word frame (26 more words when the
     * FPU state was stacked, EXC_RETURN bit 4 clear). */
    uint32_t frame_words = (exc_return & 0x10u) ? 8u : 26u;
    const uint32_t report[15] = {
        stacked[6], stacked[5], (uint32_t)(uintptr_t)(stacked + frame_words), stacked[7],
        stacked[0], stacked[1], stacked[2], stacked[3], stacked[4],
        SCB_CFSR, SCB_HFSR, SCB_MMFAR, SCB_BFAR, exc_return, ipsr,
    };
    ed_fault_emit(report, sizeof report / sizeof report[0]);
}

__attribute__((weak)) void ed_fault_emit(const uint32_t *report, uint32_t words)
{
    ed_frame_send(ED_MSG_FAULT, 0, report, words * sizeof report[0]);
    ed_link_flush();
    /* Stop here: the host has the report; an emulator runner kills the emulator, a debugger
     * finds the core parked in this loop. */
    for (;;) {
    }
}
