/* Semihosting (Arm semihosting specification): BKPT 0xAB with the operation in r0 and its
 * argument in r1. QEMU serves it with -semihosting-config enable=on. */
#include "ed_runtime.h"

#define SYS_EXIT 0x18u
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUNTIME_ERROR 0x20023u

static uint32_t semihost_call(uint32_t operation, const void *argument)
{
    register uint32_t r0 __asm("r0") = operation;
    register const void *r1 __asm("r1") = argument;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void ed_semihost_exit(uint32_t code)
{
    /* SYS_EXIT_EXTENDED carries the status; plain SYS_EXIT (for hosts without it) only tells
     * success from failure. */
    const uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, code};
    semihost_call(SYS_EXIT_EXTENDED, block);
    semihost_call(SYS_EXIT, (const void *)(code == 0u ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUNTIME_ERROR));
    for (;;) {
    }
}
