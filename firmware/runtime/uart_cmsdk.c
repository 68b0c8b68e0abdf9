/* Arm CMSDK APB UART (mps2 boards; QEMU cmsdk-apb-uart). Registers from the Cortex-M System
 * Design Kit technical reference: DATA +0, STATE +4, CTRL +8, BAUDDIV +0x10. */
#include "ed_board_config.h"
#include "ed_clock.h"
#include "ed_regs.h"
#include "ed_uart.h"

#define UART_DATA    ED_REG32(ED_UART_BASE + 0x00u)
#define UART_STATE   ED_REG32(ED_UART_BASE + 0x04u)
#define UART_CTRL    ED_REG32(ED_UART_BASE + 0x08u)
#define UART_BAUDDIV ED_REG32(ED_UART_BASE + 0x10u)

#define STATE_TX_FULL (1u << 0)
#define STATE_RX_FULL (1u << 1)
#define CTRL_TX_EN    (1u << 0)
#define CTRL_RX_EN    (1u << 1)

void ed_uart_init(void)
{
    /* The divisor must be at least 16. */
    uint32_t divisor = ed_clock_uart_hz() / ED_UART_BAUD;
    UART_BAUDDIV = divisor < 16u ? 16u : divisor;
    UART_CTRL = CTRL_TX_EN | CTRL_RX_EN;
}

void ed_uart_putc(uint8_t byte)
{
    while (UART_STATE & STATE_TX_FULL) {
    }
    UART_DATA = byte;
}

int ed_uart_getc(void)
{
    if (UART_STATE & STATE_RX_FULL) {
        return (int)(UART_DATA & 0xFFu);
    }
    return -1;
}

void ed_uart_flush(void)
{
    while (UART_STATE & STATE_TX_FULL) {
    }
}
