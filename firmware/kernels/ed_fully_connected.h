/*
 * ed_fully_connected.h - the loop shared by arm_fully_connected_s8 (per-tensor) and
 * arm_fully_connected_per_channel_s8. Written for edge-deploy from the TFLite
 * FULLY_CONNECTED arithmetic; no CMSIS-NN code.
 *
 * DSP path: four output rows at a time; each word of four inputs is unpacked once with SXTAB16
 * (offset added as it widens) and feeds two SMLAD per row. No scratch buffer.
 */
#ifndef ED_FULLY_CONNECTED_H
#define ED_FULLY_CONNECTED_H

#include "ed_nn_support.h"

#if ED_NN_DSP
/* One word of four inputs at k for 1 to 3 rows: unpacked once (SXTAB16 adds the offset), two
 * SMLAD per row. */
static inline __attribute__((always_inline)) void ed_fc_word_rows(const int8_t *x, const int8_t *w0, int32_t depth,
                                                                  int32_t k, const int32_t rows, uint32_t offset2,
                                                                  int32_t *a0, int32_t *a1, int32_t *a2)
{
    const uint32_t xword = ed_read_u32(x + k);
    const uint32_t x02 = ed_sxtab16(offset2, xword);
    const uint32_t x13 = ed_sxtab16_ror8(offset2, xword);
    const uint32_t w = ed_read_u32(w0 + k);
    *a0 = ed_smlad(x13, ed_sxtb16_ror8(w), ed_smlad(x02, ed_sxtb16(w), *a0));
    if (rows > 1)
    {
        const uint32_t v = ed_read_u32(w0 + depth + k);
        *a1 = ed_smlad(x13, ed_sxtb16_ror8(v), ed_smlad(x02, ed_sxtb16(v), *a1));
    }
    if (rows > 2)
    {
        const uint32_t v = ed_read_u32(w0 + 2 * depth + k);
        *a2 = ed_smlad(x13, ed_sxtb16_ror8(v), ed_smlad(x02, ed_sxtb16(v), *a2));
    }
}

/* The grouped part (k < grouped, a multiple of 4) of 1 to 3 rows, `rows` a constant where it is
 * inlined (no test of the count per word); two words per turn (half the loop's compare and
 * branch), then the odd one. */
static inline __attribute__((always_inline)) void ed_fc_dot_rows_grouped(const int8_t *x, const int8_t *w0,
                                                                         int32_t depth, int32_t grouped,
                                                                         const int32_t rows, uint32_t offset2,
                                                                         int32_t a[3])
{
    int32_t a0 = 0, a1 = 0, a2 = 0;
    int32_t k = 0;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(ED_NN_PORTABLE)
    if (rows == 2 && grouped >= 8)
    {
        /* A two-class head: GCC keeps a pointer and a bound on the stack; by hand two words per
         * turn cost 28 instructions (13 per word, post-incremented loads back to back so they
         * pipeline, and one compare and branch per turn). */
        const int8_t *xp = x, *wp = w0;
        const int8_t *const x_end = x + (grouped & ~7);
        const int32_t next = depth; /* row 1's word from row 0's, read before its post-increment */
        uint32_t xw, x02, x13, w, v, t;
        __asm__ volatile(
            "1:\n\t"
            ".rept 2\n\t"
            "ldr %[xw], [%[xp]], #4\n\t"
            "ldr %[v], [%[wp], %[next]]\n\t"
            "ldr %[w], [%[wp]], #4\n\t"
            "sxtab16 %[x02], %[off], %[xw]\n\t"
            "sxtab16 %[x13], %[off], %[xw], ror #8\n\t"
            "sxtb16 %[t], %[w]\n\t"
            "smlad %[a0], %[x02], %[t], %[a0]\n\t"
            "sxtb16 %[t], %[w], ror #8\n\t"
            "smlad %[a0], %[x13], %[t], %[a0]\n\t"
            "sxtb16 %[t], %[v]\n\t"
            "smlad %[a1], %[x02], %[t], %[a1]\n\t"
            "sxtb16 %[t], %[v], ror #8\n\t"
            "smlad %[a1], %[x13], %[t], %[a1]\n\t"
            ".endr\n\t"
            "cmp %[xp], %[end]\n\t"
            "bne 1b\n\t"
            : [a0] "+r"(a0), [a1] "+r"(a1), [xp] "+r"(xp), [wp] "+r"(wp), [xw] "=&r"(xw), [x02] "=&r"(x02),
              [x13] "=&r"(x13), [w] "=&r"(w), [v] "=&r"(v), [t] "=&r"(t)
            : [off] "r"(offset2), [next] "r"(next), [end] "r"(x_end)
            : "cc", "memory");
        k = grouped & ~7;
    }
#endif
    for (; k + 8 <= grouped; k += 8)
    {
        ed_fc_word_rows(x, w0, depth, k, rows, offset2, &a0, &a1, &a2);
        ed_fc_word_rows(x, w0, depth, k + 4, rows, offset2, &a0, &a1, &a2);
    }
    if (k < grouped)
    {
        ed_fc_word_rows(x, w0, depth, k, rows, offset2, &a0, &a1, &a2);
    }
    a[0] = a0;
    a[1] = a1;
    a[2] = a2;
}
#endif

