/*
 * arm_convolve_s8.c - s8 convolution (TFLite CONV_2D, per-channel int8), edge-deploy's own
 * implementation of the CMSIS-NN function of that name. Written from the public API
 * description and the TFLite arithmetic; no CMSIS-NN code.
 *
 * DSP path: for two output positions at a time, the input patch ("column") is widened to
 * int16 with the input offset added, in the order SXTB16 unpacks a weight word (x0,x2 then
 * x1,x3), so each four weights cost one load and two SXTB16 and feed two SMLAD per column.
 * Two output channels share every column load: 2 x 2 outputs per inner loop.
 * Portable path: direct loops, one output at a time.
 */
#include "ed_nn_support.h"

#if ED_NN_DSP

/* Two widened columns share one buffer, interleaved per group of four patch elements:
 * [col0 x0,x2,x1,x3][col1 x0,x2,x1,x3] per group (so one pointer walks both), then the
 * k_total % 4 tail elements of col0, then those of col1, in natural order. */
static inline int32_t ed_column_index(int32_t k, int32_t k_grouped, int32_t k_total, int32_t which)
{
    static const int8_t order[4] = {0, 2, 1, 3};
    if (k < k_grouped)
    {
        return (k & ~3) * 2 + which * 4 + order[k & 3];
    }
    return k_grouped * 2 + which * (k_total - k_grouped) + (k - k_grouped);
}

/* Widens n bytes (n a multiple of 4) from src, offset added, into column `which` starting at
 * the group of patch element k0 (a multiple of 4). SXTAB16 adds the offset while it widens. */
static inline void ed_widen_run(const int8_t *src, int16_t *col, int32_t k0, int32_t n, int32_t which,
                                uint32_t offset2)
{
    int16_t *dst = col + k0 * 2 + which * 4;
    for (int32_t i = 0; i < n; i += 4, dst += 8)
    {
        const uint32_t word = ed_read_u32(src + i);
        ed_write_u32(dst, ed_sxtab16(offset2, word));
        ed_write_u32(dst + 2, ed_sxtab16_ror8(offset2, word));
    }
}

/* Builds widened column `which` of output position (out_y, out_x). Out-of-bounds taps are
 * the input zero point, i.e. 0 once the offset is added. */
static void ed_conv_column(const cmsis_nn_conv_params *p, const cmsis_nn_dims *in, const int8_t *input,
                           const cmsis_nn_dims *flt, int32_t out_y, int32_t out_x, int16_t *col, int32_t which)
{
    const int32_t cin = in->c;
    const int32_t k_total = flt->h * flt->w * cin;
    const int32_t k_grouped = k_total & ~3;
    const int32_t row_len = flt->w * cin;
    const int32_t base_y = out_y * p->stride.h - p->padding.h;
    const int32_t base_x = out_x * p->stride.w - p->padding.w;
    const uint32_t offset2 = ed_dup16(p->input_offset);
    const int rows_widen_whole = (row_len % 4) == 0 && p->dilation.w == 1;
    const int x_inside = base_x >= 0 && base_x + flt->w <= in->w;

    /* 1-D patch partly in the padding, the in-bounds part and the padding whole groups of four
     * (TICNN's first conv: 28 padding taps, stride 8): zero groups, then one widened run. */
    if (flt->h == 1 && p->dilation.w == 1 && !x_inside && base_y >= 0 && base_y < in->h && (k_total & 3) == 0)
    {
        const int32_t first = ed_max_i32(0, -base_x), last = ed_min_i32(flt->w, in->w - base_x);
        const int32_t zeros_left = first * cin, run = (last - first) * cin;
        if (last > first && (zeros_left & 3) == 0 && (run & 3) == 0)
        {
            uint32_t *groups = (uint32_t *)(void *)(col + which * 4);
            for (int32_t k = 0; k < k_total; k += 4)
            {
                if (k < zeros_left || k >= zeros_left + run)
                {
                    groups[k] = 0u; /* group k / 4: halfwords 2k + 4 * which on, words k and k + 1 here */
                    groups[k + 1] = 0u;
                }
            }
            ed_widen_run(input + (base_y * in->w + base_x + first) * cin, col, zeros_left, run, which, offset2);
            return;
        }
    }
    /* Whole patch is one contiguous run: the common 1-D convolution case. */
    if (flt->h == 1 && p->dilation.w == 1 && x_inside && base_y >= 0 && base_y < in->h)
    {
        const int8_t *src = input + (base_y * in->w + base_x) * cin;
        ed_widen_run(src, col, 0, k_grouped, which, offset2);
        for (int32_t k = k_grouped; k < k_total; k++)
        {
            col[ed_column_index(k, k_grouped, k_total, which)] = (int16_t)(src[k] + p->input_offset);
        }
        return;
    }
    int32_t k = 0;
    for (int32_t ky = 0; ky < flt->h; ky++)
    {
        const int32_t iy = base_y + ky * p->dilation.h;
        const int y_inside = iy >= 0 && iy < in->h;
        if (rows_widen_whole && y_inside && x_inside)
        {
            ed_widen_run(input + (iy * in->w + base_x) * cin, col, k, row_len, which, offset2);
            k += row_len;
            continue;
        }
        for (int32_t kx = 0; kx < flt->w; kx++)
        {
            const int32_t ix = base_x + kx * p->dilation.w;
            const int inside = y_inside && ix >= 0 && ix < in->w;
            const int8_t *src = input + (iy * in->w + ix) * cin;
            for (int32_t c = 0; c < cin; c++, k++)
            {
                col[ed_column_index(k, k_grouped, k_total, which)] =
                    inside ? (int16_t)(src[c] + p->input_offset) : 0;
            }
        }
    }
}

