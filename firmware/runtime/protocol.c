/* Frame reception and transmission over the console UART (see ed_protocol.h). */
#include <string.h>

#include "ed_board_config.h"
#include "ed_protocol.h"
#include "ed_runtime.h"
#include "ed_uart.h"

/* A frame that stops for 20 ms is dropped as truncated; the host resends on the ERROR reply.
 * The host writes each frame in one go, so gaps inside a frame are short even over USB serial
 * adapters (1 ms packets); under QEMU 20 ms of virtual time is about half a second of real time
 * (polling UART and SysTick costs an I/O exit per read with -icount). */
#define ED_INTERBYTE_TIMEOUT_CYCLES (ED_CLOCK_HZ / 50u)

static uint32_t tx_crc;

void ed_frame_begin(uint8_t type, uint8_t seq, uint16_t length)
{
    uint8_t header[ED_HEADER_BYTES] = {
        ED_SYNC0, ED_SYNC1, type, seq, (uint8_t)(length & 0xFFu), (uint8_t)(length >> 8), 0,
    };
    header[6] = ed_crc8(&header[2], 4);
    for (uint32_t i = 0; i < ED_HEADER_BYTES; i++) {
        ed_uart_putc(header[i]);
    }
    tx_crc = ed_crc32_update(0xFFFFFFFFu, &header[2], 4);
}

void ed_frame_write(const void *data, uint32_t length)
{
    const uint8_t *bytes = data;
    tx_crc = ed_crc32_update(tx_crc, bytes, length);
    for (uint32_t i = 0; i < length; i++) {
        ed_uart_putc(bytes[i]);
    }
}

void ed_frame_end(void)
{
    uint32_t crc = tx_crc ^ 0xFFFFFFFFu;
    for (int i = 0; i < 4; i++) {
        ed_uart_putc((uint8_t)(crc >> (8 * i)));
    }
}

void ed_frame_send(uint8_t type, uint8_t seq, const void *payload, uint16_t length)
{
    ed_frame_begin(type, seq, length);
    ed_frame_write(payload, length);
    ed_frame_end();
}

void ed_send_error(uint8_t seq, uint8_t code, const char *message)
{
    uint32_t length = (uint32_t)strlen(message);
    ed_frame_begin(ED_MSG_ERROR, seq, (uint16_t)(1u + length));
    ed_frame_write(&code, 1);
    ed_frame_write(message, length);
    ed_frame_end();
}

/* Waits for a byte; returns -1 if none came within the inter-byte timeout. */
static int read_byte_timeout(void)
{
    uint32_t start = ed_cycles_now();
    for (;;) {
        int byte = ed_uart_getc();
        if (byte >= 0) {
            return byte;
        }
        if (ed_cycles_now() - start > ED_INTERBYTE_TIMEOUT_CYCLES) {
            return -1;
        }
    }
}

static int read_byte_blocking(void)
{
    int byte;
    while ((byte = ed_uart_getc()) < 0) {
    }
    return byte;
}

/* Reads a header. The 7 header bytes sit in a small window: on a bad header CRC the window
 * slides by one byte and the search for the sync pair goes on, so a real frame right after
 * garbage is still found. Returns 0 on a good header, -1 on a timeout mid-header. */
static int receive_header(uint8_t header[ED_HEADER_BYTES])
{
    uint32_t have = 0;
    for (;;) {
        /* Keep only a prefix that can still be the start of a frame. */
        while (have > 0 && header[0] != ED_SYNC0) {
            memmove(header, header + 1, --have);
        }
        if (have > 1 && header[1] != ED_SYNC1) {
            memmove(header, header + 1, --have);
            continue;
        }
        if (have == ED_HEADER_BYTES) {
            if (ed_crc8(&header[2], 4) == header[6]) {
                return 0;
            }
            memmove(header, header + 1, --have);
            continue;
        }
        int byte = have == 0 ? read_byte_blocking() : read_byte_timeout();
        if (byte < 0) {
            return -1;
        }
        header[have++] = (uint8_t)byte;
    }
}

void ed_frame_receive(ed_frame_t *frame)
{
    uint8_t header[ED_HEADER_BYTES];
    for (;;) {
        if (receive_header(header) != 0) {
            ed_send_error(0, ED_ERR_TRUNCATED, "frame header cut short");
            continue;
        }
        frame->type = header[2];
        frame->seq = header[3];
        frame->length = (uint16_t)(header[4] | (header[5] << 8));
        if (frame->length > ED_MAX_PAYLOAD) {
            ed_send_error(frame->seq, ED_ERR_TOO_LONG, "payload longer than max_payload");
            continue;
        }
        uint8_t trailer[4];
        int truncated = 0;
        for (uint32_t i = 0; i < frame->length + 4u && !truncated; i++) {
            int byte = read_byte_timeout();
            if (byte < 0) {
                truncated = 1;
            } else if (i < frame->length) {
                frame->payload[i] = (uint8_t)byte;
            } else {
                trailer[i - frame->length] = (uint8_t)byte;
            }
        }
        if (truncated) {
            ed_send_error(frame->seq, ED_ERR_TRUNCATED, "frame cut short");
            continue;
        }
        uint32_t crc = ed_crc32_update(0xFFFFFFFFu, &header[2], 4);
        crc = ed_crc32_update(crc, frame->payload, frame->length) ^ 0xFFFFFFFFu;
        uint32_t sent = (uint32_t)trailer[0] | ((uint32_t)trailer[1] << 8) | ((uint32_t)trailer[2] << 16)
                        | ((uint32_t)trailer[3] << 24);
        if (crc != sent) {
            ed_send_error(frame->seq, ED_ERR_BAD_CRC, "frame CRC mismatch");
            continue;
        }
        return;
    }
}
