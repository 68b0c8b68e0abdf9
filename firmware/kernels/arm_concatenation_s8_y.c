/*
 * arm_concatenation_s8_y.c - CMSIS-NN's concatenation along Y, written for edge-deploy from the
 * public API description. Any concatenation is one along Y once the axes before the joined one
 * are folded into Z and those after it into X, so edge-deploy calls only this one.
 */
#include "ed_nn_support.h"

void arm_concatenation_s8_y(const int8_t *input,
                            const uint16_t input_x,
                            const uint16_t input_y,
                            const uint16_t input_z,
                            const uint16_t input_w,
                            int8_t *output,
                            const uint16_t output_y,
                            const uint32_t offset_y)
{
    const uint32_t block = (uint32_t)input_x * input_y;
    const uint32_t output_block = (uint32_t)input_x * output_y;
    output += offset_y * input_x;
    for (uint32_t i = 0; i < (uint32_t)input_z * input_w; i++) {
        memcpy(output, input, block);
        input += block;
        output += output_block;
    }
}
