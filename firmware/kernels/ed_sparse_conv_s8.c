/*
 * ed_sparse_conv_s8.c - s8 convolution on sparse weights (ed_sparse.h): group-sparse
 * (group_size 4) and unstructured (CSR, group_size 1). Written for edge-deploy from the TFLite
 * CONV_2D arithmetic; no CMSIS-NN code. Bit-exact with arm_convolve_s8 on the dense weights the
 * sparse ones were made from: the same products, summed in int32, requantized alike.
 *
 * Output positions are computed four at a time (a block); each output channel walks its kept
 * groups once for all four. The columns: for a 1-D layer whose windows start on groups of four,
 * the input row widened once per call; otherwise four widened patches per block
 * (ed_sparse_support.h).
 * Group-sparse DSP path: the whole block in Thumb-2 assembly (ED_ASM_G4_BLOCK) from a channel
 * table prepared once per call; per kept group one index load, one weight word, two SXTB16,
 * four LDRD and eight SMLAD (16 MACs); per output the prepared requantization. With the max pool
 * after it fused in (ed_convolve_group_sparse_maxpool2_s8), the larger of two accumulators is
 * requantized. Portable path and CSR: scalar MACs.
 */
#include "ed_sparse_support.h"

/* Scratch after the columns and the widened row (ed_convolve_sparse_s8_get_buffer_size): a
 * table of ED_SPARSE_CHANNEL_BYTES per output channel (ed_g4_channel_t: bias, kept count,
 * prepared requantization), then four outputs per channel for a block whose outputs cannot go
 * in place (the last block, the fused pool's). */
#define ED_SPARSE_CHANNEL_BYTES 24

/* Accumulates the kept groups of one output channel against four columns; returns the
 * pointer past its values. */
static inline __attribute__((always_inline)) const int8_t *
ed_group_row4(const int16_t *col, const int8_t *values, const uint8_t *index8, const uint16_t *index16, int32_t count,
              int wide, int32_t acc[4])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
#if ED_NN_DSP
    const uint32_t *words = (const uint32_t *)(const void *)col;
    for (int32_t i = 0; i < count; i++)
    {
        const uint32_t *c = words + ed_sparse_index(index8, index16, i, wide) * 8;
        const uint32_t wword = ed_read_u32(values);
        values += 4;
        const uint32_t w02 = ed_sxtb16(wword);
        const uint32_t w13 = ed_sxtb16_ror8(wword);
        a0 = ed_smlad(c[1], w13, ed_smlad(c[0], w02, a0));
        a1 = ed_smlad(c[3], w13, ed_smlad(c[2], w02, a1));
        a2 = ed_smlad(c[5], w13, ed_smlad(c[4], w02, a2));
        a3 = ed_smlad(c[7], w13, ed_smlad(c[6], w02, a3));
    }
#else
    for (int32_t i = 0; i < count; i++, values += 4)
    {
        const int16_t *c = col + ed_sparse_index(index8, index16, i, wide) * 4 * ED_SPARSE_COLUMNS;
        for (int32_t e = 0; e < 4; e++, c += ED_SPARSE_COLUMNS)
        {
            const int32_t w = values[e];
            a0 += c[0] * w;
            a1 += c[1] * w;
            a2 += c[2] * w;
            a3 += c[3] * w;
        }
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    return values;
}

/* The same for one nonzero weight per index (natural-order columns on both paths). */
static inline __attribute__((always_inline)) const int8_t *
ed_csr_row4(const int16_t *col, const int8_t *values, const uint8_t *index8, const uint16_t *index16, int32_t count,
            int wide, int32_t acc[4])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (int32_t i = 0; i < count; i++)
    {
        const int16_t *c = col + ed_sparse_index(index8, index16, i, wide) * ED_SPARSE_COLUMNS;
        const int32_t w = values[i];
        a0 += c[0] * w;
        a1 += c[1] * w;
        a2 += c[2] * w;
        a3 += c[3] * w;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    return values + count;
}

#if ED_NN_DSP
/* The whole block in assembly (index8 weights, four full columns, no activation clamp): per
 * output channel one LDM of {bias, count}, the group loop, one LDM of the prepared
 * requantization, four requantizations (AND, SUBS, SBC, SMLAL, ASR, SSAT) and four byte stores.
 * Registers: r0-r3 accumulators, r4-r7 weight / columns / requantization, r8 address, r9
 * count, r10 values, r11 indices, r12 columns, lr the channel table; the output pointer,
 * the channel count and the table's end live in *args. */
