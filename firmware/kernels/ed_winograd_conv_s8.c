/*
 * ed_winograd_conv_s8.c - Winograd F(4,3) s8 convolution along the rows (see ed_winograd.h for the method
 * and the transformed filter layout). Written for edge-deploy; no CMSIS-NN code.
 *
 * Per pair of tiles (eight output positions): the inputs of both tiles are transformed once
 * into the scratch buffer (V, int16 pairs), then every block of four output channels runs six
 * small matrix products against them (4 channels x 2 tiles accumulators, SMLAD on channel
 * pairs; Thumb-2 assembly on the Cortex-M4) and the output transform, the exact division by
 * 24, the bias and the requantization give the 32 outputs.
 */
#include "ed_nn_support.h"
#include "ed_winograd.h"

/* Halfword-wise add and subtract for the input transform (values stay within int16). */
#if ED_NN_DSP && !defined(ED_NN_EMULATE_DSP)
#define ed_wino_add16(a, b) ((uint32_t)__sadd16((a), (b)))
#define ed_wino_sub16(a, b) ((uint32_t)__ssub16((a), (b)))
#define ED_WINO_ASM 1
#else
#define ED_WINO_ASM 0
#endif

static inline uint32_t ed_wino_pack(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
}

#if ED_NN_DSP && defined(ED_NN_EMULATE_DSP)
static inline uint32_t ed_wino_add16(uint32_t a, uint32_t b)
{
    return ed_wino_pack((int16_t)(a & 0xFFFFu) + (int16_t)(b & 0xFFFFu), (int16_t)(a >> 16) + (int16_t)(b >> 16));
}
static inline uint32_t ed_wino_sub16(uint32_t a, uint32_t b)
{
    return ed_wino_pack((int16_t)(a & 0xFFFFu) - (int16_t)(b & 0xFFFFu), (int16_t)(a >> 16) - (int16_t)(b >> 16));
}
#endif

int ed_winograd_geometry_of(const cmsis_nn_conv_params *conv_params, const cmsis_nn_dims *input_dims,
                            const cmsis_nn_dims *filter_dims, const cmsis_nn_dims *output_dims,
                            ed_winograd_geometry *geometry)
{
    const int32_t k = filter_dims->w, c = input_dims->c, s = conv_params->stride.w, rows = filter_dims->h;
    if (conv_params->dilation.w != 1 || conv_params->dilation.h != 1 || s < 1 || conv_params->stride.h < 1 || k < 1 ||
        rows < 1 || c < 1 || output_dims->c < 1 || rows * k * c > ED_WINOGRAD_MAX_KC)
    {
        return 0;
    }
    const int32_t taps = (k + s - 1) / s;
    geometry->rows = rows;
    geometry->segments = (taps + 2) / 3;
    geometry->group = (s * c + 3) & ~3;
    geometry->row_pairs = geometry->segments * geometry->group / 2;
    geometry->pairs = rows * geometry->row_pairs;
    geometry->blocks = (output_dims->c + 3) / 4;
    geometry->weight_words = geometry->blocks * 6 * geometry->pairs * 4;
    return 1;
}

/* Words of the transformed input rows: V of a pair of tiles, 12 words per pair of each filter
 * row's input row (a slot per filter row, ed_wino_conv). */
static int32_t ed_wino_rows_words(const ed_winograd_geometry *g)
{
    return g->rows * g->row_pairs * 12;
}

int32_t ed_convolve_winograd_s8_get_buffer_size(const cmsis_nn_conv_params *conv_params,
                                                const cmsis_nn_dims *input_dims,
                                                const cmsis_nn_dims *filter_dims)
{
    const int32_t k = filter_dims->w, s = conv_params->stride.w < 1 ? 1 : conv_params->stride.w;
    const int32_t taps = (k + s - 1) / s;
    ed_winograd_geometry g;
    g.rows = filter_dims->h < 1 ? 1 : filter_dims->h;
    g.row_pairs = (taps + 2) / 3 * ((s * input_dims->c + 3) & ~3) / 2;
    return ed_wino_rows_words(&g) * (int32_t)sizeof(uint32_t);
}

/* Bt d for one virtual channel: six inputs in, six transformed values out. */
static inline void ed_wino_transform(const int32_t d[6], int32_t v[6])
{
    const int32_t a = d[4] - d[2], b = d[1] - d[3];
    v[0] = 4 * (d[0] - d[2]) + a;
    v[1] = (d[3] + d[4]) - 4 * (d[1] + d[2]);
    v[2] = 4 * (d[1] - d[2]) + (d[4] - d[3]);
    v[3] = a - 2 * b;
    v[4] = a + 2 * b;
    v[5] = 4 * b + (d[5] - d[3]);
}

/* One group of four virtual channels of one tile, any position (padding, the end of the
 * input, channels beyond s * C read as zero): per element. */
static void ed_wino_group_scalar(const int8_t *input, int32_t total, int32_t stride_c, int32_t first, int32_t vv,
                                 int32_t offset, uint32_t *v, int32_t pair)
{
    int32_t out[4][6];
    for (int32_t e = 0; e < 4; e++)
    {
        int32_t d[6];
        for (int32_t i = 0; i < 6; i++)
        {
            const int32_t f = first + i * stride_c + vv + e;
            d[i] = (vv + e < stride_c && f >= 0 && f < total) ? input[f] + offset : 0;
        }
        ed_wino_transform(d, out[e]);
    }
    for (int32_t j = 0; j < 6; j++)
    {
        v[(pair * 6 + j) * 2] = ed_wino_pack(out[0][j], out[2][j]);
        v[((pair + 1) * 6 + j) * 2] = ed_wino_pack(out[1][j], out[3][j]);
    }
}

