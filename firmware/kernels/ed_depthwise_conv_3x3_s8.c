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
/* Naked functions: the body is basic asm only, so the arguments are marked unused. */
#define ED_DW3_ARG __attribute__((unused))
#define ed_dw3_smlad(a, b, acc) __smlad((a), (b), (acc))
#define ed_dw3_smlabt(a, b, acc) __smlabt((a), (b), (acc))
#define ed_dw3_smlatb(a, b, acc) __smlatb((a), (b), (acc))
#define ed_dw3_sxtb16(x) ((uint32_t)__sxtb16(x))
#define ed_dw3_sxtb16_ror8(x) ed_sxtb16_ror8_asm(x)
/* PKHBT: (lo's low halfword, hi's low halfword); PKHTB: (lo's high halfword, hi's high halfword). */
static inline uint32_t ed_dw3_pkhbt(uint32_t lo, uint32_t hi)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}
static inline uint32_t ed_dw3_pkhtb(uint32_t hi, uint32_t lo)
{
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(hi), "r"(lo));
    return r;
}
#else
/* (lo's low halfword, hi's low halfword) */
static inline uint32_t ed_dw3_pkhbt(uint32_t lo, uint32_t hi)
{
    return (lo & 0xFFFFu) | (hi << 16);
}
/* (lo's high halfword, hi's high halfword) */
static inline uint32_t ed_dw3_pkhtb(uint32_t hi, uint32_t lo)
{
    return (hi & 0xFFFF0000u) | (lo >> 16);
}
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
/* In the kernel's orientation: "rows" and "columns" are the input's rows and columns, or, for a
 * transposed layer (ed_dw3_transposed), its columns and rows. */
typedef struct
{
    const int8_t *input; /* this batch */
    int8_t *output;      /* this batch */
    uint32_t *ring;
    int32_t in_h, in_w, in_row, in_col; /* input rows, columns, bytes between rows and columns */
    int32_t out_h, out_w, out_row, out_col; /* the same for the output */
    int32_t words;                     /* int16 pairs per gathered row */
    int32_t stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max;
    uint32_t zp4; /* the input zero point in four bytes */
    /* Pairs k_first <= k < k_last hold an input column (the others stay the zero point, stored
     * once per call), k_lo <= k < k_hi both of their columns (k_lo - k_first and k_last - k_hi
     * are 0 or 1: the pairs of the zero point and column 0, of column in_w - 1 and the zero point). */
    int32_t k_first, k_lo, k_hi, k_last;
    /* Where a gathered word sits: words between the pairs of a row and between its slots (the
     * ring: ED_DW3_PAIR and 4; a whole plane, ed_dw3_plane: 4 and 4 * words). */
    int32_t pair_words, slot_words;
    int plane; /* every input row of a group gathered at once (ed_dw3_plane) */
} ed_dw3_layer_t;

/* The ring holds input row iy in slot iy mod 3. Word (pair k, slot s, channel i) is
 * ring[(k * 3 + s) * 4 + i]: a pass of channel i reads pair j of slot s at p[12 j + 4 s] with
 * p = ring + i (fixed offsets for the Thumb-2 loads). Which kernel row a slot meets changes from
 * output row to output row; the channel's weights come in three rotations instead. */
#define ED_DW3_SLOTS 3
#define ED_DW3_PAIR (4 * ED_DW3_SLOTS) /* words per column pair */

/* A channel's constants in one rotation, gathered per group (the pass reads them at fixed
 * offsets): the weight pairs slot s meets (W01, W12 of kernel row (s - rotation) mod 3), the folded
 * bias, the requantization of ed_dw3_requant. A fast channel (e >= 0) has its weights and bias
 * doubled, so its sums are twice the TFLite accumulator: SMMLA(R) then yields the requantized
 * value's high word directly. A slow one (e < 0) keeps them and takes ed_requant_out_s8. */
typedef struct
{
    uint32_t w[6];
    int32_t bias;
    int32_t mult; /* Q31 multiplier */
    int32_t k;    /* 2^(e-1) + output_offset * 2^e */
    int32_t e;    /* right shift, 1..23; -1: a slow channel */
} ed_dw3_channel_t;
_Static_assert(sizeof(ed_dw3_channel_t) == 40, "the pass reads ed_dw3_channel_t at fixed offsets");

/* The output of a fast channel from its doubled sum a = 2 acc, before the clamp. Single rounding:
 * floor((acc m + 2^(30+e)) / 2^(31+e)) + offset = (k + floor(a m / 2^32)) >> e (SMMLA, ASR).
 * Double: SaturatingRoundingDoublingHighMul is x = floor((acc m + 2^30) / 2^31)
 * = floor((a m + 2^31) / 2^32), so k + x is SMMLAR; RoundingDivideByPOT is
 * floor((x + 2^(e-1) - [x < 0]) / 2^e), where [x < 0] may be [a < 0] (they differ only where
 * x == 0, and the result is 0 either way): (k + x - [a < 0]) >> e (SMMLAR, ADD, ASR). With
 * |a| < 2^31, |m| < 2^31 and |k| < 2^31 no step leaves its range. Then SSAT. */
static inline int32_t ed_dw3_requant(int32_t a, const ed_dw3_channel_t *k)
{
    int64_t t = (int64_t)k->k * 4294967296LL + (int64_t)a * k->mult;
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
    const int32_t v = (int32_t)(t >> 32);
#else
    t += 0x80000000LL;
    const int32_t v = (int32_t)(t >> 32) - (a < 0);
#endif
    return ed_sat8(v >> k->e);
}

/* Largest |folded bias| a fast channel may have: doubled, with the 9 products of at most
 * 128 * 128 each, the sum stays inside int32. */
#define ED_DW3_BIAS_LIMIT (1 << 29)

