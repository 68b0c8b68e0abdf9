/* The framed serial protocol, device side. docs/protocol.md is the specification; the host side
 * is edge_deploy.link. Every frame:
 *
 *   0xA5 0x5A | type u8 | seq u8 | length u16 LE | header CRC-8 | payload[length] | CRC-32 LE
 *
 * The header CRC-8 (poly 0x07, init 0) covers type, seq and length, so a false sync pattern in
 * garbage is rejected after 7 bytes instead of swallowing a long bogus payload. The CRC-32
 * (IEEE 802.3, as zlib.crc32) covers type, seq, length and payload. */
#ifndef ED_PROTOCOL_H
#define ED_PROTOCOL_H

#include <stdint.h>

/* A build may size the runtime for its model: a generated project has ed_runtime_config.h
 * (ED_MAX_PAYLOAD, ED_MAX_LAYERS from the model); other builds take the defaults below. */
#if defined(__has_include)
#if __has_include("ed_runtime_config.h")
#include "ed_runtime_config.h"
#endif
#endif

/* 2: model inputs and outputs stream through the tensors (INFO stream=1), one input per RUN_BATCH. */
#define ED_PROTOCOL_VERSION 2u
#define ED_SYNC0 0xA5u
#define ED_SYNC1 0x5Au
#define ED_HEADER_BYTES 7u
#define ED_TRAILER_BYTES 4u
#define ED_LENGTH_MAX 65535u   /* the length field's limit */

/* The largest payload the request buffer holds (INFO reports it as max_payload): every request
 * but LOAD_INPUT and RUN_BATCH, whose data streams into the input tensor instead (see
 * ed_frame_receive). 4096 by default; a generated model project takes 256, enough for every
 * control request. */
#ifndef ED_MAX_PAYLOAD
#define ED_MAX_PAYLOAD 4096u
#endif
#if ED_MAX_PAYLOAD < 256u || ED_MAX_PAYLOAD > ED_LENGTH_MAX
#error "ED_MAX_PAYLOAD must be between 256 and 65535 bytes"
#endif
#define ED_FRAME_BYTES (ED_HEADER_BYTES + ED_MAX_PAYLOAD + ED_TRAILER_BYTES)

/* The runtime's link buffers and counters go to their own part of .bss, between the linker
 * symbols _sed_buffers and _eed_buffers, so a build can report their size (report.json). */
#define ED_LINK_BUFFER __attribute__((section(".bss.ed_buffers")))

/* Requests (host -> device); the reply has the same seq and type | ED_REPLY. */
enum {
    ED_MSG_INFO = 0x01,
    ED_MSG_ECHO = 0x02,
    ED_MSG_MODEL_INFO = 0x03,
    ED_MSG_LOAD_INPUT = 0x04,
    ED_MSG_RUN = 0x05,
    ED_MSG_READ_OUTPUT = 0x06,
    ED_MSG_READ_PROFILE = 0x07,
    ED_MSG_EXIT = 0x08,
    ED_MSG_SPIN = 0x09,
    ED_MSG_RUN_BATCH = 0x0A,
    ED_MSG_RESET_STATE = 0x0B, /* the model's variable tensors back to their start (ed_model_t.reset_state) */
};
#define ED_REPLY 0x80u

/* Sent by the device on its own. */
enum {
    ED_MSG_BOOT = 0xF0,    /* after reset: the INFO text */
    ED_MSG_FAULT = 0xF1,   /* from the fault handler: registers, see fault.c */
    ED_MSG_ERROR = 0xFF,   /* a request failed: code u8 + message text */
};

/* Errors carry the seq of the damaged frame; seq 0 (which no request uses) when the header itself
 * was cut short, so its seq is unknown. */
enum {
    ED_ERR_BAD_CRC = 1,       /* frame CRC-32 mismatch: resend */
    ED_ERR_TRUNCATED = 2,     /* frame stopped mid-way (inter-byte timeout): resend */
    ED_ERR_TOO_LONG = 3,      /* length above what the request may carry */
    ED_ERR_UNKNOWN_TYPE = 4,
    ED_ERR_BAD_REQUEST = 5,   /* payload of the wrong size */
    ED_ERR_NO_MODEL = 6,
    ED_ERR_OUT_OF_RANGE = 7,  /* offset/length outside the tensor */
    ED_ERR_MODEL_FAILED = 8,  /* model run() returned non-zero */
};

/* A received frame. `bytes` holds it as it came (header, payload, CRC-32); after a damaged frame
 * the bytes that followed its first one are looked at again (a good frame may start inside it),
 * and bytes[replay_start..replay_end) are those still to look at.
 *
 * A streamed frame (ed_stream_plan) keeps only the head of its payload in `bytes`; the rest went
 * to `stream_target` as it arrived (NULL: it was read, checked by the CRC and dropped), and a
 * damaged one leaves what it wrote there. */
typedef struct {
    uint8_t type;
    uint8_t seq;
    uint16_t length;
    uint8_t *payload;              /* bytes + ED_HEADER_BYTES */
    uint8_t *stream_target;        /* a streamed frame's destination, or NULL */
    uint32_t streamed;             /* payload bytes sent to stream_target (0: not streamed) */
    uint32_t replay_start;
    uint32_t replay_end;
    uint8_t bytes[ED_FRAME_BYTES];
} ed_frame_t;

/* How a request's payload arrives, decided by the server once its header is in. */
typedef struct {
    uint32_t head;        /* payload bytes read into the frame buffer first */
    uint32_t max_length;  /* a longer payload is refused (TOO_LONG) */
} ed_stream_plan_t;

/* The server's part of reception: 1 if `frame` (header read) streams, with its plan; then,
 * with the head read, where the rest goes (NULL: drop it; the request is refused once its
 * CRC checks). */
int ed_stream_plan(const ed_frame_t *frame, ed_stream_plan_t *plan);
uint8_t *ed_stream_target(const ed_frame_t *frame);

/* Blocks until a valid frame arrives; bad frames are answered with ED_MSG_ERROR and dropped.
 * Pass the same frame every time (it keeps the bytes still to look at). */
void ed_frame_receive(ed_frame_t *frame);

/* Streams a frame out: begin (header), any number of writes totalling `length`, end (CRC). */
void ed_frame_begin(uint8_t type, uint8_t seq, uint16_t length);
void ed_frame_write(const void *data, uint32_t length);
void ed_frame_end(void);
void ed_frame_send(uint8_t type, uint8_t seq, const void *payload, uint16_t length);
void ed_send_error(uint8_t seq, uint8_t code, const char *message);

uint32_t ed_crc32_update(uint32_t crc, const uint8_t *data, uint32_t length);
uint8_t ed_crc8(const uint8_t *data, uint32_t length);

#endif /* ED_PROTOCOL_H */
