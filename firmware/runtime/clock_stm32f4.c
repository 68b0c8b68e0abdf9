/* STM32F4 clock setup (RM0090 for F405/F407, RM0390 for F446): the PLL from the 16 MHz HSI,
 * flash wait states and the ART accelerator, AHB/APB prescalers, over-drive where the board asks
 * for it. Compiled for every board; its body only where ed_board_config.h names this driver. */
#include "ed_board_config.h"
#include "ed_clock.h"
#include "ed_regs.h"

#if defined(ED_CLOCK_DRIVER_STM32F4)

#define RCC_CR        ED_REG32(0x40023800u)
#define RCC_PLLCFGR   ED_REG32(0x40023804u)
#define RCC_CFGR      ED_REG32(0x40023808u)
#define RCC_APB1ENR   ED_REG32(0x40023840u)
#define PWR_CR        ED_REG32(0x40007000u)
#define PWR_CSR       ED_REG32(0x40007004u)
#define FLASH_ACR     ED_REG32(0x40023C00u)

#define RCC_CR_HSIRDY    (1u << 1)
#define RCC_CR_PLLON     (1u << 24)
#define RCC_CR_PLLRDY    (1u << 25)
#define RCC_APB1ENR_PWREN (1u << 28)
#define PWR_CR_ODEN      (1u << 16)
#define PWR_CR_ODSWEN    (1u << 17)
#define PWR_CSR_ODRDY    (1u << 16)
#define PWR_CSR_ODSWRDY  (1u << 17)
#define CFGR_SW_PLL      2u
#define CFGR_SWS_MASK    (3u << 2)
#define CFGR_SWS_PLL     (2u << 2)
/* FLASH_ACR: LATENCY[3:0], PRFTEN (8), ICEN (9), DCEN (10); the same bits on every F4. */
#define FLASH_ACR_VALUE (ED_FLASH_WAIT_STATES | (ED_FLASH_PREFETCH << 8) | (ED_FLASH_ICACHE << 9) | \
                         (ED_FLASH_DCACHE << 10))

ed_clock_state_t ed_clock_setup_stm32f4(void)
{
    /* Wait states first, read back until LATENCY shows them (RM0090 3.5.1, "Increasing the CPU
     * frequency": the check the manual asks for is on LATENCY). */
    FLASH_ACR = FLASH_ACR_VALUE;
    if (!ed_clock_wait(&FLASH_ACR, 0xFu, ED_FLASH_WAIT_STATES)) {
        return ED_CLOCK_TIMEOUT;
    }
#if ED_CLOCK_START_PLL
    RCC_APB1ENR |= RCC_APB1ENR_PWREN;
    if (!ed_clock_wait(&RCC_CR, RCC_CR_HSIRDY, RCC_CR_HSIRDY)) {
        return ED_CLOCK_TIMEOUT;
    }
    /* PLLM[5:0], PLLN[14:6], PLLP[17:16] = P/2 - 1, PLLSRC (22) = 0: HSI, PLLQ[27:24]; the
     * reserved bits (and F446's PLLR) keep their reset values. */
    uint32_t pllcfgr = RCC_PLLCFGR & ~(0x3Fu | (0x1FFu << 6) | (3u << 16) | (1u << 22));
    pllcfgr |= ED_CLOCK_PLL_M | (ED_CLOCK_PLL_N << 6) | ((ED_CLOCK_PLL_P / 2u - 1u) << 16);
#if defined(ED_CLOCK_PLL_Q)
    pllcfgr = (pllcfgr & ~(0xFu << 24)) | (ED_CLOCK_PLL_Q << 24);
#endif
    RCC_PLLCFGR = pllcfgr;
    RCC_CR |= RCC_CR_PLLON;
#if ED_CLOCK_OVERDRIVE
    /* RM0390 5.1.4: over-drive on, then the switch to it, while the PLL locks. */
    PWR_CR |= PWR_CR_ODEN;
    if (!ed_clock_wait(&PWR_CSR, PWR_CSR_ODRDY, PWR_CSR_ODRDY)) {
        return ED_CLOCK_TIMEOUT;
    }
    PWR_CR |= PWR_CR_ODSWEN;
    if (!ed_clock_wait(&PWR_CSR, PWR_CSR_ODSWRDY, PWR_CSR_ODSWRDY)) {
        return ED_CLOCK_TIMEOUT;
    }
#endif
    if (!ed_clock_wait(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY)) {
        return ED_CLOCK_TIMEOUT;
    }
    /* Prescalers before the switch, so no bus ever runs above its limit: HPRE[7:4],
     * PPRE1[12:10], PPRE2[15:13]. */
    RCC_CFGR = (RCC_CFGR & ~((0xFu << 4) | (7u << 10) | (7u << 13))) | (ED_CLOCK_HPRE << 4) |
               (ED_CLOCK_PPRE1 << 10) | (ED_CLOCK_PPRE2 << 13);
    RCC_CFGR = (RCC_CFGR & ~3u) | CFGR_SW_PLL;
    if (!ed_clock_wait(&RCC_CFGR, CFGR_SWS_MASK, CFGR_SWS_PLL)) {
        return ED_CLOCK_TIMEOUT;
    }
    return ED_CLOCK_FULL;
#else
    return ED_CLOCK_AT_RESET;
#endif
}

#endif /* ED_CLOCK_DRIVER_STM32F4 */