typedef struct
{
    int32_t bias;
    int32_t count;    /* kept groups */
    int32_t mult;     /* prepared fast requantization (ed_requant_out_t's q) */
    uint32_t round_lo;
    int32_t round_hi;
    int32_t hi_shift;
} ed_g4_channel_t;

typedef struct
{
    const int16_t *col; /* 0: the block's columns */
    int8_t *out;        /* 4: output of channel 0, position 0 (advanced per channel) */
    int32_t cout;       /* 8: output row stride */
    const ed_g4_channel_t *end; /* 12 */
} ed_g4_args_t;

#endif

#if ED_NN_DSP && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(ED_NN_PORTABLE)
/* One kept group against the four columns (pair order: the group is 32 bytes, position j's two
 * words at 8j): index, weight word, two SXTB16, four LDRD, eight SMLAD. */
#define ED_G4_GROUP(LOAD_INDEX)                \
    LOAD_INDEX "\n\t"                          \
    "ldr %[w], [%[vp]], #4\n\t"                \
    "add %[a], %[cb], %[a], lsl #5\n\t"        \
    "sxtb16 %[t], %[w]\n\t"                    \
    "sxtb16 %[w], %[w], ror #8\n\t"            \
    "ldrd %[x], %[y], [%[a]]\n\t"              \
    "smlad %[a0], %[x], %[t], %[a0]\n\t"       \
    "smlad %[a0], %[y], %[w], %[a0]\n\t"       \
    "ldrd %[x], %[y], [%[a], #8]\n\t"          \
    "smlad %[a1], %[x], %[t], %[a1]\n\t"       \
    "smlad %[a1], %[y], %[w], %[a1]\n\t"       \
    "ldrd %[x], %[y], [%[a], #16]\n\t"         \
    "smlad %[a2], %[x], %[t], %[a2]\n\t"       \
    "smlad %[a2], %[y], %[w], %[a2]\n\t"       \
    "ldrd %[x], %[y], [%[a], #24]\n\t"         \
    "smlad %[a3], %[x], %[t], %[a3]\n\t"       \
    "smlad %[a3], %[y], %[w], %[a3]\n\t"

/* The kept groups of one output channel (n, from the index pointer IP and `values`) against
 * the four columns at `col`, in Thumb-2 assembly: an odd group first, then two groups per
 * iteration (LSRS leaves the odd bit in C and "no pairs" in Z; nothing in a group sets the
 * flags). 13 registers, no spills. */
#define ED_G4_ROW_ASM(LOAD_INDEX, IP)                                                              \
    do                                                                                             \
    {                                                                                              \
        uint32_t w_, t_, x_, y_, a_;                                                               \
        __asm__ volatile("lsrs %[n], %[n], #1\n\t"                                                 \
                         "bcc 2f\n\t" ED_G4_GROUP(LOAD_INDEX) "2:\n\t"                             \
                         "beq 3f\n"                                                                \
                         "1:\n\t" ED_G4_GROUP(LOAD_INDEX) ED_G4_GROUP(LOAD_INDEX)                  \
                         "subs %[n], %[n], #1\n\t"                                                 \
                         "bne 1b\n"                                                                \
                         "3:\n\t"                                                                  \
                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3),             \
                           [vp] "+r"(values), [ip] "+r"(IP), [n] "+r"(n), [w] "=&r"(w_),           \
                           [t] "=&r"(t_), [x] "=&r"(x_), [y] "=&r"(y_), [a] "=&r"(a_)              \
                         : [cb] "r"(col)                                                           \
                         : "cc", "memory");                                                        \
    } while (0)
#define ED_SPARSE_ASM 1

/* One kept group against four positions: the group's first column word at r12 + index << SHIFT,
 * position j's two words at + j * S (Oj = "j * S"). */
#define ED_ASM_G4_GROUP(SHIFT, O1, O2, O3) \
    "ldrb r8, [r11], #1\n\t"               \
    "ldr r4, [r10], #4\n\t"                \
    "add r8, r12, r8, lsl #" SHIFT "\n\t"  \
    "sxtb16 r5, r4\n\t"                    \
    "sxtb16 r4, r4, ror #8\n\t"            \
    "ldrd r6, r7, [r8]\n\t"                \
    "smlad r0, r6, r5, r0\n\t"             \
    "smlad r0, r7, r4, r0\n\t"             \
    "ldrd r6, r7, [r8, #" O1 "]\n\t"       \
    "smlad r1, r6, r5, r1\n\t"             \
    "smlad r1, r7, r4, r1\n\t"             \
    "ldrd r6, r7, [r8, #" O2 "]\n\t"       \
    "smlad r2, r6, r5, r2\n\t"             \
    "smlad r2, r7, r4, r2\n\t"             \
    "ldrd r6, r7, [r8, #" O3 "]\n\t"       \
    "smlad r3, r6, r5, r3\n\t"             \
    "smlad r3, r7, r4, r3\n\t"

