/* The core clock the firmware runs at: the board's full clock when its clock driver brought the
 * PLL up, otherwise the reset clock. Everything that depends on the clock (the UART divisor, the
 * clock_hz that INFO reports) asks here, so it is right whichever way the setup went. */
#include "ed_board_config.h"
#include "ed_clock.h"

#if defined(ED_CLOCK_SETUP)
static ed_clock_state_t state = ED_CLOCK_AT_RESET;
#endif

void ed_clock_init(void)
{
#if defined(ED_CLOCK_SETUP)
    state = ED_CLOCK_SETUP();
#endif
}

int ed_clock_wait(volatile uint32_t *reg, uint32_t mask, uint32_t value)
{
    for (uint32_t i = 0; i < ED_CLOCK_WAIT_LIMIT; i++) {
        if ((*reg & mask) == value) {
            return 1;
        }
    }
    return 0;
}

#if defined(ED_CLOCK_SETUP)
uint32_t ed_clock_core_hz(void)
{
    return state == ED_CLOCK_FULL ? ED_CLOCK_HZ : ED_CLOCK_RESET_HZ;
}

uint32_t ed_clock_uart_hz(void)
{
    return state == ED_CLOCK_FULL ? ED_UART_CLOCK_HZ : ED_UART_RESET_CLOCK_HZ;
}

ed_clock_state_t ed_clock_state(void)
{
    return state;
}

const char *ed_clock_state_name(void)
{
    switch (state) {
    case ED_CLOCK_FULL:
        return "full";
    case ED_CLOCK_TIMEOUT:
        return "timeout";
    default:
        return "reset";
    }
}
#endif /* ED_CLOCK_SETUP */