#if ED_NN_DSP
/* Bt d on two channels at once (d: six words of two int16 lanes), into the six component
 * words of one channel pair and tile: dst[0], dst[2], ..., dst[10] (immediate offsets). */
static inline __attribute__((always_inline)) void ed_wino_transform2(uint32_t d0, uint32_t d1, uint32_t d2,
                                                                     uint32_t d3, uint32_t d4, uint32_t d5,
                                                                     uint32_t *dst)
{
    const uint32_t a = ed_wino_sub16(d4, d2), b = ed_wino_sub16(d1, d3);
    const uint32_t b2 = ed_wino_add16(b, b);
    uint32_t t = ed_wino_sub16(d0, d2);
    t = ed_wino_add16(t, t);
    dst[0] = ed_wino_add16(ed_wino_add16(t, t), a);
    t = ed_wino_add16(d1, d2);
    t = ed_wino_add16(t, t);
    dst[2] = ed_wino_sub16(ed_wino_add16(d3, d4), ed_wino_add16(t, t));
    t = ed_wino_sub16(d1, d2);
    t = ed_wino_add16(t, t);
    dst[4] = ed_wino_add16(ed_wino_add16(t, t), ed_wino_sub16(d4, d3));
    dst[6] = ed_wino_sub16(a, b2);
    dst[8] = ed_wino_add16(a, b2);
    dst[10] = ed_wino_add16(ed_wino_add16(b2, b2), ed_wino_sub16(d5, d3));
}

/* A group of four real channels whose 6 x 4 input bytes are all inside the row: one word load
 * per position; SXTAB16 widens channels (0, 2) and (1, 3) with the offset added. */
static inline __attribute__((always_inline)) void ed_wino_group_simd(const int8_t *src, int32_t stride_c,
                                                                     uint32_t offset2, uint32_t *v, int32_t pair)
{
    const uint32_t w0 = ed_read_u32(src), w1 = ed_read_u32(src + stride_c), w2 = ed_read_u32(src + 2 * stride_c);
    const uint32_t w3 = ed_read_u32(src + 3 * stride_c), w4 = ed_read_u32(src + 4 * stride_c);
    const uint32_t w5 = ed_read_u32(src + 5 * stride_c);
    uint32_t *dst = v + pair * 12;
    ed_wino_transform2(ed_sxtab16(offset2, w0), ed_sxtab16(offset2, w1), ed_sxtab16(offset2, w2),
                       ed_sxtab16(offset2, w3), ed_sxtab16(offset2, w4), ed_sxtab16(offset2, w5), dst);
    ed_wino_transform2(ed_sxtab16_ror8(offset2, w0), ed_sxtab16_ror8(offset2, w1), ed_sxtab16_ror8(offset2, w2),
                       ed_sxtab16_ror8(offset2, w3), ed_sxtab16_ror8(offset2, w4), ed_sxtab16_ror8(offset2, w5),
                       dst + 12);
}

/* The same where some of the six positions (bit i of `inside` clear) lie wholly outside the
 * row (padding: zero once the offset is added). Only the tiles at the ends of a row. */
static void ed_wino_group_simd_masked(const int8_t *src, int32_t stride_c, uint32_t offset2, uint32_t inside,
                                      uint32_t *v, int32_t pair)
{
    uint32_t lo[6], hi[6];
    for (int32_t i = 0; i < 6; i++)
    {
        lo[i] = hi[i] = 0u;
        if ((inside >> i) & 1u)
        {
            const uint32_t word = ed_read_u32(src + i * stride_c);
            lo[i] = ed_sxtab16(offset2, word);
            hi[i] = ed_sxtab16_ror8(offset2, word);
        }
    }
    ed_wino_transform2(lo[0], lo[1], lo[2], lo[3], lo[4], lo[5], v + pair * 12);
    ed_wino_transform2(hi[0], hi[1], hi[2], hi[3], hi[4], hi[5], v + pair * 12 + 12);
}
#endif

/* V of one tile whose first virtual position starts at flat input index `first` (may be
 * negative: padding), into the words v[(pair * 6 + j) * 2] (the caller offsets v by the
 * tile's slot, 0 or 1). */
static void ed_wino_input_tile(const int8_t *input, int32_t total, int32_t stride_c, const ed_winograd_geometry *g,
                               int32_t first, int32_t offset, uint32_t *v)
{
#if ED_NN_DSP
    /* A tile whose every input byte lies inside the row (most of them): no checks. */
    if (stride_c == g->group && first >= 0 && first + (3 * (g->segments - 1) + 5) * stride_c + g->group <= total)
    {
        const uint32_t offset2 = ed_dup16(offset);
        for (int32_t q = 0; q < g->segments; q++)
        {
            const int8_t *src = input + first + 3 * q * stride_c;
            for (int32_t vv = 0; vv < g->group; vv += 4)
            {
                ed_wino_group_simd(src + vv, stride_c, offset2, v, (q * g->group + vv) / 2);
            }
        }
        return;
    }
#endif
    for (int32_t q = 0; q < g->segments; q++)
    {
        const int32_t base = first + 3 * q * stride_c;
        for (int32_t vv = 0; vv < g->group; vv += 4)
        {
            const int32_t pair = (q * g->group + vv) / 2;
#if ED_NN_DSP
            if (vv + 4 <= stride_c)
            {
                uint32_t inside = 0u;
                int split = 0;
                for (int32_t i = 0; i < 6; i++)
                {
                    const int32_t f = base + i * stride_c + vv;
                    if (f >= 0 && f + 4 <= total)
                    {
                        inside |= 1u << i;
                    }
                    else if (f + 4 > 0 && f < total)
                    {
                        split = 1; /* straddles an end of the row */
                    }
                }
                if (!split)
                {
                    ed_wino_group_simd_masked(input + base + vv, stride_c, ed_dup16(offset), inside, v, pair);
                    continue;
                }
            }
#endif
            ed_wino_group_scalar(input, total, stride_c, base, vv, offset, v, pair);
        }
    }
}

