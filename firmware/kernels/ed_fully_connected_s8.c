/*
 * ed_fully_connected_s8.c - edge-deploy's fully connected layer, four rows per pass over packed
 * weights (firmware/include/ed_fully_connected_packed.h: the method, the layout, the folded
 * bias). Written for edge-deploy from the TFLite int8 arithmetic; no CMSIS-NN code.
 */
#include "ed_fully_connected_packed.h"
#include "ed_nn_support.h"

#if ED_NN_ASM
/* One group of four inputs for five rows: the input words X = (x0, x2) and Y = (x1 - 128 - 256 x0,
 * x3 - 128 - 256 x2) in one LDRD into r12 / lr, the rows' five weight words in one LDM; per row
 * SMLAD of X with the raw word (w0 + 128 + 256 w1, w2 + 128 + 256 w3), SXTB16 ROR 8 (w1, w3) in
 * place, SMLAD of Y with it: x0 w0 + x1 w1 + x2 w2 + x3 w3 + 128 (x0 + x2) - 128 (w1 + w3).
 * r2-r6 the sums, r7-r11 the weight words. Every instruction is 32-bit: a group is
 * ED_FC_GROUP_BYTES long, which the entry into the loop's middle relies on. */
#define ED_FC_ROW(acc, w)                                                                                              \
    "smlad " acc ", r12, " w ", " acc "\n\t"                                                                          \
    "sxtb16 " w ", " w ", ror #8\n\t"                                                                                 \
    "smlad " acc ", lr, " w ", " acc "\n\t"
#define ED_FC_GROUP_LOADED                                                                                             \
    "ldm.w r1!, {r7-r11}\n\t" ED_FC_ROW("r2", "r7") ED_FC_ROW("r3", "r8") ED_FC_ROW("r4", "r9")                     \
    ED_FC_ROW("r5", "r10") ED_FC_ROW("r6", "r11")
#define ED_FC_GROUP "ldrd r12, lr, [r0], #8\n\t" ED_FC_GROUP_LOADED
#define ED_FC_GROUP_BYTES 68 /* the loop's first group, its inputs loaded before, 4 fewer */
#define ED_FC_LOOP_GROUPS 8
/* X of the group after the last: no widened X word has 0x8000 as its high halfword. */
#define ED_FC_SENTINEL 0x80000000u

#define ED_ASM_ARG __attribute__((unused))

/* What the loop over blocks reads, fixed per input row; ed_fc_run copies it to its stack frame
 * and reads it there by offset. */
typedef struct
{
    const int16_t *x;          /* +0, the widened input (ed_fc_widen), word aligned, sentinel after */
    const int32_t *bias;       /* +4, padded to blocks of ED_FC_ROWS */
    int32_t x_term;            /* +8, 128 x the sum of the input's even positions (ed_fc_widen) */
    int32_t first_groups;      /* +12, groups % 8: the first loop turn's (0: a whole turn); in the
                                * frame, the address to enter the loop at (0: its top) */
    int8_t *out;               /* +16 */
    int32_t blocks;            /* +20, >= 1 */
    const int32_t *mult;       /* +24 */
    const int32_t *shift;      /* +28 */
    int32_t step;              /* +32, 4 per output (per channel) or 0 (per tensor) */
    int32_t last_rows;         /* +36, rows of the last block (1 to 5) */
    int32_t offset;            /* +40, output offset */
    /* Per tensor (step 0) only: the requantization's constants, made once per call. */
    int32_t layer_mult;        /* +44, 0 per channel */
    int32_t layer_shift;       /* +48, e - 1 */
    uint32_t layer_round_lo;   /* +52, round and offset as ED_FC_REQUANT makes them */
    int32_t layer_round_hi;    /* +56 */
    int32_t pad;               /* +60, the frame a multiple of 8 bytes; the weight pointer's slot
                                * while the per-channel requantization runs */
} ed_fc_run_t;
_Static_assert(sizeof(ed_fc_run_t) == 64, "ed_fc_run reads ed_fc_run_t by offset");

