/* The link: the console UART, or semihosting's stdin/stdout under QEMU (see ed_link.h). */
#include "ed_board_config.h"
#include "ed_link.h"
#include "ed_semihost.h"
#include "ed_uart.h"

/* The semihosting arguments by which the host asks for the semihosting link, and for a run
 * without interrupts (ed_link.h). */
#define ED_LINK_SEMIHOST_ARG "edge-deploy-link=semihost"
#define ED_LINK_NO_INTERRUPTS_ARG "edge-deploy-interrupts=off"
/* Semihosting SYS_OPEN modes: ":tt" opened for reading is the host's stdin, for writing its stdout. */
#define SH_MODE_READ 0u
#define SH_MODE_WRITE 4u

static int32_t host_in = -1;
static int32_t host_out = -1;
static uint32_t host_options;

static int semihost_link(void)
{
    return host_out >= 0;
}

#ifdef ED_BOARD_QEMU_MACHINE
/* 1 if `word` occurs in `text` (a plain search: newlib's strstr would cost more flash). */
static int contains(const char *text, const char *word)
{
    for (; *text != '\0'; text++) {
        uint32_t i = 0;
        while (word[i] != '\0' && text[i] == word[i]) {
            i++;
        }
        if (word[i] == '\0') {
            return 1;
        }
    }
    return 0;
}
#endif

void ed_link_init(void)
{
    ed_uart_init();
#ifdef ED_BOARD_QEMU_MACHINE
    /* Only firmware for a board QEMU emulates asks; elsewhere the BKPT of the question is not
     * worth its risk (an emulator that stops on it). */
    char cmdline[128];
    if (!ed_semihost_available() || ed_semihost_cmdline(cmdline, sizeof cmdline) != 0) {
        return;
    }
    if (contains(cmdline, ED_LINK_NO_INTERRUPTS_ARG)) {
        host_options |= ED_HOST_NO_INTERRUPTS;
    }
    if (contains(cmdline, ED_LINK_SEMIHOST_ARG)) {
        int32_t in = ed_semihost_open(":tt", SH_MODE_READ);
        int32_t out = ed_semihost_open(":tt", SH_MODE_WRITE);
        if (in >= 0 && out >= 0) {
            host_in = in;
            host_out = out;
        }
    }
#endif
}

uint32_t ed_link_read(uint8_t *buffer, uint32_t capacity)
{
    if (semihost_link()) {
        /* The host makes stdin non-blocking, so an empty line reads as 0 bytes. */
        return ed_semihost_read(host_in, buffer, capacity);
    }
    uint32_t count = 0;
    int byte;
    while (count < capacity && (byte = ed_uart_getc()) >= 0) {
        buffer[count++] = (uint8_t)byte;
    }
    return count;
}

void ed_link_write(const void *data, uint32_t length)
{
    const uint8_t *bytes = data;
    if (semihost_link()) {
        /* A non-blocking host socket may take part of it: go on until all is sent. */
        while (length > 0u) {
            uint32_t sent = ed_semihost_write(host_out, bytes, length);
            bytes += sent;
            length -= sent;
        }
        return;
    }
    for (uint32_t i = 0; i < length; i++) {
        ed_uart_putc(bytes[i]);
    }
}

void ed_link_flush(void)
{
    if (!semihost_link()) {
        ed_uart_flush();
    }
}

int ed_link_host_option(uint32_t option)
{
    return (host_options & option) != 0u;
}

const char *ed_link_name(void)
{
    return semihost_link() ? "semihost" : "uart";
}
