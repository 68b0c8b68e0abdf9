/*
 * ed_pointwise_conv_s8.c - edge-deploy's pointwise convolution as a GEMM over the pixels in two
 * passes per block of pixels (firmware/include/ed_pointwise_conv.h: the method, the packed
 * weights, the folded bias, the scratch). Written for edge-deploy from the TFLite int8
 * arithmetic; no CMSIS-NN code.
 */
#include "ed_pointwise_conv.h"
#include "ed_nn_support.h"

/* One channel's fast requantization: for a Q31 multiplier m in [2^30, 2^31), a right shift e of
 * 1 to 18 and |acc| <= 2^31 - 2^27, TFLite's double rounding
 * floor((SRDHM(acc, m) + 2^(e-1) - [acc < 0]) / 2^e) and single rounding
 * floor((acc * m + 2^(30+e)) / 2^(31+e)) are a multiply-high of acc by 2m (SRDHM(acc, m) is
 * floor((acc * 2m + 2^31) / 2^32); two nested floor divisions are one; [acc < 0] stands for
 * gemmlowp's [x < 0], which differs only where the result is 0 either way), a rounding word and
 * an arithmetic shift by e. 2m as a 32-bit word is 2m - 2^32, so SMMLAR (double) or SMMLA
 * (single) of acc and that word plus the rounding word is round + SRDHM - acc, and adding acc
 * back is exact modulo 2^32. The rounding word carries 2^(e-1) and (output offset - act_min)
 * * 2^e (|word| < 2^26), so the shifted value is the output less act_min before the clamp.
 * shift 0: the channel is not on the fast path (TFLite's arithmetic, ed_requantize_to_s8). */
typedef struct
{
    int32_t mult2;
    int32_t round;
    int32_t shift;
} ed_pw_q_t;

static ed_pw_q_t ed_pw_q_prepare(int32_t multiplier, int32_t shift, int32_t offset_less_min)
{
    ed_pw_q_t q = {(int32_t)(2u * (uint32_t)multiplier), 0, 0};
    const int32_t e = -shift;
    if (multiplier >= (1 << 30) && e >= 1 && e <= 18)
    {
        q.round = (int32_t)((1u << (e - 1)) + ((uint32_t)offset_less_min << e));
        q.shift = e;
    }
    return q;
}

/* The fast path's value: the requantized output less act_min, before the clamp. */
static inline int32_t ed_pw_q_apply(int32_t mult2, int32_t round, int32_t shift, int32_t acc)
{
#if ED_NN_ASM
    int32_t r;
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
    __asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(acc), "r"(mult2), "r"(round));
    r += acc;
#else
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(acc), "r"(mult2), "r"(round));
    r += acc + (acc >> 31);
#endif
    return r >> shift;
#else
    const int64_t p = (int64_t)acc * (int64_t)(uint32_t)mult2;
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
    const int64_t t = round + (p >> 32);
#else
    const int64_t t = round + ((p + (1LL << 31)) >> 32) + (acc < 0 ? -1 : 0);
#endif
    return (int32_t)t >> shift;
#endif
}

/* A word of four int8 as the int16 pairs (x0, x2) and (x1, x3). */
static inline void ed_pw_widen4(uint32_t v, uint32_t *x02, uint32_t *x13)
{
#if ED_NN_DSP
    *x02 = ed_sxtb16(v);
    *x13 = ed_sxtb16_ror8(v);
#else
    *x02 = (uint32_t)(uint16_t)(int8_t)(v & 0xFFu) | (uint32_t)(uint16_t)(int8_t)((v >> 16) & 0xFFu) << 16;
    *x13 = (uint32_t)(uint16_t)(int8_t)((v >> 8) & 0xFFu) | (uint32_t)(uint16_t)(int8_t)(v >> 24) << 16;
#endif
}

/* The pixel at x (cin int8) widened into column `which` (0 or 1) of col: per group of four input
 * channels the words (x0, x2), (x1, x3) at 4g + 2 * which; a last group of one to three
 * channels zero padded (its weights are zero). */
