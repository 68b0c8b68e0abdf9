/*
 * ed_depthwise_conv_s8.c - edge-deploy's depthwise convolution (firmware/include/ed_depthwise.h:
 * the method, the packed weight layout and the folded bias). Written for edge-deploy from the
 * TFLite int8 arithmetic; no CMSIS-NN code.
 *
 * DSP path: per tap one input word (four channels) unpacked with SXTB16, SMLABB / SMLATT against
 * int16 weight pairs; 3 x 3 windows with dilation 1 unrolled. Portable path: the same gathered
 * rows and packed weights, one channel at a time.
 */
#include "ed_depthwise.h"
#include "ed_nn_support.h"


/* The group's four input values at input pixel `pixel`: channels oc0..oc0+3 of the output read
 * input channels (oc0 + i) / mult; channels past `valid` read the zero point. */
static inline uint32_t ed_dw_group_word(const int8_t *pixel, int32_t oc0, int32_t valid, int32_t mult, uint32_t zp4)
{
    if (mult == 1 && valid == 4)
    {
        return ed_read_u32(pixel + oc0);
    }
    uint32_t word = zp4;
    for (int32_t i = 0; i < valid; i++)
    {
        word = (word & ~(0xFFu << (8 * i))) | ((uint32_t)(uint8_t)pixel[(oc0 + i) / mult] << (8 * i));
    }
    return word;
}

/* Gathers input row iy (any integer: outside the input it is all zero point) into `dst`, one word
 * per column of the padded row: column j is input column j - pad_left. */
static void ed_dw_gather_row(const cmsis_nn_dims *in, const int8_t *input, int32_t iy, int32_t columns,
                             int32_t pad_left, int32_t oc0, int32_t valid, int32_t mult, uint32_t zp4, uint32_t *dst)
{
    int32_t first = ed_max_i32(0, ed_min_i32(columns, pad_left));               /* first column inside */
    int32_t last = ed_max_i32(first, ed_min_i32(columns, pad_left + in->w));     /* one past the last */
    if (iy < 0 || iy >= in->h)
    {
        first = last = columns;
    }
    int32_t j = 0;
    for (; j < first; j++)
    {
        dst[j] = zp4;
    }
    const int32_t stride = in->c;
    const int8_t *pixel = input + ((iy * in->w) + (j - pad_left)) * stride;
    if (mult == 1 && valid == 4)
    {
        for (; j < last; j++, pixel += stride)
        {
            dst[j] = ed_read_u32(pixel + oc0);
        }
    }
    for (; j < last; j++, pixel += stride)
    {
        dst[j] = ed_dw_group_word(pixel, oc0, valid, mult, zp4);
    }
    for (; j < columns; j++)
    {
        dst[j] = zp4;
    }
}

/* The four accumulators of one output pixel of a group, any window: rows[ky] + column is the
 * pixel's first column in gathered row ky; taps step `dilation_w` columns. */
