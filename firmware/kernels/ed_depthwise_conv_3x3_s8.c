/*
 * ed_depthwise_conv_3x3_s8.c - edge-deploy's 3 x 3 depthwise convolution, channel multiplier 1
 * (firmware/include/ed_depthwise_3x3.h: the method and the packed weight layout). Written for
 * edge-deploy from the TFLite int8 arithmetic; no CMSIS-NN code.
 *
 * DSP path: SMLAD / SMLABT / SMLATB on int16 pairs of inputs and weights. Portable path: the
 * same gathered rows, packed weights and order of operations in plain C.
 */
#include "ed_depthwise_3x3.h"
#include "ed_nn_support.h"

#if ED_NN_ASM
#define ed_dw3_smlad(a, b, acc) __smlad((a), (b), (acc))
#define ed_dw3_smlabt(a, b, acc) __smlabt((a), (b), (acc))
#define ed_dw3_smlatb(a, b, acc) __smlatb((a), (b), (acc))
#define ed_dw3_sxtb16(x) ((uint32_t)__sxtb16(x))
#define ed_dw3_sxtb16_ror8(x) ed_sxtb16_ror8_asm(x)
#else
static inline int32_t ed_dw3_lo(uint32_t v)
{
    return (int16_t)(v & 0xFFFFu);
}
static inline int32_t ed_dw3_hi(uint32_t v)
{
    return (int16_t)(v >> 16);
}
/* The instructions' results, wrapping like them (the build checks no accumulator leaves int32). */
static inline int32_t ed_dw3_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(ed_dw3_lo(a) * ed_dw3_lo(b)) + (uint32_t)(ed_dw3_hi(a) * ed_dw3_hi(b)));
}
static inline int32_t ed_dw3_smlabt(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(ed_dw3_lo(a) * ed_dw3_hi(b)));
}
static inline int32_t ed_dw3_smlatb(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(ed_dw3_hi(a) * ed_dw3_lo(b)));
}
static inline uint32_t ed_dw3_sxtb16(uint32_t x)
{
    return ((uint32_t)(int32_t)(int8_t)(x & 0xFFu) & 0xFFFFu) | ((uint32_t)(int32_t)(int8_t)((x >> 16) & 0xFFu) << 16);
}
static inline uint32_t ed_dw3_sxtb16_ror8(uint32_t x)
{
    return ed_dw3_sxtb16(x >> 8);
}
#endif

/* Halfword columns of a gathered row: every column the last pass of four outputs reads. */
static inline int32_t ed_dw3_columns(int32_t out_w, int32_t stride_w)
{
    return stride_w * 4 * ((out_w + 3) / 4) + 2;
}

/* What every group of a call shares. */
typedef struct
{
    const cmsis_nn_dims *in;
    const int8_t *input; /* this batch */
    int8_t *output;      /* this batch */
    uint32_t *ring;      /* 3 slots x 4 channels x words rows */
    int32_t cout, out_h, out_w, words; /* words: int16 pairs per gathered channel row */
    int32_t stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max;
    uint32_t zp4; /* the input zero point in four bytes */
} ed_dw3_layer_t;

/* Four input channels (oc0.. of input column `col`, input row `row`, or the zero point) as a word. */
static inline uint32_t ed_dw3_word(const ed_dw3_layer_t *L, const int8_t *row, int32_t col, int32_t valid)
{
    if (row == NULL || (uint32_t)col >= (uint32_t)L->in->w)
    {
        return L->zp4;
    }
    const int8_t *p = row + col * L->in->c;
    if (valid == 4)
    {
        return ed_read_u32(p);
    }
    uint32_t word = L->zp4;
    for (int32_t i = 0; i < valid; i++)
    {
        word = (word & ~(0xFFu << (8 * i))) | ((uint32_t)(uint8_t)p[i] << (8 * i));
    }
    return word;
}

/* Input row iy (outside the input: all zero point) of channels oc0..oc0+3 into the four channel
 * rows dst[0..3]: per two columns j, j + 1 one int16 pair (x_j, x_j+1) per channel. */
