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
} ed_dw3_layer_t;

/* The ring holds input row iy in slot iy mod 3 and, for slots 0 and 1, again in slot + 3, so
 * the three rows of any output row are consecutive slots. Word (pair k, slot s, channel i) is
 * ring[(k * ED_DW3_SLOTS + s) * 4 + i]: a pass of channel i from slot s reads pair j of kernel
 * row r at p[20 j + 4 r] with p = ring + 4 s + i (fixed offsets for the Thumb-2 loads). */
#define ED_DW3_SLOTS 5
#define ED_DW3_PAIR (4 * ED_DW3_SLOTS) /* words per column pair */

/* A channel's constants, gathered per group (the pass reads them at fixed offsets): its six
 * weight words, its folded bias, its fast requantization (ed_requant_t's first four fields). */
typedef struct
{
    uint32_t w[6];
    int32_t bias;
    int32_t mult;
    uint32_t round_lo;
    int32_t round_hi;
    int32_t hi_shift;
} ed_dw3_channel_t;
_Static_assert(sizeof(ed_dw3_channel_t) == 44, "the pass reads ed_dw3_channel_t at fixed offsets");

/* Four input channels (oc0.. of input column `col`, input row `row`, or the zero point) as a word. */
static inline uint32_t ed_dw3_word(const ed_dw3_layer_t *L, const int8_t *row, int32_t col, int32_t valid)
{
    if (row == NULL || (uint32_t)col >= (uint32_t)L->in_w)
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
 * x0 (column j) and x1 (column j + 1), at d[0..3] and again at d[dup..dup + 3]. */
static inline void ed_dw3_store_pairs(uint32_t x0, uint32_t x1, uint32_t *d, uint32_t *d2)
{
    const uint32_t e0 = ed_dw3_sxtb16(x0), e1 = ed_dw3_sxtb16(x1);           /* (c0, c2) of each column */
    const uint32_t o0 = ed_dw3_sxtb16_ror8(x0), o1 = ed_dw3_sxtb16_ror8(x1); /* (c1, c3) */
    const uint32_t c0 = ed_dw3_pkhbt(e0, e1), c2 = ed_dw3_pkhtb(e1, e0);
    const uint32_t c1 = ed_dw3_pkhbt(o0, o1), c3 = ed_dw3_pkhtb(o1, o0);
    d[0] = c0;
    d[1] = c1;
    d[2] = c2;
    d[3] = c3;
    d2[0] = c0;
    d2[1] = c1;
    d2[2] = c2;
    d2[3] = c3;
}

/* Input row iy (outside the input: all zero point) of channels oc0..oc0+3 into ring slot `slot`
 * (and slot + 3 when slot < 2) of the four channels: per two columns j, j + 1 one int16 pair
 * (x_j, x_j+1) per channel. */
static __attribute__((noinline)) void ed_dw3_gather(const ed_dw3_layer_t *L, int32_t iy, int32_t oc0, int32_t valid,
                                                    int32_t slot)
{
    const int8_t *row = (iy >= 0 && iy < L->in_h) ? L->input + iy * L->in_row + oc0 : NULL;
    const int32_t in_w = L->in_w, pixel = L->in_col, words = L->words, pad = L->pad_left;
    const int32_t dup = slot < 2 ? 12 : 0; /* the copy's offset, slot + 3 (0: the same words twice) */
    /* Pairs k whose two columns -pad + 2k, -pad + 2k + 1 are both inside: k_lo <= k < k_hi. */
    int32_t k_lo = words, k_hi = words;
    if (row != NULL && valid == 4)
    {
        k_lo = ed_min_i32(words, (pad + 1) / 2);
        k_hi = ed_max_i32(k_lo, ed_min_i32(words, (in_w + pad) / 2));
    }
    uint32_t *d = L->ring + 4 * slot;
    if (row == NULL)
    {
        /* A padding row: every pair is the zero point twice. */
        const uint32_t z = ed_dw3_sxtb16(L->zp4);
        const uint32_t zz = ed_dw3_pkhbt(z, z);
        for (int32_t k = 0; k < words; k++, d += ED_DW3_PAIR)
        {
            d[0] = d[1] = d[2] = d[3] = zz;
            d[dup] = d[dup + 1] = d[dup + 2] = d[dup + 3] = zz;
        }
        return;
    }
    for (int32_t k = 0; k < words; k++, d += ED_DW3_PAIR)
    {
        if (k == k_lo)
        {
            const int8_t *src = row + (2 * k - pad) * pixel;
            for (; k < k_hi; k++, d += ED_DW3_PAIR, src += 2 * pixel)
            {
                ed_dw3_store_pairs(ed_read_u32(src), ed_read_u32(src + pixel), d, d + dup);
            }
            if (k == words)
            {
                break;
            }
        }
        const int32_t col = 2 * k - pad;
        ed_dw3_store_pairs(ed_dw3_word(L, row, col, valid), ed_dw3_word(L, row, col + 1, valid), d, d + dup);
    }
}

/* The four accumulators of the pass at ring pointer p (pair j of kernel row r at p[20j + 4r];
 * stride 1: pairs 0..2, stride 2: pairs 0..4), the bias added. */
static void ed_dw3_pass(const uint32_t *p, const ed_dw3_channel_t *k, int32_t stride2, int32_t acc[4])
{
    int32_t a0 = k->bias, a1 = k->bias, a2 = k->bias, a3 = k->bias;
    for (int32_t r = 0; r < 3; r++, p += 4)
    {
        const uint32_t w01 = k->w[2 * r], w12 = k->w[2 * r + 1];
        if (stride2)
        {
            a0 = ed_dw3_smlabt(p[20], w12, ed_dw3_smlad(p[0], w01, a0));
            a1 = ed_dw3_smlabt(p[40], w12, ed_dw3_smlad(p[20], w01, a1));
            a2 = ed_dw3_smlabt(p[60], w12, ed_dw3_smlad(p[40], w01, a2));
            a3 = ed_dw3_smlabt(p[80], w12, ed_dw3_smlad(p[60], w01, a3));
        }
        else
        {
            a0 = ed_dw3_smlabt(p[20], w12, ed_dw3_smlad(p[0], w01, a0));
            a1 = ed_dw3_smlad(p[20], w12, ed_dw3_smlatb(p[0], w01, a1));
            a2 = ed_dw3_smlabt(p[40], w12, ed_dw3_smlad(p[20], w01, a2));
            a3 = ed_dw3_smlad(p[40], w12, ed_dw3_smlatb(p[20], w01, a3));
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#if ED_NN_ASM
/* The run of full passes of one channel along an output row, in Thumb-2 (ed_dw3_run_s1/_s2). */
typedef struct
{
    const uint32_t *p;         /* +0: the first channel's first pass's ring pointer */
    const ed_dw3_channel_t *k; /* +4: the first channel's constants */
    int8_t *out;               /* +8: the first channel's first output */
    int32_t step;              /* +12: bytes between a channel's outputs */
    int32_t span;              /* +16: bytes the ring pointer moves over the passes (>= 1 pass) */
    int32_t channels;          /* +20: channels (>= 1), each 1 ring word and 1 constant block on */
    int32_t out_next;          /* +24: bytes from a channel's first output to the next channel's */
    int32_t last;              /* +28: outputs the last pass stores (1 to 4) */
} ed_dw3_run_t;

/* Naked: the body is basic asm only, so the argument (r0) is marked unused. */
#define ED_DW3_ARG __attribute__((unused))

/* Registers: r0 ring pointer, r1 channel constants, r2 output, r3 step, r4-r7 the four
 * accumulators, r8 / r9 the weight pairs (then mult, round_lo), r10 / r11 inputs (then round_hi,
 * hi_shift), r12 / lr the requantization's 64-bit sum. On the stack: [sp] the channel's end
 * pointer, [sp, #4] its first ring pointer, [sp, #8] its first output, [sp, #12] channels left,
 * [sp, #16] span, [sp, #20] out_next, [sp, #24] last. */
#define ED_DW3_ENTER                                                                                                   \
    "push {r4-r11, lr}\n\t"                                                                                            \
    "sub sp, sp, #32\n\t"                                                                                              \
    "ldr r7, [r0, #28]\n\t"                                                                                            \
    "str r7, [sp, #24]\n\t"                                                                                            \
    "ldr r1, [r0, #4]\n\t"                                                                                             \
    "ldr r2, [r0, #8]\n\t"                                                                                             \
    "ldr r3, [r0, #12]\n\t"                                                                                            \
    "ldr r4, [r0, #16]\n\t"                                                                                            \
    "ldr r5, [r0, #20]\n\t"                                                                                            \
    "ldr r6, [r0, #24]\n\t"                                                                                            \
    "ldr r0, [r0]\n\t"                                                                                                 \
    "str r4, [sp, #16]\n\t"                                                                                            \
    "str r5, [sp, #12]\n\t"                                                                                            \
    "str r6, [sp, #20]\n\t"                                                                                            \
    "2:\n\t"                                                                                                           \
    "str r0, [sp, #4]\n\t"                                                                                             \
    "str r2, [sp, #8]\n\t"                                                                                             \
    "ldr r12, [sp, #16]\n\t"                                                                                           \
    "add r12, r0, r12\n\t"                                                                                             \
    "str r12, [sp]\n\t"                                                                                                \
    "1:\n\t"                                                                                                           \
    "ldr r12, [r1, #24]\n\t" /* the bias: the first row's multiply-adds start from it */
/* Kernel row r of a stride-1 pass: weights at byte wo of r1, pairs A, B, C at xo, xo + 80, xo + 160;
 * the accumulators r4-r7 start from s4-s7 (themselves, or the bias in r12 on the first row). */
#define ED_DW3_S1_ROW(wo, xo, xo20, xo40, s4, s5, s6, s7)                                                              \
    "ldr r8, [r1, #" wo "]\n\t"                                                                                        \
    "ldr r9, [r1, #" wo "+4]\n\t"                                                                                      \
    "ldr r10, [r0, #" xo "]\n\t"                                                                                       \
    "ldr r11, [r0, #" xo20 "]\n\t"                                                                                     \
    "smlad r4, r10, r8, " s4 "\n\t"                                                                                    \
    "smlatb r5, r10, r8, " s5 "\n\t"                                                                                   \
    "ldr r10, [r0, #" xo40 "]\n\t"                                                                                     \
    "smlabt r4, r11, r9, r4\n\t"                                                                                       \
    "smlad r5, r11, r9, r5\n\t"                                                                                        \
    "smlad r6, r11, r8, " s6 "\n\t"                                                                                    \
    "smlatb r7, r11, r8, " s7 "\n\t"                                                                                   \
    "smlabt r6, r10, r9, r6\n\t"                                                                                       \
    "smlad r7, r10, r9, r7\n\t"
/* Kernel row r of a stride-2 pass: pairs P0..P4 at xo + 80 j. */
#define ED_DW3_S2_ROW(wo, xo, xo20, xo40, xo60, xo80, s4, s5, s6, s7)                                                  \
    "ldr r8, [r1, #" wo "]\n\t"                                                                                        \
    "ldr r9, [r1, #" wo "+4]\n\t"                                                                                      \
    "ldr r10, [r0, #" xo "]\n\t"                                                                                       \
    "ldr r11, [r0, #" xo20 "]\n\t"                                                                                     \
    "smlad r4, r10, r8, " s4 "\n\t"                                                                                    \
    "smlabt r4, r11, r9, r4\n\t"                                                                                       \
    "ldr r10, [r0, #" xo40 "]\n\t"                                                                                     \
    "smlad r5, r11, r8, " s5 "\n\t"                                                                                    \
    "smlabt r5, r10, r9, r5\n\t"                                                                                       \
    "ldr r11, [r0, #" xo60 "]\n\t"                                                                                     \
    "smlad r6, r10, r8, " s6 "\n\t"                                                                                    \
    "smlabt r6, r11, r9, r6\n\t"                                                                                       \
    "ldr r10, [r0, #" xo80 "]\n\t"                                                                                     \
    "smlad r7, r11, r8, " s7 "\n\t"                                                                                    \
    "smlabt r7, r10, r9, r7\n\t"
/* The fast requantization of accumulator `a` (ed_requant_fast, then SSAT). */
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
#define ED_DW3_RQ(a)                                                                                                   \
    "mov r12, r9\n\t"                                                                                                  \
    "mov lr, r10\n\t"                                                                                                  \
    "smlal r12, lr, " a ", r8\n\t"                                                                                     \
    "asr lr, lr, r11\n\t"                                                                                              \
    "ssat " a ", #8, lr\n\t"
#else
#define ED_DW3_RQ(a)                                                                                                   \
    "and r12, " a ", #0x80000000\n\t"                                                                                  \
    "subs r12, r9, r12\n\t"                                                                                            \
    "sbc lr, r10, #0\n\t"                                                                                              \
    "smlal r12, lr, " a ", r8\n\t"                                                                                     \
    "asr lr, lr, r11\n\t"                                                                                              \
    "ssat " a ", #8, lr\n\t"
#endif
/* Requantize and store the pass's four outputs, advance the ring pointer, loop. */
#define ED_DW3_LEAVE(advance)                                                                                          \
    "add r0, r0, #" advance "\n\t"                                                                                     \
    "ldr r8, [r1, #28]\n\t"                                                                                            \
    "ldr r9, [r1, #32]\n\t"                                                                                            \
    "ldr r10, [r1, #36]\n\t"                                                                                           \
    "ldr r11, [r1, #40]\n\t"                                                                                           \
    ED_DW3_RQ("r4") ED_DW3_RQ("r5") ED_DW3_RQ("r6") ED_DW3_RQ("r7")                                                   \
    "ldr r12, [sp]\n\t"                                                                                                \
    "cmp r0, r12\n\t"                                                                                                  \
    "beq 3f\n\t"                                                                                                       \
    "strb r4, [r2]\n\t"                                                                                                \
    "strb r5, [r2, r3]\n\t"                                                                                            \
    "add r2, r2, r3, lsl #1\n\t"                                                                                       \
    "strb r6, [r2]\n\t"                                                                                                \
    "strb r7, [r2, r3]\n\t"                                                                                            \
    "add r2, r2, r3, lsl #1\n\t"                                                                                       \
    "b 1b\n\t"                                                                                                         \
    "3:\n\t" /* the channel's last pass: its first `last` outputs */                                                 \
    "ldr r8, [sp, #24]\n\t"                                                                                            \
    "strb r4, [r2]\n\t"                                                                                                \
    "add r12, r2, r3, lsl #1\n\t"                                                                                      \
    "cmp r8, #2\n\t"                                                                                                   \
    "it ge\n\t"                                                                                                        \
    "strbge r5, [r2, r3]\n\t"                                                                                          \
    "cmp r8, #3\n\t"                                                                                                   \
    "it ge\n\t"                                                                                                        \
    "strbge r6, [r12]\n\t"                                                                                             \
    "cmp r8, #4\n\t"                                                                                                   \
    "it ge\n\t"                                                                                                        \
    "strbge r7, [r12, r3]\n\t"                                                                                         \
    "ldr r0, [sp, #4]\n\t"                                                                                             \
    "ldr r2, [sp, #8]\n\t"                                                                                             \
    "ldr r12, [sp, #20]\n\t"                                                                                           \
    "add r0, r0, #4\n\t"                                                                                               \
    "add r2, r2, r12\n\t"                                                                                              \
    "add r1, r1, #44\n\t"                                                                                              \
    "ldr r12, [sp, #12]\n\t"                                                                                           \
    "subs r12, r12, #1\n\t"                                                                                            \
    "str r12, [sp, #12]\n\t"                                                                                           \
    "bne 2b\n\t"                                                                                                       \
    "add sp, sp, #32\n\t"                                                                                              \
    "pop {r4-r11, pc}\n\t"

__attribute__((naked, noinline)) static void ed_dw3_run_s1(ED_DW3_ARG const ed_dw3_run_t *run)
{
    __asm__ volatile(ED_DW3_ENTER ED_DW3_S1_ROW("0", "0", "80", "160", "r12", "r12", "r12", "r12")
                     ED_DW3_S1_ROW("8", "16", "96", "176", "r4", "r5", "r6", "r7")
                     ED_DW3_S1_ROW("16", "32", "112", "192", "r4", "r5", "r6", "r7") ED_DW3_LEAVE("160"));
}

__attribute__((naked, noinline)) static void ed_dw3_run_s2(ED_DW3_ARG const ed_dw3_run_t *run)
{
    __asm__ volatile(ED_DW3_ENTER ED_DW3_S2_ROW("0", "0", "80", "160", "240", "320", "r12", "r12", "r12", "r12")
                     ED_DW3_S2_ROW("8", "16", "96", "176", "256", "336", "r4", "r5", "r6", "r7")
                     ED_DW3_S2_ROW("16", "32", "112", "192", "272", "352", "r4", "r5", "r6", "r7")
                     ED_DW3_LEAVE("320"));
}
#endif

/* One output row of one channel in C: p its ring pointer at the row's first slot, k its
 * constants, rq its requantization; from output column x on. */
static __attribute__((noinline)) void ed_dw3_channel_row(const ed_dw3_layer_t *L, const uint32_t *p,
                                                         const ed_dw3_channel_t *k, const ed_requant_out_t *rq,
                                                         int32_t x, int8_t *out)
{
    const int32_t step = L->out_col, stride2 = L->stride_w == 2, adv = ED_DW3_PAIR * (stride2 ? 4 : 2);
    const int32_t act_min = L->act_min, act_max = L->act_max;
    const int fast = rq->q.hi_shift >= 0;
    int32_t acc[4];
    p += (x / 4) * adv;
    out += x * step;
    for (; x < L->out_w; x += 4, p += adv)
    {
        ed_dw3_pass(p, k, stride2, acc);
        const int32_t n = ed_min_i32(4, L->out_w - x);
        for (int32_t i = 0; i < n; i++, out += step)
        {
            int32_t v;
            if (fast)
            {
                v = ed_sat8(ed_requant_fast(&rq->q, acc[i]));
                v = ed_min_i32(ed_max_i32(v, act_min), act_max);
            }
            else
            {
                v = ed_requant_out_s8(rq, acc[i], act_min, act_max);
            }
            *out = (int8_t)v;
        }
    }
}

/* One output row of the group's `valid` channels: p the first channel's ring pointer. With
 * every channel on the fast requantization and no clamp, one Thumb-2 call runs every pass of
 * every channel (the last pass storing the outputs the row has). */
static void ed_dw3_group_row(const ed_dw3_layer_t *L, const uint32_t *p, const ed_dw3_channel_t *k,
                             const ed_requant_out_t *rq, int32_t valid, int fast, int8_t *out)
{
    int32_t x = 0;
#if ED_NN_ASM
    if (fast && L->out_w > 0)
    {
        const int32_t stride2 = L->stride_w == 2, adv = 4 * ED_DW3_PAIR * (stride2 ? 4 : 2); /* bytes */
        const int32_t passes = (L->out_w + 3) / 4, last = L->out_w - 4 * (passes - 1);
        const ed_dw3_run_t run = {p, k, out, L->out_col, passes * adv, valid, 1, last};
        stride2 ? ed_dw3_run_s2(&run) : ed_dw3_run_s1(&run);
        return;
    }
#else
    (void)fast;
#endif
    for (int32_t i = 0; i < valid; i++)
    {
        ed_dw3_channel_row(L, p + i, &k[i], &rq[i], x, out + i);
    }
}

/* Every output row of the channels oc0..oc0 + valid - 1. */
static __attribute__((noinline)) void ed_dw3_group(const ed_dw3_layer_t *L, const uint32_t *w, int32_t oc0,
                                                   int32_t valid, const int32_t *folded_bias,
                                                   const cmsis_nn_per_channel_quant_params *quant,
                                                   int32_t output_offset)
{
    ed_requant_out_t rq[4];
    ed_dw3_channel_t k[4];
    int fast = L->act_min == -128 && L->act_max == 127;
    for (int32_t i = 0; i < valid; i++)
    {
        const int32_t c = oc0 + i;
        rq[i] = ed_requant_out_prepare(quant->multiplier[c], quant->shift[c], output_offset);
        for (int32_t j = 0; j < 6; j++)
        {
            k[i].w[j] = w[6 * c + j];
        }
        k[i].bias = folded_bias[c];
        k[i].mult = rq[i].q.mult;
        k[i].round_lo = rq[i].q.round_lo;
        k[i].round_hi = rq[i].q.round_hi;
        k[i].hi_shift = rq[i].q.hi_shift;
        fast = fast && rq[i].q.hi_shift >= 0;
    }
    /* Input row iy sits in slot iy mod 3 from when an output row first needs it until the window
     * has passed it, so each input row is gathered once per group. */
    int32_t iy0 = -L->pad_top;
    int32_t next = iy0; /* first input row not gathered yet */
    int8_t *out = L->output + oc0;
    for (int32_t oy = 0; oy < L->out_h; oy++, iy0 += L->stride_h, out += L->out_row)
    {
        next = ed_max_i32(next, iy0);
        for (; next < iy0 + 3; next++)
        {
            const int32_t m = next % 3;
            ed_dw3_gather(L, next, oc0, valid, m < 0 ? m + 3 : m);
        }
        const int32_t m = iy0 % 3;
        ed_dw3_group_row(L, L->ring + 4 * (m < 0 ? m + 3 : m), k, rq, valid, fast, out);
    }
}

/* True when the kernel walks the layer transposed (along the input's columns): a layer taller
 * than wide whose vertical stride the passes take (DS-CNN's 25 x 5). The build packs the
 * weights transposed for it (edge_deploy.kernels.ed_depthwise_conv_3x3_s8.transposed). */
static int ed_dw3_transposed(const cmsis_nn_dw_conv_params *p, const cmsis_nn_dims *output_dims)
{
    return output_dims->h > output_dims->w && (p->stride.h == 1 || p->stride.h == 2);
}

/* Halfword columns of a gathered row in the kernel's orientation. */
static int32_t ed_dw3_layer_columns(const cmsis_nn_dw_conv_params *p, const cmsis_nn_dims *output_dims)
{
    return ed_dw3_transposed(p, output_dims) ? ed_dw3_columns(output_dims->h, p->stride.h)
                                             : ed_dw3_columns(output_dims->w, p->stride.w);
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
        .ring = (uint32_t *)ctx->buf, .words = ed_dw3_layer_columns(p, output_dims) / 2,
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
    for (int32_t n = 0; n < input_dims->n; n++)
    {
        L.input = input_data + n * input_dims->h * in_row;
        L.output = output_data + n * output_dims->h * out_row;
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
    /* 4 channels x (columns / 2) pairs x ED_DW3_SLOTS words */
    return 4 * (ed_dw3_layer_columns(dw_conv_params, output_dims) / 2) * ED_DW3_SLOTS * (int32_t)sizeof(uint32_t);
}
