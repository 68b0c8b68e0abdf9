/* The protocol server: answers each request frame (docs/protocol.md, "Requests"). */
#include <string.h>

#include "ed_board_config.h"
#include "ed_link.h"
#include "ed_clock.h"
#include "ed_model.h"
#include "ed_protocol.h"
#include "ed_runtime.h"
#include "ed_server.h"

/* The most layers whose cycle counts RUN and READ_PROFILE report: a generated project sets it to
 * its model's layer count (ed_runtime_config.h); 128 otherwise. */
#ifndef ED_MAX_LAYERS
#define ED_MAX_LAYERS 128u
#endif

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the replies send the cycle counters' words as they lie in memory: little-endian only"
#endif

/* Cycle counters of every run since reset, entry 0 the whole run and 1 + i layer i, as arrays so
 * that last[0..n_layers] is a RUN_BATCH record's head as it goes on the wire and last + 1 the
 * layer_cycles array the model fills. */
typedef struct {
    uint32_t last[ED_MAX_LAYERS + 1];
    uint32_t min[ED_MAX_LAYERS + 1];
    uint32_t max[ED_MAX_LAYERS + 1];
    uint64_t sum[ED_MAX_LAYERS + 1];
} ed_profile_t;

static ed_frame_t request ED_LINK_BUFFER;
static ed_profile_t profile ED_LINK_BUFFER;
static uint32_t profile_runs;

static void put_u32(uint8_t *out, uint32_t value)
{
    for (int i = 0; i < 4; i++) {
        out[i] = (uint8_t)(value >> (8 * i));
    }
}

static uint32_t get_u32(const uint8_t *in)
{
    return (uint32_t)in[0] | ((uint32_t)in[1] << 8) | ((uint32_t)in[2] << 16) | ((uint32_t)in[3] << 24);
}

static int input_range_ok(uint32_t offset, uint32_t count)
{
    return offset <= ed_model->input_bytes && count <= ed_model->input_bytes - offset;
}

/* Text replies ("key=value" lines) are produced twice, by the same function: once to count their
 * bytes (the frame's header comes first), once into the frame, through a small staging buffer
 * so that the link sees few writes. No reply text needs a buffer of its size. */
typedef struct {
    uint32_t length;
    int emit;
    uint32_t staged;
    char stage[32];
} ed_text_t;

typedef void (*ed_text_fn)(ed_text_t *text);

static void text_flush(ed_text_t *text)
{
    if (text->staged > 0u) {
        ed_frame_write(text->stage, text->staged);
        text->staged = 0;
    }
}

static void text_str(ed_text_t *text, const char *s)
{
    for (; *s != '\0'; s++) {
        text->length++;
        if (text->emit) {
            if (text->staged == sizeof text->stage) {
                text_flush(text);
            }
            text->stage[text->staged++] = *s;
        }
    }
}

static void text_u32(ed_text_t *text, uint32_t value)
{
    char digits[11];
    int n = 10;
    digits[n] = '\0';
    do {
        digits[--n] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u);
    text_str(text, digits + n);
}

static void text_field_str(ed_text_t *text, const char *key, const char *value)
{
    text_str(text, key);
    text_str(text, "=");
    text_str(text, value);
    text_str(text, "\n");
}

static void text_field_u32(ed_text_t *text, const char *key, uint32_t value)
{
    text_str(text, key);
    text_str(text, "=");
    text_u32(text, value);
    text_str(text, "\n");
}

/* Sends the text `write` produces as one frame. */
static void send_text(uint8_t type, uint8_t seq, ed_text_fn write)
{
    ed_text_t text = {0};
    write(&text);
    if (text.length > ED_LENGTH_MAX) {
        ed_send_error(seq, ED_ERR_OUT_OF_RANGE, "reply text longer than a frame");
        return;
    }
    ed_frame_begin(type, seq, (uint16_t)text.length);
    text = (ed_text_t){.emit = 1};
    write(&text);
    text_flush(&text);
    ed_frame_end();
}