/* Four input channels (oc0.. of input column `col`, input row `row`, or the zero point) as a word. */
static inline uint32_t ed_dw3_word(const ed_dw3_layer_t *L, const int8_t *row, int32_t col, int32_t valid)
{
    if ((uint32_t)col >= (uint32_t)L->in_w)
    {
        return L->zp4;
    }
    const int8_t *p = row + col * L->in_col;
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

/* Column pairs as the ring stores them: the four channels' pairs (x_j, x_j+1) from the words
 * x0 (column j) and x1 (column j + 1), at d[0..3]. The bytes are paired first (channels 0 and 1
 * of both columns in one word, 2 and 3 in another), then sign-extended: 6 instructions, not 8. */
static inline void ed_dw3_store_pairs(uint32_t x0, uint32_t x1, uint32_t *d)
{
    const uint32_t lo = ed_dw3_pkhbt(x0, x1); /* bytes c0_j, c1_j, c0_j+1, c1_j+1 */
    const uint32_t hi = ed_dw3_pkhtb(x1, x0); /* bytes c2_j, c3_j, c2_j+1, c3_j+1 */
    d[0] = ed_dw3_sxtb16(lo);
    d[1] = ed_dw3_sxtb16_ror8(lo);
    d[2] = ed_dw3_sxtb16(hi);
    d[3] = ed_dw3_sxtb16_ror8(hi);
}

/* n column pairs of four channels from src (column 2k at src + 2k * pixel) into d, the pairs
 * pair_words apart (ed_dw3_store_pairs per pair). Returns src past them. (The ring's rows of four
 * channels inside the input take ed_dw3_gather_row_s on the DSP path.) */
static inline const int8_t *ed_dw3_gather_pairs(const int8_t *src, int32_t pixel, uint32_t *d, int32_t pair_words,
                                                int32_t n)
{
    for (; n > 0; n--, src += 2 * pixel, d += pair_words)
    {
        ed_dw3_store_pairs(ed_read_u32(src), ed_read_u32(src + pixel), d);
    }
    return src;
}

#if ED_NN_ASM
/* A ring row of four channels inside the input, in Thumb-2 (ed_dw3_gather's rows, without a call
 * into C per row): the pairs from src (ed_dw3_gather_pairs, 48 bytes apart), after a pair
 * (zero point, column 0) when the left padding is odd and before a pair (column in_w - 1, zero
 * point) where the row ends in one. */
typedef struct
{
    const int8_t *src; /* +0: column 0 when edges has bit 0 (the pair of the zero point and column 0 first), else
                          the first pair's first column */
    int32_t pixel;     /* +4: bytes between columns */
    uint32_t *d;       /* +8: the first pair's words */
    int32_t n;         /* +12: pairs of two input columns */
    int32_t edges;     /* +16: bit 0: the pair (zero point, column 0) first; bit 1: (column in_w - 1, zero point) last */
    uint32_t zp4;      /* +20: the input zero point in four bytes */
} ed_dw3_row_gather_t;

/* The pair of the words x0, x1 (column j, j + 1; ed_dw3_store_pairs) at r2 + o; r8, r9 and lr
 * temporaries. */
#define ED_DW3_GATHER_PAIR(x0, x1, o)                                                                                  \
    "pkhbt r8, " x0 ", " x1 ", lsl #16\n\t"                                                                            \
    "pkhtb r9, " x1 ", " x0 ", asr #16\n\t"                                                                            \
    "sxtb16 lr, r8\n\t"                                                                                                \
    "str lr, [r2, #" o "]\n\t"                                                                                         \
    "sxtb16 lr, r8, ror #8\n\t"                                                                                        \
    "str lr, [r2, #" o "+4]\n\t"                                                                                       \
    "sxtb16 lr, r9\n\t"                                                                                                \
    "str lr, [r2, #" o "+8]\n\t"                                                                                       \
    "sxtb16 lr, r9, ror #8\n\t"                                                                                        \
    "str lr, [r2, #" o "+12]\n\t"
/* Registers: r0 src, r1 pixel, r2 d, r3 edges, r10 3 * pixel, r11 zp4, r12 pairs left; two
 * pairs a step (four loads in a row, one loop test per two pairs), the words in r4-r7. */
__attribute__((naked, noinline)) static void ed_dw3_gather_row_s(ED_DW3_ARG const ed_dw3_row_gather_t *g)
{
    __asm__ volatile("push {r4-r11, lr}\n\t"
                     "ldr r3, [r0, #16]\n\t"
                     "ldr r1, [r0, #4]\n\t"
                     "ldr r2, [r0, #8]\n\t"
                     "ldr r12, [r0, #12]\n\t"
                     "ldr r11, [r0, #20]\n\t"
                     "ldr r0, [r0]\n\t"
                     "add r10, r1, r1, lsl #1\n\t"
                     "lsrs r4, r3, #1\n\t"
                     "bcc 0f\n\t"
                     "ldr r5, [r0]\n\t"
                     "mov r4, r11\n\t"
                     "add r0, r0, r1\n\t" ED_DW3_GATHER_PAIR("r4", "r5", "0") "add r2, r2, #48\n\t"
                     "0:\n\t"
                     "subs r12, r12, #2\n\t"
                     "blt 2f\n\t"
                     "1:\n\t"
                     "ldr r4, [r0]\n\t"
                     "ldr r5, [r0, r1]\n\t"
                     "ldr r6, [r0, r1, lsl #1]\n\t"
                     "ldr r7, [r0, r10]\n\t"
                     "add r0, r0, r1, lsl #2\n\t" ED_DW3_GATHER_PAIR("r4", "r5", "0")
                         ED_DW3_GATHER_PAIR("r6", "r7", "48")
                     "add r2, r2, #96\n\t"
                     "subs r12, r12, #2\n\t"
                     "bge 1b\n\t"
                     "2:\n\t"
                     "adds r12, r12, #2\n\t"
                     "beq 3f\n\t"
                     "ldr r4, [r0]\n\t"
                     "ldr r5, [r0, r1]\n\t"
                     "add r0, r0, r1, lsl #1\n\t" ED_DW3_GATHER_PAIR("r4", "r5", "0") "add r2, r2, #48\n\t"
                     "3:\n\t"
                     "lsrs r3, r3, #2\n\t"
                     "bcc 4f\n\t"
                     "ldr r4, [r0]\n\t"
                     "mov r5, r11\n\t" ED_DW3_GATHER_PAIR("r4", "r5", "0")
                     "4:\n\t"
                     "pop {r4-r11, pc}\n\t");
}
#endif

/* Input row iy (outside the input: all zero point) of channels oc0..oc0+valid-1 into the ring slot at
 * d (ring + 4 * slot): per two columns j, j + 1 one int16 pair (x_j, x_j+1) per channel, for the
 * pairs k_first..k_last - 1 (the others hold the zero point from the call's start). */
static __attribute__((noinline)) void ed_dw3_gather(const ed_dw3_layer_t *L, int32_t iy, int32_t oc0, int32_t valid,
                                                    uint32_t *d)
{
    const int32_t k_last = L->k_last;
    int32_t k = L->k_first;
    d += k * ED_DW3_PAIR;
    if (iy < 0 || iy >= L->in_h)
    {
        /* A padding row: every pair is the zero point twice. */
        const uint32_t zz = ed_dw3_sxtb16(L->zp4);
        for (; k < k_last; k++, d += ED_DW3_PAIR)
        {
            d[0] = d[1] = d[2] = d[3] = zz;
        }
        return;
    }
    const int8_t *row = L->input + iy * L->in_row + oc0;
    const int32_t pad = L->pad_left;
#if !ED_NN_ASM /* the DSP path gathers these rows in ed_dw3_gather_row_s */
    if (valid == 4)
    {
        /* At most one pair of the zero point and column 0 (an odd left padding), the pairs inside,
         * at most one pair of column in_w - 1 and the zero point. */
        const int32_t k_hi = L->k_hi, pixel = L->in_col;
        if (k < L->k_lo)
        {
            ed_dw3_store_pairs(L->zp4, ed_read_u32(row), d);
            k++;
            d += ED_DW3_PAIR;
        }
        const int8_t *src = ed_dw3_gather_pairs(row + (2 * k - pad) * pixel, pixel, d, ED_DW3_PAIR, k_hi - k);
        if (k_hi < k_last)
        {
            ed_dw3_store_pairs(ed_read_u32(src), L->zp4, d + (k_hi - k) * ED_DW3_PAIR);
        }
        return;
    }
#endif
    for (; k < k_last; k++, d += ED_DW3_PAIR)
    {
        const int32_t col = 2 * k - pad;
        ed_dw3_store_pairs(ed_dw3_word(L, row, col, valid), ed_dw3_word(L, row, col + 1, valid), d);
    }
}

/* The four accumulators of the pass at ring pointer p (pair j of slot s at p[pw j + sw s];
 * stride 1: pairs 0..2, stride 2: pairs 0..4), from the bias. */
static void ed_dw3_pass(const uint32_t *p, const ed_dw3_channel_t *k, int32_t stride2, int32_t pw, int32_t sw,
                        int32_t acc[4])
{
    int32_t a0 = k->bias, a1 = k->bias, a2 = k->bias, a3 = k->bias;
    for (int32_t s = 0; s < 3; s++, p += sw)
    {
        const uint32_t w01 = k->w[2 * s], w12 = k->w[2 * s + 1];
        if (stride2)
        {
            a0 = ed_dw3_smlabt(p[pw], w12, ed_dw3_smlad(p[0], w01, a0));
            a1 = ed_dw3_smlabt(p[2 * pw], w12, ed_dw3_smlad(p[pw], w01, a1));
            a2 = ed_dw3_smlabt(p[3 * pw], w12, ed_dw3_smlad(p[2 * pw], w01, a2));
            a3 = ed_dw3_smlabt(p[4 * pw], w12, ed_dw3_smlad(p[3 * pw], w01, a3));
        }
        else
        {
            a0 = ed_dw3_smlabt(p[pw], w12, ed_dw3_smlad(p[0], w01, a0));
            a1 = ed_dw3_smlad(p[pw], w12, ed_dw3_smlatb(p[0], w01, a1));
            a2 = ed_dw3_smlabt(p[2 * pw], w12, ed_dw3_smlad(p[pw], w01, a2));
            a3 = ed_dw3_smlad(p[2 * pw], w12, ed_dw3_smlatb(p[pw], w01, a3));
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#if ED_NN_ASM
/* The passes of an output row of the group's channels, in Thumb-2 (ed_dw3_run_s1 / _s2 / 6_s1). */
typedef struct
{
    const uint32_t *p;         /* +0: the first channel's first pass's ring pointer */
    const ed_dw3_channel_t *k; /* +4: the first channel's constants */
    int8_t *out;               /* +8: the first channel's first output */
    int32_t step;              /* +12: bytes between a channel's outputs */
    int32_t span;              /* +16: bytes the ring pointer moves over the passes of four (may be 0) */
    int32_t channels;          /* +20: channels (>= 1), each 1 ring word, 1 constant block, 1 output on */
    int32_t rem;               /* +24: outputs after the passes of four (0..3), in passes of two */
} ed_dw3_run_t;


/* Registers: r0 ring pointer, r1 channel constants, r2 output, r3 step, r4-r7 the four
 * accumulators, r8 / r9 the weight pairs (then mult, k), r10-r12 inputs (then e and a
 * temporary), lr the end of the channel's passes of four. On the stack: [sp, #4] the channel's
 * first ring pointer, [sp, #8] its first output, [sp, #12] the end of the constant blocks,
 * [sp, #16] span, [sp, #28] rem. */
#define ED_DW3_ENTER                                                                                                   \
    "push {r4-r11, lr}\n\t"                                                                                            \
    "sub sp, sp, #32\n\t"                                                                                              \
    "ldr r1, [r0, #4]\n\t"                                                                                             \
    "ldr r2, [r0, #8]\n\t"                                                                                             \
    "ldr r3, [r0, #12]\n\t"                                                                                            \
    "ldr r4, [r0, #16]\n\t"                                                                                            \
    "ldr r5, [r0, #20]\n\t"                                                                                            \
    "ldr r7, [r0, #24]\n\t"                                                                                            \
    "ldr r0, [r0]\n\t"                                                                                                 \
    "str r4, [sp, #16]\n\t"                                                                                            \
    "str r7, [sp, #28]\n\t"                                                                                            \
    "add r5, r5, r5, lsl #2\n\t"                                                                                       \
    "add r5, r1, r5, lsl #3\n\t"                                                                                       \
    "str r5, [sp, #12]\n\t"                                                                                            \
    "2:\n\t"                                                                                                           \
    "str r0, [sp, #4]\n\t"                                                                                             \
    "str r2, [sp, #8]\n\t"                                                                                             \
    "ldr lr, [sp, #16]\n\t"                                                                                            \
    "add lr, r0, lr\n\t"                                                                                               \
    "cmp r0, lr\n\t"                                                                                                   \
    "beq 4f\n\t" /* no pass of four: passes of two alone */                                                            \
    "1:\n\t"
/* Slot 0 of a stride-1 pass, from the bias (r4 feeds r5-r7 before it is overwritten); the load
 * of A moves the ring pointer on by `advance` bytes to the next pass (the rest of the pass reads
 * at offsets less `advance`). */
#define ED_DW3_S1_FIRST(advance)                                                                                       \
    "ldr r4, [r1, #24]\n\t"                                                                                            \
    "ldr r8, [r1, #0]\n\t"                                                                                             \
    "ldr r9, [r1, #4]\n\t"                                                                                             \
    "ldr r11, [r0, #48]\n\t"                                                                                           \
    "ldr r12, [r0, #96]\n\t"                                                                                           \
    "ldr r10, [r0], #" advance "\n\t"                                                                                  \
    "smlatb r5, r10, r8, r4\n\t"                                                                                       \
    "smlad r6, r11, r8, r4\n\t"                                                                                        \
    "smlatb r7, r11, r8, r4\n\t"                                                                                       \
    "smlad r4, r10, r8, r4\n\t"                                                                                        \
    "smlabt r4, r11, r9, r4\n\t"                                                                                       \
    "smlad r5, r11, r9, r5\n\t"                                                                                        \
    "smlabt r6, r12, r9, r6\n\t"                                                                                       \
    "smlad r7, r12, r9, r7\n\t"
/* Slot s of a stride-1 pass: weights at byte wo of r1, pairs A, B, C at xo, xo + 48, xo + 96. */
#define ED_DW3_S1_ROW(wo, xo, xo1, xo2)                                                                                \
    "ldr r8, [r1, #" wo "]\n\t"                                                                                        \
    "ldr r9, [r1, #" wo "+4]\n\t"                                                                                      \
    "ldr r10, [r0, #" xo "]\n\t"                                                                                       \
    "ldr r11, [r0, #" xo1 "]\n\t"                                                                                      \
    "ldr r12, [r0, #" xo2 "]\n\t"                                                                                      \
    "smlad r4, r10, r8, r4\n\t"                                                                                        \
    "smlatb r5, r10, r8, r5\n\t"                                                                                       \
    "smlabt r4, r11, r9, r4\n\t"                                                                                       \
    "smlad r5, r11, r9, r5\n\t"                                                                                        \
    "smlad r6, r11, r8, r6\n\t"                                                                                        \
    "smlatb r7, r11, r8, r7\n\t"                                                                                       \
    "smlabt r6, r12, r9, r6\n\t"                                                                                       \
    "smlad r7, r12, r9, r7\n\t"
/* Slot 0 of a stride-2 pass (pairs P0..P4 at 48 j), from the bias in r7 (it feeds r4-r6 first);
 * the load of P0 moves the ring pointer on by `advance` bytes, as in ED_DW3_S1_FIRST. */
#define ED_DW3_S2_FIRST(advance)                                                                                       \
    "ldr r7, [r1, #24]\n\t"                                                                                            \
    "ldr r8, [r1, #0]\n\t"                                                                                             \
    "ldr r9, [r1, #4]\n\t"                                                                                             \
    "ldr r11, [r0, #48]\n\t"                                                                                           \
    "ldr r12, [r0, #96]\n\t"                                                                                           \
    "ldr r10, [r0], #" advance "\n\t"                                                                                  \
    "smlad r4, r10, r8, r7\n\t"                                                                                        \
    "smlad r5, r11, r8, r7\n\t"                                                                                        \
    "smlad r6, r12, r8, r7\n\t"                                                                                        \
    "smlabt r4, r11, r9, r4\n\t"                                                                                       \
    "smlabt r5, r12, r9, r5\n\t"                                                                                       \
    "ldr r10, [r0, #-48]\n\t"                                                                                          \
    "ldr r11, [r0, #0]\n\t"                                                                                            \
    "smlabt r6, r10, r9, r6\n\t"                                                                                       \
    "smlad r7, r10, r8, r7\n\t"                                                                                        \
    "smlabt r7, r11, r9, r7\n\t"
/* Slot s of a stride-2 pass: pairs P0..P4 at xo + 48 j. */
#define ED_DW3_S2_ROW(wo, xo, xo1, xo2, xo3, xo4)                                                                      \
    "ldr r8, [r1, #" wo "]\n\t"                                                                                        \
    "ldr r9, [r1, #" wo "+4]\n\t"                                                                                      \
    "ldr r10, [r0, #" xo "]\n\t"                                                                                       \
    "ldr r11, [r0, #" xo1 "]\n\t"                                                                                      \
    "ldr r12, [r0, #" xo2 "]\n\t"                                                                                      \
    "smlad r4, r10, r8, r4\n\t"                                                                                        \
    "smlad r5, r11, r8, r5\n\t"                                                                                        \
    "smlad r6, r12, r8, r6\n\t"                                                                                        \
    "smlabt r4, r11, r9, r4\n\t"                                                                                       \
    "smlabt r5, r12, r9, r5\n\t"                                                                                       \
    "ldr r10, [r0, #" xo3 "]\n\t"                                                                                      \
    "ldr r11, [r0, #" xo4 "]\n\t"                                                                                      \
    "smlabt r6, r10, r9, r6\n\t"                                                                                       \
    "smlad r7, r10, r8, r7\n\t"                                                                                        \
    "smlabt r7, r11, r9, r7\n\t"
/* A stride-1 pass of two outputs (r4, r5): per slot pairs A, B at 16 s, 16 s + 48. */
#define ED_DW3_S1_TAIL_ROW(wo, xo, xo1, s4, s5)                                                                        \
    "ldr r8, [r1, #" wo "]\n\t"                                                                                        \
    "ldr r9, [r1, #" wo "+4]\n\t"                                                                                      \
    "ldr r10, [r0, #" xo "]\n\t"                                                                                       \
    "ldr r11, [r0, #" xo1 "]\n\t"                                                                                      \
    "smlad r4, r10, r8, " s4 "\n\t"                                                                                    \
    "smlatb r5, r10, r8, " s5 "\n\t"                                                                                   \
    "smlabt r4, r11, r9, r4\n\t"                                                                                       \
    "smlad r5, r11, r9, r5\n\t"
#define ED_DW3_S1_TAIL                                                                                                 \
    "ldr r5, [r1, #24]\n\t" ED_DW3_S1_TAIL_ROW("0", "0", "48", "r5", "r5")                                             \
        ED_DW3_S1_TAIL_ROW("8", "16", "64", "r4", "r5") ED_DW3_S1_TAIL_ROW("16", "32", "80", "r4", "r5")
/* A stride-2 pass of two outputs: per slot pairs P0, P1, P2 at 16 s + 48 j. */
#define ED_DW3_S2_TAIL_ROW(wo, xo, xo1, xo2, s4, s5)                                                                   \
    "ldr r8, [r1, #" wo "]\n\t"                                                                                        \
    "ldr r9, [r1, #" wo "+4]\n\t"                                                                                      \
    "ldr r10, [r0, #" xo "]\n\t"                                                                                       \
    "ldr r11, [r0, #" xo1 "]\n\t"                                                                                      \
    "ldr r12, [r0, #" xo2 "]\n\t"                                                                                      \
    "smlad r4, r10, r8, " s4 "\n\t"                                                                                    \
    "smlad r5, r11, r8, " s5 "\n\t"                                                                                    \
    "smlabt r4, r11, r9, r4\n\t"                                                                                       \
    "smlabt r5, r12, r9, r5\n\t"
#define ED_DW3_S2_TAIL                                                                                                 \
    "ldr r5, [r1, #24]\n\t" ED_DW3_S2_TAIL_ROW("0", "0", "48", "96", "r5", "r5")                                       \
        ED_DW3_S2_TAIL_ROW("8", "16", "64", "112", "r4", "r5") ED_DW3_S2_TAIL_ROW("16", "32", "80", "128", "r4", "r5")
/* ed_dw3_requant of the doubled sum in `a` (mult in m, k in k, e in e, t a temporary), then SSAT. */
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
#define ED_DW3_REQUANT(a, m, k, e, t)                                                                                  \
    "smmla " a ", " a ", " m ", " k "\n\t"                                                                             \
    "asr " a ", " a ", " e "\n\t"                                                                                      \
    "ssat " a ", #8, " a "\n\t"
#else
#define ED_DW3_REQUANT(a, m, k, e, t)                                                                                  \
    "smmlar " t ", " a ", " m ", " k "\n\t"                                                                            \
    "add " a ", " t ", " a ", asr #31\n\t"                                                                             \
    "asr " a ", " a ", " e "\n\t"                                                                                      \
    "ssat " a ", #8, " a "\n\t"
#endif
#define ED_DW3_RQ(a) ED_DW3_REQUANT(a, "r8", "r9", "r10", "r11")
/* Requantize and store the pass's four outputs, loop; then the row's
 * last 1 to 3 outputs (rem, [sp, #28]) in passes of two (`tail`, its inputs at r0, its outputs
 * at r2; lr counts the outputs left), `half` bytes of ring apart. */
#define ED_DW3_LEAVE(half, tail)                                                                                       \
    "ldr r8, [r1, #28]\n\t"                                                                                            \
    "ldr r9, [r1, #32]\n\t"                                                                                            \
    "ldr r10, [r1, #36]\n\t"                                                                                           \
    ED_DW3_RQ("r4") ED_DW3_RQ("r5") ED_DW3_RQ("r6") ED_DW3_RQ("r7")                                                   \
    "strb r4, [r2]\n\t"                                                                                                \
    "strb r5, [r2, r3]\n\t"                                                                                            \
    "add r12, r2, r3, lsl #1\n\t"                                                                                      \
    "add r2, r2, r3, lsl #2\n\t"                                                                                       \
    "strb r6, [r12]\n\t"                                                                                               \
    "strb r7, [r12, r3]\n\t"                                                                                           \
    "cmp r0, lr\n\t"                                                                                                   \
    "bne 1b\n\t"                                                                                                       \
    "4:\n\t"                                                                                                           \
    "ldr lr, [sp, #28]\n\t"                                                                                            \
    "cmp lr, #0\n\t"                                                                                                   \
    "beq 6f\n\t"                                                                                                       \
    "5:\n\t"                                                                                                           \
    tail                                                                                                               \
    "ldr r8, [r1, #28]\n\t"                                                                                            \
    "ldr r9, [r1, #32]\n\t"                                                                                            \
    "ldr r10, [r1, #36]\n\t"                                                                                           \
    ED_DW3_RQ("r4") ED_DW3_RQ("r5")                                                                                    \
    "strb r4, [r2]\n\t"                                                                                                \
    "cmp lr, #2\n\t"                                                                                                   \
    "it ge\n\t"                                                                                                        \
    "strbge r5, [r2, r3]\n\t"                                                                                          \
    "add r0, r0, #" half "\n\t"                                                                                        \
    "add r2, r2, r3, lsl #1\n\t"                                                                                       \
    "subs lr, lr, #2\n\t"                                                                                              \
    "bgt 5b\n\t"                                                                                                       \
    "6:\n\t"                                                                                                           \
    "ldr r0, [sp, #4]\n\t"                                                                                             \
    "ldr r2, [sp, #8]\n\t"                                                                                             \
    "ldr r12, [sp, #12]\n\t"                                                                                           \
    "add r1, r1, #40\n\t"                                                                                              \
    "add r0, r0, #4\n\t"                                                                                               \
    "add r2, r2, #1\n\t"                                                                                               \
    "cmp r1, r12\n\t"                                                                                                  \
    "bne 2b\n\t"                                                                                                       \
    "add sp, sp, #32\n\t"                                                                                              \
    "pop {r4-r11, pc}\n\t"

__attribute__((naked, noinline)) static void ed_dw3_run_s1(ED_DW3_ARG const ed_dw3_run_t *run)
{
    __asm__ volatile(ED_DW3_ENTER ED_DW3_S1_FIRST("96") ED_DW3_S1_ROW("8", "-80", "-32", "16")
                     ED_DW3_S1_ROW("16", "-64", "-16", "32") ED_DW3_LEAVE("48", ED_DW3_S1_TAIL));
}

__attribute__((naked, noinline)) static void ed_dw3_run_s2(ED_DW3_ARG const ed_dw3_run_t *run)
{
    __asm__ volatile(ED_DW3_ENTER ED_DW3_S2_FIRST("192") ED_DW3_S2_ROW("8", "-176", "-128", "-80", "-32", "16")
                     ED_DW3_S2_ROW("16", "-160", "-112", "-64", "-16", "32") ED_DW3_LEAVE("96", ED_DW3_S2_TAIL));
}
/* A whole stride-1 row of six outputs (MobileNet's 6 x 6 planes) in one pass per channel
 * (ed_dw3_plane6_s1): r4-r9 the six sums, r10 / r11 the weight pairs (then mult, k), r12 / lr the
 * pairs A..D at xo..xo3 (then e and a temporary). Slot 0 starts from the bias in r9, which seeds
 * r4-r8 first. */
#define ED_DW3_S6_FIRST_AT(xo, xo1, xo2, xo3)                                                                          \
    "ldr r9, [r1, #24]\n\t"                                                                                            \
    "ldr r10, [r1, #0]\n\t"                                                                                            \
    "ldr r11, [r1, #4]\n\t"                                                                                            \
    "ldr r12, [r0, #" xo "]\n\t"                                                                                       \
    "ldr lr, [r0, #" xo1 "]\n\t"                                                                                            \
    "smlad r4, r12, r10, r9\n\t"                                                                                       \
    "smlatb r5, r12, r10, r9\n\t"                                                                                      \
    "ldr r12, [r0, #" xo2 "]\n\t"                                                                                         \
    "smlad r6, lr, r10, r9\n\t"                                                                                        \
    "smlatb r7, lr, r10, r9\n\t"                                                                                       \
    "smlabt r4, lr, r11, r4\n\t"                                                                                       \
    "smlad r5, lr, r11, r5\n\t"                                                                                        \
    "ldr lr, [r0, #" xo3 "]\n\t"                                                                                         \
    "smlad r8, r12, r10, r9\n\t"                                                                                       \
    "smlatb r9, r12, r10, r9\n\t"                                                                                      \
    "smlabt r6, r12, r11, r6\n\t"                                                                                      \
    "smlad r7, r12, r11, r7\n\t"                                                                                       \
    "smlabt r8, lr, r11, r8\n\t"                                                                                       \
    "smlad r9, lr, r11, r9\n\t"
#define ED_DW3_S6_ROW(wo, xo, xo1, xo2, xo3)                                                                           \
    "ldr r10, [r1, #" wo "]\n\t"                                                                                       \
    "ldr r11, [r1, #" wo "+4]\n\t"                                                                                     \
    "ldr r12, [r0, #" xo "]\n\t"                                                                                       \
    "ldr lr, [r0, #" xo1 "]\n\t"                                                                                       \
    "smlad r4, r12, r10, r4\n\t"                                                                                       \
    "smlatb r5, r12, r10, r5\n\t"                                                                                      \
    "ldr r12, [r0, #" xo2 "]\n\t"                                                                                      \
    "smlabt r4, lr, r11, r4\n\t"                                                                                       \
    "smlad r5, lr, r11, r5\n\t"                                                                                        \
    "smlad r6, lr, r10, r6\n\t"                                                                                        \
    "smlatb r7, lr, r10, r7\n\t"                                                                                       \
    "ldr lr, [r0, #" xo3 "]\n\t"                                                                                       \
    "smlabt r6, r12, r11, r6\n\t"                                                                                      \
    "smlad r7, r12, r11, r7\n\t"                                                                                       \
    "smlad r8, r12, r10, r8\n\t"                                                                                       \
    "smlatb r9, r12, r10, r9\n\t"                                                                                      \
    "smlabt r8, lr, r11, r8\n\t"                                                                                       \
    "smlad r9, lr, r11, r9\n\t"


/* A whole plane (ed_dw3_plane): per channel every output row, the plane pointer moving by
 * row_adv bytes per row, its slots 16 * words bytes apart. Stack: [sp] the channel's plane end
 * (also in lr for the pass of three), [sp, #4] its first plane pointer, [sp, #8] its first output,
 * [sp, #12] the end of the constant blocks, [sp, #16] row_adv, [sp, #20] the plane bytes a channel
 * walks, [sp, #28] out_adv. */
typedef struct
{
    const uint32_t *p;         /* +0: the first channel's slot 0, pair 0 */
    const ed_dw3_channel_t *k; /* +4: the first channel's constants (rotation 0) */
    int8_t *out;               /* +8: the first channel's first output */
    int32_t step;              /* +12: bytes between a channel's outputs */
    int32_t row_adv;           /* +16: bytes the plane pointer moves per output row */
    int32_t channels;          /* +20: channels (>= 1) */
    int32_t out_adv;           /* +24: bytes between output rows */
    int32_t rows;              /* +28: output rows (>= 1) */
} ed_dw3_plane_run_t;

#define ED_DW3_PLANE_ENTER                                                                                             \
    "push {r4-r11, lr}\n\t"                                                                                            \
    "sub sp, sp, #32\n\t"                                                                                              \
    "ldr r1, [r0, #4]\n\t"                                                                                             \
    "ldr r2, [r0, #8]\n\t"                                                                                             \
    "ldr r3, [r0, #12]\n\t"                                                                                            \
    "ldr r4, [r0, #16]\n\t"                                                                                            \
    "ldr r5, [r0, #20]\n\t"                                                                                            \
    "ldr r7, [r0, #24]\n\t"                                                                                            \
    "ldr r8, [r0, #28]\n\t"                                                                                            \
    "ldr r0, [r0]\n\t"                                                                                                 \
    "str r4, [sp, #16]\n\t"                                                                                            \
    "mul r8, r8, r4\n\t"                                                                                               \
    "str r8, [sp, #20]\n\t"                                                                                            \
    "str r7, [sp, #28]\n\t"                                                                                            \
    "add r5, r5, r5, lsl #2\n\t"                                                                                       \
    "add r5, r1, r5, lsl #3\n\t"                                                                                       \
    "str r5, [sp, #12]\n\t"                                                                                            \
    "2:\n\t"                                                                                                           \
    "str r0, [sp, #4]\n\t"                                                                                             \
    "str r2, [sp, #8]\n\t"                                                                                             \
    "ldr lr, [sp, #20]\n\t"                                                                                            \
    "add lr, r0, lr\n\t"                                                                                               \
    "str lr, [sp]\n\t"                                                                                                 \
    "1:\n\t"
/* The next channel, or the end. */
#define ED_DW3_PLANE_NEXT                                                                                              \
    "ldr r0, [sp, #4]\n\t"                                                                                             \
    "ldr r2, [sp, #8]\n\t"                                                                                             \
    "ldr r12, [sp, #12]\n\t"                                                                                           \
    "add r1, r1, #40\n\t"                                                                                              \
    "add r0, r0, #4\n\t"                                                                                               \
    "add r2, r2, #1\n\t"                                                                                               \
    "cmp r1, r12\n\t"                                                                                                  \
    "bne 2b\n\t"                                                                                                       \
    "add sp, sp, #32\n\t"                                                                                              \
    "pop {r4-r11, pc}\n\t"
/* Rows of three outputs (r4-r6; MobileNet's 3 x 3 planes): the pass of four without its fourth
 * output. Stride 1: o0 = SMLAD(A, W01) + SMLABT(B, W12), o1 = SMLATB(A, W01) + SMLAD(B, W12),
 * o2 = SMLAD(B, W01) + SMLABT(C, W12); stride 2: ok = SMLAD(Pk, W01) + SMLABT(Pk+1, W12). Slot 0
 * starts from the bias in r6, which seeds r4 and r5 first. */
#define ED_DW3_S1_FIRST3(xo, xo1, xo2)                                                                                  \
    "ldr r6, [r1, #24]\n\t"                                                                                             \
    "ldr r8, [r1, #0]\n\t"                                                                                              \
    "ldr r9, [r1, #4]\n\t"                                                                                              \
    "ldr r10, [r0, #" xo "]\n\t"                                                                                        \
    "ldr r11, [r0, #" xo1 "]\n\t"                                                                                       \
    "ldr r12, [r0, #" xo2 "]\n\t"                                                                                       \
    "smlad r4, r10, r8, r6\n\t"                                                                                         \
    "smlatb r5, r10, r8, r6\n\t"                                                                                        \
    "smlad r6, r11, r8, r6\n\t"                                                                                         \
    "smlabt r4, r11, r9, r4\n\t"                                                                                        \
    "smlad r5, r11, r9, r5\n\t"                                                                                         \
    "smlabt r6, r12, r9, r6\n\t"
#define ED_DW3_S1_ROW3(wo, xo, xo1, xo2)                                                                                \
    "ldr r8, [r1, #" wo "]\n\t"                                                                                         \
    "ldr r9, [r1, #" wo "+4]\n\t"                                                                                       \
    "ldr r10, [r0, #" xo "]\n\t"                                                                                        \
    "ldr r11, [r0, #" xo1 "]\n\t"                                                                                       \
    "ldr r12, [r0, #" xo2 "]\n\t"                                                                                       \
    "smlad r4, r10, r8, r4\n\t"                                                                                         \
    "smlatb r5, r10, r8, r5\n\t"                                                                                        \
    "smlad r6, r11, r8, r6\n\t"                                                                                         \
    "smlabt r4, r11, r9, r4\n\t"                                                                                        \
    "smlad r5, r11, r9, r5\n\t"                                                                                         \
    "smlabt r6, r12, r9, r6\n\t"
#define ED_DW3_S2_FIRST3(xo, xo1, xo2, xo3)                                                                             \
    "ldr r6, [r1, #24]\n\t"                                                                                             \
    "ldr r8, [r1, #0]\n\t"                                                                                              \
    "ldr r9, [r1, #4]\n\t"                                                                                              \
    "ldr r10, [r0, #" xo "]\n\t"                                                                                        \
    "ldr r11, [r0, #" xo1 "]\n\t"                                                                                       \
    "ldr r12, [r0, #" xo2 "]\n\t"                                                                                       \
    "smlad r4, r10, r8, r6\n\t"                                                                                         \
    "smlad r5, r11, r8, r6\n\t"                                                                                         \
    "smlad r6, r12, r8, r6\n\t"                                                                                         \
    "smlabt r4, r11, r9, r4\n\t"                                                                                        \
    "smlabt r5, r12, r9, r5\n\t"                                                                                        \
    "ldr r10, [r0, #" xo3 "]\n\t"                                                                                       \
    "smlabt r6, r10, r9, r6\n\t"
#define ED_DW3_S2_ROW3(wo, xo, xo1, xo2, xo3)                                                                           \
    "ldr r8, [r1, #" wo "]\n\t"                                                                                         \
    "ldr r9, [r1, #" wo "+4]\n\t"                                                                                       \
    "ldr r10, [r0, #" xo "]\n\t"                                                                                        \
    "ldr r11, [r0, #" xo1 "]\n\t"                                                                                       \
    "ldr r12, [r0, #" xo2 "]\n\t"                                                                                       \
    "smlad r4, r10, r8, r4\n\t"                                                                                         \
    "smlad r5, r11, r8, r5\n\t"                                                                                         \
    "smlad r6, r12, r8, r6\n\t"                                                                                         \
    "smlabt r4, r11, r9, r4\n\t"                                                                                        \
    "smlabt r5, r12, r9, r5\n\t"                                                                                        \
    "ldr r10, [r0, #" xo3 "]\n\t"                                                                                       \
    "smlabt r6, r10, r9, r6\n\t"
/* Requantize and store a row of three, the next row (r7 holds out_adv from ED_DW3_PLANE_ENTER:
 * the passes of three leave it alone). */
#define ED_DW3_PLANE_LEAVE3                                                                                             \
    "ldr r8, [r1, #28]\n\t"                                                                                             \
    "ldr r9, [r1, #32]\n\t"                                                                                             \
    "ldr r10, [r1, #36]\n\t"                                                                                            \
    ED_DW3_RQ("r4") ED_DW3_RQ("r5") ED_DW3_RQ("r6")                                                                     \
    "ldr r12, [sp, #16]\n\t"                                                                                           \
    "add r11, r2, r3, lsl #1\n\t"                                                                                      \
    "strb r4, [r2]\n\t"                                                                                                \
    "strb r5, [r2, r3]\n\t"                                                                                            \
    "strb r6, [r11]\n\t"                                                                                               \
    "add r0, r0, r12\n\t"                                                                                              \
    "add r2, r2, r7\n\t"                                                                                               \
    "cmp r0, lr\n\t"                                                                                                   \
    "bne 1b\n\t" ED_DW3_PLANE_NEXT

/* Stride 1, rows of three, 3 pairs a slot (48 bytes). */
__attribute__((naked, noinline)) static void ed_dw3_plane3_s1(ED_DW3_ARG const ed_dw3_plane_run_t *run)
{
    __asm__ volatile(ED_DW3_PLANE_ENTER ED_DW3_S1_FIRST3("0", "16", "32") ED_DW3_S1_ROW3("8", "48", "64", "80")
                         ED_DW3_S1_ROW3("16", "96", "112", "128") ED_DW3_PLANE_LEAVE3);
}

/* Stride 2, rows of three, 5 pairs a slot (80 bytes; the fifth is not read). */
__attribute__((naked, noinline)) static void ed_dw3_plane3_s2(ED_DW3_ARG const ed_dw3_plane_run_t *run)
{
    __asm__ volatile(ED_DW3_PLANE_ENTER ED_DW3_S2_FIRST3("0", "16", "32", "48")
                         ED_DW3_S2_ROW3("8", "80", "96", "112", "128")
                             ED_DW3_S2_ROW3("16", "160", "176", "192", "208") ED_DW3_PLANE_LEAVE3);
}

/* A stride-2 row of six outputs in one pass per channel (ed_dw3_plane6_s2): r4-r9 the sums,
 * ok = SMLAD(Pk, W01) + SMLABT(Pk+1, W12) over the pairs P0..P6 at xo..xo6, loaded alternately
 * into r12 and lr. Slot 0 starts from the bias in r9, which seeds r4-r8 first (r9 last). */
#define ED_DW3_S2_6_FIRST(xo, xo1, xo2, xo3, xo4, xo5, xo6)                                                             \
    "ldr r9, [r1, #24]\n\t"                                                                                             \
    "ldr r10, [r1, #0]\n\t"                                                                                             \
    "ldr r11, [r1, #4]\n\t"                                                                                             \
    "ldr r12, [r0, #" xo "]\n\t"                                                                                        \
    "smlad r4, r12, r10, r9\n\t"                                                                                        \
    "ldr lr, [r0, #" xo1 "]\n\t"                                                                                        \
    "smlabt r4, lr, r11, r4\n\t"                                                                                        \
    "smlad r5, lr, r10, r9\n\t"                                                                                         \
    "ldr r12, [r0, #" xo2 "]\n\t"                                                                                       \
    "smlabt r5, r12, r11, r5\n\t"                                                                                       \
    "smlad r6, r12, r10, r9\n\t"                                                                                        \
    "ldr lr, [r0, #" xo3 "]\n\t"                                                                                        \
    "smlabt r6, lr, r11, r6\n\t"                                                                                        \
    "smlad r7, lr, r10, r9\n\t"                                                                                         \
    "ldr r12, [r0, #" xo4 "]\n\t"                                                                                       \
    "smlabt r7, r12, r11, r7\n\t"                                                                                       \
    "smlad r8, r12, r10, r9\n\t"                                                                                        \
    "ldr lr, [r0, #" xo5 "]\n\t"                                                                                        \
    "smlabt r8, lr, r11, r8\n\t"                                                                                        \
    "smlad r9, lr, r10, r9\n\t"                                                                                         \
    "ldr r12, [r0, #" xo6 "]\n\t"                                                                                       \
    "smlabt r9, r12, r11, r9\n\t"
#define ED_DW3_S2_6_ROW(wo, xo, xo1, xo2, xo3, xo4, xo5, xo6)                                                           \
    "ldr r10, [r1, #" wo "]\n\t"                                                                                        \
    "ldr r11, [r1, #" wo "+4]\n\t"                                                                                      \
    "ldr r12, [r0, #" xo "]\n\t"                                                                                        \
    "smlad r4, r12, r10, r4\n\t"                                                                                        \
    "ldr lr, [r0, #" xo1 "]\n\t"                                                                                        \
    "smlabt r4, lr, r11, r4\n\t"                                                                                        \
    "smlad r5, lr, r10, r5\n\t"                                                                                         \
    "ldr r12, [r0, #" xo2 "]\n\t"                                                                                       \
    "smlabt r5, r12, r11, r5\n\t"                                                                                       \
    "smlad r6, r12, r10, r6\n\t"                                                                                        \
    "ldr lr, [r0, #" xo3 "]\n\t"                                                                                        \
    "smlabt r6, lr, r11, r6\n\t"                                                                                        \
    "smlad r7, lr, r10, r7\n\t"                                                                                         \
    "ldr r12, [r0, #" xo4 "]\n\t"                                                                                       \
    "smlabt r7, r12, r11, r7\n\t"                                                                                       \
    "smlad r8, r12, r10, r8\n\t"                                                                                        \
    "ldr lr, [r0, #" xo5 "]\n\t"                                                                                        \
    "smlabt r8, lr, r11, r8\n\t"                                                                                        \
    "smlad r9, lr, r10, r9\n\t"                                                                                         \
    "ldr r12, [r0, #" xo6 "]\n\t"                                                                                       \
    "smlabt r9, r12, r11, r9\n\t"
/* Requantize and store a row of six (r4-r9; the stack's row and output steps loaded and the
 * store addresses formed first, so no store waits on its address), the next row. */
#define ED_DW3_PLANE_LEAVE6                                                                                            \
    "ldr r10, [r1, #28]\n\t"                                                                                            \
    "ldr r11, [r1, #32]\n\t"                                                                                            \
    "ldr r12, [r1, #36]\n\t"                                                                                            \
    ED_DW3_REQUANT("r4", "r10", "r11", "r12", "lr")                                                                     \
    ED_DW3_REQUANT("r5", "r10", "r11", "r12", "lr")                                                                     \
    ED_DW3_REQUANT("r6", "r10", "r11", "r12", "lr")                                                                     \
    ED_DW3_REQUANT("r7", "r10", "r11", "r12", "lr")                                                                     \
    ED_DW3_REQUANT("r8", "r10", "r11", "r12", "lr")                                                                     \
    ED_DW3_REQUANT("r9", "r10", "r11", "r12", "lr")                                                                     \
    "ldr r10, [sp, #16]\n\t"                                                                                           \
    "ldr r11, [sp, #28]\n\t"                                                                                           \
    "add lr, r2, r3, lsl #1\n\t"                                                                                       \
    "add r12, r2, r3, lsl #2\n\t"                                                                                      \
    "add r0, r0, r10\n\t"                                                                                              \
    "ldr r10, [sp]\n\t"                                                                                                \
    "strb r4, [r2]\n\t"                                                                                                \
    "strb r5, [r2, r3]\n\t"                                                                                            \
    "strb r6, [lr]\n\t"                                                                                                \
    "strb r7, [lr, r3]\n\t"                                                                                            \
    "strb r8, [r12]\n\t"                                                                                               \
    "strb r9, [r12, r3]\n\t"                                                                                           \
    "add r2, r2, r11\n\t"                                                                                              \
    "cmp r0, r10\n\t"                                                                                                  \
    "bne 1b\n\t"                                                                                                       \
    ED_DW3_PLANE_NEXT
/* Stride 1, rows of six, 5 pairs a slot (80 bytes): one pass of six per row and channel. */
__attribute__((naked, noinline)) static void ed_dw3_plane6_s1(ED_DW3_ARG const ed_dw3_plane_run_t *run)
{
    __asm__ volatile(ED_DW3_PLANE_ENTER ED_DW3_S6_FIRST_AT("0", "16", "32", "48")
                         ED_DW3_S6_ROW("8", "80", "96", "112", "128") ED_DW3_S6_ROW("16", "160", "176", "192", "208")
                             ED_DW3_PLANE_LEAVE6);
}

/* Stride 2, rows of six, 9 pairs a slot (144 bytes; P0..P6 read). */
__attribute__((naked, noinline)) static void ed_dw3_plane6_s2(ED_DW3_ARG const ed_dw3_plane_run_t *run)
{
    __asm__ volatile(ED_DW3_PLANE_ENTER ED_DW3_S2_6_FIRST("0", "16", "32", "48", "64", "80", "96")
                         ED_DW3_S2_6_ROW("8", "144", "160", "176", "192", "208", "224", "240")
                             ED_DW3_S2_6_ROW("16", "288", "304", "320", "336", "352", "368", "384")
                                 ED_DW3_PLANE_LEAVE6);
}
#endif

/* One output row of one channel in C: p its ring pointer, k its constants, rq its
 * requantization (for a slow channel); from output column x on. */
static __attribute__((noinline)) void ed_dw3_channel_row(const ed_dw3_layer_t *L, const uint32_t *p,
                                                         const ed_dw3_channel_t *k, const ed_requant_out_t *rq,
                                                         int32_t x, int8_t *out)
{
    const int32_t step = L->out_col, stride2 = L->stride_w == 2, pw = L->pair_words, adv = pw * (stride2 ? 4 : 2);
    const int32_t act_min = L->act_min, act_max = L->act_max;
    int32_t acc[4];
    p += (x / 4) * adv;
    out += x * step;
    for (; x < L->out_w; x += 4, p += adv)
    {
        ed_dw3_pass(p, k, stride2, pw, L->slot_words, acc);
        const int32_t n = ed_min_i32(4, L->out_w - x);
        for (int32_t i = 0; i < n; i++, out += step)
        {
            int32_t v;
            if (k->e >= 0)
            {
                v = ed_min_i32(ed_max_i32(ed_dw3_requant(acc[i], k), act_min), act_max);
            }
            else
            {
                v = ed_requant_out_s8(rq, acc[i], act_min, act_max);
            }
            *out = (int8_t)v;
        }
    }
}

/* Halfwords of a word doubled (each fits int16 doubled: an int8 weight). */
static inline uint32_t ed_dw3_double(uint32_t w)
{
    return (w << 1) & 0xFFFEFFFFu;
}

/* x mod 3 in 0..2 */
static inline int32_t ed_dw3_mod3(int32_t x)
{
    const int32_t m = x % 3;
    return m < 0 ? m + 3 : m;
}

/* The constants of channels oc0..oc0 + valid - 1 in `rotations` rotations (1 or 3) into k, the
 * requantization of the slow ones into rq; true when every channel is fast. */
static inline __attribute__((always_inline)) int ed_dw3_constants(const uint32_t *w, int32_t oc0, int32_t valid,
                                                                  const int32_t *folded_bias,
                                                                  const cmsis_nn_per_channel_quant_params *quant,
                                                                  int32_t output_offset, int32_t rotations,
                                                                  ed_dw3_channel_t k[3][4], ed_requant_out_t rq[4])
{
    int fast = 1;
    for (int32_t i = 0; i < valid; i++)
    {
        const int32_t c = oc0 + i, bias = folded_bias[c];
        const int32_t mult = quant->multiplier[c], e = -quant->shift[c];
        /* ed_requant_out_prepare's fast path (a right shift of at most 23), a bias within the limit */
        const int dbl = mult >= 0 && e >= 1 && e <= 23 && bias >= -ED_DW3_BIAS_LIMIT && bias <= ED_DW3_BIAS_LIMIT;
        if (!dbl)
        {
            rq[i] = ed_requant_out_prepare(mult, quant->shift[c], output_offset);
        }
        const uint32_t *wc = w + 6 * c;
        uint32_t r0a = wc[0], r0b = wc[1], r1a = wc[2], r1b = wc[3], r2a = wc[4], r2b = wc[5];
        ed_dw3_channel_t q;
        q.bias = bias;
        q.mult = mult;
        q.e = -1;
        q.k = 0;
        if (dbl)
        {
            r0a = ed_dw3_double(r0a), r0b = ed_dw3_double(r0b), r1a = ed_dw3_double(r1a);
            r1b = ed_dw3_double(r1b), r2a = ed_dw3_double(r2a), r2b = ed_dw3_double(r2b);
            q.bias = 2 * bias;
            q.e = e;
            q.k = (int32_t)((1u << (e - 1)) + ((uint32_t)output_offset << e));
        }
        fast = fast && dbl;
        if (rotations == 1)
        {
            /* slot s meets kernel row s */
            k[0][i] = q;
            k[0][i].w[0] = r0a, k[0][i].w[1] = r0b, k[0][i].w[2] = r1a;
            k[0][i].w[3] = r1b, k[0][i].w[4] = r2a, k[0][i].w[5] = r2b;
            continue;
        }
        /* rotation 0: kernel rows 0, 1, 2 in slots 0, 1, 2; rotation 1: 2, 0, 1; rotation 2: 1, 2, 0 */
        k[0][i] = q;
        k[1][i] = q;
        k[2][i] = q;
        k[0][i].w[0] = k[1][i].w[2] = k[2][i].w[4] = r0a;
        k[0][i].w[1] = k[1][i].w[3] = k[2][i].w[5] = r0b;
        k[0][i].w[2] = k[1][i].w[4] = k[2][i].w[0] = r1a;
        k[0][i].w[3] = k[1][i].w[5] = k[2][i].w[1] = r1b;
        k[0][i].w[4] = k[1][i].w[0] = k[2][i].w[2] = r2a;
        k[0][i].w[5] = k[1][i].w[1] = k[2][i].w[3] = r2b;
    }
    return fast;
}

/* Input rows r0 - pad_top .. r1 - 1 - pad_top (all inside the input) of the four channels
 * oc0..oc0 + 3 into slots r0..r1 - 1 of a plane (ed_dw3_plane): ed_dw3_gather's rows in one call. */
static __attribute__((noinline)) void ed_dw3_gather_plane(const ed_dw3_layer_t *L, int32_t r0, int32_t r1, int32_t oc0)
{
    const int32_t pixel = L->in_col, in_row = L->in_row, sw = L->slot_words;
    const int32_t k_lo = L->k_lo, k_hi = L->k_hi;
    const int left = L->k_first < k_lo, right = k_hi < L->k_last;
    const uint32_t zp4 = L->zp4;
    const int8_t *row = L->input + (r0 - L->pad_top) * in_row + oc0;
    const int32_t first = (2 * k_lo - L->pad_left) * pixel; /* the first pair inside the row */
    uint32_t *d = L->ring + r0 * sw + 4 * L->k_first;
    for (int32_t r = r0; r < r1; r++, row += in_row, d += sw)
    {
        uint32_t *q = d;
        if (left)
        {
            ed_dw3_store_pairs(zp4, ed_read_u32(row), q);
            q += 4;
        }
        const int8_t *src = ed_dw3_gather_pairs(row + first, pixel, q, 4, k_hi - k_lo);
        if (right)
        {
            ed_dw3_store_pairs(ed_read_u32(src), zp4, q + 4 * (k_hi - k_lo));
        }
    }
}

/* Every output row of the channels oc0..oc0 + valid - 1 over their whole gathered plane
 * (ed_dw3_plane): input row -pad_top + r in slot r, each slot `words` pairs, so the weights keep
 * one rotation and one call runs every row of every channel. */
static __attribute__((noinline)) void ed_dw3_plane_group(const ed_dw3_layer_t *L, const uint32_t *w, int32_t oc0,
                                                         int32_t valid, const int32_t *folded_bias,
                                                         const cmsis_nn_per_channel_quant_params *quant,
                                                         int32_t output_offset)
{
    ed_requant_out_t rq[4];
    ed_dw3_channel_t kr[3][4]; /* rotation 0 only */
    const ed_dw3_channel_t *k = kr[0];
    const int fast = ed_dw3_constants(w, oc0, valid, folded_bias, quant, output_offset, 1, kr, rq) &&
                     L->act_min == -128 && L->act_max == 127;
    int8_t *out = L->output + oc0;
    /* The rows of the padding hold the zero point from the call's start. */
    const int32_t sw = L->slot_words;
    const int32_t rows = ed_min_i32((L->out_h - 1) * L->stride_h + 3, L->in_h + L->pad_top);
    ed_dw3_gather_plane(L, ed_min_i32(L->pad_top, rows), rows, oc0); /* valid is 4: see ed_dw3_plane */
#if ED_NN_ASM
    if (fast)
    {
        const ed_dw3_plane_run_t run = {L->ring, k, out, L->out_col, 4 * L->stride_h * sw, valid, L->out_row,
                                        L->out_h};
        if (L->out_w == 6)
        {
            if (L->stride_w == 2)
            {
                ed_dw3_plane6_s2(&run);
            }
            else
            {
                ed_dw3_plane6_s1(&run);
            }
        }
        else if (L->stride_w == 2)
        {
            ed_dw3_plane3_s2(&run);
        }
        else
        {
            ed_dw3_plane3_s1(&run);
        }
        return;
    }
#else
    (void)fast;
#endif
    for (int32_t oy = 0; oy < L->out_h; oy++, out += L->out_row)
    {
        for (int32_t i = 0; i < valid; i++)
        {
            ed_dw3_channel_row(L, L->ring + oy * L->stride_h * sw + i, &k[i], &rq[i], 0, out + i);
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
    ed_dw3_channel_t k[3][4]; /* per rotation r (slot s meets kernel row (s - r) mod 3), per channel */
    const int fast = ed_dw3_constants(w, oc0, valid, folded_bias, quant, output_offset, 3, k, rq) &&
                     L->act_min == -128 && L->act_max == 127 && L->out_w > 0;
#if !ED_NN_ASM
    (void)fast;
#endif
    int8_t *out = L->output + oc0;
    /* Input row iy sits in slot iy mod 3 from when an output row first needs it until the window
     * has passed it, so each input row is gathered once per group. */
    int32_t iy0 = -L->pad_top;
    int32_t next = iy0, slot = ed_dw3_mod3(next); /* first input row not gathered yet, its slot */
    int32_t rot = slot;                             /* iy0 mod 3 */
    const int32_t rot_step = ed_dw3_mod3(L->stride_h);
#if ED_NN_ASM
    /* With every channel fast and no clamp, one Thumb-2 call per output row runs every pass of
     * every channel: whole passes of four, then the row's last 1 to 3 outputs in passes of two. */
    const int32_t stride2 = L->stride_w == 2, adv = 4 * ED_DW3_PAIR * (stride2 ? 4 : 2); /* bytes */
    ed_dw3_run_t run = {L->ring, k[0], out, L->out_col, (L->out_w / 4) * adv, valid, L->out_w % 4};
    /* A row of four channels inside the input gathers in Thumb-2 (ed_dw3_gather's valid == 4 path). */
    const int32_t left = L->k_first < L->k_lo;
    const int8_t *const src0 = L->input + oc0 + (2 * L->k_lo - L->pad_left - left) * L->in_col;
    ed_dw3_row_gather_t g = {src0, L->in_col, L->ring, L->k_hi - L->k_lo, left | (L->k_hi < L->k_last) << 1, L->zp4};
#endif
    for (int32_t oy = 0; oy < L->out_h; oy++, iy0 += L->stride_h, out += L->out_row)
    {
        if (next < iy0)
        {
            next = iy0;
            slot = rot;
        }
        for (; next < iy0 + 3; next++)
        {
#if ED_NN_ASM
            if (valid == 4 && (uint32_t)next < (uint32_t)L->in_h)
            {
                g.src = src0 + next * L->in_row;
                g.d = L->ring + 4 * slot + L->k_first * ED_DW3_PAIR;
                ed_dw3_gather_row_s(&g);
            }
            else
#endif
            {
                ed_dw3_gather(L, next, oc0, valid, L->ring + 4 * slot);
            }
            slot = slot == 2 ? 0 : slot + 1;
        }
#if ED_NN_ASM
        if (fast)
        {
            run.k = k[rot];
            run.out = out;
            if (stride2)
            {
                ed_dw3_run_s2(&run);
            }
            else
            {
                ed_dw3_run_s1(&run);
            }
        }
        else
#endif
        {
            for (int32_t i = 0; i < valid; i++)
            {
                ed_dw3_channel_row(L, L->ring + i, &k[rot][i], &rq[i], 0, out + i);
            }
        }
        rot += rot_step;
        rot = rot >= 3 ? rot - 3 : rot;
    }
}

/* True when the kernel walks the layer transposed (along the input's columns): a layer taller
 * than wide whose vertical stride the passes take (DS-CNN's 25 x 5). The build packs the
 * weights transposed for it (edge_deploy.kernels.ed_depthwise_conv_3x3_s8.transposed). */
static int ed_dw3_transposed(const cmsis_nn_dw_conv_params *p, const cmsis_nn_dims *output_dims)
{
    return output_dims->h > output_dims->w && (p->stride.h == 1 || p->stride.h == 2);
}

/* True when each group gathers every input row its outputs read, not a ring of three: rows of
 * one pass of three or six outputs (MobileNet's 6 x 6 and 3 x 3 planes), a vertical stride of 1
 * or 2 (in the kernel's orientation) and whole groups of four channels. There a layer is never
 * taller than wide (it would be walked transposed), so a plane has at most 6 output rows and 13
 * gathered rows. The build sizes the scratch the same way
 * (edge_deploy.kernels.ed_depthwise_conv_3x3_s8.geometry). */
static int ed_dw3_plane(int32_t out_h, int32_t out_w, int32_t stride_h, int32_t channels)
{
    return (out_w == 3 || out_w == 6) && (stride_h == 1 || stride_h == 2) && out_h >= 1 && channels % 4 == 0;
}

/* Scratch words: 4 channels x (columns / 2) pairs x slots (3, or the plane's rows). */
static int32_t ed_dw3_scratch_words(const cmsis_nn_dw_conv_params *p, const cmsis_nn_dims *output_dims)
{
    const int t = ed_dw3_transposed(p, output_dims);
    const int32_t out_h = t ? output_dims->w : output_dims->h, out_w = t ? output_dims->h : output_dims->w;
    const int32_t stride_h = t ? p->stride.w : p->stride.h, stride_w = t ? p->stride.h : p->stride.w;
    const int32_t slots = ed_dw3_plane(out_h, out_w, stride_h, output_dims->c) ? (out_h - 1) * stride_h + 3 : ED_DW3_SLOTS;
    return 4 * (ed_dw3_columns(out_w, stride_w) / 2) * slots;
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
    const int transposed = ed_dw3_transposed(p, output_dims);
    if (p->ch_mult != 1 || input_dims->c != cout || filter_dims->c != cout || filter_dims->h != 3 ||
        filter_dims->w != 3 || p->dilation.w != 1 || p->dilation.h != 1 ||
        (transposed ? p->stride.w : p->stride.h) < 1 || (!transposed && p->stride.w != 1 && p->stride.w != 2) ||
        folded_bias == NULL || ctx == NULL || ctx->buf == NULL ||
        ctx->size < ed_depthwise_conv_3x3_s8_get_buffer_size(p, input_dims, filter_dims, output_dims))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    const int32_t in_row = input_dims->w * cout, out_row = output_dims->w * cout;
    ed_dw3_layer_t L = {
        .ring = (uint32_t *)ctx->buf,
        .act_min = p->activation.min, .act_max = p->activation.max,
        .zp4 = 0x01010101u * (uint8_t)(int8_t)(-p->input_offset),
    };
    if (transposed)
    {
        L.in_h = input_dims->w, L.in_w = input_dims->h, L.in_row = cout, L.in_col = in_row;
        L.out_h = output_dims->w, L.out_w = output_dims->h, L.out_row = cout, L.out_col = out_row;
        L.stride_h = p->stride.w, L.stride_w = p->stride.h, L.pad_top = p->padding.w, L.pad_left = p->padding.h;
    }
    else
    {
        L.in_h = input_dims->h, L.in_w = input_dims->w, L.in_row = in_row, L.in_col = cout;
        L.out_h = output_dims->h, L.out_w = output_dims->w, L.out_row = out_row, L.out_col = cout;
        L.stride_h = p->stride.h, L.stride_w = p->stride.w, L.pad_top = p->padding.h, L.pad_left = p->padding.w;
    }
    L.words = ed_dw3_columns(L.out_w, L.stride_w) / 2;
    L.plane = ed_dw3_plane(L.out_h, L.out_w, L.stride_h, cout);
    L.pair_words = L.plane ? 4 : ED_DW3_PAIR;
    L.slot_words = L.plane ? 4 * L.words : 4;
    const int32_t pad = L.pad_left;
    L.k_first = ed_min_i32(L.words, pad / 2);
    L.k_last = ed_min_i32(L.words, ed_max_i32(L.k_first, (L.in_w + pad + 1) / 2));
    L.k_lo = ed_min_i32(L.k_last, (pad + 1) / 2);
    L.k_hi = ed_min_i32(L.k_last, ed_max_i32(L.k_lo, (L.in_w + pad) / 2));
    /* The pairs left of k_first and from k_last on are the zero point in every row. */
    const uint32_t zz = ed_dw3_sxtb16(L.zp4);
    const int32_t scratch_words = 4 * L.words * (L.plane ? (L.out_h - 1) * L.stride_h + 3 : ED_DW3_SLOTS);
    for (int32_t i = 0; i < scratch_words; i++)
    {
        L.ring[i] = zz;
    }
    for (int32_t n = 0; n < input_dims->n; n++)
    {
        L.input = input_data + n * input_dims->h * in_row;
        L.output = output_data + n * output_dims->h * out_row;
        for (int32_t oc0 = 0; oc0 < cout; oc0 += 4)
        {
            (L.plane ? ed_dw3_plane_group : ed_dw3_group)(&L, packed_weights, oc0, ed_min_i32(4, cout - oc0),
                                                          folded_bias, quant_params, p->output_offset);
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
    return ed_dw3_scratch_words(dw_conv_params, output_dims) * (int32_t)sizeof(uint32_t);
}
