/* The cycle counter. DWT CYCCNT counts core clock cycles where the core implements it. QEMU does
 * not model the DWT (CYCCNT reads 0), so ed_cycles_init() checks that CYCCNT moves and otherwise
 * falls back to SysTick clocked from the core clock, extended from 24 to 32 bits by counting its
 * wrap-arounds in SysTick_Handler. Under QEMU with -icount shift=0 every instruction takes 1 ns
 * of virtual time, so SysTick advances by clock_hz / 1e9 per instruction: deterministic, with a
 * resolution of 1e9 / clock_hz instructions (40 on mps2-an386 at 25 MHz). See docs/protocol.md. */
#include "ed_regs.h"
#include "ed_runtime.h"

static ed_cycle_source_t source;
static volatile uint32_t systick_wraps;
static int tick_polled;   /* SysTick without its interrupt: wraps counted from COUNTFLAG */

volatile uint32_t ed_current_layer;

void SysTick_Handler(void)
{
    systick_wraps++;
}

static int dwt_counts(void)
{
    DEMCR |= DEMCR_TRCENA;
    DWT_LAR = DWT_LAR_KEY;
    DWT_CYCCNT = 0;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
    uint32_t before = DWT_CYCCNT;
    for (volatile int i = 0; i < 16; i++) {
    }
    return DWT_CYCCNT != before;
}

void ed_cycles_init(int tick_interrupt)
{
    if (dwt_counts()) {
        source = ED_CYCLES_DWT;
        return;
    }
    source = ED_CYCLES_SYSTICK;
    SYST_RVR = SYST_MAX_RELOAD;
    SYST_CVR = 0;
    tick_polled = !tick_interrupt;
    SYST_CSR = SYST_CSR_CLKSOURCE | (tick_interrupt ? SYST_CSR_TICKINT : 0u) | SYST_CSR_ENABLE;
}

uint32_t ed_cycles_now(void)
{
    if (source == ED_CYCLES_DWT) {
        return DWT_CYCCNT;
    }
    uint32_t wraps;
    uint32_t value;
    if (tick_polled) {
        /* A wrap seen after the value was read belongs before it: count it and read again. The
         * count stays right while calls come at least once per wrap (2^24 ticks). */
        for (;;) {
            value = SYST_CVR;
            if ((SYST_CSR & SYST_CSR_COUNTFLAG) == 0u) {
                return (systick_wraps << 24) | (SYST_MAX_RELOAD - value);
            }
            systick_wraps++;
        }
    }
    /* Re-read if a wrap was counted in between, so the high and low parts agree. */
    do {
        wraps = systick_wraps;
        value = SYST_CVR;
    } while (wraps != systick_wraps);
    return (wraps << 24) | (SYST_MAX_RELOAD - value);
}

ed_cycle_source_t ed_cycle_source(void)
{
    return source;
}

const char *ed_cycle_source_name(void)
{
    return source == ED_CYCLES_DWT ? "dwt" : "systick";
}

__attribute__((noinline)) void ed_layer_marker(uint32_t layer_index)
{
    ed_current_layer = layer_index;
}
