/* Semihosting (Arm semihosting specification): BKPT 0xAB with the operation in r0 and its
 * argument in r1. QEMU serves it with -semihosting-config enable=on. */
#include "ed_regs.h"
#include "ed_runtime.h"
#include "ed_semihost.h"

#define SYS_OPEN 0x01u
#define SYS_WRITE 0x05u
#define SYS_READ 0x06u
#define SYS_GET_CMDLINE 0x15u
#define SYS_EXIT 0x18u
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUNTIME_ERROR 0x20023u

/* DHCSR.C_DEBUGEN: a debugger has enabled halting debug, so BKPT would halt the core. */
#define DHCSR ED_REG32(0xE000EDF0u)
#define DHCSR_C_DEBUGEN (1u << 0)

volatile uint32_t ed_semihost_probing;

static uint32_t semihost_call(uint32_t operation, const void *argument)
{
    register uint32_t r0 __asm("r0") = operation;
    register const void *r1 __asm("r1") = argument;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

int ed_semihost_available(void)
{
    static int answer = -1;
    if (answer < 0) {
        answer = 0;
        if ((DHCSR & DHCSR_C_DEBUGEN) == 0u) {
            /* A harmless call: SYS_GET_CMDLINE into a scratch block. Without a host the BKPT
             * faults, and the fault handler skips it and marks the probe as failed (fault.c). */
            char scratch[4];
            uint32_t block[2] = {(uint32_t)(uintptr_t)scratch, sizeof scratch};
            ed_semihost_probing = ED_SEMIHOST_PROBE_RUNNING;
            (void)semihost_call(SYS_GET_CMDLINE, block);
            answer = ed_semihost_probing == ED_SEMIHOST_PROBE_RUNNING;
            ed_semihost_probing = 0u;
        }
    }
    return answer;
}

int32_t ed_semihost_open(const char *name, uint32_t mode)
{
    uint32_t length = 0;
    while (name[length] != '\0') {
        length++;
    }
    const uint32_t block[3] = {(uint32_t)(uintptr_t)name, mode, length};
    return (int32_t)semihost_call(SYS_OPEN, block);
}

/* SYS_READ and SYS_WRITE return the bytes *not* moved. */
uint32_t ed_semihost_read(int32_t handle, void *buffer, uint32_t length)
{
    const uint32_t block[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)buffer, length};
    uint32_t left = semihost_call(SYS_READ, block);
    return left <= length ? length - left : 0u;
}

uint32_t ed_semihost_write(int32_t handle, const void *data, uint32_t length)
{
    const uint32_t block[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)data, length};
    uint32_t left = semihost_call(SYS_WRITE, block);
    return left <= length ? length - left : 0u;
}

int ed_semihost_cmdline(char *text, uint32_t capacity)
{
    uint32_t block[2] = {(uint32_t)(uintptr_t)text, capacity};
    if (semihost_call(SYS_GET_CMDLINE, block) != 0u) {
        return -1;
    }
    text[capacity - 1u] = '\0';
    return 0;
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