/* The fast requantization of the sum in register a (right shift e = -shift of 1..23, offset
 * folded), its constants made from mult r8 and shift r9 (r7 / r0 the pointers, r1 the step,
 * lr the output offset): round = (1 + 2^e) << 30 (single rounding: 2^e << 30), plus
 * offset << (e - 1) in the high word; then ed_requant_fast. */
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
#define ED_FC_ROUND "lsl r10, r10, r9\n\t"
#define ED_FC_SIGN(a) ""
#else
#define ED_FC_ROUND                                                                                                    \
    "lsl r10, r10, r9\n\t"                                                                                             \
    "add r10, r10, #1\n\t"
#define ED_FC_SIGN(a)                                                                                                  \
    "and r10, " a ", #0x80000000\n\t"                                                                                  \
    "subs r11, r11, r10\n\t"                                                                                           \
    "sbc r12, r12, #0\n\t"
#endif
#define ED_FC_REQUANT(a)                                                                                               \
    "ldr r8, [r7]\n\t"                                                                                                 \
    "ldr r9, [r0]\n\t"                                                                                                 \
    "add r7, r7, r1\n\t"                                                                                               \
    "add r0, r0, r1\n\t"                                                                                               \
    "rsb r9, r9, #0\n\t"                                                                                               \
    "mov r10, #1\n\t" ED_FC_ROUND                                                                                      \
    "lsl r11, r10, #30\n\t"                                                                                            \
    "lsr r12, r10, #2\n\t"                                                                                             \
    "sub r9, r9, #1\n\t"                                                                                               \
    "lsl r10, lr, r9\n\t"                                                                                              \
    "add r12, r12, r10\n\t" ED_FC_SIGN(a)                                                                              \
    "smlal r11, r12, " a ", r8\n\t"                                                                                    \
    "asr r12, r12, r9\n\t"                                                                                             \
    "ssat " a ", #8, r12\n\t"

/* The same with the layer's constants in registers (r7 mult, r8 e - 1, r9 / r10 the round's
 * low and high words), r12 / lr the 64-bit sum. */
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
#define ED_FC_LAYER_ROUND(a)                                                                                           \
    "mov r12, r9\n\t"                                                                                                  \
    "mov lr, r10\n\t"
#else
#define ED_FC_LAYER_ROUND(a)                                                                                           \
    "and r11, " a ", #0x80000000\n\t"                                                                                  \
    "subs r12, r9, r11\n\t"                                                                                            \
    "sbc lr, r10, #0\n\t"
#endif
#define ED_FC_REQUANT_LAYER(a)                                                                                         \
    ED_FC_LAYER_ROUND(a)                                                                                               \
    "smlal r12, lr, " a ", r7\n\t"                                                                                     \
    "asr lr, lr, r8\n\t"                                                                                               \
    "ssat " a ", #8, lr\n\t"

#define ED_FC_STR(x) #x
#define ED_FC_XSTR(x) ED_FC_STR(x)

/* Every block of five rows of one input row: the sums from the biases less the input term, the
 * groups (eight per loop turn, the first turn entered in its middle when the groups are not a
 * multiple of eight; each turn loads the next turn's first inputs and ends the loop where they are
 * the sentinel), five requantizations, five bytes stored (fewer in a short last block; the block
 * loop is rotated so the stores fall through into the next block). A per-channel layer has
 * layer_mult 0 in the frame, which sends it to its requantization (a per-tensor layer whose
 * multiplier is 0 takes that path too, with step 0: the same result). w (r1) runs on over the blocks; the frame is a
 * copy of ed_fc_run_t (bias, out, blocks, mult, shift advance). The per-channel requantization
 * sits after the function's return, out of the way of the L4+'s 1 KB instruction cache. */