static __attribute__((noinline)) void ed_dw3_gather(const ed_dw3_layer_t *L, int32_t iy, int32_t oc0, int32_t valid,
                                                    uint32_t *dst)
{
    const int8_t *row = (iy >= 0 && iy < L->in->h) ? L->input + iy * L->in->w * L->in->c + oc0 : NULL;
    uint32_t *d0 = dst, *d1 = dst + L->words, *d2 = dst + 2 * L->words, *d3 = dst + 3 * L->words;
    const int32_t in_w = L->in->w, pixel = L->in->c, words = L->words;
    const int fast = row != NULL && valid == 4;
    int32_t col = -L->pad_left;
    for (int32_t k = 0; k < words; k++, col += 2)
    {
        uint32_t x0, x1;
        if (fast && col >= 0 && col + 1 < in_w)
        {
            const int8_t *p = row + col * pixel;
            x0 = ed_read_u32(p);
            x1 = ed_read_u32(p + pixel);
        }
        else
        {
            x0 = ed_dw3_word(L, row, col, valid);
            x1 = ed_dw3_word(L, row, col + 1, valid);
        }
        const uint32_t e0 = ed_dw3_sxtb16(x0), e1 = ed_dw3_sxtb16(x1);   /* (c0, c2) of each column */
        const uint32_t o0 = ed_dw3_sxtb16_ror8(x0), o1 = ed_dw3_sxtb16_ror8(x1); /* (c1, c3) */
        d0[k] = (e0 & 0xFFFFu) | (e1 << 16);
        d2[k] = (e1 & 0xFFFF0000u) | (e0 >> 16);
        d1[k] = (o0 & 0xFFFFu) | (o1 << 16);
        d3[k] = (o1 & 0xFFFF0000u) | (o0 >> 16);
    }
}

#if ED_NN_ASM
/* One kernel row of a pass of four stride-1 outputs (Thumb-2; GCC spills the C form): the
 * channel's row at %[p], its weight pairs at byte `wo` of %[w]. */
#define ED_DW3_ROW_S1_ASM(p, wo)                                                                                       \
    "ldr %[wa], [%[w], #" wo "]\n\t"                                                                                   \
    "ldr %[wb], [%[w], #" wo "+4]\n\t"                                                                                 \
    "ldr %[xa], [%[" p "]]\n\t"                                                                                        \
    "ldr %[xb], [%[" p "], #4]\n\t"                                                                                    \
    "smlad %[a0], %[xa], %[wa], %[a0]\n\t"                                                                             \
    "smlatb %[a1], %[xa], %[wa], %[a1]\n\t"                                                                            \
    "ldr %[xa], [%[" p "], #8]\n\t"                                                                                    \
    "smlabt %[a0], %[xb], %[wb], %[a0]\n\t"                                                                            \
    "smlad %[a1], %[xb], %[wb], %[a1]\n\t"                                                                             \
    "smlad %[a2], %[xb], %[wa], %[a2]\n\t"                                                                             \
    "smlatb %[a3], %[xb], %[wa], %[a3]\n\t"                                                                            \
    "smlabt %[a2], %[xa], %[wb], %[a2]\n\t"                                                                            \
    "smlad %[a3], %[xa], %[wb], %[a3]\n\t"
/* The same for stride 2: pairs P0..P4 of the row, ok = SMLAD(Pk, W01) + SMLABT(Pk+1, W12). */
#define ED_DW3_ROW_S2_ASM(p, wo)                                                                                       \
    "ldr %[wa], [%[w], #" wo "]\n\t"                                                                                   \
    "ldr %[wb], [%[w], #" wo "+4]\n\t"                                                                                 \
    "ldr %[xa], [%[" p "]]\n\t"                                                                                        \
    "ldr %[xb], [%[" p "], #4]\n\t"                                                                                    \
    "smlad %[a0], %[xa], %[wa], %[a0]\n\t"                                                                             \
    "smlabt %[a0], %[xb], %[wb], %[a0]\n\t"                                                                            \
    "ldr %[xa], [%[" p "], #8]\n\t"                                                                                    \
    "smlad %[a1], %[xb], %[wa], %[a1]\n\t"                                                                             \
    "smlabt %[a1], %[xa], %[wb], %[a1]\n\t"                                                                            \
    "ldr %[xb], [%[" p "], #12]\n\t"                                                                                   \
    "smlad %[a2], %[xa], %[wa], %[a2]\n\t"                                                                             \
    "smlabt %[a2], %[xb], %[wb], %[a2]\n\t"                                                                            \
    "ldr %[xa], [%[" p "], #16]\n\t"                                                                                   \
    "smlad %[a3], %[xb], %[wa], %[a3]\n\t"                                                                             \
    "smlabt %[a3], %[xa], %[wb], %[a3]\n\t"
