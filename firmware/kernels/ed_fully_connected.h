/*
 * ed_fully_connected.h - the loop shared by arm_fully_connected_s8 (per-tensor) and
 * arm_fully_connected_per_channel_s8. Written for edge-deploy from the TFLite
 * FULLY_CONNECTED arithmetic; no CMSIS-NN code.
 *
 * DSP path: two output rows at a time; each word of four inputs is unpacked once with SXTB16
 * (offset added with SADD16) and feeds two SMLAD per row. No scratch buffer.
 */
#ifndef ED_FULLY_CONNECTED_H
#define ED_FULLY_CONNECTED_H

#include "ed_nn_support.h"

/* Sum over k of (x[k] + input_offset) * w[k] for one or two weight rows. */
static inline void ed_fc_dot_rows(const int8_t *x, const int8_t *w0, const int8_t *w1, int32_t depth,
                                  int32_t input_offset, int32_t *acc0, int32_t *acc1)
{
    int32_t a0 = 0, a1 = 0;
    int32_t k = 0;
#if ED_NN_DSP
    const uint32_t offset2 = ed_dup16(input_offset);
    const int32_t grouped = depth & ~3;
    for (; k < grouped; k += 4)
    {
        const uint32_t xword = ed_read_u32(x + k);
        const uint32_t x02 = ed_sadd16(ed_sxtb16(xword), offset2);
        const uint32_t x13 = ed_sadd16(ed_sxtb16_ror8(xword), offset2);
        uint32_t wword = ed_read_u32(w0 + k);
        a0 = ed_smlad(x02, ed_sxtb16(wword), a0);
        a0 = ed_smlad(x13, ed_sxtb16_ror8(wword), a0);
        if (w1 != NULL)
        {
            wword = ed_read_u32(w1 + k);
            a1 = ed_smlad(x02, ed_sxtb16(wword), a1);
            a1 = ed_smlad(x13, ed_sxtb16_ror8(wword), a1);
        }
    }
#endif
    for (; k < depth; k++)
    {
        const int32_t xv = x[k] + input_offset;
        a0 += xv * w0[k];
        if (w1 != NULL)
        {
            a1 += xv * w1[k];
        }
    }
    *acc0 = a0;
    *acc1 = a1;
}

/* The whole layer. multiplier/shift advance by quant_step per output (0: per tensor). */
static inline void ed_fully_connected(const cmsis_nn_fc_params *p, const int32_t *multiplier, const int32_t *shift,
                                      int32_t quant_step, int32_t batches, int32_t depth, int32_t out_depth,
                                      const int8_t *input, const int8_t *filter, const int32_t *bias, int8_t *output)
{
    for (int32_t b = 0; b < batches; b++)
    {
        const int8_t *x = input + b * depth;
        int8_t *out = output + b * out_depth;
        /* A non-zero filter offset adds filter_offset * sum(x + input_offset) to every output. */
        int32_t x_sum = 0;
        if (p->filter_offset != 0)
        {
            for (int32_t k = 0; k < depth; k++)
            {
                x_sum += x[k] + p->input_offset;
            }
        }
        const int32_t filter_term = p->filter_offset * x_sum;
        for (int32_t o = 0; o < out_depth; o += 2)
        {
            const int pair = o + 1 < out_depth;
            int32_t acc[2];
            ed_fc_dot_rows(x, filter + o * depth, pair ? filter + (o + 1) * depth : NULL, depth, p->input_offset,
                           &acc[0], &acc[1]);
            for (int32_t i = 0; i <= pair; i++)
            {
                const int32_t q = (o + i) * quant_step;
                const int32_t total = acc[i] + filter_term + (bias ? bias[o + i] : 0);
                out[o + i] = ed_requantize_to_s8(total, multiplier[q], shift[q], p->output_offset, p->activation.min,
                                                 p->activation.max);
            }
        }
    }
}

#endif /* ED_FULLY_CONNECTED_H */
