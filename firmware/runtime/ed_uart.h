/* The console UART, polled. One driver is linked per board (uart_<kind>.c); the base address,
 * baud rate and clocks come from the generated ed_board_config.h. */
#ifndef ED_UART_H
#define ED_UART_H

#include <stdint.h>

void ed_uart_init(void);
void ed_uart_putc(uint8_t byte);
/* Returns the received byte (0..255), or -1 when none is waiting. */
int ed_uart_getc(void);
/* Blocks until every queued byte has left the transmitter. */
void ed_uart_flush(void);

#endif /* ED_UART_H */
