/* STM32L4+ clock setup (RM0432, STM32L4R5/L4S5): the PLL from HSI16, Range 1 boost mode for
 * clocks above 80 MHz, flash wait states and the ART accelerator, prescalers. Compiled for every
 * board; its body only where ed_board_config.h names this driver. */
#include "ed_board_config.h"
#include "ed_clock.h"
#include "ed_regs.h"

#if defined(ED_CLOCK_DRIVER_STM32L4PLUS)

#define RCC_CR        ED_REG32(0x40021000u)
#define RCC_CFGR      ED_REG32(0x40021008u)
#define RCC_PLLCFGR   ED_REG32(0x4002100Cu)
#define RCC_APB1ENR1  ED_REG32(0x40021058u)
#define PWR_SR2       ED_REG32(0x40007014u)
#define PWR_CR5       ED_REG32(0x40007080u)
#define FLASH_ACR     ED_REG32(0x40022000u)

#define RCC_CR_HSION      (1u << 8)
#define RCC_CR_HSIRDY     (1u << 10)
#define RCC_CR_PLLON      (1u << 24)
#define RCC_CR_PLLRDY     (1u << 25)
#define RCC_APB1ENR1_PWREN (1u << 28)
#define PWR_SR2_VOSF      (1u << 10)
#define PWR_CR5_R1MODE    (1u << 8)    /* 1: Range 1 normal mode (reset), 0: boost (above 80 MHz) */
#define PLLCFGR_SRC_HSI16 2u
#define PLLCFGR_PLLREN    (1u << 24)
#define CFGR_SW_PLL       3u
#define CFGR_SWS_MASK     (3u << 2)
#define CFGR_SWS_PLL      (3u << 2)
#define CFGR_HPRE_DIV2    8u
#define FLASH_ACR_VALUE (ED_FLASH_WAIT_STATES | (ED_FLASH_PREFETCH << 8) | (ED_FLASH_ICACHE << 9) | \
                         (ED_FLASH_DCACHE << 10))

ed_clock_state_t ed_clock_setup_stm32l4plus(void)
{
    RCC_APB1ENR1 |= RCC_APB1ENR1_PWREN;
#if ED_CLOCK_START_PLL
    /* Range 1 boost mode before raising the clock above 80 MHz (RM0432 5.1.8); the part starts
     * in Range 1. */
    PWR_CR5 &= ~PWR_CR5_R1MODE;
    if (!ed_clock_wait(&PWR_SR2, PWR_SR2_VOSF, 0u)) {
        return ED_CLOCK_TIMEOUT;
    }
#endif
    /* Wait states first, read back until LATENCY shows them (RM0432, "Increasing the CPU
     * frequency"). */
    FLASH_ACR = FLASH_ACR_VALUE;
    if (!ed_clock_wait(&FLASH_ACR, 0xFu, ED_FLASH_WAIT_STATES)) {
        return ED_CLOCK_TIMEOUT;
    }
#if ED_CLOCK_START_PLL
    RCC_CR |= RCC_CR_HSION;
    if (!ed_clock_wait(&RCC_CR, RCC_CR_HSIRDY, RCC_CR_HSIRDY)) {
        return ED_CLOCK_TIMEOUT;
    }
    /* PLLSRC[1:0] = HSI16, PLLM[7:4] = M - 1, PLLN[14:8], PLLREN, PLLR[26:25] = R/2 - 1. */
    RCC_PLLCFGR = PLLCFGR_SRC_HSI16 | ((ED_CLOCK_PLL_M - 1u) << 4) | (ED_CLOCK_PLL_N << 8) | PLLCFGR_PLLREN |
                  ((ED_CLOCK_PLL_R / 2u - 1u) << 25);
    RCC_CR |= RCC_CR_PLLON;
    if (!ed_clock_wait(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY)) {
        return ED_CLOCK_TIMEOUT;
    }
    /* Above 80 MHz the switch goes through AHB / 2 for at least 1 us (RM0432 6.2.8; ST's HAL
     * does the same), then the final prescalers: HPRE[7:4], PPRE1[10:8], PPRE2[13:11]. */
    RCC_CFGR = (RCC_CFGR & ~((0xFu << 4) | (7u << 8) | (7u << 11))) | (CFGR_HPRE_DIV2 << 4) |
               (ED_CLOCK_PPRE1 << 8) | (ED_CLOCK_PPRE2 << 11);
    RCC_CFGR = (RCC_CFGR & ~3u) | CFGR_SW_PLL;
    if (!ed_clock_wait(&RCC_CFGR, CFGR_SWS_MASK, CFGR_SWS_PLL)) {
        return ED_CLOCK_TIMEOUT;
    }
    for (volatile uint32_t i = 0; i < ED_CLOCK_HZ / 2000000u + 1u; i++) {
        /* about 1 us at HCLK = SYSCLK / 2 (several cycles per iteration) */
    }
    RCC_CFGR = (RCC_CFGR & ~(0xFu << 4)) | (ED_CLOCK_HPRE << 4);
    return ED_CLOCK_FULL;
#else
    return ED_CLOCK_AT_RESET;
#endif
}

#endif /* ED_CLOCK_DRIVER_STM32L4PLUS */
