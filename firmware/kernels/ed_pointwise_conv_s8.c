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
 * back is exact modulo 2^32. The rounding word carries 2^(e-1) and the output offset times 2^e
 * (less act_min when the activation range is not all of int8; |word| < 2^26), so the shifted
 * value is the output (less act_min) before the clamp.
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
__attribute__((optimize("Os"))) static void ed_pw_widen_pixel(const int8_t *x, int32_t cin, uint32_t *col,
                                                                 int32_t which)
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

/* The first pass for one pair of pixels (their widened columns in col): for every block of three
 * output channels (its record in the packed stream: three folded biases, then per group one
 * weight word per channel) the 3 x 2 dot products from the biases, stored as six sums at acc
 * (o0p0, o0p1, o1p0, o1p1, o2p0, o2p1), one block after the other. */
#if ED_NN_ASM
/* One group of four input channels for three channels and two pixels: both pixels' (x0, x2)
 * words and the three weight words in a row of five loads (pipelined), per channel one SXTB16
 * and two SMLAD; the (x1, x3) words, per channel SXTB16 (ror 8) and two SMLAD: 27 model cycles
 * per 24 MACs (r0 column, r1 weights, r4-r9 the sums). 32-bit encodings only, so each copy is
 * ED_PW_GROUP_BYTES long and the loop can be entered at any copy. */
#define ED_PW_GROUP_BYTES "100"
#define ED_PW_HALF(rot)                                                                                                \
    "sxtb16 lr, r2" rot "\n\t"                                                                                         \
    "smlad r4, r10, lr, r4\n\t"                                                                                        \
    "smlad r5, r11, lr, r5\n\t"                                                                                        \
    "sxtb16 lr, r3" rot "\n\t"                                                                                         \
    "smlad r6, r10, lr, r6\n\t"                                                                                        \
    "smlad r7, r11, lr, r7\n\t"                                                                                        \
    "sxtb16 lr, r12" rot "\n\t"                                                                                        \
    "smlad r8, r10, lr, r8\n\t"                                                                                        \
    "smlad r9, r11, lr, r9\n\t"
#define ED_PW_GROUP                                                                                                    \
    "ldr.w r11, [r0, #8]\n\t"                                                                                          \
    "ldr.w r10, [r0], #16\n\t"                                                                                         \
    "ldr.w r12, [r1, #8]\n\t"                                                                                          \
    "ldr.w r3, [r1, #4]\n\t"                                                                                           \
    "ldr.w r2, [r1], #12\n\t" ED_PW_HALF("")                                                                           \
    "ldr.w r10, [r0, #-12]\n\t"                                                                                        \
    "ldr.w r11, [r0, #-4]\n\t" ED_PW_HALF(", ror #8")

/* What ed_pw_pass1 reads. */
typedef struct
{
    const uint32_t *packed;     /* the packed stream, from its start for every pair */
    const uint32_t *col;
    int32_t *acc;               /* advanced block by block */
    const uint32_t *col_end;    /* col + 4 * groups */
    uintptr_t entry;            /* set by ed_pw_pass1 from skip */
    const uint32_t *packed_end;
    int32_t skip;               /* groups % 2: the copy the first turn of the loop of two skips */
    const int8_t *x;            /* pixel 0 of the first pair (cin a multiple of 4), or NULL: col is ready */
    int32_t cin;
    int32_t pairs;
} ed_pw_pass_t;

_Static_assert(sizeof(ed_pw_pass_t) == 40, "ed_pw_pass1 reads ed_pw_pass_t by its offsets");

/* Naked: the body is basic asm only. The frame from sp: packed, col, acc, col_end, entry,
 * packed_end, x, cin, pairs left. Per pair: both pixels widened into the column a word of each
 * at a time (unless x is NULL), then per block: the biases (LDM, each twice), a computed entry
 * into the loop of two groups (its first turn takes one when the count is odd), one end test per
 * turn (two copies of the group, not four: the code stays small beside ed_convolve_s8's),
 * the six sums stored with one STM. */