__attribute__((naked, noinline)) static void ed_fc_run(ED_ASM_ARG const ed_fc_run_t *run,
                                                       ED_ASM_ARG const uint32_t *w)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #64\n\t"
        "ldm r0!, {r2-r12, lr}\n\t"
        "stm sp, {r2-r12, lr}\n\t"
        "ldm r0, {r2-r5}\n\t"
        "add r0, sp, #48\n\t"
        "stm r0, {r2-r5}\n\t"
        "ldr r2, [sp, #12]\n\t"       /* the first turn's groups -> the address to enter at */
        "cbz r2, 1f\n\t"
        "rsb r2, r2, #" ED_FC_XSTR(ED_FC_LOOP_GROUPS) "\n\t"
        "movs r3, #" ED_FC_XSTR(ED_FC_GROUP_BYTES) "\n\t"
        "adr.w r4, 2f\n\t"
        "mla r2, r2, r3, r4\n\t"
        "sub r2, r2, #3\n\t"         /* the first group 4 bytes shorter, the Thumb bit */
        "str r2, [sp, #12]\n\t"
        "b 1f\n\t"
        "8:\n\t"                     /* a whole block's bytes */
        "strb r2, [r0]\n\t"
        "strb r3, [r0, #1]\n\t"
        "strb r4, [r0, #2]\n\t"
        "strb r5, [r0, #3]\n\t"
        "strb r6, [r0, #4]\n\t"
        "adds r0, r0, #5\n\t"
        "strd r0, r11, [sp, #16]\n\t"
        "1:\n\t"
        "ldrd r0, lr, [sp]\n\t"       /* x, bias */
        "ldm lr!, {r2-r6}\n\t"
        "str lr, [sp, #4]\n\t"
        "ldrd r12, lr, [sp, #8]\n\t"  /* x_term, entry */
        "sub r2, r2, r12\n\t"
        "sub r3, r3, r12\n\t"
        "sub r4, r4, r12\n\t"
        "sub r5, r5, r12\n\t"
        "sub r6, r6, r12\n\t"
        "cmp lr, #0\n\t"
        "it ne\n\t"
        "bxne lr\n\t"
        "ldrd r12, lr, [r0], #8\n\t"  /* the first group's inputs */
        "2:\n\t"
        ED_FC_GROUP_LOADED ED_FC_GROUP ED_FC_GROUP ED_FC_GROUP ED_FC_GROUP ED_FC_GROUP ED_FC_GROUP ED_FC_GROUP
        "3:\n\t"                     /* the entry address assumes these sizes */
        ".if (3b - 2b) != " ED_FC_XSTR(ED_FC_GROUP_BYTES) " * " ED_FC_XSTR(ED_FC_LOOP_GROUPS) " - 4\n\t"
        ".error \"ed_fc_run: a group is not ED_FC_GROUP_BYTES long\"\n\t"
        ".endif\n\t"
        "ldrd r12, lr, [r0], #8\n\t"
        "cmp r12, #" ED_FC_XSTR(ED_FC_SENTINEL) "\n\t"
        "bne 2b\n\t"
        "ldrd r7, r8, [sp, #44]\n\t"  /* the layer's constants */
        "ldrd r9, r10, [sp, #52]\n\t"
        "cmp r7, #0\n\t"
        "beq.w 10f\n\t"               /* per channel */
        ED_FC_REQUANT_LAYER("r2") ED_FC_REQUANT_LAYER("r3") ED_FC_REQUANT_LAYER("r4") ED_FC_REQUANT_LAYER("r5")
        ED_FC_REQUANT_LAYER("r6")
        "9:\n\t"
        "ldrd r0, r11, [sp, #16]\n\t" /* out, blocks */
        "subs r11, r11, #1\n\t"
        "bne 8b\n\t"
        "ldr r11, [sp, #36]\n\t"      /* the last block: its rows */
        "strb r2, [r0]\n\t"
        "cmp r11, #2\n\t"
        "blt 6f\n\t"
        "strb r3, [r0, #1]\n\t"
        "beq 6f\n\t"
        "strb r4, [r0, #2]\n\t"
        "cmp r11, #4\n\t"
        "blt 6f\n\t"
        "strb r5, [r0, #3]\n\t"
        "beq 6f\n\t"
        "strb r6, [r0, #4]\n\t"
        "6:\n\t"
        "add sp, sp, #64\n\t"
        "pop {r4-r11, pc}\n\t"
        "10:\n\t"                     /* per channel: r1 (w) kept in the frame meanwhile */
        "str r1, [sp, #60]\n\t"
        "ldr r1, [sp, #32]\n\t"       /* step */
        "ldr lr, [sp, #40]\n\t"       /* offset */
        "ldr r7, [sp, #24]\n\t"       /* mult */
        "ldr r0, [sp, #28]\n\t"       /* shift */
        ED_FC_REQUANT("r2") ED_FC_REQUANT("r3") ED_FC_REQUANT("r4") ED_FC_REQUANT("r5") ED_FC_REQUANT("r6")
        "str r7, [sp, #24]\n\t"
        "str r0, [sp, #28]\n\t"
        "ldr r1, [sp, #60]\n\t"
        "b 9b\n\t");
}

