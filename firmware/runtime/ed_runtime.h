/* What the runtime offers the code linked with it (a generated model, test firmware). */
#ifndef ED_RUNTIME_H
#define ED_RUNTIME_H

#include <stdint.h>

#define ED_FIRMWARE_VERSION "0.1.0"

/* Which clock ed_cycles_now() reads; chosen once at start-up by ed_cycles_init(). */
typedef enum {
    ED_CYCLES_DWT = 1,      /* DWT CYCCNT: core clock cycles */
    ED_CYCLES_SYSTICK = 2,  /* SysTick at the core clock, extended to 32 bits (QEMU has no DWT) */
} ed_cycle_source_t;

/* A free-running 32-bit cycle count; take differences with unsigned arithmetic. */
uint32_t ed_cycles_now(void);
ed_cycle_source_t ed_cycle_source(void);
const char *ed_cycle_source_name(void);
void ed_cycles_init(void);

/* Profiler hook: a model calls ed_layer_marker(i) just before layer i runs; the runtime calls it
 * with ED_MARKER_RUN_BEGIN / ED_MARKER_RUN_END around a whole inference. It is a real
 * (never inlined) function so an emulator plugin can break on its address and read r0. */
#define ED_MARKER_RUN_BEGIN 0xFFFFFFF0u
#define ED_MARKER_RUN_END   0xFFFFFFF1u
void ed_layer_marker(uint32_t layer_index);
extern volatile uint32_t ed_current_layer;

/* Semihosting exit: ends the emulator with status `code`. Only call it under an emulator or a
 * debugger: on a bare board the BKPT instruction faults. */
void ed_semihost_exit(uint32_t code) __attribute__((noreturn));

#endif /* ED_RUNTIME_H */
