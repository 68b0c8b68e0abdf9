/* Frame reception and transmission over the link (see ed_protocol.h, ed_link.h). */
#include <string.h>

#include "ed_board_config.h"
#include "ed_link.h"
#include "ed_protocol.h"
#include "ed_runtime.h"

/* A frame that stops for 20 ms is dropped as truncated; the host resends on the ERROR reply.
 * The host writes each frame in one go, so gaps inside a frame are short even over USB serial
 * adapters (1 ms packets); under QEMU 20 ms of virtual time is about half a second of real time
 * (polling the link and SysTick costs an I/O exit per read with -icount). */
#define ED_INTERBYTE_TIMEOUT_CYCLES (ED_CLOCK_HZ / 50u)

static uint32_t tx_crc;

void ed_frame_begin(uint8_t type, uint8_t seq, uint16_t length)
{
    uint8_t header[ED_HEADER_BYTES] = {
        ED_SYNC0, ED_SYNC1, type, seq, (uint8_t)(length & 0xFFu), (uint8_t)(length >> 8), 0,
    };
    header[6] = ed_crc8(&header[2], 4);
    ed_link_write(header, ED_HEADER_BYTES);
    tx_crc = ed_crc32_update(0xFFFFFFFFu, &header[2], 4);
}

void ed_frame_write(const void *data, uint32_t length)
{
    tx_crc = ed_crc32_update(tx_crc, data, length);
    ed_link_write(data, length);
}

void ed_frame_end(void)
{
    uint32_t crc = tx_crc ^ 0xFFFFFFFFu;
    uint8_t trailer[ED_TRAILER_BYTES];
    for (uint32_t i = 0; i < ED_TRAILER_BYTES; i++) {
        trailer[i] = (uint8_t)(crc >> (8u * i));
    }
    ed_link_write(trailer, ED_TRAILER_BYTES);
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

/* Fills frame->bytes[have..want) from the bytes taken back, then from the link. Waits forever for
 * the first byte when `have` is 0 (the line may rest between frames); otherwise gives up after
 * the inter-byte timeout. Returns how many bytes the frame then holds. Writing at `have` never
 * overtakes replay_start, so taken-back bytes are read before they are overwritten. */
static uint32_t fill(ed_frame_t *frame, uint32_t have, uint32_t want)
{
    while (have < want && frame->replay_start < frame->replay_end) {
        frame->bytes[have++] = frame->bytes[frame->replay_start++];
    }
    uint32_t quiet_since = ed_cycles_now();
    while (have < want) {
        uint32_t got = ed_link_read(frame->bytes + have, want - have);
        if (got > 0u) {
            have += got;
            quiet_since = ed_cycles_now();
        } else if (have > 0u && ed_cycles_now() - quiet_since > ED_INTERBYTE_TIMEOUT_CYCLES) {
            break;
        }
    }
    return have;
}

static void drop_first(ed_frame_t *frame, uint32_t *have)
{
    memmove(frame->bytes, frame->bytes + 1, --*have);
}

/* Reads a header into bytes[0..7). The header sits in a small window: on a bad header CRC the
 * window slides by one byte and the search for the sync pair goes on, so a real frame right after
 * garbage is still found. Returns 0 on a good header, -1 on a timeout mid-header (*have bytes of
 * it held). */
static int receive_header(ed_frame_t *frame, uint32_t *have)
{
    for (;;) {
        /* Keep only a prefix that can still be the start of a frame. */
        while (*have > 0u && frame->bytes[0] != ED_SYNC0) {
            drop_first(frame, have);
        }
        if (*have > 1u && frame->bytes[1] != ED_SYNC1) {
            drop_first(frame, have);
            continue;
        }
        if (*have == ED_HEADER_BYTES) {
            if (ed_crc8(&frame->bytes[2], 4) == frame->bytes[6]) {
                return 0;
            }
            drop_first(frame, have);
            continue;
        }
        uint32_t before = *have;
        *have = fill(frame, *have, *have + 1u);
        if (*have == before) {
            return -1;
        }
    }
}

/* After a damaged frame of `have` bytes: look again at everything after its first byte (then at
 * what was still waiting), since a good frame may begin inside it, e.g. a request the device took
 * as the rest of a frame that was cut short. */
static void take_back(ed_frame_t *frame, uint32_t have)
{
    uint32_t waiting = frame->replay_end - frame->replay_start;
    if (have > 0u) {
        memmove(frame->bytes, frame->bytes + 1, have - 1u);
        have -= 1u;
    }
    memmove(frame->bytes + have, frame->bytes + frame->replay_start, waiting);
    frame->replay_start = 0;
    frame->replay_end = have + waiting;
}

static uint32_t get_u32_le(const uint8_t *in)
{
    return (uint32_t)in[0] | ((uint32_t)in[1] << 8) | ((uint32_t)in[2] << 16) | ((uint32_t)in[3] << 24);
}

void ed_frame_receive(ed_frame_t *frame)
{
    frame->payload = frame->bytes + ED_HEADER_BYTES;
    for (;;) {
        uint32_t have = 0;
        if (receive_header(frame, &have) != 0) {
            /* The seq is not known (and not checked) before the whole header is in: seq 0. */
            ed_send_error(0, ED_ERR_TRUNCATED, "frame header cut short");
            take_back(frame, have);
            continue;
        }
        frame->type = frame->bytes[2];
        frame->seq = frame->bytes[3];
        frame->length = (uint16_t)(frame->bytes[4] | (frame->bytes[5] << 8));
        if (frame->length > ED_MAX_PAYLOAD) {
            ed_send_error(frame->seq, ED_ERR_TOO_LONG, "payload longer than max_payload");
            take_back(frame, have);
            continue;
        }
        uint32_t total = ED_HEADER_BYTES + frame->length + ED_TRAILER_BYTES;
        have = fill(frame, have, total);
        if (have < total) {
            ed_send_error(frame->seq, ED_ERR_TRUNCATED, "frame cut short");
            take_back(frame, have);
            continue;
        }
        uint32_t crc = ed_crc32_update(0xFFFFFFFFu, &frame->bytes[2], 4);
        crc = ed_crc32_update(crc, frame->payload, frame->length) ^ 0xFFFFFFFFu;
        if (crc != get_u32_le(frame->payload + frame->length)) {
            ed_send_error(frame->seq, ED_ERR_BAD_CRC, "frame CRC mismatch");
            take_back(frame, have);
            continue;
        }
        return;
    }
}
