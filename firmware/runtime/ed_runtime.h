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
/* tick_interrupt 0 runs the SysTick fallback without its wrap interrupt (counts then wrap at 24
 * bits): only for a stack measurement, which must not depend on where an interrupt lands. */
void ed_cycles_init(int tick_interrupt);

/* Profiler hook: a model calls ed_layer_marker(i) just before layer i runs; the runtime calls it
 * with ED_MARKER_RUN_BEGIN / ED_MARKER_RUN_END around a whole inference. It is a real
 * (never inlined) function so an emulator plugin can break on its address and read r0. */
#define ED_MARKER_RUN_BEGIN 0xFFFFFFF0u
#define ED_MARKER_RUN_END   0xFFFFFFF1u
void ed_layer_marker(uint32_t layer_index);
extern volatile uint32_t ed_current_layer;

/* The stack (stack.c): ed_stack_paint() at reset fills the free stack with a pattern;
 * ed_stack_peak() is the most stack used since (bytes), ed_stack_bytes() the stack's size. */
void ed_stack_paint(void);
uint32_t ed_stack_bytes(void);
uint32_t ed_stack_peak(void);

/* Semihosting exit: ends the emulator with status `code`. Only call it under an emulator or a
 * debugger: on a bare board the BKPT instruction faults. */
void ed_semihost_exit(uint32_t code) __attribute__((noreturn));

#endif /* ED_RUNTIME_H */