/* The stack's high-water mark, read once per INFO so that both passes over its text agree. */
static uint32_t info_stack_peak;

/* The INFO text ("key=value" lines), also sent as BOOT. */
static void write_info(ed_text_t *text)
{
    text_field_u32(text, "protocol", ED_PROTOCOL_VERSION);
    text_field_str(text, "firmware", ED_FIRMWARE_VERSION);
    text_field_str(text, "board", ED_BOARD_NAME);
    text_field_u32(text, "clock_hz", ed_clock_core_hz());
    text_field_str(text, "clock", ed_clock_state_name());
    text_field_str(text, "cycle_source", ed_cycle_source_name());
    text_field_u32(text, "cycle_hz", ed_clock_core_hz());
    text_field_u32(text, "max_payload", ED_MAX_PAYLOAD);
    text_field_str(text, "link", ed_link_name());
    text_field_u32(text, "run_batch", 1u);
    text_field_u32(text, "stream", 1u);
    text_field_u32(text, "reset_state", 1u);
    text_field_u32(text, "stack_bytes", ed_stack_bytes());
    text_field_u32(text, "stack_peak", info_stack_peak);
    text_field_str(text, "model", ed_model != NULL ? ed_model->name : "none");
}

static void send_info(uint8_t type, uint8_t seq)
{
    info_stack_peak = ed_stack_peak();
    send_text(type, seq, write_info);
}

void ed_send_boot(void)
{
    send_info(ED_MSG_BOOT, 0);
}

static void reply(const void *payload, uint32_t length)
{
    ed_frame_send((uint8_t)(request.type | ED_REPLY), request.seq, payload, (uint16_t)length);
}

static int require_model(void)
{
    if (ed_model == NULL) {
        ed_send_error(request.seq, ED_ERR_NO_MODEL, "this firmware has no model linked in");
        return 0;
    }
    if (ed_model->n_layers > ED_MAX_LAYERS) {
        ed_send_error(request.seq, ED_ERR_OUT_OF_RANGE, "model has more layers than the runtime reports");
        return 0;
    }
    return 1;
}

/* LOAD_INPUT's data and RUN_BATCH's input go straight into the input tensor (ed_frame_receive). */
int ed_stream_plan(const ed_frame_t *frame, ed_stream_plan_t *plan)
{
    if (ed_model == NULL) {
        return 0;
    }
    if (frame->type == ED_MSG_LOAD_INPUT && frame->length >= 4u) {
        plan->head = 4u;   /* the u32 offset */
        plan->max_length = 4u + ed_model->input_bytes;
        return 1;
    }
    if (frame->type == ED_MSG_RUN_BATCH) {
        plan->head = 0u;
        plan->max_length = ed_model->input_bytes;
        return 1;
    }
    return 0;
}

uint8_t *ed_stream_target(const ed_frame_t *frame)
{
    uint8_t *input = (uint8_t *)ed_model->input;
    if (frame->type == ED_MSG_RUN_BATCH) {
        return frame->length == ed_model->input_bytes ? input : NULL;
    }
    uint32_t offset = get_u32(frame->payload);
    return input_range_ok(offset, frame->length - 4u) ? input + offset : NULL;
}

static void write_model_info(ed_text_t *text)
{
    text_field_str(text, "name", ed_model->name);
    text_field_u32(text, "input_bytes", ed_model->input_bytes);
    text_field_u32(text, "output_bytes", ed_model->output_bytes);
    text_field_u32(text, "n_layers", ed_model->n_layers);
    for (uint32_t i = 0; i < ed_model->n_layers; i++) {
        text_str(text, "layer.");
        text_u32(text, i);
        text_str(text, "=");
        text_str(text, ed_model->layer_names[i]);
        text_str(text, "\n");
    }
}

static void handle_model_info(void)
{
    if (require_model()) {
        send_text((uint8_t)(request.type | ED_REPLY), request.seq, write_model_info);
    }
}