__attribute__((naked, noinline)) static void ed_pw_pass1(__attribute__((unused)) const ed_pw_pass_t *pass)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "add r12, r0, #28\n\t"
        "ldm r12, {r8-r10}\n\t"       /* x, cin, pairs */
        "ldm r0, {r1-r7}\n\t"         /* packed, col, acc, col_end, entry, packed_end, skip */
        "adr.w r5, 4f\n\t"
        "movs r0, #" ED_PW_GROUP_BYTES "\n\t"
        "mla r5, r7, r0, r5\n\t"
        "orr r5, r5, #1\n\t"          /* the entry, a Thumb address */
        "push {r1-r6, r8-r10}\n\t"
        "0:\n\t"                      /* one pair of pixels */
        "ldr r0, [sp, #24]\n\t"
        "cbz r0, 6f\n\t"
        "ldr r3, [sp, #28]\n\t"
        "ldr r12, [sp, #4]\n\t"
        "add r11, r0, r3\n\t"
        "7:\n\t"
        "ldr r6, [r0, r3]\n\t"
        "ldr r4, [r0], #4\n\t"
        "sxtb16 r2, r4\n\t"
        "sxtb16 r4, r4, ror #8\n\t"
        "sxtb16 r5, r6\n\t"
        "sxtb16 r6, r6, ror #8\n\t"
        "stm r12!, {r2, r4, r5, r6}\n\t"
        "cmp r0, r11\n\t"
        "bne 7b\n\t"
        "add r0, r0, r3\n\t"
        "str r0, [sp, #24]\n\t"
        "6:\n\t"
        "ldr r1, [sp]\n\t"
        "1:\n\t"                      /* one block of three channels */
        "ldm r1!, {r4, r6, r8}\n\t"
        "mov r5, r4\n\t"
        "mov r7, r6\n\t"
        "mov r9, r8\n\t"
        "ldr r0, [sp, #4]\n\t"
        "ldr r12, [sp, #16]\n\t"
        "bx r12\n\t"
        "4:\n\t" ED_PW_GROUP "5:\n\t"
        ".if (5b - 4b) != " ED_PW_GROUP_BYTES "\n\t"
        ".error \"ED_PW_GROUP is not " ED_PW_GROUP_BYTES " bytes: the computed entry would miss\"\n\t"
        ".endif\n\t" ED_PW_GROUP
        "ldr r12, [sp, #12]\n\t"
        "cmp r0, r12\n\t"
        "bne 4b\n\t"
        "ldr r12, [sp, #8]\n\t"
        "stm r12!, {r4-r9}\n\t"
        "str r12, [sp, #8]\n\t"
        "ldr r12, [sp, #20]\n\t"
        "cmp r1, r12\n\t"
        "bne 1b\n\t"
        "ldr r2, [sp, #32]\n\t"
        "subs r2, r2, #1\n\t"
        "str r2, [sp, #32]\n\t"
        "bne 0b\n\t"
        "add sp, sp, #36\n\t"
        "pop {r4-r11, pc}\n\t");
}
#endif

/* The first pass over `pairs` pairs of pixels from x (cin a multiple of 4: each pair widened
 * into col first), or over the one pair already in col (x NULL); the sums of pair j at
 * acc + j * 6 * blocks. */