static void ed_pw_widen_pixel(const int8_t *x, int32_t cin, uint32_t *col, int32_t which)
{
    uint32_t *dst = col + 2 * which;
    int32_t c = 0;
    for (; c + 4 <= cin; c += 4, dst += 4)
    {
        ed_pw_widen4(ed_read_u32(x + c), &dst[0], &dst[1]);
    }
    if (c < cin)
    {
        uint32_t v = 0;
        for (int32_t i = 0; c + i < cin; i++)
        {
            v |= (uint32_t)(uint8_t)x[c + i] << (8 * i);
        }
        ed_pw_widen4(v, &dst[0], &dst[1]);
    }
}

/* Sum of the int16 pair products of a and b added to acc, modulo 2^32 (SMLAD). */
static inline int32_t ed_pw_dot2(uint32_t a, uint32_t b, int32_t acc)
{
#if ED_NN_DSP
    return ed_smlad(a, b, acc);
#else
    const int32_t lo = (int32_t)(int16_t)(a & 0xFFFFu) * (int16_t)(b & 0xFFFFu);
    const int32_t hi = (int32_t)(int16_t)(a >> 16) * (int16_t)(b >> 16);
    return (int32_t)((uint32_t)acc + (uint32_t)lo + (uint32_t)hi);
#endif
}

/* The first pass for one pair of pixels (their widened columns in col): for every block of three
 * output channels the 3 x 2 dot products from the folded biases, stored at acc[o * stride] and
 * acc[o * stride + 1] for the block's channels o. */
#if ED_NN_ASM
/* Per group of four input channels: the four column words in one LDM, per channel of the block
 * its weight word, two SXTB16, four SMLAD (r4-r9: the sums o0p0, o0p1, o1p0, o1p1, o2p0,
 * o2p1). */
#define ED_PW_GROUP                                                                                                    \
    "ldm r0!, {r2, r3, r10, r11}\n\t"                                                                                  \
    "ldr r12, [r1], #4\n\t"                                                                                            \
    "sxtb16 lr, r12\n\t"                                                                                               \
    "smlad r4, r2, lr, r4\n\t"                                                                                         \
    "smlad r5, r10, lr, r5\n\t"                                                                                        \
    "sxtb16 lr, r12, ror #8\n\t"                                                                                       \
    "ldr r12, [r1], #4\n\t"                                                                                            \
    "smlad r4, r3, lr, r4\n\t"                                                                                         \
    "smlad r5, r11, lr, r5\n\t"                                                                                        \
    "sxtb16 lr, r12\n\t"                                                                                               \
    "smlad r6, r2, lr, r6\n\t"                                                                                         \
    "smlad r7, r10, lr, r7\n\t"                                                                                        \
    "sxtb16 lr, r12, ror #8\n\t"                                                                                       \
    "ldr r12, [r1], #4\n\t"                                                                                            \
    "smlad r6, r3, lr, r6\n\t"                                                                                         \
    "smlad r7, r11, lr, r7\n\t"                                                                                        \
    "sxtb16 lr, r12\n\t"                                                                                               \
    "smlad r8, r2, lr, r8\n\t"                                                                                         \
    "smlad r9, r10, lr, r9\n\t"                                                                                        \
    "sxtb16 lr, r12, ror #8\n\t"                                                                                       \
    "smlad r8, r3, lr, r8\n\t"                                                                                         \
    "smlad r9, r11, lr, r9\n\t"

/* What ed_pw_pass1 reads (one LDM). */
typedef struct
{
    const uint32_t *col;     /* +0 */
    const uint32_t *w;       /* +4 the packed weights */
    const int32_t *bias;     /* +8 folded, blocks of three */
    int32_t *acc;            /* +12 */
    const uint32_t *col_end; /* +16 col + 4 * groups */
    int32_t odd;             /* +20 groups % 2 */
    int32_t stride;          /* +24 bytes from one channel's sums to the next's */
    const int32_t *bias_end; /* +28 past the last block */
} ed_pw_pass_t;

_Static_assert(sizeof(ed_pw_pass_t) == 32, "ed_pw_pass1 loads ed_pw_pass_t with one LDM");

/* Naked: the body is basic asm only. The frame: [sp] the pass record, +4 its bias pointer,
 * +8 its acc pointer. Groups two per turn, a lone first group when their count is odd. */