static inline uint32_t ed_fc_rev16(uint32_t x)
{
    uint32_t r;
    __asm__("rev16 %0, %1" : "=r"(r) : "r"(x));
    return r;
}

/* One group's two input words for the loop (ED_FC_GROUP), from its input word (x0 the low byte):
 * X = (x0, x2) as int16, what SXTB16 makes of it, and Y = (x1 - 128 - 256 x0, x3 - 128 - 256 x2)
 * as int16 (in range for any int8 inputs). As x1 - 128 lies in -256 .. -1, each Y lane is the
 * byte x1 ^ 0x80 under the byte ~x0: REV16 of the input word, then EOR 0xff80ff80. Returns
 * even + x0 + x2. */
static inline int32_t ed_fc_widen_group(uint32_t xw, uint32_t *out, int32_t even)
{
    const uint32_t x02 = ed_sxtb16(xw);
    out[0] = x02;
    out[1] = ed_fc_rev16(xw) ^ 0xff80ff80u;
    return ed_smlad(x02, 0x00010001u, even);
}

/* The input row widened for the loop, per group of four inputs its two words (zeros past depth),
 * then the sentinel group that ends the loop; returns 128 x the sum of the even positions, what
 * the packed weights' encoding adds. */
static int32_t ed_fc_widen(const int8_t *x, int32_t depth, int16_t *wide)
{
    uint32_t *out = (uint32_t *)wide;
    const int8_t *const end = x + 8 * (depth / 8);
    int32_t even = 0;
    for (; x != end; x += 8, out += 4) /* two groups per turn: one turn's overhead per 8 inputs */
    {
        even = ed_fc_widen_group(ed_read_u32(x), out, even);
        even = ed_fc_widen_group(ed_read_u32(x + 4), out + 2, even);
    }
    if (depth % 8 >= 4)
    {
        even = ed_fc_widen_group(ed_read_u32(x), out, even);
        x += 4;
        out += 2;
    }
    if (depth % 4 != 0) /* the last, partial group */
    {
        int8_t last[4] = {0, 0, 0, 0};
        memcpy(last, x, (size_t)(depth % 4));
        even = ed_fc_widen_group(ed_read_u32(last), out, even);
        out += 2;
    }
    out[0] = ED_FC_SENTINEL;
    out[1] = 0;
    return 128 * even;
}

/* What ED_FC_REQUANT makes from a multiplier, a shift of -1..-23 and the output offset, made once
 * for a per-tensor layer: round = ((1 << e) + 1) << 30 (single rounding: (1 << e) << 30) as a
 * 64-bit value, plus offset << (e - 1) in its high word. */
