/* Firmware entry after start-up: bring up the console and the cycle counter, announce, serve. */
#include "ed_runtime.h"
#include "ed_server.h"
#include "ed_uart.h"

int main(void)
{
    ed_uart_init();
    ed_cycles_init();
    ed_send_boot();
    ed_serve_forever();
}
