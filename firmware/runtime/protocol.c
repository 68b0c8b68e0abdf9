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

/* Reads the `count` streamed payload bytes of a frame whose first `hold` bytes are in the buffer
 * into `target`, or with target NULL into the free end of the buffer, where they are dropped;
 * bytes taken back come first. Updates *crc over them. Returns 0, or -1 when the line went quiet
 * first (the frame was cut short). */
static int stream_in(ed_frame_t *frame, uint32_t hold, uint8_t *target, uint32_t count, uint32_t *crc)
{
    while (count > 0u && frame->replay_start < frame->replay_end) {
        uint8_t *byte = &frame->bytes[frame->replay_start++];
        *crc = ed_crc32_update(*crc, byte, 1);
        if (target != NULL) {
            *target++ = *byte;
        }
        count--;
    }
    uint32_t quiet_since = ed_cycles_now();
    while (count > 0u) {
        uint8_t *into = target != NULL ? target : frame->bytes + hold;
        uint32_t room = target != NULL ? count : ED_FRAME_BYTES - hold;
        uint32_t got = ed_link_read(into, count < room ? count : room);
        if (got > 0u) {
            *crc = ed_crc32_update(*crc, into, got);
            if (target != NULL) {
                target += got;
            }
            count -= got;
            quiet_since = ed_cycles_now();
        } else if (ed_cycles_now() - quiet_since > ED_INTERBYTE_TIMEOUT_CYCLES) {
            return -1;
        }
    }
    return 0;
}

static void drop_first(ed_frame_t *frame, uint32_t *have)
{
    memmove(frame->bytes, frame->bytes + 1, --*have);
}

/* Reads a header into bytes[0..7). The header sits in a small window, filled as far as the link
 * has bytes (never past the 7 a header takes, so no byte of the payload is read here); on a bad
 * header CRC the window slides by one byte and the search for the sync pair goes on, so a real
 * frame right after garbage is still found. Returns 0 on a good header, -1 on a timeout
 * mid-header (*have bytes of it held, starting with the sync byte). */
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
        *have = fill(frame, *have, ED_HEADER_BYTES);
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

/* A streamed frame (LOAD_INPUT, RUN_BATCH with a model linked): the header and the payload's head
 * go to the buffer, the rest straight to the input tensor with its CRC computed on the way, the
 * CRC-32 back to the buffer. So the buffer holds control requests only, whatever the model's
 * input size. The bytes that went to the tensor cannot be looked at again after damage: a frame
 * hidden among them (only possible when the host pipelines requests behind a frame cut short)
 * is resent by the host after its timeout. */
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
        frame->stream_target = NULL;
        frame->streamed = 0;
        ed_stream_plan_t plan = {0u, ED_MAX_PAYLOAD};
        const int streams = ed_stream_plan(frame, &plan);
        if (!streams) {
            plan.head = frame->length;
        }
        if (frame->length > plan.max_length) {
            ed_send_error(frame->seq, ED_ERR_TOO_LONG, "payload longer than this request takes");
            take_back(frame, have);
            continue;
        }
        /* The buffer keeps the header and the payload's head (all of it unless it streams), then
         * the CRC-32. `rescan`: the bytes to look at again if the frame fails, which for a
         * streamed frame stop where the stream began. */
        const uint32_t hold = ED_HEADER_BYTES + plan.head;
        have = fill(frame, have, hold);
        uint32_t rescan = have;
        int complete = have == hold;
        uint32_t crc = 0;
        if (complete) {
            crc = ed_crc32_update(0xFFFFFFFFu, &frame->bytes[2], 4);
            crc = ed_crc32_update(crc, frame->payload, plan.head);
            if (streams) {
                frame->stream_target = ed_stream_target(frame);
                frame->streamed = frame->length - plan.head;
                complete = stream_in(frame, hold, frame->stream_target, frame->streamed, &crc) == 0;
            }
        }
        if (complete) {
            have = fill(frame, hold, hold + ED_TRAILER_BYTES);
            complete = have == hold + ED_TRAILER_BYTES;
            rescan = streams ? hold : have;
        }
        if (!complete) {
            ed_send_error(frame->seq, ED_ERR_TRUNCATED, "frame cut short");
            take_back(frame, rescan);
            continue;
        }
        if ((crc ^ 0xFFFFFFFFu) != get_u32_le(frame->bytes + hold)) {
            ed_send_error(frame->seq, ED_ERR_BAD_CRC, "frame CRC mismatch");
            take_back(frame, rescan);
            continue;
        }
        return;
    }
}