static void ed_pw_pairs(uint32_t *col, int32_t groups, const uint32_t *packed, int32_t blocks, int32_t *acc,
                        const int8_t *x, int32_t cin, int32_t pairs)
{
#if ED_NN_ASM
    const ed_pw_pass_t pass = {packed, col, acc, col + 4 * groups, 0, packed + blocks * (3 + 3 * groups),
                               groups % 2, x, cin, pairs};
    ed_pw_pass1(&pass);
#else
    for (int32_t j = 0; j < pairs; j++)
    {
        if (x != NULL)
        {
            ed_pw_widen_pixel(x, cin, col, 0);
            ed_pw_widen_pixel(x + cin, cin, col, 1);
            x += 2 * cin;
        }
        const uint32_t *w = packed;
        for (int32_t b = 0; b < blocks; b++, acc += 6)
        {
            const int32_t b0 = (int32_t)w[0], b1 = (int32_t)w[1], b2 = (int32_t)w[2];
            int32_t s[6] = {b0, b0, b1, b1, b2, b2};
            w += 3;
            const uint32_t *c = col;
            for (int32_t g = 0; g < groups; g++, c += 4, w += 3)
            {
                for (int32_t o = 0; o < 3; o++)
                {
                    uint32_t w02, w13;
                    ed_pw_widen4(w[o], &w02, &w13);
                    s[2 * o] = ed_dot2(c[1], w13, ed_dot2(c[0], w02, s[2 * o]));
                    s[2 * o + 1] = ed_dot2(c[3], w13, ed_dot2(c[2], w02, s[2 * o + 1]));
                }
            }
            for (int32_t i = 0; i < 6; i++)
            {
                acc[i] = s[i];
            }
        }
    }
#endif
}

/* Saturations of the second pass: to int8 (SSAT), to [0, 255] (USAT), and an unsigned byte's
 * minimum with range (UQSUB8 takes off what is above it). */
static inline int32_t ed_pw_sat_s8(int32_t v)
{
#if ED_NN_ASM
    return __ssat(v, 8);
#else
    return v < -128 ? -128 : (v > 127 ? 127 : v);
#endif
}

static inline int32_t ed_pw_sat_range(int32_t v, int32_t range)
{
#if ED_NN_ASM
    const uint32_t u = (uint32_t)__usat(v, 8);
    return (int32_t)(u - (uint32_t)__uqsub8(u, (uint32_t)range));
#else
    return v < 0 ? 0 : (v > range ? range : v);
#endif
}

#if ED_NN_ASM
/* The second pass over every channel on the fast path when the activation range is all of int8
 * (the channels off it are left to the C loop): what ed_pw_pass2 reads (one LDM). */
typedef struct
{
    const int32_t *acc;    /* channel 0's sums of pixels 0 and 1 (a channel's are two words after the last's) */
    int8_t *out;           /* channel 0's output of pixel 0 */
    int32_t channels;
    const ed_pw_q_t *rq;
    int32_t span;          /* bytes of sums of the block's whole pairs: pairs * stride */
    int32_t stride;        /* bytes from one pair's sums to the next's */
    int32_t out_step;      /* cout: bytes from one pixel's outputs to the next's */
    int32_t lone;          /* 1: a last pixel without a pair */
    int32_t odd;           /* 1: an odd number of pairs (the first taken alone) */
} ed_pw_out_t;

_Static_assert(sizeof(ed_pw_out_t) == 36 && sizeof(ed_pw_q_t) == 12, "ed_pw_pass2 loads them with LDM");

/* One sum (register a, overwritten) requantized into register d as ed_pw_q_apply, SSAT to int8;
 * the channel's constants in r4 (mult2), r5 (round), r6 (shift). */
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
#define ED_PW_RQ(d, a)                                                                                                 \
    "smmla " d ", " a ", r4, r5\n\t"                                                                                   \
    "add " d ", " d ", " a "\n\t"                                                                                      \
    "asr " d ", " d ", r6\n\t"                                                                                         \
    "ssat " d ", #8, " d "\n\t"
#else
#define ED_PW_RQ(d, a)                                                                                                 \
    "smmlar " d ", " a ", r4, r5\n\t"                                                                                  \
    "add " a ", " a ", " a ", asr #31\n\t"                                                                             \
    "add " d ", " d ", " a "\n\t"                                                                                      \
    "asr " d ", " d ", r6\n\t"                                                                                         \
    "ssat " d ", #8, " d "\n\t"
#endif