/* Sum over k of (x[k] + input_offset) * w_r[k] for `rows` (1 to 4) weight rows w0 + r * depth. */
static inline void ed_fc_dot_rows(const int8_t *x, const int8_t *w0, int32_t depth, int32_t rows, int32_t input_offset,
                                  int32_t acc[4])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int32_t k = 0;
#if ED_NN_DSP
    const uint32_t offset2 = ed_dup16(input_offset);
    const int32_t grouped = depth & ~3;
    if (rows == 4)
    {
        /* Each input word is unpacked once (SXTAB16 adds the offset) and feeds eight SMLAD. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(ED_NN_PORTABLE)
        /* GCC spills the four row pointers of the C loop below; by hand one input word costs
         * one load and two SXTAB16, each row one load, two SXTB16 and two SMLAD. */
        if (grouped > 0)
        {
            const int8_t *xp = x, *wp0 = w0, *wp2 = w0 + 2 * depth;
            const int8_t *const x_end = x + grouped;
            const int32_t step = depth - 4; /* row 1 (3) from row 0 (2) after its post-increment */
            uint32_t x02, x13, w, t;
            __asm__ volatile(
                "1:\n\t"
                "ldr %[w], [%[xp]], #4\n\t"
                "sxtab16 %[x02], %[off], %[w]\n\t"
                "sxtab16 %[x13], %[off], %[w], ror #8\n\t"
                "ldr %[w], [%[wp0]], #4\n\t"
                "sxtb16 %[t], %[w]\n\t"
                "smlad %[a0], %[x02], %[t], %[a0]\n\t"
                "sxtb16 %[t], %[w], ror #8\n\t"
                "smlad %[a0], %[x13], %[t], %[a0]\n\t"
                "ldr %[w], [%[wp0], %[step]]\n\t"
                "sxtb16 %[t], %[w]\n\t"
                "smlad %[a1], %[x02], %[t], %[a1]\n\t"
                "sxtb16 %[t], %[w], ror #8\n\t"
                "smlad %[a1], %[x13], %[t], %[a1]\n\t"
                "ldr %[w], [%[wp2]], #4\n\t"
                "sxtb16 %[t], %[w]\n\t"
                "smlad %[a2], %[x02], %[t], %[a2]\n\t"
                "sxtb16 %[t], %[w], ror #8\n\t"
                "smlad %[a2], %[x13], %[t], %[a2]\n\t"
                "ldr %[w], [%[wp2], %[step]]\n\t"
                "sxtb16 %[t], %[w]\n\t"
                "smlad %[a3], %[x02], %[t], %[a3]\n\t"
                "sxtb16 %[t], %[w], ror #8\n\t"
                "smlad %[a3], %[x13], %[t], %[a3]\n\t"
                "cmp %[xp], %[end]\n\t"
                "bne 1b\n\t"
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [xp] "+r"(xp), [wp0] "+r"(wp0),
                  [wp2] "+r"(wp2), [x02] "=&r"(x02), [x13] "=&r"(x13), [w] "=&r"(w), [t] "=&r"(t)
                : [off] "r"(offset2), [step] "r"(step), [end] "r"(x_end)
                : "cc", "memory");
            k = grouped;
        }
#else
        const int8_t *w1 = w0 + depth, *w2 = w1 + depth, *w3 = w2 + depth;
        for (; k < grouped; k += 4)
        {
            const uint32_t xword = ed_read_u32(x + k);
            const uint32_t x02 = ed_sxtab16(offset2, xword);
            const uint32_t x13 = ed_sxtab16_ror8(offset2, xword);
            uint32_t w = ed_read_u32(w0 + k);
            a0 = ed_smlad(x13, ed_sxtb16_ror8(w), ed_smlad(x02, ed_sxtb16(w), a0));
            w = ed_read_u32(w1 + k);
            a1 = ed_smlad(x13, ed_sxtb16_ror8(w), ed_smlad(x02, ed_sxtb16(w), a1));
            w = ed_read_u32(w2 + k);
            a2 = ed_smlad(x13, ed_sxtb16_ror8(w), ed_smlad(x02, ed_sxtb16(w), a2));
            w = ed_read_u32(w3 + k);
            a3 = ed_smlad(x13, ed_sxtb16_ror8(w), ed_smlad(x02, ed_sxtb16(w), a3));
        }
#endif
    }
    else
    {
        /* One loop per row count, so none tests the count per word (a two-class head: rows 2). */
        int32_t a[3] = {0, 0, 0};
        if (rows == 1)
        {
            ed_fc_dot_rows_grouped(x, w0, depth, grouped, 1, offset2, a);
        }
        else if (rows == 2)
        {
            ed_fc_dot_rows_grouped(x, w0, depth, grouped, 2, offset2, a);
        }
        else
        {
            ed_fc_dot_rows_grouped(x, w0, depth, grouped, 3, offset2, a);
        }
        a0 = a[0];
        a1 = a[1];
        a2 = a[2];
        k = grouped;
    }
