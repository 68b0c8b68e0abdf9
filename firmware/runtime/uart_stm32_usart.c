/* STM32F4 USART (RM0090, "USART registers"): SR +0, DR +4, BRR +8, CR1 +0x0C. QEMU's
 * stm32f2xx_usart only moves data once CR1 has UE, TE and RE set. */
#include "ed_board_config.h"
#include "ed_clock.h"
#include "ed_regs.h"
#include "ed_uart.h"

#define USART_SR  ED_REG32(ED_UART_BASE + 0x00u)
#define USART_DR  ED_REG32(ED_UART_BASE + 0x04u)
#define USART_BRR ED_REG32(ED_UART_BASE + 0x08u)
#define USART_CR1 ED_REG32(ED_UART_BASE + 0x0Cu)

#define SR_RXNE (1u << 5)
#define SR_TC   (1u << 6)
#define SR_TXE  (1u << 7)
#define CR1_RE  (1u << 2)
#define CR1_TE  (1u << 3)
#define CR1_UE  (1u << 13)

void ed_uart_init(void)
{
    /* Oversampling by 16: BRR holds USARTDIV * 16 = f_ck / baud, rounded. */
    USART_BRR = (ed_clock_uart_hz() + ED_UART_BAUD / 2u) / ED_UART_BAUD;
    USART_CR1 = CR1_UE | CR1_TE | CR1_RE;
}

void ed_uart_putc(uint8_t byte)
{
    while (!(USART_SR & SR_TXE)) {
    }
    USART_DR = byte;
}

int ed_uart_getc(void)
{
    /* Reading DR after SR also clears an overrun, so a lost byte does not block reception. */
    if (USART_SR & SR_RXNE) {
        return (int)(USART_DR & 0xFFu);
    }
    return -1;
}

void ed_uart_flush(void)
{
    while (!(USART_SR & SR_TXE)) {
    }
}
