/* Semihosting calls (Arm semihosting specification: BKPT 0xAB, operation in r0, argument block
 * in r1), for the emulator link (link.c) and the exit request. Only an emulator or a debugger
 * serves them: on a bare board BKPT raises a HardFault, which ed_semihost_available() survives
 * (see fault.c) so that the firmware can ask before it relies on them. */
#ifndef ED_SEMIHOST_H
#define ED_SEMIHOST_H

#include <stdint.h>

/* 1 if a semihosting host answers (an emulator, or a debugger that serves semihosting), else 0.
 * Never halts a core that a debugger holds: with a debugger attached (DHCSR.C_DEBUGEN) it
 * answers 0 without trying, since BKPT would stop the core there. */
int ed_semihost_available(void);

/* SYS_OPEN: a host file handle, or -1. Mode as in the specification (0 "r", 4 "w"). */
int32_t ed_semihost_open(const char *name, uint32_t mode);
/* SYS_READ / SYS_WRITE: the bytes actually moved (0 when none are waiting on a non-blocking
 * host handle). */
uint32_t ed_semihost_read(int32_t handle, void *buffer, uint32_t length);
uint32_t ed_semihost_write(int32_t handle, const void *data, uint32_t length);
/* SYS_GET_CMDLINE into text (NUL-terminated); returns 0 on success, -1 if there is none. */
int ed_semihost_cmdline(char *text, uint32_t capacity);

/* ED_SEMIHOST_PROBE_RUNNING while ed_semihost_available() tries its call: the fault handler then
 * skips the faulting BKPT and sets ED_SEMIHOST_PROBE_FAULTED instead of reporting a fault. */
#define ED_SEMIHOST_PROBE_RUNNING 1u
#define ED_SEMIHOST_PROBE_FAULTED 2u
extern volatile uint32_t ed_semihost_probing;

#endif /* ED_SEMIHOST_H */