#endif
    for (; k < depth; k++)
    {
        const int32_t xv = x[k] + input_offset;
        a0 += xv * w0[k];
        if (rows > 1)
        {
            a1 += xv * w0[depth + k];
        }
        if (rows > 2)
        {
            a2 += xv * w0[2 * depth + k];
        }
        if (rows > 3)
        {
            a3 += xv * w0[3 * depth + k];
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
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
        /* Per tensor (quant_step 0): the requantization prepared once. */
        const ed_requant_out_t shared = ed_requant_out_prepare(multiplier[0], shift[0], p->output_offset);
        for (int32_t o = 0; o < out_depth; o += 4)
        {
            const int32_t rows = ed_min_i32(4, out_depth - o);
            int32_t acc[4];
            ed_fc_dot_rows(x, filter + o * depth, depth, rows, p->input_offset, acc);
            for (int32_t i = 0; i < rows; i++)
            {
                const int32_t q = (o + i) * quant_step;
                const ed_requant_out_t r =
                    quant_step ? ed_requant_out_prepare(multiplier[q], shift[q], p->output_offset) : shared;
                out[o + i] = ed_requant_out_s8(&r, acc[i] + filter_term + (bias ? bias[o + i] : 0),
                                               p->activation.min, p->activation.max);
            }
        }
    }
}

#endif /* ED_FULLY_CONNECTED_H */