#if ED_WINO_ASM
/* Pair bodies in the unrolled run of ed_wino_gemm: the run is entered so that exactly the
 * pairs left (at most this many) execute, so there is no loop counter in the hot code. */
#define ED_WINO_RUN "16"
#define ED_WINO_RUN_LOG2 "4" /* ED_WINO_RUN is 1 << this */

/* m[j * 8 + o * 2 + t] = sum over pairs of u(j, pair, o) . v(pair, j, t), for the six
 * components j, four channels o and two tiles t: SMLAD on int16 pairs. u walks the block's
 * 6 * pairs * 4 words in order; v is read component by component, 12 words per pair
 * (layout [pair][component][tile]); pairs >= 1.
 * Per pair (one "body", 14 instructions of 4 bytes): two V words and two U words in a row of
 * four loads, four SMLAD, two more U words, four SMLAD: 16 model cycles for 8 SMLAD (each
 * pointer advances by post-index on its first load, so no load follows one that wrote its
 * base: such a pair does not pipeline in the cycle model). All
 * fourteen registers hold data: r4-r11 accumulate, r3/r12 the two tiles' V words, lr/r2 two
 * channels' U words, r0/r1 the pointers; the counts live on the stack. A component's first
 * pair is a body of SMUAD, which starts the sums (no zeroing); the rest run as one partial run
 * of (pairs - 1) mod ED_WINO_RUN bodies (ED_WINO_RUN where that is 0 and more are left), entered
 * by a computed branch, then whole runs entered at the top, a counter on the stack between runs:
 * both counts are the same for every component and block, so they are worked out once per call. */
/* Naked: the body may hold only basic asm (no C statement such as (void)u;), so the arguments,
 * read from r0-r3 by the asm, are marked unused for -Wunused-parameter. */
#define ED_ASM_ARG __attribute__((unused))
__attribute__((naked, noinline)) static void ed_wino_gemm(ED_ASM_ARG const uint32_t *u, ED_ASM_ARG const uint32_t *v,
                                                          ED_ASM_ARG int32_t pairs, ED_ASM_ARG int32_t *m)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "movs r4, #6\n\t"
        "push {r2, r3, r4}\n\t"  /* [sp, #16] pairs, then full runs, [sp, #20] m, [sp, #24] components left */
        "sub sp, sp, #16\n\t"    /* [sp] full runs left in this component, [sp, #4] the partial run's entry, */
        "movs r3, #48\n\t"       /* [sp, #8] pairs * 48 - 8: back from a component's end to the next */
        "muls r3, r2, r3\n\t"
        "subs r3, r3, #8\n\t"
        "str r3, [sp, #8]\n\t"
        "subs r2, r2, #1\n\t"    /* the first pair is peeled (SMUAD starts the sums); the rest run as */
        "and r3, r2, #(" ED_WINO_RUN " - 1)\n\t" /* one partial run of r3 bodies, then full runs: */
        "lsrs r2, r2, #" ED_WINO_RUN_LOG2 "\n\t"
        "cbnz r3, 6f\n\t"
        "cbz r2, 6f\n\t"
        "movs r3, #" ED_WINO_RUN "\n\t" /* a whole number of runs: the first of them is the partial one */
        "subs r2, r2, #1\n\t"
        "6:\n\t"
        "str r2, [sp, #16]\n\t"  /* full runs after the partial one, the same for every component */
        "adr.w r12, 4f\n\t"      /* the partial run's entry: r3 bodies before the end */
        "lsl.w r2, r3, #6\n\t"
        "sub.w r2, r2, r3, lsl #3\n\t"
        "sub.w r12, r12, r2\n\t"
        "orr.w r12, r12, #1\n\t"
        "str r12, [sp, #4]\n\t"
        "1:\n\t"
        "ldr.w lr, [r0], #16\n\t" /* first pair: as a body, SMUAD in place of SMLAD */
        "ldr.w r12, [r1, #4]\n\t"
        "ldr.w r2, [r0, #-12]\n\t"
        "ldr.w r3, [r1], #48\n\t"
        "smuad r4, lr, r3\n\t"
        "smuad r5, lr, r12\n\t"
        "smuad r6, r2, r3\n\t"
        "smuad r7, r2, r12\n\t"
        "ldr.w lr, [r0, #-8]\n\t"
        "ldr.w r2, [r0, #-4]\n\t"
        "smuad r8, lr, r3\n\t"
        "smuad r9, lr, r12\n\t"
        "smuad r10, r2, r3\n\t"
        "smuad r11, r2, r12\n\t"
        "ldr r2, [sp, #16]\n\t"
        "ldr r12, [sp, #4]\n\t"
        "str r2, [sp]\n\t"       /* full runs left */
        "cmp r2, #0\n\t"         /* Z: nothing after the partial run (the bodies leave the flags alone) */
        "bx r12\n\t"
        "3:\n\t"
        ".rept " ED_WINO_RUN "\n\t"
        "ldr.w lr, [r0], #16\n\t"  /* no load follows one that wrote its base */
        "ldr.w r12, [r1, #4]\n\t"
        "ldr.w r2, [r0, #-12]\n\t"
        "ldr.w r3, [r1], #48\n\t"
        "smlad r4, lr, r3, r4\n\t"
        "smlad r5, lr, r12, r5\n\t"
        "smlad r6, r2, r3, r6\n\t"
        "smlad r7, r2, r12, r7\n\t"
        "ldr.w lr, [r0, #-8]\n\t"
        "ldr.w r2, [r0, #-4]\n\t"
        "smlad r8, lr, r3, r8\n\t"
        "smlad r9, lr, r12, r9\n\t"
        "smlad r10, r2, r3, r10\n\t"
        "smlad r11, r2, r12, r11\n\t"
        ".endr\n\t"
        "4:\n\t"
        ".if (4b - 3b) != " ED_WINO_RUN " * 56\n\t"
        ".error \"ed_wino_gemm: a pair body is not 56 bytes\"\n\t"
        ".endif\n\t"
        "beq 5f\n\t"
        "ldr r2, [sp]\n\t"
        "subs r2, r2, #1\n\t"    /* Z: this run is the last */
        "str r2, [sp]\n\t"
        "b 3b\n\t"
        "5:\n\t"
        "ldr r3, [sp, #20]\n\t"
        "stmia r3!, {r4-r11}\n\t"
        "str r3, [sp, #20]\n\t"
        "ldr r3, [sp, #8]\n\t"   /* V: to the next component's first pair */
        "subs r1, r1, r3\n\t"
        "ldr r3, [sp, #24]\n\t"
        "subs r3, r3, #1\n\t"
        "str r3, [sp, #24]\n\t"
        "bne 1b\n\t"
        "add sp, sp, #28\n\t"
        "pop {r4-r11, pc}\n\t");
}
#else
static void ed_wino_gemm(const uint32_t *u, const uint32_t *v, int32_t pairs, int32_t *m)
{
    for (int32_t j = 0; j < 6; j++, m += 8)
    {
        int32_t acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        const uint32_t *vj = v + j * 2;
        for (int32_t p = 0; p < pairs; p++, u += 4, vj += 12)
        {
            for (int32_t o = 0; o < 4; o++)
            {
                acc[2 * o] = ed_dot2(u[o], vj[0], acc[2 * o]);
                acc[2 * o + 1] = ed_dot2(u[o], vj[1], acc[2 * o + 1]);
            }
        }
        memcpy(m, acc, sizeof(acc));
    }
}
#endif