/* Two sums of one pair of pixels: LDRD, two requantizations, two bytes stored. */
#define ED_PW_PAIR                                                                                                     \
    "ldrd r0, r1, [r7]\n\t"                                                                                            \
    "add r7, r7, r10\n\t" ED_PW_RQ("r2", "r0")                                                                         \
    "strb r2, [r8]\n\t" ED_PW_RQ("r3", "r1")                                                                           \
    "strb r3, [r8, r11]\n\t"                                                                                           \
    "add r8, r8, r11, lsl #1\n\t"

/* Naked: the body is basic asm only. Per channel: its constants (LDM), then the pairs of pixels
 * two per turn (an odd one first), a lone last pixel; the frame: [sp] the channel's sums, +4 its
 * outputs, +8 channels left, +16 span, +20 lone, +24 odd. */
__attribute__((naked, noinline)) static void ed_pw_pass2(__attribute__((unused)) const ed_pw_out_t *o)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "ldr r4, [r0, #32]\n\t"           /* odd */
        "ldm r0, {r0-r3, r9-r11, lr}\n\t" /* acc, out, channels, rq, span, stride, out_step, lone */
        "mov r12, r3\n\t"
        "push {r0-r4, r9, lr}\n\t"        /* in register order: odd (r4) at +16, moved to +24 */
        "str r9, [sp, #16]\n\t"
        "str lr, [sp, #20]\n\t"
        "str r4, [sp, #24]\n\t"
        "1:\n\t"
        "ldm r12!, {r4-r6}\n\t"
        "cmp r6, #0\n\t"
        "beq 4f\n\t"                      /* off the fast path: the C loop's */
        "ldr r7, [sp]\n\t"
        "ldr r8, [sp, #4]\n\t"
        "ldr r9, [sp, #16]\n\t"
        "adds r9, r9, r7\n\t"             /* the end of the pairs */
        "ldr r0, [sp, #24]\n\t"
        "cbz r0, 2f\n\t" ED_PW_PAIR
        "2:\n\t"
        "cmp r7, r9\n\t"
        "beq 3f\n\t"
        "5:\n\t" ED_PW_PAIR ED_PW_PAIR
        "cmp r7, r9\n\t"
        "bne 5b\n\t"
        "3:\n\t"
        "ldr r0, [sp, #20]\n\t"
        "cbz r0, 4f\n\t"
        "ldr r0, [r7]\n\t" ED_PW_RQ("r2", "r0")
        "strb r2, [r8]\n\t"
        "4:\n\t"
        "ldm sp, {r0-r2}\n\t"
        "adds r0, r0, #8\n\t"
        "adds r1, r1, #1\n\t"
        "subs r2, r2, #1\n\t"
        "stm sp, {r0-r2}\n\t"
        "bne 1b\n\t"
        "add sp, sp, #28\n\t"
        "pop {r4-r11, pc}\n\t");
}
#endif

/* Pixels per block: as many as ED_PW_SUMS_BYTES of sums hold, but at least ED_PW_MIN_PIXELS
 * (the second pass's setup per channel shared by that many outputs), an even count, at most
 * the pixels rounded up to even. */
#define ED_PW_SUMS_BYTES 4096
#define ED_PW_MIN_PIXELS 8

static int32_t ed_pw_block_pixels(int32_t pixels, int32_t c3)
{
    int32_t block = (ED_PW_SUMS_BYTES / (4 * c3)) & ~1;
    block = block < ED_PW_MIN_PIXELS ? ED_PW_MIN_PIXELS : block;
    const int32_t even = (pixels + 1) & ~1;
    return block < even ? block : even;
}

