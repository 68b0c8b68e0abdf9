/* Start-up: the vector table and the reset handler. Symbols come from the generated linker
 * script (templates/linker.ld.j2). */
#include <stdint.h>
#include <string.h>

#include "ed_board_config.h"
#include "ed_clock.h"
#include "ed_regs.h"
#include "ed_runtime.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(void);

void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void SysTick_Handler(void);

/* Every exception but reset, HardFault and SysTick lands in Default_Handler (fault.c), which
 * reports it like a fault. 16 system exceptions, then enough external interrupt slots for the
 * boards here (STM32F4 has 82, nRF52840 48): none is enabled, a stray one is reported. */
#define ED_EXTERNAL_IRQS 96

typedef void (*ed_vector_t)(void);

__attribute__((section(".isr_vector"), used)) const ed_vector_t ed_vector_table[16 + ED_EXTERNAL_IRQS] = {
    [0] = (ed_vector_t)&_estack,
    [1] = Reset_Handler,
    [2] = Default_Handler,
    [3] = HardFault_Handler,
    [4] = Default_Handler,
    [5] = Default_Handler,
    [6] = Default_Handler,
    [11] = Default_Handler,
    [12] = Default_Handler,
    [14] = Default_Handler,
    [15] = SysTick_Handler,
    [16 ... 16 + ED_EXTERNAL_IRQS - 1] = Default_Handler,
};

typedef struct {
    uint32_t address;
    uint32_t clear;
    uint32_t set;
} ed_register_write_t;

/* Ends with an all-zero entry (no peripheral register sits at address 0). */
static const ed_register_write_t board_init_writes[] = ED_BOARD_INIT_WRITES;

void Reset_Handler(void)
{
    ed_stack_paint();   /* first: the stack's high-water mark counts from here (stack.c) */
#if defined(__ARM_FP)
    /* Full access to CP10/CP11 before the first floating-point instruction. */
    SCB_CPACR |= (0xFu << 20);
    __asm volatile("dsb\n isb" ::: "memory");
#endif
    SCB_VTOR = (uint32_t)(uintptr_t)ed_vector_table;
    memcpy(&_sdata, &_sidata, (size_t)((uintptr_t)&_edata - (uintptr_t)&_sdata));
    memset(&_sbss, 0, (size_t)((uintptr_t)&_ebss - (uintptr_t)&_sbss));
    for (uint32_t i = 0; board_init_writes[i].address != 0u; i++) {
        volatile uint32_t *reg = (volatile uint32_t *)(uintptr_t)board_init_writes[i].address;
        *reg = (*reg & ~board_init_writes[i].clear) | board_init_writes[i].set;
    }
    ed_clock_init();   /* the board's clock: block (flash wait states, PLL); a no-op without one */
    main();
    for (;;) {
    }
}