/* requantize accumulator R in place: r4 mult, r5:r6 rounding term, r7 shift */
#define ED_ASM_REQUANT(R)                \
    "and r8, " R ", #0x80000000\n\t"     \
    "subs r8, r5, r8\n\t"                \
    "sbc r9, r6, #0\n\t"                 \
    "smlal r8, r9, " R ", r4\n\t"        \
    "asr " R ", r9, r7\n\t"              \
    "ssat " R ", #8, " R "\n\t"

/* Four outputs of a channel: four requantizations, bytes at out, out + cout, out + 2 cout,
 * out + 3 cout. */
#define ED_ASM_STORE4                                                          \
    ED_ASM_REQUANT("r0") ED_ASM_REQUANT("r1") ED_ASM_REQUANT("r2") ED_ASM_REQUANT("r3") \
    "ldr r8, [sp]\n\t"                                                         \
    "ldrd r4, r5, [r8, #4]\n\t"                                                \
    "strb r0, [r4]\n\t"                                                        \
    "strb r1, [r4, r5]\n\t"                                                    \
    "add r6, r4, r5, lsl #1\n\t"                                               \
    "strb r2, [r6]\n\t"                                                        \
    "strb r3, [r6, r5]\n\t"

/* A max pool of window 2, stride 2 fused in: the larger accumulator of each pair of positions
 * (requantization is monotonic on the fast path: a non-negative multiplier and a right shift),
 * two requantizations, bytes at out and out + cout. */
#define ED_ASM_STORE_POOL2                                                     \
    "cmp r0, r1\n\t"                                                           \
    "it lt\n\t"                                                                \
    "movlt r0, r1\n\t"                                                         \
    "cmp r2, r3\n\t"                                                           \
    "it lt\n\t"                                                                \
    "movlt r2, r3\n\t" ED_ASM_REQUANT("r0") ED_ASM_REQUANT("r2")               \
    "ldr r8, [sp]\n\t"                                                         \
    "ldrd r4, r5, [r8, #4]\n\t"                                                \
    "strb r0, [r4]\n\t"                                                        \
    "strb r2, [r4, r5]\n\t"

/* void NAME(ed_g4_args_t *args, const ed_g4_channel_t *table, const int8_t *values,
 *           const uint8_t *index): all output channels of one block of four positions. */
#define ED_ASM_G4_BLOCK(NAME, SHIFT, O1, O2, O3, STORE)                                            \
    __asm__(".pushsection .text." NAME ",\"ax\",%progbits\n\t"                                     \
            ".syntax unified\n\t"                                                                  \
            ".thumb\n\t"                                                                           \
            ".balign 4\n\t"                                                                        \
            ".global " NAME "\n\t"                                                                 \
            ".thumb_func\n\t"                                                                      \
            ".type " NAME ", %function\n" NAME ":\n\t"                                             \
            "push {r0, r4-r11, lr}\n\t"                                                            \
            "mov lr, r1\n\t"                                                                       \
            "mov r10, r2\n\t"                                                                      \
            "mov r11, r3\n\t"                                                                      \
            "ldr r12, [r0]\n"                                                                      \
            "4:\n\t"                                                                               \
            "ldmia lr!, {r0, r9}\n\t"                                                              \
            "mov r1, r0\n\t"                                                                       \
            "mov r2, r0\n\t"                                                                       \
            "mov r3, r0\n\t"                                                                       \
            "lsrs r9, r9, #1\n\t"                                                                  \
            "bcc 2f\n\t" ED_ASM_G4_GROUP(SHIFT, O1, O2, O3) "2:\n\t"                               \
            "beq 3f\n"                                                                             \
            "1:\n\t" ED_ASM_G4_GROUP(SHIFT, O1, O2, O3) ED_ASM_G4_GROUP(SHIFT, O1, O2, O3)         \
            "subs r9, r9, #1\n\t"                                                                  \
            "bne 1b\n"                                                                             \
            "3:\n\t"                                                                               \
            "ldmia lr!, {r4, r5, r6, r7}\n\t" STORE                                                \
            "adds r4, r4, #1\n\t"                                                                  \
            "ldr r6, [r8, #12]\n\t"                                                                \
            "str r4, [r8, #4]\n\t"                                                                 \
            "cmp lr, r6\n\t"                                                                       \
            "bne 4b\n\t"                                                                           \
            "pop {r0, r4-r11, pc}\n\t"                                                             \
            ".size " NAME ", .-" NAME "\n\t"                                                       \
            ".popsection\n")

