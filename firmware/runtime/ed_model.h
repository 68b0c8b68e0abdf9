/* The one interface between the runtime and a generated model (docs/architecture.md,
 * "Firmware model interface"). The runtime serves the serial protocol and knows nothing about
 * models; a generated model.c defines ed_model. Without one, ed_model is NULL (weak default in
 * model_default.c) and the model requests answer NO_MODEL. */
#ifndef ED_MODEL_H
#define ED_MODEL_H

#include <stdint.h>

typedef struct {
    const char *name;            /* model name shown by MODEL_INFO */
    /* The input and output are int8, or float32 / uint8 for a model with that interface (its
     * QUANTIZE / DEQUANTIZE run on the device): the runtime moves their bytes, the host knows
     * the type from report.json. */
    uint32_t input_bytes;        /* bytes of one input tensor */
    uint32_t output_bytes;       /* bytes of one output tensor */
    int8_t *input;               /* where LOAD_INPUT writes */
    const int8_t *output;        /* where READ_OUTPUT reads */
    uint32_t n_layers;
    const char *const *layer_names;
    /* Run one inference. layer_cycles has n_layers entries; the model fills each with the
     * cycle-counter delta of that layer (ed_cycles_now()). Returns 0 on success. */
    int (*run)(uint32_t *layer_cycles);
    /* Put the model's state (its variable tensors: a recurrent op's memory, kept from one RUN to
     * the next) back to its start-up value, as after reset. NULL: the model keeps no state. */
    void (*reset_state)(void);
} ed_model_t;

extern const ed_model_t *const ed_model;   /* weak default NULL: firmware with no model */

#endif /* ED_MODEL_H */