/* The fast requantization of accumulator `a` (ed_requant_fast, then SSAT) with the channel's
 * constants in %[m], %[lo0], %[hi0], %[sh]. */
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
#define ED_DW3_REQUANT_ASM(a)                                                                                          \
    "mov %[lo], %[lo0]\n\t"                                                                                            \
    "mov %[hi], %[hi0]\n\t"                                                                                            \
    "smlal %[lo], %[hi], %[" a "], %[m]\n\t"                                                                           \
    "asr %[hi], %[hi], %[sh]\n\t"                                                                                      \
    "ssat %[" a "], #8, %[hi]\n\t"
#else
#define ED_DW3_REQUANT_ASM(a)                                                                                          \
    "and %[lo], %[" a "], #0x80000000\n\t"                                                                             \
    "subs %[lo], %[lo0], %[lo]\n\t"                                                                                    \
    "sbc %[hi], %[hi0], #0\n\t"                                                                                        \
    "smlal %[lo], %[hi], %[" a "], %[m]\n\t"                                                                           \
    "asr %[hi], %[hi], %[sh]\n\t"                                                                                      \
    "ssat %[" a "], #8, %[hi]\n\t"
#endif
#endif

/* The four accumulators of the pass at row pointers p0..p2 (stride 1: each row's words 0..2,
 * stride 2: words 0..4), bias added. */