static void handle_load_input(void)
{
    if (!require_model()) {
        return;
    }
    if (request.length < 4u) {
        ed_send_error(request.seq, ED_ERR_BAD_REQUEST, "LOAD_INPUT needs a u32 offset");
        return;
    }
    /* The data is in the tensor already (or, out of range, was dropped). */
    uint32_t offset = get_u32(request.payload);
    uint32_t count = request.length - 4u;
    if (!input_range_ok(offset, count)) {
        ed_send_error(request.seq, ED_ERR_OUT_OF_RANGE, "LOAD_INPUT past the end of the input tensor");
        return;
    }
    uint8_t out[4];
    put_u32(out, offset + count);
    reply(out, sizeof out);
}

static void count_profile(uint32_t i)
{
    uint32_t cycles = profile.last[i];
    profile.sum[i] += cycles;
    if (profile_runs == 0 || cycles < profile.min[i]) {
        profile.min[i] = cycles;
    }
    if (profile_runs == 0 || cycles > profile.max[i]) {
        profile.max[i] = cycles;
    }
}

/* One inference on whatever the input tensor holds: profile.last gets the run's total and layer
 * cycles (a failed run's too); the other counters only count runs that succeed. Returns the
 * model's status (0 on success). */
static int run_model(void)
{
    uint32_t n_layers = ed_model->n_layers;
    memset(profile.last, 0, 4u * (n_layers + 1u));
    ed_layer_marker(ED_MARKER_RUN_BEGIN);
    uint32_t start = ed_cycles_now();
    int status = ed_model->run(profile.last + 1);
    profile.last[0] = ed_cycles_now() - start;
    ed_layer_marker(ED_MARKER_RUN_END);
    if (status != 0) {
        return status;
    }
    for (uint32_t i = 0; i <= n_layers; i++) {
        count_profile(i);
    }
    profile_runs++;
    return 0;
}

static void handle_run(void)
{
    if (!require_model()) {
        return;
    }
    if (run_model() != 0) {
        ed_send_error(request.seq, ED_ERR_MODEL_FAILED, "model run() returned an error");
        return;
    }
    uint32_t n_layers = ed_model->n_layers;
    uint8_t head[8];
    put_u32(head, profile.last[0]);
    put_u32(head + 4, n_layers);
    ed_frame_begin((uint8_t)(request.type | ED_REPLY), request.seq, (uint16_t)(8u + 4u * n_layers));
    ed_frame_write(head, sizeof head);
    ed_frame_write(profile.last + 1, 4u * n_layers);
    ed_frame_end();
}

/* RUN_BATCH: the payload is one whole input, already streamed into the input tensor; the reply is
 * the record u32 total cycles, n_layers x u32 layer cycles, the output bytes, streamed from the
 * counters and the output tensor. Pipelined requests keep the device busy. */
static void handle_run_batch(void)
{
    if (!require_model()) {
        return;
    }
    if (request.stream_target == NULL) {
        ed_send_error(request.seq, ED_ERR_BAD_REQUEST, "RUN_BATCH takes one whole input");
        return;
    }
    uint32_t head_bytes = 4u * (ed_model->n_layers + 1u);
    if (head_bytes + ed_model->output_bytes > ED_LENGTH_MAX) {
        ed_send_error(request.seq, ED_ERR_OUT_OF_RANGE, "RUN_BATCH result longer than a frame: use RUN and READ_OUTPUT");
        return;
    }
    if (run_model() != 0) {
        ed_send_error(request.seq, ED_ERR_MODEL_FAILED, "model run() returned an error");
        return;
    }
    ed_frame_begin((uint8_t)(request.type | ED_REPLY), request.seq, (uint16_t)(head_bytes + ed_model->output_bytes));
    ed_frame_write(profile.last, head_bytes);
    ed_frame_write(ed_model->output, ed_model->output_bytes);
    ed_frame_end();
}