/* The hot loop: filter rows w0 and w0 + k_total against both columns, `groups` groups of four
 * patch elements. Per group: four column words, two weight words, four SXTB16, eight SMLAD.
 * On the Cortex-M4 it is written in assembly: GCC's allocation of this loop reloaded columns
 * and spilled to the stack (45 instructions per two groups); by hand it holds the two weight
 * words across both halves of a group and needs 13 registers, no spills. */
static inline void ed_conv_dot_2x2(const int8_t *w0, int32_t k_total, const uint32_t *c, int32_t groups,
                                   int32_t acc[4])
{
    const int8_t *w1 = w0 + k_total;
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(ED_NN_PORTABLE)
    int32_t pairs = groups >> 1;
    if (pairs > 0)
    {
        uint32_t x, y, wa, wb, t;
        __asm__ volatile(
            "1:\n\t"
            /* group 0, halves (x0, x2) then (x1, x3); the last load of the first run advances c
             * past both groups (post-index), so later column loads use negative offsets and no
             * ADD is needed (and no load follows one that wrote its base register) */
            "ldr %[y], [%[c], #8]\n\t"
            "ldr %[wa], [%[w0]], #8\n\t"
            "ldr %[wb], [%[w1]], #8\n\t"
            "ldr %[x], [%[c]], #32\n\t"
            "sxtb16 %[t], %[wa]\n\t"
            "smlad %[a00], %[x], %[t], %[a00]\n\t"
            "smlad %[a01], %[y], %[t], %[a01]\n\t"
            "sxtb16 %[t], %[wb]\n\t"
            "smlad %[a10], %[x], %[t], %[a10]\n\t"
            "smlad %[a11], %[y], %[t], %[a11]\n\t"
            "ldr %[x], [%[c], #-28]\n\t"
            "ldr %[y], [%[c], #-20]\n\t"
            "sxtb16 %[t], %[wa], ror #8\n\t"
            "smlad %[a00], %[x], %[t], %[a00]\n\t"
            "smlad %[a01], %[y], %[t], %[a01]\n\t"
            "sxtb16 %[t], %[wb], ror #8\n\t"
            "smlad %[a10], %[x], %[t], %[a10]\n\t"
            "smlad %[a11], %[y], %[t], %[a11]\n\t"
            /* group 1 */
            "ldr %[x], [%[c], #-16]\n\t"
            "ldr %[y], [%[c], #-8]\n\t"
            "ldr %[wa], [%[w0], #-4]\n\t"
            "ldr %[wb], [%[w1], #-4]\n\t"
            "sxtb16 %[t], %[wa]\n\t"
            "smlad %[a00], %[x], %[t], %[a00]\n\t"
            "smlad %[a01], %[y], %[t], %[a01]\n\t"
            "sxtb16 %[t], %[wb]\n\t"
            "smlad %[a10], %[x], %[t], %[a10]\n\t"
            "smlad %[a11], %[y], %[t], %[a11]\n\t"
            "ldr %[x], [%[c], #-12]\n\t"
            "ldr %[y], [%[c], #-4]\n\t"
            "sxtb16 %[t], %[wa], ror #8\n\t"
            "smlad %[a00], %[x], %[t], %[a00]\n\t"
            "smlad %[a01], %[y], %[t], %[a01]\n\t"
            "sxtb16 %[t], %[wb], ror #8\n\t"
            "smlad %[a10], %[x], %[t], %[a10]\n\t"
            "smlad %[a11], %[y], %[t], %[a11]\n\t"
            "subs %[n], %[n], #1\n\t"
            "bne 1b\n\t"
            : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [c] "+r"(c), [w0] "+r"(w0),
              [w1] "+r"(w1), [n] "+r"(pairs), [x] "=&r"(x), [y] "=&r"(y), [wa] "=&r"(wa), [wb] "=&r"(wb),
              [t] "=&r"(t)
            :
            : "cc", "memory");
    }
#else
    for (int32_t g = groups >> 1; g > 0; g--)
    {
        for (int32_t half = 0; half < 2; half++, c += 4, w0 += 4, w1 += 4)
        {
            const uint32_t wa = ed_read_u32(w0), wb = ed_read_u32(w1);
            a00 = ed_smlad(c[1], ed_sxtb16_ror8(wa), ed_smlad(c[0], ed_sxtb16(wa), a00));
            a01 = ed_smlad(c[3], ed_sxtb16_ror8(wa), ed_smlad(c[2], ed_sxtb16(wa), a01));
            a10 = ed_smlad(c[1], ed_sxtb16_ror8(wb), ed_smlad(c[0], ed_sxtb16(wb), a10));
            a11 = ed_smlad(c[3], ed_sxtb16_ror8(wb), ed_smlad(c[2], ed_sxtb16(wb), a11));
        }
    }
#endif
    if (groups & 1)
    {
        const uint32_t wa = ed_read_u32(w0), wb = ed_read_u32(w1);
        const uint32_t wa02 = ed_sxtb16(wa), wa13 = ed_sxtb16_ror8(wa);
        const uint32_t wb02 = ed_sxtb16(wb), wb13 = ed_sxtb16_ror8(wb);
        a00 = ed_smlad(c[1], wa13, ed_smlad(c[0], wa02, a00));
        a01 = ed_smlad(c[3], wa13, ed_smlad(c[2], wa02, a01));
        a10 = ed_smlad(c[1], wb13, ed_smlad(c[0], wb02, a10));
        a11 = ed_smlad(c[3], wb13, ed_smlad(c[2], wb02, a11));
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* Edge blocks (odd channel or position count) and the k_total % 4 tail elements: row w0 (and
 * w1 when not NULL) against column 0 (and column 1 when both_columns), from group `first_group`
 * on. acc = {row0.col0, row0.col1, row1.col0, row1.col1}. */
static void ed_conv_dot_edge(const int8_t *w0, const int8_t *w1, const int16_t *col, int32_t k_total,
                             int32_t first_group, int both_columns, int32_t acc[4])
{
    const int32_t k_grouped = k_total & ~3;
    const uint32_t *c = (const uint32_t *)(const void *)col + first_group * 4;
    for (int32_t k = first_group * 4; k < k_grouped; k += 4, c += 4)
    {
        uint32_t wword = ed_read_u32(w0 + k);
        acc[0] = ed_smlad(c[1], ed_sxtb16_ror8(wword), ed_smlad(c[0], ed_sxtb16(wword), acc[0]));
        if (both_columns)
        {
            acc[1] = ed_smlad(c[3], ed_sxtb16_ror8(wword), ed_smlad(c[2], ed_sxtb16(wword), acc[1]));
        }
        if (w1 != NULL)
        {
            wword = ed_read_u32(w1 + k);
            acc[2] = ed_smlad(c[1], ed_sxtb16_ror8(wword), ed_smlad(c[0], ed_sxtb16(wword), acc[2]));
        }
    }
    const int32_t tail = k_total - k_grouped;
    const int16_t *t0 = col + k_grouped * 2;
    const int16_t *t1 = t0 + tail;
    for (int32_t i = 0; i < tail; i++)
    {
        acc[0] += t0[i] * w0[k_grouped + i];
        if (both_columns)
        {
            acc[1] += t1[i] * w0[k_grouped + i];
        }
        if (w1 != NULL)
        {
            acc[2] += t0[i] * w1[k_grouped + i];
            if (both_columns)
            {
                acc[3] += t1[i] * w1[k_grouped + i];
            }
        }
    }
}

/* The common block: both columns, `pairs` pairs of output channels, k_total a multiple of 4,
 * every channel on the fast requantization path (checked once per call), so the loop carries
 * no per-output branches and the accumulators stay in registers. The four outputs of a block
 * are two adjacent bytes in each position's row: they are saturated (SSAT), packed into one
 * word, clamped to the activation range with two bytewise SIMD min/max, and stored as two
 * halfwords. */
static __attribute__((noinline)) void ed_conv_outputs_fast(const uint32_t *col, const int8_t *filter,
                                                           const int32_t *bias, const ed_requant_out_t *quant,
                                                           int32_t k_total, int32_t pairs, int32_t act_min,
                                                           int32_t act_max, int8_t *out0, int8_t *out1)
{
    const int32_t groups = k_total >> 2;
    const uint32_t act_min4 = 0x01010101u * (uint8_t)act_min;
    const uint32_t act_max4 = 0x01010101u * (uint8_t)act_max;
    for (; pairs > 0; pairs--, quant += 2, filter += 2 * k_total, out0 += 2, out1 += 2)
    {
        int32_t b0 = 0, b1 = 0;
        if (bias != NULL)
        {
            b0 = bias[0];
            b1 = bias[1];
            bias += 2;
        }
        int32_t acc[4] = {b0, b0, b1, b1};
        ed_conv_dot_2x2(filter, k_total, col, groups, acc);
        /* bytes: out0[oc], out0[oc + 1], out1[oc], out1[oc + 1] */
        const uint32_t v00 = (uint8_t)ed_sat8(ed_requant_fast(&quant[0].q, acc[0]));
        const uint32_t v10 = (uint8_t)ed_sat8(ed_requant_fast(&quant[0].q, acc[1]));
        const uint32_t v01 = (uint8_t)ed_sat8(ed_requant_fast(&quant[1].q, acc[2]));
        const uint32_t v11 = (uint8_t)ed_sat8(ed_requant_fast(&quant[1].q, acc[3]));
        uint32_t packed = v00 | (v01 << 8) | (v10 << 16) | (v11 << 24);
        packed = ed_min4_s8(ed_max4_s8(packed, act_min4), act_max4);
        const uint16_t row0 = (uint16_t)packed, row1 = (uint16_t)(packed >> 16);
        memcpy(out0, &row0, sizeof(row0));
        memcpy(out1, &row1, sizeof(row1));
    }
}

/* Output channels per call whose requantization is prepared once on the stack (24 bytes each);
 * wider layers prepare it per block. */
#define ED_CONV_QUANT_TABLE 64

/* All output channels of positions pos (column 0) and pos + 1 (column 1, when both). Kept out
 * of line so the register allocator sees only this block's values. */
static __attribute__((noinline)) void ed_conv_outputs(const int16_t *col, int both, const int8_t *filter,
                                                      const int32_t *bias, const ed_requant_out_t *quant,
                                                      const int32_t *mult, const int32_t *shift, int32_t k_total,
                                                      int32_t cout, int32_t offset, int32_t act_min,
                                                      int32_t act_max, int32_t first_oc, int8_t *out0,
                                                      int8_t *out1)
{
    const int32_t groups = k_total >> 2;
    const int32_t tail = k_total & 3;
    int32_t oc = first_oc;
    if (both)
    {
        for (; oc + 1 < cout; oc += 2)
        {
            const int8_t *w0 = filter + oc * k_total;
            const int32_t b0 = bias ? bias[oc] : 0, b1 = bias ? bias[oc + 1] : 0;
            int32_t acc[4] = {b0, b0, b1, b1};
            ed_conv_dot_2x2(w0, k_total, (const uint32_t *)(const void *)col, groups, acc);
            if (tail != 0)
            {
                ed_conv_dot_edge(w0, w0 + k_total, col, k_total, groups, 1, acc);
            }
            ed_requant_out_t local[2];
            const ed_requant_out_t *q = quant ? quant + oc : local;
            if (quant == NULL)
            {
                local[0] = ed_requant_out_prepare(mult[oc], shift[oc], offset);
                local[1] = ed_requant_out_prepare(mult[oc + 1], shift[oc + 1], offset);
            }
            out0[oc] = ed_requant_out_s8(&q[0], acc[0], act_min, act_max);
            out1[oc] = ed_requant_out_s8(&q[0], acc[1], act_min, act_max);
            out0[oc + 1] = ed_requant_out_s8(&q[1], acc[2], act_min, act_max);
            out1[oc + 1] = ed_requant_out_s8(&q[1], acc[3], act_min, act_max);
        }
    }
    for (; oc < cout; oc += 2)
    {
        const int pair = oc + 1 < cout;
        const int8_t *w0 = filter + oc * k_total;
        const int32_t b0 = bias ? bias[oc] : 0, b1 = (bias && pair) ? bias[oc + 1] : 0;
        int32_t acc[4] = {b0, b0, b1, b1};
        ed_conv_dot_edge(w0, pair ? w0 + k_total : NULL, col, k_total, 0, both, acc);
        out0[oc] = ed_requantize_to_s8(acc[0], mult[oc], shift[oc], offset, act_min, act_max);
        if (both)
        {
            out1[oc] = ed_requantize_to_s8(acc[1], mult[oc], shift[oc], offset, act_min, act_max);
        }
        if (pair)
        {
            out0[oc + 1] = ed_requantize_to_s8(acc[2], mult[oc + 1], shift[oc + 1], offset, act_min, act_max);
            if (both)
            {
                out1[oc + 1] = ed_requantize_to_s8(acc[3], mult[oc + 1], shift[oc + 1], offset, act_min, act_max);
            }
        }
    }
}

#endif /* ED_NN_DSP */

arm_cmsis_nn_status arm_convolve_s8(const cmsis_nn_context *ctx,
                                    const cmsis_nn_conv_params *conv_params,
                                    const cmsis_nn_per_channel_quant_params *quant_params,
                                    const cmsis_nn_dims *input_dims,
                                    const int8_t *input_data,
                                    const cmsis_nn_dims *filter_dims,
                                    const int8_t *filter_data,
                                    const cmsis_nn_dims *bias_dims,
                                    const int32_t *bias_data,
                                    const cmsis_nn_dims *output_dims,
                                    int8_t *output_data)
{
    (void)bias_dims;
    const cmsis_nn_conv_params *p = conv_params;
    const int32_t cin = input_dims->c;
    const int32_t cout = output_dims->c;
    const int32_t k_total = filter_dims->h * filter_dims->w * cin;
    const int32_t *mult = quant_params->multiplier;
    const int32_t *shift = quant_params->shift;
    const int32_t act_min = p->activation.min;
    const int32_t act_max = p->activation.max;

    if (filter_dims->c != cin || filter_dims->n != cout)
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }

#if ED_NN_DSP
    if (ctx == NULL || ctx->buf == NULL)
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    int16_t *col = (int16_t *)ctx->buf;
    const int32_t out_w = output_dims->w;
    const int32_t positions = output_dims->h * out_w;
    const int32_t offset = p->output_offset;
    ed_requant_out_t quant_table[ED_CONV_QUANT_TABLE];
    const ed_requant_out_t *quant = NULL;
    int all_fast = 0; /* every channel on the fast requantization path, k_total % 4 == 0 */
    if (cout <= ED_CONV_QUANT_TABLE)
    {
        all_fast = (k_total & 3) == 0;
        for (int32_t oc = 0; oc < cout; oc++)
        {
            quant_table[oc] = ed_requant_out_prepare(mult[oc], shift[oc], offset);
            all_fast = all_fast && quant_table[oc].q.hi_shift >= 0;
        }
        quant = quant_table;
    }

    for (int32_t n = 0; n < input_dims->n; n++)
    {
        const int8_t *input = input_data + n * input_dims->h * input_dims->w * cin;
        int8_t *output = output_data + n * positions * cout;
        int32_t oy = 0, ox = 0; /* position pos, tracked without divisions */
        for (int32_t pos = 0; pos < positions; pos += 2)
        {
            const int both = pos + 1 < positions;
            ed_conv_column(p, input_dims, input, filter_dims, oy, ox, col, 0);
            if (++ox == out_w)
            {
                ox = 0;
                oy++;
            }
            if (both)
            {
                ed_conv_column(p, input_dims, input, filter_dims, oy, ox, col, 1);
                if (++ox == out_w)
                {
                    ox = 0;
                    oy++;
                }
            }
            int8_t *out0 = output + pos * cout;
            int32_t first_oc = 0;
            if (both && all_fast)
            {
                first_oc = cout & ~1;
                ed_conv_outputs_fast((const uint32_t *)(const void *)col, filter_data, bias_data, quant, k_total,
                                     cout >> 1, act_min, act_max, out0, out0 + cout);
            }
            if (first_oc < cout)
            {
                ed_conv_outputs(col, both, filter_data, bias_data, quant, mult, shift, k_total, cout, offset, act_min,
                                act_max, first_oc, out0, out0 + cout);
            }
        }
    }
#else
    (void)ctx;
    for (int32_t n = 0; n < input_dims->n; n++)
    {
        const int8_t *input = input_data + n * input_dims->h * input_dims->w * cin;
        for (int32_t oy = 0; oy < output_dims->h; oy++)
        {
            for (int32_t ox = 0; ox < output_dims->w; ox++)
            {
                const int32_t base_y = oy * p->stride.h - p->padding.h;
                const int32_t base_x = ox * p->stride.w - p->padding.w;
                for (int32_t oc = 0; oc < cout; oc++)
                {
                    const int8_t *w = filter_data + oc * k_total;
                    int32_t acc = bias_data ? bias_data[oc] : 0;
                    for (int32_t ky = 0; ky < filter_dims->h; ky++)
                    {
                        const int32_t iy = base_y + ky * p->dilation.h;
                        for (int32_t kx = 0; kx < filter_dims->w; kx++)
                        {
                            const int32_t ix = base_x + kx * p->dilation.w;
                            if (iy < 0 || iy >= input_dims->h || ix < 0 || ix >= input_dims->w)
                            {
                                continue; /* padding contributes (zero point + offset) * w = 0 */
                            }
                            const int8_t *src = input + (iy * input_dims->w + ix) * cin;
                            const int8_t *wk = w + (ky * filter_dims->w + kx) * cin;
                            for (int32_t c = 0; c < cin; c++)
                            {
                                acc += (src[c] + p->input_offset) * wk[c];
                            }
                        }
                    }
                    output_data[((n * output_dims->h + oy) * output_dims->w + ox) * cout + oc] =
                        ed_requantize_to_s8(acc, mult[oc], shift[oc], p->output_offset, act_min, act_max);
                }
            }
        }
    }
#endif
    return ARM_CMSIS_NN_SUCCESS;
}

int32_t arm_convolve_s8_get_buffer_size(const cmsis_nn_dims *input_dims, const cmsis_nn_dims *filter_dims)
{
#if ED_NN_DSP
    /* Two widened (int16) columns. */
    const int32_t k_total = filter_dims->h * filter_dims->w * input_dims->c;
    return 2 * k_total * (int32_t)sizeof(int16_t);
#else
    (void)input_dims;
    (void)filter_dims;
    return 0;
#endif
}
