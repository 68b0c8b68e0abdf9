/* The core clock: set up once at reset from the board file's clock: block (boards/*.yaml), and
 * the clocks the runtime derives from it. See docs/boards.md, "Clocks". */
#ifndef ED_CLOCK_H
#define ED_CLOCK_H

#include <stdint.h>

#include "ed_board_config.h"

typedef enum {
    ED_CLOCK_AT_RESET = 0,      /* the board runs at its reset clock (no clock: block, or chosen) */
    ED_CLOCK_FULL = 1,          /* the PLL runs and drives the core at the board's clock_hz */
    ED_CLOCK_TIMEOUT = 2,       /* a ready flag or read-back never came (an emulator without RCC): reset clock */
} ed_clock_state_t;

/* Called by Reset_Handler before main(): flash wait states and accelerator, then the PLL. Every
 * wait for a ready flag is bounded, so a part (or an emulator) whose PLL never locks still
 * boots, on its reset clock, and says so (ed_clock_state_name). */
void ed_clock_init(void);

#if defined(ED_CLOCK_SETUP)
uint32_t ed_clock_core_hz(void);        /* the core clock now running */
uint32_t ed_clock_uart_hz(void);        /* the console UART's input clock now */
ed_clock_state_t ed_clock_state(void);
const char *ed_clock_state_name(void);  /* "full", "reset" or "timeout" */
#else
/* No clock: block: the board runs at its reset clock, known at compile time. */
static inline uint32_t ed_clock_core_hz(void) { return ED_CLOCK_HZ; }
static inline uint32_t ed_clock_uart_hz(void) { return ED_UART_CLOCK_HZ; }
static inline ed_clock_state_t ed_clock_state(void) { return ED_CLOCK_AT_RESET; }
static inline const char *ed_clock_state_name(void) { return "reset"; }
#endif

/* Spin until (*reg & mask) == value or `ED_CLOCK_WAIT_LIMIT` reads have passed; 1 if it came. */
#define ED_CLOCK_WAIT_LIMIT 200000u
int ed_clock_wait(volatile uint32_t *reg, uint32_t mask, uint32_t value);

/* Drivers (clock_<driver>.c): set up flash and PLL from ed_board_config.h, return the state. */
ed_clock_state_t ed_clock_setup_stm32f4(void);
ed_clock_state_t ed_clock_setup_stm32l4plus(void);

#endif /* ED_CLOCK_H */
