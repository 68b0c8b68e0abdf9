/*
 * host_main.c - runs a generated model (src/model.c) on the host, for tests under sanitizers.
 *
 * Part of edge-deploy's host build (edge_deploy.testing.host_model), not of the firmware: it
 * stands in for the runtime. It reads int8 inputs of ed_model->input_bytes each from stdin,
 * runs the model on each and writes the int8 outputs to stdout. Exit status: 0, 2 when the
 * model returns an error (the layer's status goes to stderr), 3 on a short read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ed_model.h"
#include "ed_runtime.h"

/* The runtime's hooks, reduced to what a host run needs. */
static uint32_t host_clock;

uint32_t ed_cycles_now(void)
{
    return host_clock++;
}

volatile uint32_t ed_current_layer;

void ed_layer_marker(uint32_t layer_index)
{
    ed_current_layer = layer_index;
}

int main(void)
{
    const ed_model_t *model = ed_model;
    uint32_t *cycles = calloc(model->n_layers ? model->n_layers : 1u, sizeof *cycles);
    /* Copies through exactly sized heap buffers, so ASan sees any read past the input. */
    int8_t *input = malloc(model->input_bytes);
    if (cycles == NULL || input == NULL) {
        return 4;
    }
    for (;;) {
        const size_t got = fread(input, 1, model->input_bytes, stdin);
        if (got == 0) {
            break;
        }
        if (got != model->input_bytes) {
            fprintf(stderr, "short input: %zu of %u bytes\n", got, (unsigned)model->input_bytes);
            return 3;
        }
        memcpy(model->input, input, model->input_bytes);
        const int status = model->run(cycles);
        if (status != 0) {
            fprintf(stderr, "model run failed at layer %u with status %d\n", (unsigned)ed_current_layer, status);
            return 2;
        }
        fwrite(model->output, 1, model->output_bytes, stdout);
    }
    free(input);
    free(cycles);
    return 0;
}