static inline __attribute__((always_inline)) void ed_dw3_pass(const uint32_t *p0, const uint32_t *p1, const uint32_t *p2, const uint32_t *w,
                               int32_t stride2, int32_t bias, int32_t acc[4])
{
    int32_t a0 = bias, a1 = bias, a2 = bias, a3 = bias;
#if ED_NN_ASM
    uint32_t wa, wb, xa, xb;
    if (stride2)
    {
        __asm__("" ED_DW3_ROW_S2_ASM("p0", "0") ED_DW3_ROW_S2_ASM("p1", "8") ED_DW3_ROW_S2_ASM("p2", "16")
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [wa] "=&r"(wa), [wb] "=&r"(wb),
                  [xa] "=&r"(xa), [xb] "=&r"(xb)
                : [p0] "r"(p0), [p1] "r"(p1), [p2] "r"(p2), [w] "r"(w)
                : "memory");
    }
    else
    {
        __asm__("" ED_DW3_ROW_S1_ASM("p0", "0") ED_DW3_ROW_S1_ASM("p1", "8") ED_DW3_ROW_S1_ASM("p2", "16")
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [wa] "=&r"(wa), [wb] "=&r"(wb),
                  [xa] "=&r"(xa), [xb] "=&r"(xb)
                : [p0] "r"(p0), [p1] "r"(p1), [p2] "r"(p2), [w] "r"(w)
                : "memory");
    }
#else
    const uint32_t *rows[3] = {p0, p1, p2};
    for (int32_t ky = 0; ky < 3; ky++)
    {
        const uint32_t *p = rows[ky];
        const uint32_t w01 = w[2 * ky], w12 = w[2 * ky + 1];
        if (stride2)
        {
            a0 = ed_dw3_smlabt(p[1], w12, ed_dw3_smlad(p[0], w01, a0));
            a1 = ed_dw3_smlabt(p[2], w12, ed_dw3_smlad(p[1], w01, a1));
            a2 = ed_dw3_smlabt(p[3], w12, ed_dw3_smlad(p[2], w01, a2));
            a3 = ed_dw3_smlabt(p[4], w12, ed_dw3_smlad(p[3], w01, a3));
        }
        else
        {
            a0 = ed_dw3_smlabt(p[1], w12, ed_dw3_smlad(p[0], w01, a0));
            a1 = ed_dw3_smlad(p[1], w12, ed_dw3_smlatb(p[0], w01, a1));
            a2 = ed_dw3_smlabt(p[2], w12, ed_dw3_smlad(p[1], w01, a2));
            a3 = ed_dw3_smlad(p[2], w12, ed_dw3_smlatb(p[1], w01, a3));
        }
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* The four accumulators requantized on the fast path and saturated to int8 (not clamped). */
static inline __attribute__((always_inline)) void ed_dw3_requant4(const ed_requant_t *q, int32_t acc[4])
{
#if ED_NN_ASM
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    uint32_t lo, hi;
    __asm__(ED_DW3_REQUANT_ASM("a0") ED_DW3_REQUANT_ASM("a1") ED_DW3_REQUANT_ASM("a2") ED_DW3_REQUANT_ASM("a3")
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [lo] "=&r"(lo), [hi] "=&r"(hi)
            : [m] "r"(q->mult), [lo0] "r"(q->round_lo), [hi0] "r"(q->round_hi), [sh] "r"(q->hi_shift)
            : "cc");
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
#else
    for (int32_t i = 0; i < 4; i++)
    {
        acc[i] = ed_sat8(ed_requant_fast(q, acc[i]));
    }
#endif
}

/* One output row of one channel: rows r[0..2] are the channel's gathered input rows, w its six
 * packed weight words. */
static __attribute__((noinline)) void ed_dw3_channel_row(const ed_dw3_layer_t *L, const uint32_t *const *r,
                                                         const uint32_t *w, int32_t bias, const ed_requant_out_t *rq,
                                                         int8_t *out)
{
    const int32_t step = L->cout, stride2 = L->stride_w == 2, adv = stride2 ? 4 : 2;
    const uint32_t *p0 = r[0], *p1 = r[1], *p2 = r[2];
    const int32_t act_min = L->act_min, act_max = L->act_max;
    const int clamp = act_min > -128 || act_max < 127;
    int32_t x = 0;
#if ED_NN_ASM
    if (rq->q.hi_shift >= 0 && !clamp)
    {
        /* Full passes: the multiply-adds, the fast requantization and four byte stores. */
        const ed_requant_t *q = &rq->q;
        for (; x + 4 <= L->out_w; x += 4, p0 += adv, p1 += adv, p2 += adv)
        {
            int32_t acc[4];
            ed_dw3_pass(p0, p1, p2, w, stride2, bias, acc);
            int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
            uint32_t m, lo0, hi0, sh, lo, hi;
            __asm__ volatile("ldr %[m], [%[q]]\n\t"
                             "ldr %[lo0], [%[q], #4]\n\t"
                             "ldr %[hi0], [%[q], #8]\n\t"
                             "ldr %[sh], [%[q], #12]\n\t"
                             ED_DW3_REQUANT_ASM("a0") ED_DW3_REQUANT_ASM("a1") ED_DW3_REQUANT_ASM("a2")
                             ED_DW3_REQUANT_ASM("a3")
                             "strb %[a0], [%[out]]\n\t"
                             "strb %[a1], [%[out], %[step]]\n\t"
                             "add %[out], %[out], %[step], lsl #1\n\t"
                             "strb %[a2], [%[out]]\n\t"
                             "strb %[a3], [%[out], %[step]]\n\t"
                             "add %[out], %[out], %[step], lsl #1\n\t"
                             : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [out] "+r"(out),
                               [m] "=&r"(m), [lo0] "=&r"(lo0), [hi0] "=&r"(hi0), [sh] "=&r"(sh), [lo] "=&r"(lo),
                               [hi] "=&r"(hi)
                             : [q] "r"(q), [step] "r"(step)
                             : "cc", "memory");
        }
    }
#endif
    const int fast = rq->q.hi_shift >= 0;
    const ed_requant_t q = rq->q;
    int32_t acc[4];
    for (; x < L->out_w; x += 4, p0 += adv, p1 += adv, p2 += adv)
    {
        ed_dw3_pass(p0, p1, p2, w, stride2, bias, acc);
        const int32_t n = L->out_w - x;
        if (fast && n >= 4)
        {
            ed_dw3_requant4(&q, acc);
            if (clamp)
            {
                for (int32_t i = 0; i < 4; i++)
                {
                    acc[i] = ed_min_i32(ed_max_i32(acc[i], act_min), act_max);
                }
            }
            out[0] = (int8_t)acc[0];
            out[step] = (int8_t)acc[1];
            out[2 * step] = (int8_t)acc[2];
            out[3 * step] = (int8_t)acc[3];
            out += 4 * step;
        }
        else
        {
            /* The last pass of fewer than four outputs, or a channel off the fast path. */
            for (int32_t i = 0; i < ed_min_i32(4, n); i++, out += step)
            {
                *out = ed_requant_out_s8(rq, acc[i], act_min, act_max);
            }
        }
    }
}

/* Every output row of the channels oc0..oc0 + valid - 1. */
static __attribute__((noinline)) void ed_dw3_group(const ed_dw3_layer_t *L, const uint32_t *w, int32_t oc0,
                                                   int32_t valid, const int32_t *folded_bias,
                                                   const cmsis_nn_per_channel_quant_params *quant,
                                                   int32_t output_offset)
{
    ed_requant_out_t rq[4];
    for (int32_t i = 0; i < valid; i++)
    {
        rq[i] = ed_requant_out_prepare(quant->multiplier[oc0 + i], quant->shift[oc0 + i], output_offset);
    }
    const int32_t slot_words = 4 * L->words;
    /* Input row iy sits in ring slot iy mod 3 from when an output row first needs it until the
     * window has passed it, so each input row is gathered once per group. */
    int32_t iy0 = -L->pad_top;
    int32_t next = iy0; /* first input row not gathered yet */
    int8_t *out = L->output + oc0;
    for (int32_t oy = 0; oy < L->out_h; oy++, iy0 += L->stride_h, out += L->out_w * L->cout)
    {
        const uint32_t *slots[3];
        next = ed_max_i32(next, iy0);
        for (int32_t ky = 0; ky < 3; ky++)
        {
            const int32_t iy = iy0 + ky;
            const int32_t m = iy % 3;
            uint32_t *dst = L->ring + (m < 0 ? m + 3 : m) * slot_words;
            if (iy == next)
            {
                ed_dw3_gather(L, next++, oc0, valid, dst);
            }
            slots[ky] = dst;
        }
        for (int32_t i = 0; i < valid; i++)
        {
            const uint32_t *rows[3] = {slots[0] + i * L->words, slots[1] + i * L->words, slots[2] + i * L->words};
            ed_dw3_channel_row(L, rows, w + 6 * (oc0 + i), folded_bias[oc0 + i], &rq[i], out + i);
        }
    }
}

arm_cmsis_nn_status ed_depthwise_conv_3x3_s8(const cmsis_nn_context *ctx,
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
    const int32_t cout = output_dims->c;
    if (p->ch_mult != 1 || input_dims->c != cout || filter_dims->c != cout || filter_dims->h != 3 ||
        filter_dims->w != 3 || p->dilation.w != 1 || p->dilation.h != 1 || (p->stride.w != 1 && p->stride.w != 2) ||
        p->stride.h < 1 || folded_bias == NULL || ctx == NULL || ctx->buf == NULL ||
        ctx->size < ed_depthwise_conv_3x3_s8_get_buffer_size(p, input_dims, filter_dims, output_dims))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    ed_dw3_layer_t L = {
        .in = input_dims, .ring = (uint32_t *)ctx->buf, .cout = cout, .out_h = output_dims->h,
        .out_w = output_dims->w, .words = ed_dw3_columns(output_dims->w, p->stride.w) / 2,
        .stride_h = p->stride.h, .stride_w = p->stride.w, .pad_top = p->padding.h, .pad_left = p->padding.w,
        .act_min = p->activation.min, .act_max = p->activation.max,
        .zp4 = 0x01010101u * (uint8_t)(int8_t)(-p->input_offset),
    };
    for (int32_t n = 0; n < input_dims->n; n++)
    {
        L.input = input_data + n * input_dims->h * input_dims->w * input_dims->c;
        L.output = output_data + n * output_dims->h * output_dims->w * cout;
        for (int32_t oc0 = 0; oc0 < cout; oc0 += 4)
        {
            ed_dw3_group(&L, packed_weights, oc0, ed_min_i32(4, cout - oc0), folded_bias, quant_params,
                         p->output_offset);
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

int32_t ed_depthwise_conv_3x3_s8_get_buffer_size(const cmsis_nn_dw_conv_params *dw_conv_params,
                                                 const cmsis_nn_dims *input_dims,
                                                 const cmsis_nn_dims *filter_dims,
                                                 const cmsis_nn_dims *output_dims)
{
    (void)input_dims;
    (void)filter_dims;
    return 3 * 4 * ed_dw3_columns(output_dims->w, dw_conv_params->stride.w) * (int32_t)sizeof(int16_t);
}
