/* The protocol server: answers each request frame (docs/protocol.md, "Requests"). */
#include <string.h>

#include "ed_board_config.h"
#include "ed_link.h"
#include "ed_clock.h"
#include "ed_model.h"
#include "ed_protocol.h"
#include "ed_runtime.h"
#include "ed_server.h"

/* The most layers whose cycle counts RUN and READ_PROFILE can report in one frame. */
#define ED_MAX_LAYERS 128u

typedef struct {
    uint32_t last;
    uint32_t min;
    uint32_t max;
    uint64_t sum;
} ed_counter_t;

static ed_frame_t request;
static uint32_t layer_cycles[ED_MAX_LAYERS];
static ed_counter_t profile[ED_MAX_LAYERS + 1];   /* [0]: whole run, [1 + i]: layer i */
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

/* A bounded text builder: "key=value" lines without pulling printf into the firmware. */
typedef struct {
    char *out;
    uint32_t length;
    uint32_t capacity;
    int overflow;
} ed_text_t;

static void text_str(ed_text_t *text, const char *s)
{
    while (*s != '\0') {
        if (text->length + 1u >= text->capacity) {
            text->overflow = 1;
            return;
        }
        text->out[text->length++] = *s++;
    }
}

static void text_u32(ed_text_t *text, uint32_t value)
{
    char digits[11];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u);
    char reversed[11];
    for (int i = 0; i < n; i++) {
        reversed[i] = digits[n - 1 - i];
    }
    reversed[n] = '\0';
    text_str(text, reversed);
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

/* Formats the INFO text ("key=value" lines) into out; returns its length. */
static uint32_t format_info(char *out, uint32_t capacity)
{
    ed_text_t text = {out, 0, capacity, 0};
    text_field_u32(&text, "protocol", ED_PROTOCOL_VERSION);
    text_field_str(&text, "firmware", ED_FIRMWARE_VERSION);
    text_field_str(&text, "board", ED_BOARD_NAME);
    text_field_u32(&text, "clock_hz", ed_clock_core_hz());
    text_field_str(&text, "clock", ed_clock_state_name());
    text_field_str(&text, "cycle_source", ed_cycle_source_name());
    text_field_u32(&text, "cycle_hz", ed_clock_core_hz());
    text_field_u32(&text, "max_payload", ED_MAX_PAYLOAD);
    text_field_str(&text, "link", ed_link_name());
    text_field_u32(&text, "run_batch", 1u);
    text_field_str(&text, "model", ed_model != NULL ? ed_model->name : "none");
    return text.length;
}

