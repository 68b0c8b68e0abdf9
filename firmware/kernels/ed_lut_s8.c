/*
 * ed_lut_s8.c - an 8-bit op of one input as a table lookup (ed_elementwise.h). The table holds
 * the op's reference on all 256 inputs, so the result is the reference's by construction; one
 * load and one store per element, four at a time where the buffers are word aligned.
 */
#include "ed_elementwise.h"

arm_cmsis_nn_status ed_lut_s8(const int8_t *input, int8_t *output, int32_t size, const int8_t *table_s8)
{
    const uint8_t *table = (const uint8_t *)table_s8;
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    int32_t i = 0;
    if ((((uintptr_t)in | (uintptr_t)out) & 3u) == 0u) {
        for (; i + 4 <= size; i += 4) {
            uint32_t word;
            __builtin_memcpy(&word, in + i, 4);
            word = (uint32_t)table[word & 0xFFu] | ((uint32_t)table[(word >> 8) & 0xFFu] << 8) |
                   ((uint32_t)table[(word >> 16) & 0xFFu] << 16) | ((uint32_t)table[word >> 24] << 24);
            __builtin_memcpy(out + i, &word, 4);
        }
    }
    for (; i < size; i++) {
        out[i] = table[in[i]];
    }
    return ARM_CMSIS_NN_SUCCESS;
}
