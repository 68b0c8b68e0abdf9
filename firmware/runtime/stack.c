/* Stack measurement: the reset handler paints the stack region with a pattern before anything
 * uses it, and ed_stack_peak() finds how far down the pattern has been overwritten since: the
 * most stack the firmware has used (its high-water mark). edge-deploy builds a model, reads the
 * mark on QEMU after exercising every request (INFO stack_peak) and relinks with that much stack
 * plus a margin (docs/build.md, "Stack"). */
#include <stdint.h>

#include "ed_runtime.h"

/* From the linker script: the stack occupies [_sstack, _estack) and grows down from _estack. */
extern uint32_t _sstack, _estack;

/* Not a byte repeated (so a compiler cannot turn the paint loop into a memset call) and not a
 * value code is likely to store. */
#define ED_STACK_PAINT 0xC5AC3A5Cu

void ed_stack_paint(void)
{
    uint32_t *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    /* Everything below the current stack pointer is free; volatile stores, no calls. */
    for (volatile uint32_t *word = &_sstack; word < sp; word++) {
        *word = ED_STACK_PAINT;
    }
}

uint32_t ed_stack_bytes(void)
{
    return (uint32_t)((uintptr_t)&_estack - (uintptr_t)&_sstack);
}

uint32_t ed_stack_peak(void)
{
    const volatile uint32_t *word = &_sstack;
    while (word < &_estack && *word == ED_STACK_PAINT) {
        word++;
    }
    return (uint32_t)((uintptr_t)&_estack - (uintptr_t)word);
}