typedef void (*ed_g4_block_fn)(ed_g4_args_t *args, const ed_g4_channel_t *table, const int8_t *values,
                               const uint8_t *index);
/* Block columns (ed_sparse_support.h pair order: 32 bytes per group, position j at 8j). */
void ed_sparse_g4_block_cols(ed_g4_args_t *, const ed_g4_channel_t *, const int8_t *, const uint8_t *);
ED_ASM_G4_BLOCK("ed_sparse_g4_block_cols", "5", "8", "16", "24", ED_ASM_STORE4);
/* The widened input row (8 bytes per group, position j at j * S, S = 2 * stride * cin bytes),
 * without and with the fused max pool. */
#define ED_ASM_G4_ROW(S, O1, O2, O3)                                                                 \
    void ed_sparse_g4_row_s##S(ed_g4_args_t *, const ed_g4_channel_t *, const int8_t *, const uint8_t *);   \
    void ed_sparse_g4_row_pool_s##S(ed_g4_args_t *, const ed_g4_channel_t *, const int8_t *,                \
                                    const uint8_t *);                                                       \
    ED_ASM_G4_BLOCK("ed_sparse_g4_row_s" #S, "3", O1, O2, O3, ED_ASM_STORE4);                              \
    ED_ASM_G4_BLOCK("ed_sparse_g4_row_pool_s" #S, "3", O1, O2, O3, ED_ASM_STORE_POOL2)
ED_ASM_G4_ROW(16, "16", "32", "48");
ED_ASM_G4_ROW(32, "32", "64", "96");
ED_ASM_G4_ROW(64, "64", "128", "192");
ED_ASM_G4_ROW(128, "128", "256", "384");
ED_ASM_G4_ROW(256, "256", "512", "768");

/* The assembly block for a widened row with position stride `stride_bytes` (pool: with the
 * fused max pool), or NULL. */
static ed_g4_block_fn ed_g4_row_fn(int32_t stride_bytes, int pool)
{
    switch (stride_bytes)
    {
    case 16:
        return pool ? ed_sparse_g4_row_pool_s16 : ed_sparse_g4_row_s16;
    case 32:
        return pool ? ed_sparse_g4_row_pool_s32 : ed_sparse_g4_row_s32;
    case 64:
        return pool ? ed_sparse_g4_row_pool_s64 : ed_sparse_g4_row_s64;
    case 128:
        return pool ? ed_sparse_g4_row_pool_s128 : ed_sparse_g4_row_s128;
    case 256:
        return pool ? ed_sparse_g4_row_pool_s256 : ed_sparse_g4_row_s256;
    default:
        return NULL;
    }
}
#else
#define ED_SPARSE_ASM 0
#endif

#if ED_NN_DSP
_Static_assert(sizeof(ed_g4_channel_t) == ED_SPARSE_CHANNEL_BYTES, "channel table entry size");

/* The common group-sparse block on the DSP path: four columns in pair order, every channel's
 * requantization prepared (quant) and on the fast path, so per output: the multiply-add, a
 * shift, SSAT, the activation clamp only when it is not [-128, 127], and a byte store. */
static inline __attribute__((always_inline)) void
ed_group_block_fast(const int16_t *col, const ed_sparse_weights_s8 *filter, const ed_g4_channel_t *channels,
                    int32_t cout, int32_t columns, int32_t act_min, int32_t act_max, int8_t *out, int wide)
{
    const int8_t *values = filter->values;
    const uint8_t *index8 = filter->index8;
    const uint16_t *index16 = filter->index16;
    const uint16_t *counts = filter->row_counts;
    const int clamp = act_min > -128 || act_max < 127;
    for (int32_t oc = 0; oc < cout; oc++)
    {
        int32_t n = counts[oc];
        int32_t a0 = channels[oc].bias;
        int32_t a1 = a0, a2 = a0, a3 = a0;
#if ED_SPARSE_ASM
        if (wide)
        {
            ED_G4_ROW_ASM("ldrh %[a], [%[ip]], #2", index16);
        }
        else
        {
            ED_G4_ROW_ASM("ldrb %[a], [%[ip]], #1", index8);
        }
#else
        int32_t acc[4] = {a0, a1, a2, a3};
        values = ed_group_row4(col, values, index8, index16, n, wide, acc);
        if (wide)
        {
            index16 += n;
        }
        else
        {
            index8 += n;
        }
        a0 = acc[0];
        a1 = acc[1];
        a2 = acc[2];
        a3 = acc[3];
#endif
        const ed_g4_channel_t *c = &channels[oc];
        const ed_requant_t q = {c->mult, c->round_lo, c->round_hi, c->hi_shift, 0};
        int32_t v0 = ed_sat8(ed_requant_fast(&q, a0));
        int32_t v1 = ed_sat8(ed_requant_fast(&q, a1));
        int32_t v2 = ed_sat8(ed_requant_fast(&q, a2));
        int32_t v3 = ed_sat8(ed_requant_fast(&q, a3));
        if (clamp)
        {
            v0 = ed_min_i32(ed_max_i32(v0, act_min), act_max);
            v1 = ed_min_i32(ed_max_i32(v1, act_min), act_max);
            v2 = ed_min_i32(ed_max_i32(v2, act_min), act_max);
            v3 = ed_min_i32(ed_max_i32(v3, act_min), act_max);
        }
        int8_t *o = out + oc;
        o[0] = (int8_t)v0;
        if (columns == ED_SPARSE_COLUMNS)
        {
            o[cout] = (int8_t)v1;
            o[2 * cout] = (int8_t)v2;
            o[3 * cout] = (int8_t)v3;
        }
        else
        {
            if (columns > 1)
            {
                o[cout] = (int8_t)v1;
            }
            if (columns > 2)
            {
                o[2 * cout] = (int8_t)v2;
            }
        }
    }
}

#if !ED_SPARSE_ASM
/* What the assembly blocks do, in C (the DSP path emulated on a host): all channels of one
 * block of four positions from the channel table; group g of position j at words
 * g * group_words + j * pos_words of col. */
static void ed_g4_block_c(const ed_g4_args_t *args, const ed_g4_channel_t *table, const int8_t *values,
                          const uint8_t *index, int32_t group_words, int32_t pos_words, int pool)
{
    const uint32_t *words = (const uint32_t *)(const void *)args->col;
    int8_t *out = args->out;
    const int32_t cout = args->cout;
    for (; table != args->end; table++, out++)
    {
        int32_t acc[4] = {table->bias, table->bias, table->bias, table->bias};
        for (int32_t i = 0; i < table->count; i++, values += 4)
        {
            const uint32_t *c = words + index[i] * group_words;
            const uint32_t wword = ed_read_u32(values);
            for (int32_t j = 0; j < 4; j++, c += pos_words)
            {
                acc[j] = ed_smlad(c[1], ed_sxtb16_ror8(wword), ed_smlad(c[0], ed_sxtb16(wword), acc[j]));
            }
        }
        index += table->count;
        const ed_requant_t q = {table->mult, table->round_lo, table->round_hi, table->hi_shift, 0};
        if (pool)
        {
            out[0] = (int8_t)ed_sat8(ed_requant_fast(&q, ed_max_i32(acc[0], acc[1])));
            out[cout] = (int8_t)ed_sat8(ed_requant_fast(&q, ed_max_i32(acc[2], acc[3])));
            continue;
        }
        for (int32_t j = 0; j < 4; j++)
        {
            out[j * cout] = (int8_t)ed_sat8(ed_requant_fast(&q, acc[j]));
        }
    }
}
#endif

static __attribute__((noinline)) void ed_group_block_fast8(const int16_t *col, const ed_sparse_weights_s8 *filter,
                                                           const ed_g4_channel_t *channels, int32_t cout,
                                                           int32_t columns, int32_t act_min, int32_t act_max,
                                                           int8_t *out)
{
    ed_group_block_fast(col, filter, channels, cout, columns, act_min, act_max, out, 0);
}

static __attribute__((noinline)) void ed_group_block_fast16(const int16_t *col, const ed_sparse_weights_s8 *filter,
                                                            const ed_g4_channel_t *channels, int32_t cout,
                                                            int32_t columns, int32_t act_min, int32_t act_max,
                                                            int8_t *out)
{
    ed_group_block_fast(col, filter, channels, cout, columns, act_min, act_max, out, 1);
}
#endif

/* All output channels of one block of up to four positions (columns), with the kernel
 * variant fixed at compile time (group4, wide are constants at every call). */
static inline __attribute__((always_inline)) void
ed_sparse_conv_block(const int16_t *col, const ed_sparse_weights_s8 *filter, const int32_t *bias,
                     const cmsis_nn_per_channel_quant_params *quant, const cmsis_nn_conv_params *p, int32_t cout,
                     int32_t columns, int8_t *out, int group4, int wide)
{
    const int8_t *values = filter->values;
    const uint8_t *index8 = filter->index8;
    const uint16_t *index16 = filter->index16;
    const int32_t offset = p->output_offset;
    const int32_t act_min = p->activation.min;
    const int32_t act_max = p->activation.max;
    for (int32_t oc = 0; oc < cout; oc++)
    {
        const int32_t count = filter->row_counts[oc];
        const int32_t b = bias ? bias[oc] : 0;
        int32_t acc[4] = {b, b, b, b};
        values = group4 ? ed_group_row4(col, values, index8, index16, count, wide, acc)
                        : ed_csr_row4(col, values, index8, index16, count, wide, acc);
        if (wide)
        {
            index16 += count;
        }
        else
        {
            index8 += count;
        }
        const ed_requant_out_t q = ed_requant_out_prepare(quant->multiplier[oc], quant->shift[oc], offset);
        if (columns == ED_SPARSE_COLUMNS)
        {
            out[oc] = ed_requant_out_s8(&q, acc[0], act_min, act_max);
            out[cout + oc] = ed_requant_out_s8(&q, acc[1], act_min, act_max);
            out[2 * cout + oc] = ed_requant_out_s8(&q, acc[2], act_min, act_max);
            out[3 * cout + oc] = ed_requant_out_s8(&q, acc[3], act_min, act_max);
        }
        else
        {
            for (int32_t j = 0; j < columns; j++)
            {
                out[j * cout + oc] = ed_requant_out_s8(&q, acc[j], act_min, act_max);
            }
        }
    }
}

/* Max pool (window 2, stride 2 along the row) of a block's conv outputs in `conv` (rows of
 * cout, `pooled` pairs) into out. */
static void ed_sparse_pool_pairs(const int8_t *conv, int32_t pooled, int32_t cout, int8_t *out)
{
    for (int32_t q = 0; q < pooled; q++, conv += 2 * cout, out += cout)
    {
        for (int32_t oc = 0; oc < cout; oc++)
        {
            out[oc] = (int8_t)ed_max_i32(conv[oc], conv[cout + oc]);
        }
    }
}

/* The sparse convolution; with pool_dims (not NULL) a max pool of window 2 and stride 2 along
 * the row follows it, output_dims are the conv's and output_data is the pool's output. */
/* Inlined into each entry point with its format and pool known, so an entry point carries only
 * its own paths and a firmware links only the entry points its layers call (--gc-sections). */
static inline __attribute__((always_inline)) arm_cmsis_nn_status
ed_convolve_sparse(const cmsis_nn_context *ctx, const cmsis_nn_conv_params *p,
                                              const cmsis_nn_per_channel_quant_params *quant,
                                              const cmsis_nn_dims *input_dims, const int8_t *input_data,
                                              const cmsis_nn_dims *filter_dims, const ed_sparse_weights_s8 *filter,
                                              const int32_t *bias, const cmsis_nn_dims *output_dims,
                                              const cmsis_nn_dims *pool_dims, int8_t *output_data,
                                              int32_t group_size)
{
    const int32_t cin = input_dims->c;
    const int32_t cout = output_dims->c;
    const int32_t k_total = filter_dims->h * filter_dims->w * cin;
    if (filter_dims->c != cin || filter_dims->n != cout || !ed_sparse_weights_valid(filter, k_total, group_size))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    /* the fused pool: one output row */
    if (pool_dims != NULL &&
        (output_dims->h != 1 || pool_dims->h != 1 || pool_dims->n != output_dims->n || pool_dims->c != cout ||
         pool_dims->w != output_dims->w / 2))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    if (ctx == NULL || ctx->buf == NULL ||
        ctx->size < ed_convolve_sparse_s8_get_buffer_size(p, input_dims, filter_dims, output_dims))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    /* The DSP path's group kernel reads pair-order columns; everything else natural order. */
    const int pair_order = ED_NN_DSP && group_size == 4;
    const int wide = filter->index16 != NULL;
    int16_t *col = (int16_t *)ctx->buf;
    const int32_t out_w = output_dims->w;
    const int32_t positions = output_dims->h * out_w;
    const int32_t row_bytes = (int32_t)sizeof(int16_t) * ed_sparse_row_elems(p, input_dims, filter_dims, output_dims);
    int8_t *table_area = (int8_t *)ctx->buf + ED_SPARSE_COLUMNS * ed_sparse_padded(k_total) * 2 + row_bytes;
    int8_t *tail = table_area + ED_SPARSE_CHANNEL_BYTES * cout; /* four outputs per channel */
#if ED_NN_DSP
    /* The fast block: group-sparse, a word-aligned buffer (LDRD), every channel's
     * requantization prepared once here and on the fast path. */
    ed_g4_channel_t *channels = (ed_g4_channel_t *)(void *)table_area;
    int fast = group_size == 4 && ((uintptr_t)ctx->buf & 3u) == 0;
    for (int32_t oc = 0; fast && oc < cout; oc++)
    {
        const ed_requant_t q = ed_requant_out_prepare(quant->multiplier[oc], quant->shift[oc], p->output_offset).q;
        channels[oc] = (ed_g4_channel_t){bias ? bias[oc] : 0, filter->row_counts[oc], q.mult, q.round_lo, q.round_hi,
                                         q.hi_shift};
        fast = q.hi_shift >= 0;
    }
    /* The channel-table block (assembly on the M4): 8-bit indices, no activation clamp. */
    const int table_block = fast && !wide && p->activation.min == -128 && p->activation.max == 127;
    /* Full blocks of a qualifying 1-D layer read the input row widened once per call. */
    const int32_t step = p->stride.w * cin;
    const int32_t row_elems = table_block ? ed_sparse_row_elems(p, input_dims, filter_dims, output_dims) : 0;
    int16_t *row = col + ED_SPARSE_COLUMNS * ed_sparse_padded(k_total);
#if ED_SPARSE_ASM
    const ed_g4_block_fn row_block = ed_g4_row_fn(2 * step, pool_dims != NULL);
#endif
#endif
    const int32_t pooled_w = pool_dims != NULL ? pool_dims->w : 0;

    for (int32_t n = 0; n < input_dims->n; n++)
    {
        const int8_t *input = input_data + n * input_dims->h * input_dims->w * cin;
        int8_t *output = output_data + n * (pool_dims != NULL ? pooled_w : positions) * cout;
#if ED_NN_DSP
        if (row_elems > 0)
        {
            ed_sparse_widen_row(input, input_dims->w * cin, p->padding.w * cin, row_elems, p->input_offset, row);
        }
#endif
        for (int32_t pos = 0; pos < positions; pos += ED_SPARSE_COLUMNS)
        {
            /* pooled outputs of this block (pool), else conv outputs */
            const int32_t pooled = ed_min_i32(2, pooled_w - pos / 2);
            if (pool_dims != NULL && pooled <= 0)
            {
                break; /* an odd last conv position that the pool drops */
            }
#if ED_NN_DSP
            if (row_elems > 0 && cout > 0)
            {
                /* a last block of fewer than four positions writes all four (two pooled) to tail[] */
                const int32_t columns = ed_min_i32(ED_SPARSE_COLUMNS, positions - pos);
                const int whole = pool_dims != NULL ? pooled == 2 : columns == ED_SPARSE_COLUMNS;
                int8_t *out = !whole ? tail : output + (pool_dims != NULL ? pos / 2 : pos) * cout;
                const ed_g4_args_t args = {row + pos * step, out, cout, channels + cout};
#if ED_SPARSE_ASM
                row_block((ed_g4_args_t *)&args, channels, filter->values, filter->index8);
#else
                ed_g4_block_c(&args, channels, filter->values, filter->index8, 2, step / 2, pool_dims != NULL);
#endif
                if (!whole)
                {
                    memcpy(output + (pool_dims != NULL ? pos / 2 : pos) * cout, tail,
                           (size_t)((pool_dims != NULL ? pooled : columns) * cout));
                }
                continue;
            }
#endif
            const int32_t columns = ed_min_i32(ED_SPARSE_COLUMNS, positions - pos);
            for (int32_t j = 0; j < ED_SPARSE_COLUMNS; j++)
            {
                if (j < columns)
                {
                    ed_sparse_conv_column(p, input_dims, input, filter_dims, (pos + j) / out_w, (pos + j) % out_w,
                                          col, j, pair_order);
                }
                else
                {
                    ed_sparse_zero_column(col, k_total, j, pair_order);
                }
            }
            int8_t *out = pool_dims != NULL ? tail : output + pos * cout;
#if ED_NN_DSP
            if (table_block && columns == ED_SPARSE_COLUMNS && cout > 0)
            {
                ed_g4_args_t args = {col, out, cout, channels + cout};
#if ED_SPARSE_ASM
                ed_sparse_g4_block_cols(&args, channels, filter->values, filter->index8);
#else
                ed_g4_block_c(&args, channels, filter->values, filter->index8, 8, 2, 0);
#endif
            }
            else if (fast)
            {
                if (wide)
                {
                    ed_group_block_fast16(col, filter, channels, cout, columns, p->activation.min,
                                          p->activation.max, out);
                }
                else
                {
                    ed_group_block_fast8(col, filter, channels, cout, columns, p->activation.min,
                                         p->activation.max, out);
                }
            }
            else
#endif
            if (group_size == 4)
            {
                if (wide)
                {
                    ed_sparse_conv_block(col, filter, bias, quant, p, cout, columns, out, 1, 1);
                }
                else
                {
                    ed_sparse_conv_block(col, filter, bias, quant, p, cout, columns, out, 1, 0);
                }
            }
            else if (wide)
            {
                ed_sparse_conv_block(col, filter, bias, quant, p, cout, columns, out, 0, 1);
            }
            else
            {
                ed_sparse_conv_block(col, filter, bias, quant, p, cout, columns, out, 0, 0);
            }
            if (pool_dims != NULL)
            {
                ed_sparse_pool_pairs(tail, pooled, cout, output + pos / 2 * cout);
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

arm_cmsis_nn_status ed_convolve_group_sparse_s8(const cmsis_nn_context *ctx,
                                                const cmsis_nn_conv_params *conv_params,
                                                const cmsis_nn_per_channel_quant_params *quant_params,
                                                const cmsis_nn_dims *input_dims,
                                                const int8_t *input_data,
                                                const cmsis_nn_dims *filter_dims,
                                                const ed_sparse_weights_s8 *filter,
                                                const cmsis_nn_dims *bias_dims,
                                                const int32_t *bias_data,
                                                const cmsis_nn_dims *output_dims,
                                                int8_t *output_data)
{
    (void)bias_dims;
    return ed_convolve_sparse(ctx, conv_params, quant_params, input_dims, input_data, filter_dims, filter, bias_data,
                              output_dims, NULL, output_data, 4);
}

arm_cmsis_nn_status ed_convolve_csr_s8(const cmsis_nn_context *ctx,
                                       const cmsis_nn_conv_params *conv_params,
                                       const cmsis_nn_per_channel_quant_params *quant_params,
                                       const cmsis_nn_dims *input_dims,
                                       const int8_t *input_data,
                                       const cmsis_nn_dims *filter_dims,
                                       const ed_sparse_weights_s8 *filter,
                                       const cmsis_nn_dims *bias_dims,
                                       const int32_t *bias_data,
                                       const cmsis_nn_dims *output_dims,
                                       int8_t *output_data)
{
    (void)bias_dims;
    return ed_convolve_sparse(ctx, conv_params, quant_params, input_dims, input_data, filter_dims, filter, bias_data,
                              output_dims, NULL, output_data, 1);
}

arm_cmsis_nn_status ed_convolve_group_sparse_maxpool2_s8(const cmsis_nn_context *ctx,
                                                        const cmsis_nn_conv_params *conv_params,
                                                        const cmsis_nn_per_channel_quant_params *quant_params,
                                                        const cmsis_nn_dims *input_dims,
                                                        const int8_t *input_data,
                                                        const cmsis_nn_dims *filter_dims,
                                                        const ed_sparse_weights_s8 *filter,
                                                        const cmsis_nn_dims *bias_dims,
                                                        const int32_t *bias_data,
                                                        const cmsis_nn_dims *conv_dims,
                                                        const cmsis_nn_dims *output_dims,
                                                        int8_t *output_data)
{
    (void)bias_dims;
    return ed_convolve_sparse(ctx, conv_params, quant_params, input_dims, input_data, filter_dims, filter, bias_data,
                              conv_dims, output_dims, output_data, 4);
}

int32_t ed_convolve_sparse_s8_get_buffer_size(const cmsis_nn_conv_params *conv_params, const cmsis_nn_dims *input_dims,
                                              const cmsis_nn_dims *filter_dims, const cmsis_nn_dims *output_dims)
{
    const int32_t k_total = filter_dims->h * filter_dims->w * input_dims->c;
    const int32_t row = ed_sparse_row_elems(conv_params, input_dims, filter_dims, output_dims);
    return (ED_SPARSE_COLUMNS * ed_sparse_padded(k_total) + row) * (int32_t)sizeof(int16_t) +
           (ED_SPARSE_CHANNEL_BYTES + ED_SPARSE_COLUMNS) * filter_dims->n;
}
