/* The byte stream the protocol runs on. By default the board's console UART. Under QEMU, when the
 * host starts the emulator with the semihosting argument "edge-deploy-link=semihost", it is
 * semihosting's stdin/stdout instead, which the host connects to a socket: whole buffers move per
 * call there, where QEMU's UART models pass one byte per main-loop turn (docs/protocol.md,
 * "Links"). The protocol and its framing are the same on both. */
#ifndef ED_LINK_H
#define ED_LINK_H

#include <stdint.h>

/* Brings up the UART and picks the link; call once at start-up. Before it, the link is the UART. */
void ed_link_init(void);
/* Copies up to `capacity` bytes that have arrived into `buffer` and returns how many; 0 when none
 * is waiting. Never waits. */
uint32_t ed_link_read(uint8_t *buffer, uint32_t capacity);
/* Sends `length` bytes, waiting while the line is busy. */
void ed_link_write(const void *data, uint32_t length);
/* Waits until every byte written has left. */
void ed_link_flush(void);
/* Options the host passed on the semihosting command line (QEMU boards only; 0 elsewhere):
 * ED_HOST_NO_INTERRUPTS ("edge-deploy-interrupts=off") asks for a run without interrupts, in
 * which a stack measurement depends on the code alone (edge_deploy.build.stack). */
#define ED_HOST_NO_INTERRUPTS 1u
int ed_link_host_option(uint32_t option);
/* "uart" or "semihost", for INFO. */
const char *ed_link_name(void);

#endif /* ED_LINK_H */