static __attribute__((noinline)) void ed_dw_pixel(const uint32_t *const *rows, int32_t column, int32_t kh, int32_t kw,
                                                  int32_t dilation_w, const uint32_t *w, int32_t acc[4])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (int32_t kx = 0; kx < kw; kx++)
    {
        for (int32_t ky = 0; ky < kh; ky++, w += 2)
        {
            const uint32_t x = rows[ky][column + kx * dilation_w];
#if ED_NN_DSP
            const uint32_t x02 = ed_sxtb16(x), x13 = ed_sxtb16_ror8(x);
            a0 = ed_smlabb(x02, w[0], a0);
            a2 = ed_smlatt(x02, w[0], a2);
            a1 = ed_smlabb(x13, w[1], a1);
            a3 = ed_smlatt(x13, w[1], a3);
#else
            a0 += (int8_t)(x & 0xFFu) * (int16_t)(w[0] & 0xFFFFu);
            a1 += (int8_t)((x >> 8) & 0xFFu) * (int16_t)(w[1] & 0xFFFFu);
            a2 += (int8_t)((x >> 16) & 0xFFu) * (int16_t)(w[0] >> 16);
            a3 += (int8_t)(x >> 24) * (int16_t)(w[1] >> 16);
#endif
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* Four requantized outputs as one word (fast path: every channel's hi_shift >= 0), clamped. */
static inline uint32_t ed_dw_pack4(const ed_requant_out_t *rq, const int32_t acc[4], int clamp, uint32_t min4,
                                   uint32_t max4)
{
    uint32_t packed = 0;
    for (int32_t i = 0; i < 4; i++)
    {
        packed |= (uint32_t)(uint8_t)ed_sat8(ed_requant_fast(&rq[i].q, acc[i])) << (8 * i);
    }
    return clamp ? ed_min4_s8(ed_max4_s8(packed, min4), max4) : packed;
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(ED_NN_PORTABLE)
/* One tap of the 3 x 3 block: input word at byte `xo` of row pointer `row`, weights at byte `wo`. */
#define ED_DW_TAP_ASM(row, xo, wo)                                                                                     \
    "ldr %[x], [%[" row "], #" xo "]\n\t"                                                                               \
    "ldr %[wa], [%[w], #" wo "]\n\t"                                                                                   \
    "ldr %[wb], [%[w], #" wo "+4]\n\t"                                                                                 \
    "sxtb16 %[t], %[x]\n\t"                                                                                            \
    "smlabb %[a0], %[t], %[wa], %[a0]\n\t"                                                                             \
    "smlatt %[a2], %[t], %[wa], %[a2]\n\t"                                                                             \
    "sxtb16 %[t], %[x], ror #8\n\t"                                                                                    \
    "smlabb %[a1], %[t], %[wb], %[a1]\n\t"                                                                             \
    "smlatt %[a3], %[t], %[wb], %[a3]\n\t"
#endif

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(ED_NN_PORTABLE)
/* The fast requantization of accumulator `a` with the ed_requant_out_t at byte `qo` of %[q]
 * (mult +0, round_lo +4, round_hi +8 with the output offset folded in, hi_shift +12), the result
 * saturated to int8 in `a` (ed_requant_fast, ed_sat8). */
_Static_assert(sizeof(ed_requant_out_t) == 24, "ED_DW_REQUANT_ASM reads ed_requant_out_t at 24-byte steps");
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
#define ED_DW_REQUANT_ASM(a, qo)                                                                                       \
    "ldr %[m], [%[q], #" qo "]\n\t"                                                                                    \
    "ldr %[lo], [%[q], #" qo "+4]\n\t"                                                                                 \
    "ldr %[hi], [%[q], #" qo "+8]\n\t"                                                                                 \
    "ldr %[sh], [%[q], #" qo "+12]\n\t"                                                                                \
    "smlal %[lo], %[hi], %[" a "], %[m]\n\t"                                                                           \
    "asr %[hi], %[hi], %[sh]\n\t"                                                                                      \
    "ssat %[" a "], #8, %[hi]\n\t"
#else
#define ED_DW_REQUANT_ASM(a, qo)                                                                                       \
    "ldr %[m], [%[q], #" qo "]\n\t"                                                                                    \
    "ldr %[lo], [%[q], #" qo "+4]\n\t"                                                                                 \
    "ldr %[hi], [%[q], #" qo "+8]\n\t"                                                                                 \
    "ldr %[sh], [%[q], #" qo "+12]\n\t"                                                                                \
    "and %[s], %[" a "], #0x80000000\n\t"                                                                              \
    "subs %[lo], %[lo], %[s]\n\t"                                                                                      \
    "sbc %[hi], %[hi], #0\n\t"                                                                                         \
    "smlal %[lo], %[hi], %[" a "], %[m]\n\t"                                                                           \
    "asr %[hi], %[hi], %[sh]\n\t"                                                                                      \
    "ssat %[" a "], #8, %[hi]\n\t"
#endif
#endif

/* A row of output pixels of a group with a 3 x 3 window, dilation 1, four valid channels and
 * the fast requantization (Thumb-2 on the M4, where GCC spills the C form): per pixel nine
 * taps of ten cycles, four requantizations of about eleven, the four bytes packed (BFI) and
 * stored as one word. */
static __attribute__((noinline)) void ed_dw_row_3x3(const uint32_t *r0, const uint32_t *r1, const uint32_t *r2,
                                                    int32_t step, int32_t count, const uint32_t *w,
                                                    const int32_t *bias, const ed_requant_out_t *rq, int clamp,
                                                    uint32_t min4, uint32_t max4, int8_t *out, int32_t out_step)
{
    for (; count > 0; count--, r0 += step, r1 += step, r2 += step, out += out_step)
    {
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(ED_NN_PORTABLE)
        int32_t a0, a1, a2, a3;
        uint32_t x, t, wa, wb, r0tmp;
        __asm__ volatile("ldrd %[a0], %[a1], [%[b]]\n\t"
                         "ldrd %[a2], %[a3], [%[b], #8]\n\t"
                         ED_DW_TAP_ASM("r0", "0", "0") ED_DW_TAP_ASM("r1", "0", "8") ED_DW_TAP_ASM("r2", "0", "16")
                         ED_DW_TAP_ASM("r0", "4", "24") ED_DW_TAP_ASM("r1", "4", "32") ED_DW_TAP_ASM("r2", "4", "40")
                         ED_DW_TAP_ASM("r0", "8", "48") ED_DW_TAP_ASM("r1", "8", "56") ED_DW_TAP_ASM("r2", "8", "64")
                         : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x] "=&r"(x), [t] "=&r"(t),
                           [wa] "=&r"(wa), [wb] "=&r"(wb)
                         : [r0] "r"(r0), [r1] "r"(r1), [r2] "r"(r2), [w] "r"(w), [b] "r"(bias)
                         : "memory");
        __asm__ volatile(ED_DW_REQUANT_ASM("a0", "0") ED_DW_REQUANT_ASM("a1", "24") ED_DW_REQUANT_ASM("a2", "48")
                         ED_DW_REQUANT_ASM("a3", "72")
                         "bfi %[a0], %[a1], #8, #8\n\t"
                         "bfi %[a0], %[a2], #16, #8\n\t"
                         "bfi %[a0], %[a3], #24, #8\n\t"
                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [m] "=&r"(x), [lo] "=&r"(t),
                           [hi] "=&r"(wa), [sh] "=&r"(wb), [s] "=&r"(r0tmp)
                         : [q] "r"(rq)
                         : "cc", "memory");
        uint32_t packed = (uint32_t)a0;
        if (clamp)
        {
            packed = ed_min4_s8(ed_max4_s8(packed, min4), max4);
        }
        ed_write_u32(out, packed);
#else
        const uint32_t *rows[3] = {r0, r1, r2};
        int32_t acc[4] = {bias[0], bias[1], bias[2], bias[3]};
        ed_dw_pixel(rows, 0, 3, 3, 1, w, acc);
        ed_write_u32(out, ed_dw_pack4(rq, acc, clamp, min4, max4));
#endif
    }
}

/* What every group of a call shares. */
typedef struct
{
    const cmsis_nn_dims *in;
    const int8_t *input; /* this batch */
    int8_t *output;      /* this batch */
    uint32_t *ring;
    int32_t cout, mult, kh, kw, out_h, out_w, columns;
    int32_t stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w;
    int32_t act_min, act_max;
    int clamp;
    uint32_t zp4, min4, max4;
} ed_dw_layer_t;

/* Every output row of the group of output channels oc0..oc0 + valid - 1. */
static __attribute__((noinline)) void ed_dw_group(const ed_dw_layer_t *L, const uint32_t *w, int32_t oc0,
                                                  int32_t valid, const int32_t *folded_bias,
                                                  const cmsis_nn_per_channel_quant_params *quant, int32_t output_offset)
{
    const int32_t kh = L->kh;
    ed_requant_out_t rq[4];
    int32_t bias[4];
    int fast = 1;
    for (int32_t i = 0; i < 4; i++)
    {
        const int32_t c = ed_min_i32(oc0 + i, L->cout - 1); /* padded channels: any valid constants */
        rq[i] = ed_requant_out_prepare(quant->multiplier[c], quant->shift[c], output_offset);
        fast = fast && rq[i].q.hi_shift >= 0;
        bias[i] = i < valid ? folded_bias[c] : 0;
    }
    /* With dilation 1 an output row reads kh consecutive input rows; input row iy sits in ring
     * row iy mod kh from when it is first needed until the window has passed it, so each input
     * row is gathered once (rows between windows, with stride > kh, never). */
    const int reuse = L->dilation_h == 1;
    const int32_t step = L->stride_h % kh;
    int32_t iy0 = -L->pad_top;
    int32_t slot0 = iy0 % kh; /* ring row of input row iy0 */
    slot0 = slot0 < 0 ? slot0 + kh : slot0;
    int32_t next = iy0; /* first input row not gathered yet */
    const int row3x3 = kh == 3 && L->kw == 3 && L->dilation_w == 1 && valid == 4 && fast;
    int8_t *out = L->output + oc0;
    for (int32_t oy = 0; oy < L->out_h; oy++, iy0 += L->stride_h)
    {
        const uint32_t *rows[ED_DW_MAX_KH];
        if (reuse)
        {
            next = ed_max_i32(next, iy0);
            int32_t slot = slot0;
            for (int32_t ky = 0; ky < kh; ky++)
            {
                uint32_t *dst = L->ring + slot * L->columns;
                if (iy0 + ky == next)
                {
                    ed_dw_gather_row(L->in, L->input, next++, L->columns, L->pad_left, oc0, valid, L->mult, L->zp4, dst);
                }
                rows[ky] = dst;
                slot = slot + 1 == kh ? 0 : slot + 1;
            }
            slot0 += step;
            slot0 = slot0 >= kh ? slot0 - kh : slot0;
        }
        else
        {
            for (int32_t ky = 0; ky < kh; ky++)
            {
                uint32_t *dst = L->ring + ky * L->columns;
                ed_dw_gather_row(L->in, L->input, iy0 + ky * L->dilation_h, L->columns, L->pad_left, oc0, valid,
                                 L->mult, L->zp4, dst);
                rows[ky] = dst;
            }
        }
        if (row3x3)
        {
            ed_dw_row_3x3(rows[0], rows[1], rows[2], L->stride_w, L->out_w, w, bias, rq, L->clamp, L->min4, L->max4,
                          out, L->cout);
            out += L->out_w * L->cout;
            continue;
        }
        for (int32_t ox = 0; ox < L->out_w; ox++, out += L->cout)
        {
            int32_t acc[4] = {bias[0], bias[1], bias[2], bias[3]};
            ed_dw_pixel(rows, ox * L->stride_w, kh, L->kw, L->dilation_w, w, acc);
            if (fast)
            {
                const uint32_t packed = ed_dw_pack4(rq, acc, L->clamp, L->min4, L->max4);
                for (int32_t i = 0; i < valid; i++)
                {
                    out[i] = (int8_t)(packed >> (8 * i));
                }
            }
            else
            {
                for (int32_t i = 0; i < valid; i++)
                {
                    out[i] = ed_requant_out_s8(&rq[i], acc[i], L->act_min, L->act_max);
                }
            }
        }
    }
}

arm_cmsis_nn_status ed_depthwise_conv_s8(const cmsis_nn_context *ctx,
                                         const cmsis_nn_dw_conv_params *dw_conv_params,
                                         const cmsis_nn_per_channel_quant_params *quant_params,
                                         const cmsis_nn_dims *input_dims,
                                         const int8_t *input_data,
                                         const cmsis_nn_dims *filter_dims,
                                         const uint32_t *packed_weights,
                                         const int32_t *folded_bias,
                                         const cmsis_nn_dims *output_dims,
                                         int8_t *output_data)
{
    const cmsis_nn_dw_conv_params *p = dw_conv_params;
    const int32_t cout = output_dims->c, kh = filter_dims->h, kw = filter_dims->w;
    if (input_dims->c * p->ch_mult != cout || filter_dims->c != cout || kh > ED_DW_MAX_KH || folded_bias == NULL ||
        ctx == NULL || ctx->buf == NULL ||
        ctx->size < ed_depthwise_conv_s8_get_buffer_size(p, input_dims, filter_dims, output_dims))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    ed_dw_layer_t L = {
        .in = input_dims, .ring = (uint32_t *)ctx->buf, .cout = cout, .mult = p->ch_mult, .kh = kh, .kw = kw,
        .out_h = output_dims->h, .out_w = output_dims->w,
        .columns = (output_dims->w - 1) * p->stride.w + (kw - 1) * p->dilation.w + 1,
        .stride_h = p->stride.h, .stride_w = p->stride.w, .pad_top = p->padding.h, .pad_left = p->padding.w,
        .dilation_h = p->dilation.h, .dilation_w = p->dilation.w, .act_min = p->activation.min,
        .act_max = p->activation.max, .clamp = p->activation.min > -128 || p->activation.max < 127,
        .zp4 = 0x01010101u * (uint8_t)(int8_t)(-p->input_offset),
        .min4 = 0x01010101u * (uint8_t)p->activation.min, .max4 = 0x01010101u * (uint8_t)p->activation.max,
    };
    for (int32_t n = 0; n < input_dims->n; n++)
    {
        L.input = input_data + n * input_dims->h * input_dims->w * input_dims->c;
        L.output = output_data + n * output_dims->h * output_dims->w * cout;
        for (int32_t oc0 = 0; oc0 < cout; oc0 += 4)
        {
            ed_dw_group(&L, packed_weights + 2 * (oc0 / 4) * kh * kw, oc0, ed_min_i32(4, cout - oc0), folded_bias,
                        quant_params, p->output_offset);
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

int32_t ed_depthwise_conv_s8_get_buffer_size(const cmsis_nn_dw_conv_params *dw_conv_params,
                                             const cmsis_nn_dims *input_dims,
                                             const cmsis_nn_dims *filter_dims,
                                             const cmsis_nn_dims *output_dims)
{
    (void)input_dims;
    const int32_t columns =
        (output_dims->w - 1) * dw_conv_params->stride.w + (filter_dims->w - 1) * dw_conv_params->dilation.w + 1;
    return filter_dims->h * columns * (int32_t)sizeof(uint32_t);
}