typedef struct
{
    int32_t mult, shift;
    uint32_t round_lo;
    int32_t round_hi;
} ed_fc_layer_t;

static ed_fc_layer_t ed_fc_layer(int32_t mult, int32_t shift, int32_t offset)
{
    const int32_t e = -shift;
    if (e < 1 || e > 23)
    {
        return (ed_fc_layer_t){0, 0, 0, 0}; /* not on the fast path (all_fast is false) */
    }
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
    const uint64_t round = (uint64_t)(1u << e) << 30;
#else
    const uint64_t round = (uint64_t)((1u << e) + 1u) << 30;
#endif
    return (ed_fc_layer_t){mult, e - 1, (uint32_t)round,
                           (int32_t)((uint32_t)(round >> 32) + ((uint32_t)offset << (e - 1)))};
}

/* 1 when every multiplier is >= 0 and every shift in -23 .. -1 (the fast requantization). */
static int ed_fc_all_fast(const int32_t *mult, const int32_t *shift, int32_t n)
{
    for (int32_t o = 0; o < n; o++)
    {
        if (mult[o] < 0 || (uint32_t)(shift[o] + 23) > 22u)
        {
            return 0;
        }
    }
    return 1;
}
#endif

/* acc[0..ED_FC_ROWS - 1] += the block's rows' sums over x as the Thumb-2 loop makes them (the general path): per
 * group x0 (w0 + 128) + (x1 - 128) w1 + x2 (w2 + 128) + (x3 - 128) w3, the even bytes of the
 * packed word read unsigned, the odd ones signed. */
static void ed_fc_rows(const int8_t *x, const uint32_t *w, int32_t groups, int32_t *acc)
{
    for (int32_t g = 0; g < groups; g++, x += 4, w += ED_FC_ROWS)
    {
        for (int32_t r = 0; r < ED_FC_ROWS; r++)
        {
            const uint32_t word = w[r];
            uint32_t sum = (uint32_t)acc[r];
            for (int32_t i = 0; i < 4; i += 2)
            {
                const int32_t even = x[i] * (int32_t)((word >> (8 * i)) & 0xffu);
                const int32_t odd = (x[i + 1] - 128) * (int32_t)(int8_t)(word >> (8 * i + 8));
                sum += (uint32_t)even + (uint32_t)odd; /* modulo 2^32, as SMLAD */
            }
            acc[r] = (int32_t)sum;
        }
    }
}

/* 128 x the sum of the even positions of an input row padded with zeros to whole words. */
static int32_t ed_fc_x_term(const int8_t *x, int32_t depth4)
{
    int32_t even = 0;
    for (int32_t k = 0; k < depth4; k += 2)
    {
        even += x[k];
    }
    return 128 * even;
}

