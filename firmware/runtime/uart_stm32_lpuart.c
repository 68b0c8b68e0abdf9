/* STM32L4/L4+ LPUART (RM0432, "LPUART registers"): CR1 +0x00, CR3 +0x08, BRR +0x0C, ISR +0x1C,
 * ICR +0x20, RDR +0x24, TDR +0x28. The baud rate divisor is 256 * f_ck / baud; f_ck must lie in
 * [3, 4096] x baud. */
#include "ed_board_config.h"
#include "ed_clock.h"
#include "ed_regs.h"
#include "ed_uart.h"

#define LPUART_CR1 ED_REG32(ED_UART_BASE + 0x00u)
#define LPUART_CR3 ED_REG32(ED_UART_BASE + 0x08u)
#define LPUART_BRR ED_REG32(ED_UART_BASE + 0x0Cu)
#define LPUART_ISR ED_REG32(ED_UART_BASE + 0x1Cu)
#define LPUART_ICR ED_REG32(ED_UART_BASE + 0x20u)
#define LPUART_RDR ED_REG32(ED_UART_BASE + 0x24u)
#define LPUART_TDR ED_REG32(ED_UART_BASE + 0x28u)

#define CR1_UE  (1u << 0)
#define CR1_RE  (1u << 2)
#define CR1_TE  (1u << 3)
#define CR3_OVRDIS (1u << 12)  /* an overrun does not block reception: the protocol resends */
#define ISR_ORE  (1u << 3)
#define ISR_RXNE (1u << 5)
#define ISR_TXE  (1u << 7)
#define ICR_ORECF (1u << 3)

void ed_uart_init(void)
{
    /* 256 * f_ck / baud, rounded, without 64-bit division: f_ck = q * baud + rest. */
    uint32_t f_ck = ed_clock_uart_hz();
    uint32_t whole = f_ck / ED_UART_BAUD;
    uint32_t rest = f_ck % ED_UART_BAUD;
    LPUART_CR1 = 0u;
    LPUART_BRR = whole * 256u + (rest * 256u + ED_UART_BAUD / 2u) / ED_UART_BAUD;
    LPUART_CR3 = CR3_OVRDIS;
    LPUART_CR1 = CR1_UE | CR1_TE | CR1_RE;
}

void ed_uart_putc(uint8_t byte)
{
    while (!(LPUART_ISR & ISR_TXE)) {
    }
    LPUART_TDR = byte;
}

int ed_uart_getc(void)
{
    uint32_t isr = LPUART_ISR;
    if (isr & ISR_ORE) {
        LPUART_ICR = ICR_ORECF;
    }
    if (isr & ISR_RXNE) {
        return (int)(LPUART_RDR & 0xFFu);
    }
    return -1;
}

void ed_uart_flush(void)
{
    while (!(LPUART_ISR & ISR_TXE)) {
    }
}