static void handle_read_output(void)
{
    if (!require_model()) {
        return;
    }
    if (request.length != 8u) {
        ed_send_error(request.seq, ED_ERR_BAD_REQUEST, "READ_OUTPUT needs u32 offset and u32 length");
        return;
    }
    uint32_t offset = get_u32(request.payload);
    uint32_t count = get_u32(request.payload + 4);
    if (count > ED_LENGTH_MAX || offset > ed_model->output_bytes || count > ed_model->output_bytes - offset) {
        ed_send_error(request.seq, ED_ERR_OUT_OF_RANGE, "READ_OUTPUT outside the output tensor");
        return;
    }
    reply(ed_model->output + offset, count);
}

static void handle_read_profile(void)
{
    uint32_t n_layers = (ed_model != NULL && ed_model->n_layers <= ED_MAX_LAYERS) ? ed_model->n_layers : 0u;
    uint8_t head[8];
    put_u32(head, profile_runs);
    put_u32(head + 4, n_layers);
    ed_frame_begin((uint8_t)(request.type | ED_REPLY), request.seq, (uint16_t)(8u + 20u * (n_layers + 1u)));
    ed_frame_write(head, sizeof head);
    for (uint32_t i = 0; i <= n_layers; i++) {
        uint8_t record[20];
        put_u32(record, profile.last[i]);
        put_u32(record + 4, profile.min[i]);
        put_u32(record + 8, profile.max[i]);
        put_u32(record + 12, (uint32_t)profile.sum[i]);
        put_u32(record + 16, (uint32_t)(profile.sum[i] >> 32));
        ed_frame_write(record, sizeof record);
    }
    ed_frame_end();
}

/* A loop of a fixed instruction count, so the host can check that the cycle counter counts
 * and scales with work. */
__attribute__((noinline)) static void spin(uint32_t iterations)
{
    for (uint32_t i = 0; i < iterations; i++) {
        __asm volatile("nop");
    }
}

static void handle_spin(void)
{
    if (request.length != 4u) {
        ed_send_error(request.seq, ED_ERR_BAD_REQUEST, "SPIN needs a u32 iteration count");
        return;
    }
    uint32_t iterations = get_u32(request.payload);
    uint32_t start = ed_cycles_now();
    spin(iterations);
    uint32_t end = ed_cycles_now();
    uint8_t out[8];
    put_u32(out, start);
    put_u32(out + 4, end);
    reply(out, sizeof out);
}

/* RESET_STATE: the model's variable tensors back to their start-up value (a no-op for a model
 * without state), so a host can run a sequence from the state a reset gives. */
static void handle_reset_state(void)
{
    if (!require_model()) {
        return;
    }
    if (ed_model->reset_state != NULL) {
        ed_model->reset_state();
    }
    reply(NULL, 0);
}

static void handle_exit(void)
{
    uint32_t code = request.length == 4u ? get_u32(request.payload) : 0u;
    reply(NULL, 0);
    ed_link_flush();
    ed_semihost_exit(code);
}

void ed_serve_forever(void)
{
    for (;;) {
        ed_frame_receive(&request);
        switch (request.type) {
        case ED_MSG_INFO:
            send_info((uint8_t)(request.type | ED_REPLY), request.seq);
            break;
        case ED_MSG_ECHO:
            reply(request.payload, request.length);
            break;
        case ED_MSG_MODEL_INFO:
            handle_model_info();
            break;
        case ED_MSG_LOAD_INPUT:
            handle_load_input();
            break;
        case ED_MSG_RUN:
            handle_run();
            break;
        case ED_MSG_RUN_BATCH:
            handle_run_batch();
            break;
        case ED_MSG_READ_OUTPUT:
            handle_read_output();
            break;
        case ED_MSG_READ_PROFILE:
            handle_read_profile();
            break;
        case ED_MSG_SPIN:
            handle_spin();
            break;
        case ED_MSG_RESET_STATE:
            handle_reset_state();
            break;
        case ED_MSG_EXIT:
            handle_exit();
            break;
        default:
            ed_send_error(request.seq, ED_ERR_UNKNOWN_TYPE, "unknown request type");
            break;
        }
    }
}
