/* The few Cortex-M4 core registers the runtime touches (ARMv7-M Architecture Reference Manual,
 * System Control Space). Defined here so no CMSIS headers are needed. */
#ifndef ED_REGS_H
#define ED_REGS_H

#include <stdint.h>

#define ED_REG32(address) (*(volatile uint32_t *)(address))

/* System Control Block */
#define SCB_VTOR   ED_REG32(0xE000ED08u)
#define SCB_CPACR  ED_REG32(0xE000ED88u)   /* coprocessor access: CP10/CP11 = FPU */
#define SCB_CFSR   ED_REG32(0xE000ED28u)   /* configurable fault status */
#define SCB_HFSR   ED_REG32(0xE000ED2Cu)   /* hard fault status */
#define SCB_MMFAR  ED_REG32(0xE000ED34u)   /* memory-manage fault address */
#define SCB_BFAR   ED_REG32(0xE000ED38u)   /* bus fault address */

/* Debug: DEMCR.TRCENA powers the DWT */
#define DEMCR            ED_REG32(0xE000EDFCu)
#define DEMCR_TRCENA     (1u << 24)
#define DWT_CTRL         ED_REG32(0xE0001000u)
#define DWT_CTRL_CYCCNTENA (1u << 0)
#define DWT_CYCCNT       ED_REG32(0xE0001004u)
#define DWT_LAR          ED_REG32(0xE0001FB0u)   /* lock access (some parts need the unlock key) */
#define DWT_LAR_KEY      0xC5ACCE55u

/* SysTick: a 24-bit down-counter */
#define SYST_CSR   ED_REG32(0xE000E010u)
#define SYST_RVR   ED_REG32(0xE000E014u)
#define SYST_CVR   ED_REG32(0xE000E018u)
#define SYST_CSR_ENABLE    (1u << 0)
#define SYST_CSR_TICKINT   (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2)       /* 1: the processor clock */
#define SYST_CSR_COUNTFLAG (1u << 16)      /* set by a wrap, cleared by reading SYST_CSR */
#define SYST_MAX_RELOAD    0x00FFFFFFu

#endif /* ED_REGS_H */
