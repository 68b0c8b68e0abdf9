/* Firmware entry after start-up: bring up the link and the cycle counter, announce, serve. */
#include "ed_link.h"
#include "ed_runtime.h"
#include "ed_server.h"

int main(void)
{
    ed_link_init();
    ed_cycles_init(!ed_link_host_option(ED_HOST_NO_INTERRUPTS));
    ed_send_boot();
    ed_serve_forever();
}