__attribute__((naked, noinline)) static void ed_pw_pass1(__attribute__((unused)) const ed_pw_pass_t *pass)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "ldr r1, [r0, #8]\n\t"
        "ldr r2, [r0, #12]\n\t"
        "push {r0-r2}\n\t"            /* [sp] pass, +4 bias, +8 acc */
        "ldr r1, [r0, #4]\n\t"        /* w */
        "1:\n\t"                      /* one block of three channels */
        "ldr r12, [sp, #4]\n\t"
        "ldm r12!, {r4, r6, r8}\n\t"
        "str r12, [sp, #4]\n\t"
        "mov r5, r4\n\t"
        "mov r7, r6\n\t"
        "mov r9, r8\n\t"
        "ldr r12, [sp]\n\t"
        "ldr r2, [r12, #20]\n\t"      /* odd */
        "ldr r0, [r12]\n\t"           /* col */
        "cbz r2, 2f\n\t"
        ED_PW_GROUP
        "2:\n\t"
        "ldr r12, [sp]\n\t"
        "ldr r12, [r12, #16]\n\t"     /* col_end */
        "cmp r0, r12\n\t"
        "beq 3f\n\t"
        ED_PW_GROUP ED_PW_GROUP
        "b 2b\n\t"
        "3:\n\t"
        "ldr r12, [sp]\n\t"
        "ldr r2, [r12, #24]\n\t"      /* stride */
        "ldr r3, [sp, #8]\n\t"        /* acc */
        "strd r4, r5, [r3]\n\t"
        "add r3, r3, r2\n\t"
        "strd r6, r7, [r3]\n\t"
        "add r3, r3, r2\n\t"
        "strd r8, r9, [r3]\n\t"
        "add r3, r3, r2\n\t"
        "str r3, [sp, #8]\n\t"
        "ldr r2, [r12, #28]\n\t"      /* bias_end */
        "ldr r3, [sp, #4]\n\t"
        "cmp r3, r2\n\t"
        "bne 1b\n\t"
        "add sp, sp, #12\n\t"
        "pop {r4-r11, pc}\n\t");
}
#endif

/* The first pass: see above (C form). */
static void ed_pw_pairs(const uint32_t *col, int32_t groups, const uint32_t *w, const int32_t *bias, int32_t blocks,
                        int32_t *acc, int32_t stride_words)
{
#if ED_NN_ASM
    const ed_pw_pass_t pass = {col, w, bias, acc, col + 4 * groups, groups & 1, 4 * stride_words, bias + 3 * blocks};
    ed_pw_pass1(&pass);
#else
    for (int32_t b = 0; b < blocks; b++, bias += 3, acc += 3 * stride_words)
    {
        int32_t s[6] = {bias[0], bias[0], bias[1], bias[1], bias[2], bias[2]};
        const uint32_t *c = col;
        for (int32_t g = 0; g < groups; g++, c += 4, w += 3)
        {
            for (int32_t o = 0; o < 3; o++)
            {
                uint32_t w02, w13;
                ed_pw_widen4(w[o], &w02, &w13);
                s[2 * o] = ed_pw_dot2(c[1], w13, ed_pw_dot2(c[0], w02, s[2 * o]));
                s[2 * o + 1] = ed_pw_dot2(c[3], w13, ed_pw_dot2(c[2], w02, s[2 * o + 1]));
            }
        }
        for (int32_t o = 0; o < 3; o++)
        {
            acc[o * stride_words] = s[2 * o];
            acc[o * stride_words + 1] = s[2 * o + 1];
        }
    }
#endif
}

/* The second pass for one channel on the fast path: n sums at acc to outputs at out, out_step
 * apart, clamped to [act_min, act_min + range]. */
static void ed_pw_requantize_fast(const int32_t *acc, int32_t n, const ed_pw_q_t *q, int8_t *out, int32_t out_step,
                                  int32_t act_min, int32_t range)
{
    const int32_t mult2 = q->mult2, round = q->round, shift = q->shift;
    if (range == 255)
    {
        for (int32_t i = 0; i < n; i++, out += out_step)
        {
            const int32_t v = ed_pw_q_apply(mult2, round, shift, acc[i]);
#if ED_NN_ASM
            *out = (int8_t)(__usat(v, 8) + act_min);
#else
            *out = (int8_t)((v < 0 ? 0 : (v > 255 ? 255 : v)) + act_min);
#endif
        }
        return;
    }
    for (int32_t i = 0; i < n; i++, out += out_step)
    {
        const int32_t v = ed_pw_q_apply(mult2, round, shift, acc[i]);
        *out = (int8_t)((v < 0 ? 0 : (v > range ? range : v)) + act_min);
    }
}

