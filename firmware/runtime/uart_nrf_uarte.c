/* nRF52840 UARTE (nRF52840 Product Specification, "UARTE - Universal asynchronous receiver/
 * transmitter with EasyDMA"). Every transfer goes through RAM by EasyDMA, so one byte at a time
 * is moved through one-byte buffers; bytes that arrive between two receptions wait in the
 * UARTE's receive FIFO. */
#include "ed_board_config.h"
#include "ed_regs.h"
#include "ed_uart.h"

#define UARTE_TASKS_STARTRX ED_REG32(ED_UART_BASE + 0x000u)
#define UARTE_TASKS_STARTTX ED_REG32(ED_UART_BASE + 0x008u)
#define UARTE_EVENTS_ENDRX  ED_REG32(ED_UART_BASE + 0x110u)
#define UARTE_EVENTS_ENDTX  ED_REG32(ED_UART_BASE + 0x120u)
#define UARTE_ENABLE        ED_REG32(ED_UART_BASE + 0x500u)
#define UARTE_PSEL_RTS      ED_REG32(ED_UART_BASE + 0x508u)
#define UARTE_PSEL_TXD      ED_REG32(ED_UART_BASE + 0x50Cu)
#define UARTE_PSEL_CTS      ED_REG32(ED_UART_BASE + 0x510u)
#define UARTE_PSEL_RXD      ED_REG32(ED_UART_BASE + 0x514u)
#define UARTE_BAUDRATE      ED_REG32(ED_UART_BASE + 0x524u)
#define UARTE_RXD_PTR       ED_REG32(ED_UART_BASE + 0x534u)
#define UARTE_RXD_MAXCNT    ED_REG32(ED_UART_BASE + 0x538u)
#define UARTE_TXD_PTR       ED_REG32(ED_UART_BASE + 0x544u)
#define UARTE_TXD_MAXCNT    ED_REG32(ED_UART_BASE + 0x548u)
#define UARTE_CONFIG        ED_REG32(ED_UART_BASE + 0x56Cu)

#define UARTE_ENABLE_ON      8u
#define PSEL_DISCONNECTED    0xFFFFFFFFu
#define BAUDRATE_115200      0x01D60000u

static volatile uint8_t rx_byte;
static volatile uint8_t tx_byte;
static int tx_busy;

void ed_uart_init(void)
{
    UARTE_PSEL_TXD = ED_UART_TX_PIN;
    UARTE_PSEL_RXD = ED_UART_RX_PIN;
    UARTE_PSEL_RTS = PSEL_DISCONNECTED;
    UARTE_PSEL_CTS = PSEL_DISCONNECTED;
    /* The BAUDRATE register takes codes, not divisors; only 115200 is wired up here. */
    UARTE_BAUDRATE = BAUDRATE_115200;
    UARTE_CONFIG = 0;   /* 8N1, no flow control */
    UARTE_ENABLE = UARTE_ENABLE_ON;
    UARTE_RXD_PTR = (uint32_t)(uintptr_t)&rx_byte;
    UARTE_RXD_MAXCNT = 1;
    UARTE_EVENTS_ENDRX = 0;
    UARTE_TASKS_STARTRX = 1;
}

void ed_uart_flush(void)
{
    if (tx_busy) {
        while (!UARTE_EVENTS_ENDTX) {
        }
        tx_busy = 0;
    }
}

void ed_uart_putc(uint8_t byte)
{
    ed_uart_flush();
    tx_byte = byte;
    UARTE_EVENTS_ENDTX = 0;
    UARTE_TXD_PTR = (uint32_t)(uintptr_t)&tx_byte;
    UARTE_TXD_MAXCNT = 1;
    UARTE_TASKS_STARTTX = 1;
    tx_busy = 1;
}

int ed_uart_getc(void)
{
    if (!UARTE_EVENTS_ENDRX) {
        return -1;
    }
    /* Take the byte first, then clear ENDRX and start the next reception in two consecutive
     * stores. Between them no reception runs on the chip (arriving bytes wait in the UARTE's
     * FIFO), but Renode 1.15's model DMAs a byte that arrives there one past the one-byte buffer
     * and raises no ENDRX: the byte is lost and the host resends the frame. The shorter that
     * window, the rarer (docs/renode.md, "Link speed"). */
    int byte = rx_byte;
    __asm__ volatile("" : "+r"(byte));   /* finish the load before the two stores */
    UARTE_EVENTS_ENDRX = 0;
    UARTE_TASKS_STARTRX = 1;
    return byte;
}