/* Output positions of a pair of tiles: a fused ADD's staged outputs per call. */
#define ED_WINO_ADD_POSITIONS 8

/* Output channels per call whose requantization is prepared once on the stack. */
#define ED_WINO_QUANT_TABLE 64

/* TFLite's requantization on the fast path (ed_requant_fast: right shift 1..23, the output
 * offset folded into the rounding term), with the four per-channel constants in registers. */
static inline __attribute__((always_inline)) int32_t ed_wino_requant(int32_t acc, int32_t mult, uint32_t round_lo,
                                                                    int32_t round_hi, int32_t hi_shift)
{
#if ED_WINO_ASM
    uint32_t lo;
    int32_t hi;
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
    lo = round_lo;
    hi = round_hi;
    __asm__("smlal %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(acc), "r"(mult));
#else
    /* round - [acc < 0] * 2^31 + acc * mult, high word */
    __asm__("and %0, %2, #0x80000000\n\t"
            "subs %0, %3, %0\n\t"
            "sbc %1, %4, #0\n\t"
            "smlal %0, %1, %2, %5"
            : "=&r"(lo), "=&r"(hi)
            : "r"(acc), "r"(round_lo), "r"(round_hi), "r"(mult)
            : "cc");
#endif
    return hi >> hi_shift;
#else
    const ed_requant_t q = {mult, round_lo, round_hi, hi_shift, 0};
    return ed_requant_fast(&q, acc);
#endif
}

/* 24 y = At M for the four outputs of one channel and tile (M: six sums 8 words apart),
 * modulo 2^32, which is exact: the true 24 y fits int32. */
static inline __attribute__((always_inline)) void ed_wino_at_m(const int32_t *mm, int32_t t[4])
{
    const uint32_t m1 = (uint32_t)mm[8], m2 = (uint32_t)mm[16], m3 = (uint32_t)mm[24], m4 = (uint32_t)mm[32];
    const uint32_t s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
    t[0] = (int32_t)((uint32_t)mm[0] + s12 + s34);
    t[1] = (int32_t)(d12 + 2u * d34);
    t[2] = (int32_t)(s12 + 4u * s34);
    t[3] = (int32_t)(d12 + 8u * d34 + (uint32_t)mm[40]);
}

/* y + bias from 24 y: the exact division by 24 is an arithmetic shift by 3 and a multiply by
 * the inverse of 3 modulo 2^32 (on the M4 an ASR and an MLA that adds the bias). */
static inline __attribute__((always_inline)) int32_t ed_wino_div24(int32_t t, uint32_t bias)
{
    return (int32_t)((uint32_t)(t >> 3) * 0xAAAAAAABu + bias);
}

/* Four outputs y = At M / 24 + bias of one channel and tile. */
static inline __attribute__((always_inline)) void ed_wino_tile_outputs(const int32_t *mm, uint32_t bias, int32_t y[4])
{
    int32_t t[4];
    ed_wino_at_m(mm, t);
    y[0] = ed_wino_div24(t[0], bias);
    y[1] = ed_wino_div24(t[1], bias);
    y[2] = ed_wino_div24(t[2], bias);
    y[3] = ed_wino_div24(t[3], bias);
}

#if ED_NN_DSP
/* Requantized, saturated output of one accumulator (fast path). */
#define ED_WINO_OUT(acc) ((int8_t)ed_sat8(ed_wino_requant((int32_t)(acc), mult, round_lo, round_hi, hi_shift)))

/* The common block: four channels, two full tiles, every channel on the fast requantization
 * path. Channel by channel (its constants in registers), tile by tile: At M, the exact
 * division (ASR, then MLA adds the bias while it multiplies by 1/3), with `pool` the maximum of
 * each two neighbouring positions (requantization is monotonic, so max then requantize equals
 * requantize then max), the requantization and SSAT, one byte stored per output; the
 * activation range is applied afterwards to each row of four bytes with two bytewise SIMD
 * instructions (only when it is narrower than int8). */
static inline __attribute__((always_inline)) void ed_wino_block_fast_body(const int32_t *m, const int32_t *bias,
                                                                         const ed_requant_out_t *quant,
                                                                         int32_t act_min, int32_t act_max,
                                                                         int8_t *out, int32_t cout, int pool)
{
    for (int32_t o = 0; o < 4; o++)
    {
        const int32_t mult = quant[o].q.mult, round_hi = quant[o].q.round_hi, hi_shift = quant[o].q.hi_shift;
        const uint32_t round_lo = quant[o].q.round_lo;
        const uint32_t b = bias != NULL ? (uint32_t)bias[o] : 0u;
        int8_t *dst = out + o;
        for (int32_t slot = 0; slot < 2; slot++)
        {
            int32_t t[4];
            ed_wino_at_m(m + 2 * o + slot, t);
            if (pool)
            {
                /* the maximum of 24 y is 24 times the maximum of y: one division per output */
                dst[0] = ED_WINO_OUT(ed_wino_div24(t[0] > t[1] ? t[0] : t[1], b));
                dst[cout] = ED_WINO_OUT(ed_wino_div24(t[2] > t[3] ? t[2] : t[3], b));
                dst += 2 * cout;
            }
            else
            {
                dst[0] = ED_WINO_OUT(ed_wino_div24(t[0], b));
                dst[cout] = ED_WINO_OUT(ed_wino_div24(t[1], b));
                dst[2 * cout] = ED_WINO_OUT(ed_wino_div24(t[2], b));
                dst[3 * cout] = ED_WINO_OUT(ed_wino_div24(t[3], b));
                dst += 4 * cout;
            }
        }
    }
    if (act_min > -128 || act_max < 127)
    {
        const uint32_t lo4 = 0x01010101u * (uint8_t)act_min, hi4 = 0x01010101u * (uint8_t)act_max;
        for (int32_t row = 0; row < (pool ? 4 : 8); row++, out += cout)
        {
            ed_write_u32(out, ed_min4_s8(ed_max4_s8(ed_read_u32(out), lo4), hi4));
        }
    }
}

static __attribute__((noinline)) void ed_wino_block_fast_pool_c(const int32_t *m, const int32_t *bias,
                                                               const ed_requant_out_t *quant, int32_t act_min,
                                                               int32_t act_max, int8_t *out, int32_t cout)
{
    ed_wino_block_fast_body(m, bias, quant, act_min, act_max, out, cout, 1);
}

static __attribute__((noinline)) void ed_wino_block_fast(const int32_t *m, const int32_t *bias,
                                                        const ed_requant_out_t *quant, int32_t act_min,
                                                        int32_t act_max, int8_t *out, int32_t cout)
{
    ed_wino_block_fast_body(m, bias, quant, act_min, act_max, out, cout, 0);
}

#if ED_WINO_ASM
/* Per output channel, what the pooled block's assembly reads (20 bytes, word aligned):
 * the fast requantization constants and the bias. */
typedef struct
{
    int32_t mult;
    uint32_t round_lo;
    int32_t round_hi;
    int32_t hi_shift;
    int32_t bias;
} ed_wino_chan_t;

/* The common pooled block: four channels, two full tiles (four pooled rows), every channel on
 * the fast requantization path, constants in `chan`. Per channel and tile, one block of
 * Thumb-2: the six sums (pipelined loads), 24 y for the four positions, the maximum of each
 * neighbouring two, the exact division by 24 and the bias (ASR, MLA by 1/3 modulo 2^32), the
 * requantization (as ed_requant_fast) and SSAT, two bytes stored. Then the activation range on
 * each row of four bytes (bytewise SIMD), when narrower than int8. */
static __attribute__((noinline)) void ed_wino_block_fast_pool(const int32_t *m, const ed_wino_chan_t *chan,
                                                             int32_t act_min, int32_t act_max, int8_t *out,
                                                             int32_t cout)
{
    const uint32_t inverse3 = 0xAAAAAAABu;
    for (int32_t o = 0; o < 4; o++)
    {
        for (int32_t slot = 0; slot < 2; slot++)
        {
            const int32_t *mm = m + 2 * o + slot;
            int8_t *dst = out + o + 2 * slot * cout;
            uint32_t a, b, c, d, e, f, g, h;
            __asm__ volatile(
                "ldr %[a], [%[mm]]\n\t"
                "ldr %[b], [%[mm], #32]\n\t"
                "ldr %[c], [%[mm], #64]\n\t"
                "ldr %[d], [%[mm], #96]\n\t"
                "ldr %[e], [%[mm], #128]\n\t"
                "ldr %[f], [%[mm], #160]\n\t"
                "add %[g], %[b], %[c]\n\t"        /* s12 */
                "sub %[b], %[b], %[c]\n\t"        /* d12 */
                "add %[c], %[d], %[e]\n\t"        /* s34 */
                "sub %[d], %[d], %[e]\n\t"        /* d34 */
                "add %[a], %[a], %[g]\n\t"
                "add %[a], %[a], %[c]\n\t"        /* 24 y0 */
                "add %[e], %[b], %[d], lsl #1\n\t" /* 24 y1 */
                "cmp %[a], %[e]\n\t"
                "it lt\n\t"
                "movlt %[a], %[e]\n\t"
                "add %[g], %[g], %[c], lsl #2\n\t" /* 24 y2 */
                "add %[b], %[b], %[d], lsl #3\n\t"
                "add %[b], %[b], %[f]\n\t"        /* 24 y3 */
                "cmp %[g], %[b]\n\t"
                "it lt\n\t"
                "movlt %[g], %[b]\n\t"
                "ldr %[d], [%[q], #16]\n\t"       /* bias */
                "asr %[a], %[a], #3\n\t"
                "mla %[a], %[a], %[inv3], %[d]\n\t" /* pooled y, first row */
                "asr %[g], %[g], #3\n\t"
                "mla %[g], %[g], %[inv3], %[d]\n\t" /* second row */
                "ldrd %[b], %[c], [%[q]]\n\t"     /* mult, round_lo */
                "ldrd %[d], %[e], [%[q], #8]\n\t" /* round_hi, hi_shift */
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
                "mov %[f], %[c]\n\t"
                "mov %[h], %[d]\n\t"
#else
                "and %[f], %[a], #0x80000000\n\t"
                "subs %[f], %[c], %[f]\n\t"
                "sbc %[h], %[d], #0\n\t"
#endif
                "smlal %[f], %[h], %[a], %[b]\n\t"
                "asr %[h], %[h], %[e]\n\t"
                "ssat %[h], #8, %[h]\n\t"
                "strb %[h], [%[dst]]\n\t"
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
                "mov %[f], %[c]\n\t"
                "mov %[h], %[d]\n\t"
#else
                "and %[f], %[g], #0x80000000\n\t"
                "subs %[f], %[c], %[f]\n\t"
                "sbc %[h], %[d], #0\n\t"
#endif
                "smlal %[f], %[h], %[g], %[b]\n\t"
                "asr %[h], %[h], %[e]\n\t"
                "ssat %[h], #8, %[h]\n\t"
                "strb %[h], [%[dst], %[cout]]\n\t"
                : [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d), [e] "=&r"(e), [f] "=&r"(f),
                  [g] "=&r"(g), [h] "=&r"(h)
                : [mm] "r"(mm), [q] "r"(&chan[o]), [dst] "r"(dst), [cout] "r"(cout), [inv3] "r"(inverse3)
                : "cc", "memory");
        }
    }
    if (act_min > -128 || act_max < 127)
    {
        const uint32_t lo4 = 0x01010101u * (uint8_t)act_min, hi4 = 0x01010101u * (uint8_t)act_max;
        for (int32_t row = 0; row < 4; row++, out += cout)
        {
            ed_write_u32(out, ed_min4_s8(ed_max4_s8(ed_read_u32(out), lo4), hi4));
        }
    }
}
#endif
#undef ED_WINO_OUT
#endif

/* The outputs of one block, any case: `channels` (<= 4) channels from `out` on, `rows` (<= 8,
 * or <= 4 with `pool`) output rows `cout` bytes apart. m[j * 8 + o * 2 + slot] are the six sums
 * of channel o, tile slot. */
static __attribute__((noinline)) void ed_wino_block_outputs(const int32_t *m, const int32_t *bias,
                                                           const ed_requant_out_t *quant, int32_t act_min,
                                                           int32_t act_max, int8_t *out, int32_t cout,
                                                           int32_t rows, int32_t channels, int pool)
{
    const int32_t per_tile = pool ? 2 : 4;
    for (int32_t o = 0; o < channels; o++)
    {
        const uint32_t b = bias != NULL ? (uint32_t)bias[o] : 0u;
        int8_t *dst = out + o;
        for (int32_t slot = 0; slot < 2; slot++)
        {
            const int32_t count = ed_min_i32(per_tile, rows - per_tile * slot);
            if (count <= 0)
            {
                break;
            }
            int32_t y[4];
            ed_wino_tile_outputs(m + 2 * o + slot, b, y);
            if (pool)
            {
                y[0] = y[0] > y[1] ? y[0] : y[1];
                y[1] = y[2] > y[3] ? y[2] : y[3];
            }
            for (int32_t r = 0; r < count; r++, dst += cout)
            {
                *dst = ed_requant_out_s8(&quant[o], y[r], act_min, act_max);
            }
        }
    }
}

/* The convolution, with `pool` 2 followed by a max pool of window 2 and stride 2 along the
 * row (output_dims are then the pooled output's, conv_dims the convolution's output), or with
 * an ADD fused after it (add not NULL, pool 1): each pair of tiles' outputs staged in the
 * scratch after V, then added to add->other's into the output (ed_conv_add_run). */
static arm_cmsis_nn_status ed_wino_conv(const cmsis_nn_context *ctx, const cmsis_nn_conv_params *p,
                                        const cmsis_nn_per_channel_quant_params *quant_params,
                                        const cmsis_nn_dims *input_dims, const int8_t *input_data,
                                        const cmsis_nn_dims *filter_dims, const uint32_t *weights,
                                        const int32_t *bias_data, const cmsis_nn_dims *conv_dims,
                                        const cmsis_nn_dims *output_dims, const ed_conv_add_t *add,
                                        int8_t *output_data, int32_t pool)
{
    ed_winograd_geometry g;
    const int32_t cin = input_dims->c, cout = output_dims->c;
    if (!ed_winograd_geometry_of(p, input_dims, filter_dims, conv_dims, &g) || filter_dims->c != cin ||
        filter_dims->n != cout || conv_dims->c != cout || output_dims->w != conv_dims->w / pool ||
        output_dims->n != input_dims->n || output_dims->h != conv_dims->h || ctx == NULL || ctx->buf == NULL ||
        ctx->size < ed_convolve_winograd_s8_get_buffer_size(p, input_dims, filter_dims) +
                        (add != NULL ? ED_WINO_ADD_POSITIONS * cout : 0) ||
        weights == NULL || (add != NULL && (pool != 1 || add->other == NULL)))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    uint32_t *v = (uint32_t *)ctx->buf;
    int8_t *const staged = (int8_t *)(v + ed_wino_rows_words(&g)); /* with an ADD: a pair of tiles' outputs */
    const int32_t stride_c = p->stride.w * cin;
    const int32_t total = input_dims->w * cin; /* bytes of an input row */
    const int32_t out_h = conv_dims->h, in_h = input_dims->h;
    const int32_t out_w = output_dims->w;        /* positions written per output row */
    const int32_t tiles = (out_w * pool + 3) / 4; /* tiles whose outputs are kept */
    const int32_t per_pair = 8 / pool; /* output positions per pair of tiles (after the pool) */
    const int32_t act_min = p->activation.min, act_max = p->activation.max;
    ed_requant_out_t table[ED_WINO_QUANT_TABLE];
    const int prepared = cout <= ED_WINO_QUANT_TABLE;
    int fast = prepared;
    for (int32_t oc = 0; prepared && oc < cout; oc++)
    {
        table[oc] = ed_requant_out_prepare(quant_params->multiplier[oc], quant_params->shift[oc], p->output_offset);
        fast = fast && table[oc].q.hi_shift >= 0;
    }
#if ED_WINO_ASM
    ed_wino_chan_t chan[ED_WINO_QUANT_TABLE];
    for (int32_t oc = 0; fast && pool == 2 && oc < cout; oc++)
    {
        chan[oc] = (ed_wino_chan_t){table[oc].q.mult, table[oc].q.round_lo, table[oc].q.round_hi,
                                    table[oc].q.hi_shift, bias_data != NULL ? bias_data[oc] : 0};
    }
#endif

    const int32_t row_words = g.row_pairs * 12; /* V of one input row for a pair of tiles */
    for (int32_t n = 0; n < input_dims->n; n++)
    {
        const int8_t *input = input_data + n * in_h * total;
        for (int32_t t0 = 0; t0 < tiles; t0 += 2)
        {
            /* The strip of this pair of tiles, output row by output row: the scratch holds the
             * transformed input rows the output row reads, filter row r's at v + r * row_words (in
             * the order the product loop runs the pairs). The ones the next output row reads again
             * move up by the stride; only the input rows new to the strip are transformed. `next`
             * is the first input row not yet transformed. */
            int32_t next = -p->padding.h;
            const int32_t row0 = t0 / 2 * per_pair;                      /* the strip's first output position */
            const int32_t positions = ed_min_i32(per_pair, out_w - row0); /* and its output positions */
            for (int32_t oy = 0; oy < out_h; oy++)
            {
                const int32_t iy0 = oy * p->stride.h - p->padding.h; /* filter row r reads input row iy0 + r */
                const int32_t kept = next > iy0 ? next - iy0 : 0;     /* input rows still held, at the end */
                if (kept > 0)
                {
                    memmove(v, v + (g.rows - kept) * row_words, (size_t)(kept * row_words) * sizeof(uint32_t));
                }
                for (int32_t iy = iy0 + kept; iy < iy0 + g.rows; iy++)
                {
                    uint32_t *vr = v + (iy - iy0) * row_words;
                    for (int32_t slot = 0; slot < 2; slot++)
                    {
                        if (iy >= 0 && iy < in_h)
                        {
                            const int32_t first = 4 * (t0 + slot) * stride_c - p->padding.w * cin;
                            ed_wino_input_tile(input + iy * total, total, stride_c, &g, first, p->input_offset,
                                               vr + slot);
                            continue;
                        }
                        for (int32_t word = slot; word < row_words; word += 2)
                        {
                            vr[word] = 0u; /* a padding row: the zero point plus the offset */
                        }
                    }
                }
                next = iy0 + g.rows;
                const int32_t row = n * out_h + oy;
                int8_t *output = output_data + row * out_w * cout;
                for (int32_t block = 0; block < g.blocks; block++)
                {
                    const int32_t oc = 4 * block;
                    const int32_t channels = ed_min_i32(4, cout - oc);
                    int32_t m[6 * 8];
                    ed_wino_gemm(weights + block * 6 * g.pairs * 4, v, g.pairs, m);
                    ed_requant_out_t local[4];
                    int block_fast = fast;
                    if (!prepared)
                    {
                        block_fast = 1;
                        for (int32_t o = 0; o < channels; o++)
                        {
                            local[o] = ed_requant_out_prepare(quant_params->multiplier[oc + o],
                                                              quant_params->shift[oc + o], p->output_offset);
                            block_fast = block_fast && local[o].q.hi_shift >= 0;
                        }
                    }
                    const ed_requant_out_t *quant = prepared ? &table[oc] : local;
                    const int32_t *bias = bias_data != NULL ? bias_data + oc : NULL;
                    int8_t *dst = (add != NULL ? staged : output + row0 * cout) + oc;
#if ED_NN_DSP
                    if (block_fast && channels == 4 && positions == per_pair)
                    {
#if ED_WINO_ASM
                        if (pool == 2 && prepared)
                        {
                            ed_wino_block_fast_pool(m, &chan[oc], act_min, act_max, dst, cout);
                            continue;
                        }
                        if (pool == 2)
                        {
                            /* wider layers: this block's four channels' constants, prepared above */
                            ed_wino_chan_t block_chan[4];
                            for (int32_t o = 0; o < 4; o++)
                            {
                                block_chan[o] = (ed_wino_chan_t){quant[o].q.mult, quant[o].q.round_lo,
                                                                 quant[o].q.round_hi, quant[o].q.hi_shift,
                                                                 bias != NULL ? bias[o] : 0};
                            }
                            ed_wino_block_fast_pool(m, block_chan, act_min, act_max, dst, cout);
                            continue;
                        }
#endif
                        if (pool == 2)
                        {
                            ed_wino_block_fast_pool_c(m, bias, quant, act_min, act_max, dst, cout);
                        }
                        else
                        {
                            ed_wino_block_fast(m, bias, quant, act_min, act_max, dst, cout);
                        }
                        continue;
                    }
#endif
                    ed_wino_block_outputs(m, bias, quant, act_min, act_max, dst, cout, positions, channels, pool == 2);
                }
                if (add != NULL)
                {
                    const int32_t at = (row * out_w + row0) * cout;
                    ed_conv_add_run(add, staged, at, output_data, positions * cout);
                }
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

arm_cmsis_nn_status ed_convolve_winograd_s8(const cmsis_nn_context *ctx,
                                               const cmsis_nn_conv_params *conv_params,
                                               const cmsis_nn_per_channel_quant_params *quant_params,
                                               const cmsis_nn_dims *input_dims,
                                               const int8_t *input_data,
                                               const cmsis_nn_dims *filter_dims,
                                               const uint32_t *weights,
                                               const cmsis_nn_dims *bias_dims,
                                               const int32_t *bias_data,
                                               const cmsis_nn_dims *output_dims,
                                               int8_t *output_data)
{
    (void)bias_dims;
    return ed_wino_conv(ctx, conv_params, quant_params, input_dims, input_data, filter_dims, weights, bias_data,
                        output_dims, output_dims, NULL, output_data, 1);
}

arm_cmsis_nn_status ed_convolve_winograd_add_s8(const cmsis_nn_context *ctx,
                                                const cmsis_nn_conv_params *conv_params,
                                                const cmsis_nn_per_channel_quant_params *quant_params,
                                                const cmsis_nn_dims *input_dims,
                                                const int8_t *input_data,
                                                const cmsis_nn_dims *filter_dims,
                                                const uint32_t *weights,
                                                const cmsis_nn_dims *bias_dims,
                                                const int32_t *bias_data,
                                                const cmsis_nn_dims *output_dims,
                                                const ed_conv_add_t *add,
                                                int8_t *output_data)
{
    (void)bias_dims;
    return ed_wino_conv(ctx, conv_params, quant_params, input_dims, input_data, filter_dims, weights, bias_data,
                        output_dims, output_dims, add, output_data, 1);
}

int32_t ed_convolve_winograd_add_s8_get_buffer_size(const cmsis_nn_conv_params *conv_params,
                                                    const cmsis_nn_dims *input_dims,
                                                    const cmsis_nn_dims *filter_dims)
{
    return ed_convolve_winograd_s8_get_buffer_size(conv_params, input_dims, filter_dims) +
           ED_WINO_ADD_POSITIONS * filter_dims->n;
}

arm_cmsis_nn_status ed_convolve_1d_winograd_maxpool2_s8(const cmsis_nn_context *ctx,
                                                        const cmsis_nn_conv_params *conv_params,
                                                        const cmsis_nn_per_channel_quant_params *quant_params,
                                                        const cmsis_nn_dims *input_dims,
                                                        const int8_t *input_data,
                                                        const cmsis_nn_dims *filter_dims,
                                                        const uint32_t *weights,
                                                        const cmsis_nn_dims *bias_dims,
                                                        const int32_t *bias_data,
                                                        const cmsis_nn_dims *conv_dims,
                                                        const cmsis_nn_dims *output_dims,
                                                        int8_t *output_data)
{
    (void)bias_dims;
    return ed_wino_conv(ctx, conv_params, quant_params, input_dims, input_data, filter_dims, weights, bias_data,
                        conv_dims, output_dims, NULL, output_data, 2);
}