/* Pixels per block: as many as ED_PW_SUMS_BYTES of sums hold, but at least ED_PW_MIN_PIXELS
 * (the second pass's setup per channel shared by that many outputs), an even count, at most
 * the pixels rounded up to even. */
#define ED_PW_SUMS_BYTES 1024
#define ED_PW_MIN_PIXELS 4

static int32_t ed_pw_block_pixels(int32_t pixels, int32_t c3)
{
    int32_t block = (ED_PW_SUMS_BYTES / (4 * c3)) & ~1;
    block = block < ED_PW_MIN_PIXELS ? ED_PW_MIN_PIXELS : block;
    const int32_t even = (pixels + 1) & ~1;
    return block < even ? block : even;
}

arm_cmsis_nn_status ed_pointwise_conv_s8(const cmsis_nn_context *ctx,
                                         const cmsis_nn_conv_params *conv_params,
                                         const cmsis_nn_per_channel_quant_params *quant_params,
                                         const cmsis_nn_dims *input_dims,
                                         const int8_t *input_data,
                                         const cmsis_nn_dims *filter_dims,
                                         const uint32_t *packed_weights,
                                         const int32_t *folded_bias,
                                         const cmsis_nn_dims *output_dims,
                                         int8_t *output_data)
{
    const cmsis_nn_conv_params *p = conv_params;
    const int32_t cin = input_dims->c, cout = output_dims->c;
    if (filter_dims->h != 1 || filter_dims->w != 1 || filter_dims->c != cin || filter_dims->n != cout ||
        output_dims->n != input_dims->n || output_dims->h != input_dims->h || output_dims->w != input_dims->w ||
        folded_bias == NULL || ctx == NULL || ctx->buf == NULL ||
        ctx->size < ed_pointwise_conv_s8_get_buffer_size(input_dims, filter_dims))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    const int32_t groups = (cin + 3) / 4, blocks = (cout + 2) / 3, c3 = 3 * blocks;
    const int32_t pixels = input_dims->n * input_dims->h * input_dims->w;
    const int32_t block = ed_pw_block_pixels(pixels, c3);
    const int32_t act_min = p->activation.min, act_max = p->activation.max;
    uint32_t *col = (uint32_t *)ctx->buf;
    int32_t *acc = (int32_t *)(col + 4 * groups);
    ed_pw_q_t *rq = (ed_pw_q_t *)(void *)(acc + c3 * block);
    for (int32_t c = 0; c < cout; c++)
    {
        rq[c] = ed_pw_q_prepare(quant_params->multiplier[c], quant_params->shift[c], p->output_offset - act_min);
    }
    for (int32_t first = 0; first < pixels; first += block)
    {
        const int32_t n = ed_min_i32(block, pixels - first);
        const int8_t *x = input_data + first * cin;
        for (int32_t i = 0; i < n; i += 2, x += 2 * cin)
        {
            ed_pw_widen_pixel(x, cin, col, 0);
            ed_pw_widen_pixel(i + 1 < n ? x + cin : x, cin, col, 1); /* a lone last pixel twice */
            ed_pw_pairs(col, groups, packed_weights, folded_bias, blocks, acc + i, block);
        }
        int8_t *out = output_data + first * cout;
        for (int32_t c = 0; c < cout; c++)
        {
            const int32_t *sums = acc + c * block;
            if (rq[c].shift != 0)
            {
                ed_pw_requantize_fast(sums, n, &rq[c], out + c, cout, act_min, act_max - act_min);
                continue;
            }
            for (int32_t i = 0; i < n; i++)
            {
                out[i * cout + c] = ed_requantize_to_s8(sums[i], quant_params->multiplier[c], quant_params->shift[c],
                                                        p->output_offset, act_min, act_max);
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

int32_t ed_pointwise_conv_s8_get_buffer_size(const cmsis_nn_dims *input_dims, const cmsis_nn_dims *filter_dims)
{
    const int32_t groups = (input_dims->c + 3) / 4, c3 = 3 * ((filter_dims->n + 2) / 3);
    const int32_t pixels = input_dims->n * input_dims->h * input_dims->w;
    return 16 * groups + 4 * c3 * ed_pw_block_pixels(pixels, c3) + (int32_t)sizeof(ed_pw_q_t) * filter_dims->n;
}