arm_cmsis_nn_status ed_fully_connected_s8(const cmsis_nn_context *ctx,
                                          const cmsis_nn_fc_params *fc_params,
                                          const cmsis_nn_per_channel_quant_params *quant_params,
                                          int32_t quant_step,
                                          const cmsis_nn_dims *input_dims,
                                          const int8_t *input_data,
                                          const cmsis_nn_dims *filter_dims,
                                          const uint32_t *packed_weights,
                                          const int32_t *folded_bias,
                                          const cmsis_nn_dims *output_dims,
                                          int8_t *output_data)
{
    (void)output_dims;
    const cmsis_nn_fc_params *p = fc_params;
    const int32_t depth = filter_dims->n, units = filter_dims->c, depth4 = (depth + 3) & ~3;
    const int32_t groups = depth4 / 4, blocks = (units + ED_FC_ROWS - 1) / ED_FC_ROWS;
    if (folded_bias == NULL || p->filter_offset != 0 || depth < 1 ||
        (depth4 != depth && (ctx == NULL || ctx->buf == NULL || ctx->size < ed_fully_connected_s8_get_buffer_size(filter_dims))))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    const int clamp = p->activation.min > -128 || p->activation.max < 127;
    const ed_requant_out_t layer_rq = /* per tensor: prepared once */
        ed_requant_out_prepare(quant_params->multiplier[0], quant_params->shift[0], p->output_offset);
    /* The Thumb-2 loop needs every output on the fast requantization; it saturates to int8 and
     * the activation clamp follows over the row's bytes (the same order as the reference). */
#if ED_NN_ASM
    const int all_fast = ed_fc_all_fast(quant_params->multiplier, quant_params->shift, quant_step ? units : 1);
    const ed_fc_layer_t layer = ed_fc_layer(quant_params->multiplier[0], quant_params->shift[0], p->output_offset);
#endif
    for (int32_t b = 0; b < input_dims->n; b++)
    {
        int8_t *out = output_data + b * units;
#if ED_NN_ASM
        if (all_fast && ctx != NULL && ctx->buf != NULL && ctx->size >= 8 * groups + 8 &&
            ((uintptr_t)ctx->buf & 3u) == 0)
        {
            int16_t *wide = (int16_t *)ctx->buf;
            const int32_t x_term = ed_fc_widen(input_data + b * depth, depth, wide);
            const ed_fc_run_t run = {wide, folded_bias, x_term, groups % ED_FC_LOOP_GROUPS, out, blocks,
                                     quant_params->multiplier, quant_params->shift, 4 * quant_step,
                                     units - ED_FC_ROWS * (blocks - 1), p->output_offset,
                                     quant_step != 0 ? 0 : layer.mult, layer.shift, layer.round_lo,
                                     layer.round_hi, 0};
            ed_fc_run(&run, packed_weights);
            if (clamp)
            {
                for (int32_t o = 0; o < units; o++)
                {
                    out[o] = ed_clamp_s8(out[o], p->activation.min, p->activation.max);
                }
            }
            continue;
        }
#endif
        const int8_t *x = input_data + b * depth;
        if (depth4 != depth) /* a whole last word: the input row, zero padded */
        {
            int8_t *padded = (int8_t *)ctx->buf;
            memcpy(padded, x, (size_t)depth);
            memset(padded + depth, 0, (size_t)(depth4 - depth));
            x = padded;
        }
        const uint32_t *w = packed_weights;
        const uint32_t x_term = (uint32_t)ed_fc_x_term(x, depth4);
        for (int32_t blk = 0, o = 0; blk < blocks; blk++, o += ED_FC_ROWS, w += ED_FC_ROWS * groups)
        {
            int32_t acc[ED_FC_ROWS];
            for (int32_t r = 0; r < ED_FC_ROWS; r++)
            {
                acc[r] = (int32_t)((uint32_t)folded_bias[o + r] - x_term);
            }
            ed_fc_rows(x, w, groups, acc);
            const int32_t rows = ed_min_i32(ED_FC_ROWS, units - o);
            for (int32_t r = 0; r < rows; r++)
            {
                const int32_t q = (o + r) * quant_step;
                const ed_requant_out_t rq = quant_step == 0 ? layer_rq :
                    ed_requant_out_prepare(quant_params->multiplier[q], quant_params->shift[q], p->output_offset);
                if (rq.q.hi_shift >= 0 && !clamp)
                {
                    out[o + r] = (int8_t)ed_sat8(ed_requant_fast(&rq.q, acc[r]));
                }
                else
                {
                    out[o + r] = ed_requant_out_s8(&rq, acc[r], p->activation.min, p->activation.max);
                }
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

int32_t ed_fully_connected_s8_get_buffer_size(const cmsis_nn_dims *filter_dims)
{
    const int32_t depth = filter_dims->n;
    /* the widened input row (its first bytes: the C path's padded row), then the sentinel group */
    return 2 * ((depth + 3) & ~3) + 8;
}