void ed_send_boot(void)
{
    char text[256];
    uint32_t length = format_info(text, sizeof text);
    ed_frame_send(ED_MSG_BOOT, 0, text, (uint16_t)length);
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

static void handle_model_info(void)
{
    if (!require_model()) {
        return;
    }
    /* Built in the request buffer, which is free once the request is parsed. */
    ed_text_t text = {(char *)request.payload, 0, ED_MAX_PAYLOAD, 0};
    text_field_str(&text, "name", ed_model->name);
    text_field_u32(&text, "input_bytes", ed_model->input_bytes);
    text_field_u32(&text, "output_bytes", ed_model->output_bytes);
    text_field_u32(&text, "n_layers", ed_model->n_layers);
    for (uint32_t i = 0; i < ed_model->n_layers; i++) {
        text_str(&text, "layer.");
        text_u32(&text, i);
        text_str(&text, "=");
        text_str(&text, ed_model->layer_names[i]);
        text_str(&text, "\n");
    }
    if (text.overflow) {
        ed_send_error(request.seq, ED_ERR_OUT_OF_RANGE, "model info does not fit in one frame");
        return;
    }
    reply(text.out, text.length);
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
    uint32_t offset = get_u32(request.payload);
    uint32_t count = request.length - 4u;
    if (offset > ed_model->input_bytes || count > ed_model->input_bytes - offset) {
        ed_send_error(request.seq, ED_ERR_OUT_OF_RANGE, "LOAD_INPUT past the end of the input tensor");
        return;
    }
    memcpy(ed_model->input + offset, request.payload + 4, count);
    uint8_t out[4];
    put_u32(out, offset + count);
    reply(out, sizeof out);
}

static void count_profile(ed_counter_t *counter, uint32_t cycles)
{
    counter->last = cycles;
    counter->sum += cycles;
    if (profile_runs == 0 || cycles < counter->min) {
        counter->min = cycles;
    }
    if (profile_runs == 0 || cycles > counter->max) {
        counter->max = cycles;
    }
}

/* One inference on whatever the input tensor holds: fills layer_cycles, updates the profile
 * counters. Returns the model's status (0 on success) and the total cycles in *total. */
static int run_model(uint32_t *total)
{
    uint32_t n_layers = ed_model->n_layers;
    memset(layer_cycles, 0, sizeof layer_cycles);
    ed_layer_marker(ED_MARKER_RUN_BEGIN);
    uint32_t start = ed_cycles_now();
    int status = ed_model->run(layer_cycles);
    *total = ed_cycles_now() - start;
    ed_layer_marker(ED_MARKER_RUN_END);
    if (status != 0) {
        return status;
    }
    count_profile(&profile[0], *total);
    for (uint32_t i = 0; i < n_layers; i++) {
        count_profile(&profile[1 + i], layer_cycles[i]);
    }
    profile_runs++;
    return 0;
}

/* u32 total cycles, then n_layers x u32 layer cycles: the head of RUN's reply and of each
 * RUN_BATCH record. */
static void put_cycles(uint8_t *out, uint32_t total)
{
    put_u32(out, total);
    for (uint32_t i = 0; i < ed_model->n_layers; i++) {
        put_u32(out + 4u + 4u * i, layer_cycles[i]);
    }
}

static void handle_run(void)
{
    if (!require_model()) {
        return;
    }
    uint32_t total;
    if (run_model(&total) != 0) {
        ed_send_error(request.seq, ED_ERR_MODEL_FAILED, "model run() returned an error");
        return;
    }
    uint32_t n_layers = ed_model->n_layers;
    uint8_t head[8];
    put_u32(head, total);
    put_u32(head + 4, n_layers);
    ed_frame_begin((uint8_t)(request.type | ED_REPLY), request.seq, (uint16_t)(8u + 4u * n_layers));
    ed_frame_write(head, sizeof head);
    for (uint32_t i = 0; i < n_layers; i++) {
        uint8_t word[4];
        put_u32(word, layer_cycles[i]);
        ed_frame_write(word, 4);
    }
    ed_frame_end();
}

/* RUN_BATCH: the payload is one or more whole inputs; each is loaded, run and answered with a
 * record of u32 total cycles, n_layers x u32 layer cycles and the output bytes. The records are
 * written over the request buffer as the inputs are used up (record i ends before input i + 1
 * starts while records are no longer than inputs), so a batch needs no memory of its own. */
static void handle_run_batch(void)
{
    if (!require_model()) {
        return;
    }
    uint32_t in_bytes = ed_model->input_bytes;
    uint32_t record_bytes = 4u + 4u * ed_model->n_layers + ed_model->output_bytes;
    uint32_t count = in_bytes > 0u ? request.length / in_bytes : 0u;
    if (count == 0u || count * in_bytes != request.length) {
        ed_send_error(request.seq, ED_ERR_BAD_REQUEST, "RUN_BATCH needs one or more whole inputs");
        return;
    }
    if ((count > 1u && record_bytes > in_bytes) || count * record_bytes > ED_MAX_PAYLOAD) {
        ed_send_error(request.seq, ED_ERR_OUT_OF_RANGE, "RUN_BATCH results do not fit one frame: send fewer inputs");
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        memcpy(ed_model->input, request.payload + i * in_bytes, in_bytes);
        uint32_t total;
        if (run_model(&total) != 0) {
            ed_send_error(request.seq, ED_ERR_MODEL_FAILED, "model run() returned an error");
            return;
        }
        uint8_t *record = request.payload + i * record_bytes;
        put_cycles(record, total);
        memcpy(record + record_bytes - ed_model->output_bytes, ed_model->output, ed_model->output_bytes);
    }
    reply(request.payload, count * record_bytes);
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
    if (count > ED_MAX_PAYLOAD || offset > ed_model->output_bytes || count > ed_model->output_bytes - offset) {
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
        put_u32(record, profile[i].last);
        put_u32(record + 4, profile[i].min);
        put_u32(record + 8, profile[i].max);
        put_u32(record + 12, (uint32_t)profile[i].sum);
        put_u32(record + 16, (uint32_t)(profile[i].sum >> 32));
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
        case ED_MSG_INFO: {
            char text[256];
            reply(text, format_info(text, sizeof text));
            break;
        }
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
        case ED_MSG_EXIT:
            handle_exit();
            break;
        default:
            ed_send_error(request.seq, ED_ERR_UNKNOWN_TYPE, "unknown request type");
            break;
        }
    }
}