/* The driver runs once per block of pixels (the loops are the passes'): compiled for size, as the
 * cold helpers (the column of a depth not a multiple of 4, the scratch size), so the kernel's
 * code stays small beside ed_convolve_s8's in one firmware. (A pragma, not an attribute before
 * the definition: the build's source index reads a public function's name from its first line.) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("Os")
#endif
arm_cmsis_nn_status ed_pointwise_conv_s8(const cmsis_nn_context *ctx,
                                         const cmsis_nn_conv_params *conv_params,
                                         const cmsis_nn_per_channel_quant_params *quant_params,
                                         const cmsis_nn_dims *input_dims,
                                         const int8_t *input_data,
                                         const cmsis_nn_dims *filter_dims,
                                         const uint32_t *packed,
                                         const cmsis_nn_dims *output_dims,
                                         int8_t *output_data)
{
    const cmsis_nn_conv_params *p = conv_params;
    const int32_t cin = input_dims->c, cout = output_dims->c;
    if (filter_dims->h != 1 || filter_dims->w != 1 || filter_dims->c != cin || filter_dims->n != cout ||
        output_dims->h * output_dims->w != input_dims->h * input_dims->w || packed == NULL || ctx == NULL ||
        ctx->buf == NULL || ctx->size < ed_pointwise_conv_s8_get_buffer_size(input_dims, filter_dims))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    const int32_t groups = (cin + 3) / 4, blocks = (cout + 2) / 3, c3 = 3 * blocks;
    const int32_t pixels = input_dims->n * input_dims->h * input_dims->w;
    const int32_t block = ed_pw_block_pixels(pixels, c3);
    const int32_t act_min = p->activation.min, act_max = p->activation.max;
    const int full = act_min == -128 && act_max == 127;
    uint32_t *col = (uint32_t *)ctx->buf;
    int32_t *acc = (int32_t *)(col + 4 * groups);
    ed_pw_q_t *rq = (ed_pw_q_t *)(void *)(acc + c3 * block);
    for (int32_t c = 0; c < cout; c++)
    {
        rq[c] = ed_pw_q_prepare(quant_params->multiplier[c], quant_params->shift[c],
                                p->output_offset - (full ? 0 : act_min));
    }
    for (int32_t first = 0; first < pixels; first += block)
    {
        const int32_t n = ed_min_i32(block, pixels - first);
        const int8_t *x = input_data + first * cin;
        /* whole pairs of a depth of whole words: widened by ed_pw_pass1 itself; the rest (another
         * depth, a lone last pixel taken twice) widened here one pair at a time */
        const int32_t direct = (cin & 3) == 0 ? n >> 1 : 0;
        if (direct > 0)
        {
            ed_pw_pairs(col, groups, packed, blocks, acc, x, cin, direct);
        }
        for (int32_t i = 2 * direct; i < n; i += 2)
        {
            ed_pw_widen_pixel(x + i * cin, cin, col, 0);
            ed_pw_widen_pixel(x + (i + 1 < n ? i + 1 : i) * cin, cin, col, 1);
            ed_pw_pairs(col, groups, packed, blocks, acc + i * c3, NULL, cin, 1);
        }
        int8_t *out = output_data + first * cout;
#if ED_NN_ASM
        if (full)
        {
            const ed_pw_out_t o = {acc, out, cout, rq, (n >> 1) * 8 * c3, 8 * c3, cout, n & 1, (n >> 1) & 1};
            ed_pw_pass2(&o);
        }
#endif
        for (int32_t c = 0; c < cout; c++)
        {
            const int32_t *sums = acc + 6 * (c / 3) + 2 * (c % 3); /* pixels 0 and 1 of the channel */
            const ed_pw_q_t q = rq[c];
#if ED_NN_ASM
            if (full && q.shift != 0)
            {
                continue; /* ed_pw_pass2's */
            }
#endif
            for (int32_t i = 0; i < n; i++)
            {
                const int32_t sum = sums[(i >> 1) * 2 * c3 + (i & 1)];
                int32_t v;
                if (q.shift == 0)
                {
                    v = ed_requantize_to_s8(sum, quant_params->multiplier[c], quant_params->shift[c], p->output_offset,
                                            act_min, act_max);
                }
                else if (full)
                {
                    v = ed_pw_sat_s8(ed_pw_q_apply(q.mult2, q.round, q.shift, sum));
                }
                else
                {
                    v = ed_pw_sat_range(ed_pw_q_apply(q.mult2, q.round, q.shift, sum), act_max - act_min) + act_min;
                }
                out[i * cout + c] = (int8_t)v;
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
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
