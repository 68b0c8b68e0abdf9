/*
 * ed_convolve_s8.c - edge-deploy's convolution as a register-blocked GEMM
 * (firmware/include/ed_convolve.h: the method, the packed weights and the folded bias). Written
 * for edge-deploy from the TFLite int8 arithmetic; no CMSIS-NN code.
 *
 * Per four output positions: each patch widened into its slot of the column buffer (a 1 x 1
 * patch inline; straight from the input where a row of the window is a whole number of words
 * inside it, or where the window is three rows of 9 bytes inside it (3 x 3 RGB; four windows of
 * one output row in one call), gathered byte by byte where the rows are 1 to 3 bytes (a 3 x 3
 * window over one channel), else through an int8 staging copy: word copies of the rows for a
 * window inside the input, in Thumb-2 on the M4; the zero point in the padding), then every block
 * of two output channels: the 2 x 4 dot products (Thumb-2 on the M4, C elsewhere), the
 * requantization, eight bytes stored; an odd last channel, or every block where a channel leaves
 * the fast requantization, through the general loop (the block's products, each output
 * requantized).
 */
#include "ed_convolve.h"
#include "ed_nn_support.h"

/* One output channel's requantization on the fast path: for a Q31 multiplier m in [2^30, 2^31)
 * (TFLite's), a right shift e of 1 to 18 and |acc| <= 2^31 - 2^27 (the build checks the
 * accumulators), TFLite's
 *     double rounding: floor((SRDHM(acc, m) + 2^(e-1) - [acc < 0]) / 2^e)
 *     single rounding: floor((acc * m + 2^(30+e)) / 2^(31+e))
 * are both a multiply-high by 2m, a rounding word and an arithmetic shift by e, because
 * SRDHM(acc, m) = floor((acc * 2m + 2^31) / 2^32) and single rounding is
 * floor((floor(acc * 2m / 2^32) + 2^(e-1)) / 2^e) (nested floor divisions are one; gemmlowp's
 * [x < 0] in RoundingDivideByPOT may be [acc < 0]: they differ only where SRDHM = 0, and the
 * result is 0 either way). 2m does not fit int32; as int32 it is 2m - 2^32, so the M4's
 * SMMLAR (double) or SMMLA (single) of acc and that word with the rounding word gives
 * round + SRDHM - acc, and adding acc back is exact modulo 2^32. The rounding word carries
 * 2^(e-1) and the output offset less act_min times 2^e (|word| < 2^26, so word + SRDHM stays in
 * int32); shift 0: the channel takes ed_requantize_to_s8. */
typedef struct
{
    int32_t mult2; /* 2m as a 32-bit word */
    int32_t round;
    int32_t shift;
} ed_conv_q_t;

static inline ed_conv_q_t ed_conv_q_prepare(int32_t multiplier, int32_t shift, int32_t folded_offset)
{
    ed_conv_q_t q = {(int32_t)(2u * (uint32_t)multiplier), 0, 0};
    const int32_t e = -shift;
    if (multiplier >= (1 << 30) && e >= 1 && e <= 18)
    {
        q.round = (int32_t)((1u << (e - 1)) + ((uint32_t)folded_offset << e));
        q.shift = e;
    }
    return q;
}

/* The fast path's value (the requantized output less act_min, before saturation). */
static inline int32_t ed_conv_q_apply(const ed_conv_q_t *q, int32_t acc)
{
    const int64_t p = (int64_t)acc * (int64_t)(uint32_t)q->mult2;
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
    const int64_t t = q->round + (p >> 32);
#else
    const int64_t t = q->round + ((p + (1LL << 31)) >> 32) + (acc < 0 ? -1 : 0);
#endif
    return (int32_t)t >> q->shift;
}

/* One block of two output channels as the block loop reads it: the folded biases, then each
 * channel's constants (32 bytes). */
typedef struct
{
    int32_t bias[2];
    ed_conv_q_t q[2];
} ed_conv_rq_t;

/* The column buffer: per group of four patch elements, ED_CONV_SLOTS positions of two words each,
 * (x0, x2) then (x1, x3): slot s of group g at words ED_CONV_GROUP_WORDS * g + 2 * s. */
#define ED_CONV_SLOTS 4
#define ED_CONV_GROUP_WORDS (2 * ED_CONV_SLOTS)

/* A word of four int8 as the two int16 pairs (x0, x2) and (x1, x3). */
static inline void ed_conv_widen4(uint32_t v, uint32_t *x02, uint32_t *x13)
{
#if ED_NN_DSP
    *x02 = ed_sxtb16(v);
    *x13 = ed_sxtb16_ror8(v);
#else
    *x02 = ((uint32_t)(uint16_t)(int16_t)(int8_t)(v & 0xFFu)) | ((uint32_t)(uint16_t)(int16_t)(int8_t)(v >> 16) << 16);
    *x13 = ((uint32_t)(uint16_t)(int16_t)(int8_t)(v >> 8)) | ((uint32_t)(uint16_t)(int16_t)(int8_t)(v >> 24) << 16);
#endif
}

/* Widens n bytes (a multiple of 4) from src into column `which` (a slot) from group g0 on: per
 * group the column words sit at 8g + 2 * which (x0, x2) and 8g + 2 * which + 1 (x1, x3). Two
 * groups per turn. */
static inline void ed_conv_widen_run(const int8_t *src, int32_t n, uint32_t *col, int32_t g0, int32_t which)
{
    uint32_t *dst = col + ED_CONV_GROUP_WORDS * g0 + 2 * which;
    int32_t i = 0;
    if (n & 4)
    {
        ed_conv_widen4(ed_read_u32(src), &dst[0], &dst[1]);
        i = 4;
        dst += ED_CONV_GROUP_WORDS;
    }
    for (; i < n; i += 8, dst += 2 * ED_CONV_GROUP_WORDS)
    {
        const uint32_t a = ed_read_u32(src + i), b = ed_read_u32(src + i + 4);
        ed_conv_widen4(a, &dst[0], &dst[1]);
        ed_conv_widen4(b, &dst[ED_CONV_GROUP_WORDS], &dst[ED_CONV_GROUP_WORDS + 1]);
    }
}

/* n bytes from src to dst: words at 0, 4, ... and the last at n - 4 (over the one before it when
 * n is not a multiple of 4; unaligned words are fine on the M4), bytes when n < 4. */
static inline void ed_conv_copy(int8_t *dst, const int8_t *src, int32_t n)
{
    if (n < 4)
    {
        for (int32_t i = 0; i < n; i++)
        {
            dst[i] = src[i];
        }
        return;
    }
    for (int32_t i = 0; i < n - 4; i += 4)
    {
        ed_write_u32(dst + i, ed_read_u32(src + i));
    }
    ed_write_u32(dst + n - 4, ed_read_u32(src + n - 4));
}

/* n bytes of the byte pattern `fill4` (a byte repeated four times), the same way. */
static inline void ed_conv_fill(int8_t *dst, uint32_t fill4, int32_t n)
{
    if (n < 4)
    {
        for (int32_t i = 0; i < n; i++)
        {
            dst[i] = (int8_t)fill4;
        }
        return;
    }
    for (int32_t i = 0; i < n - 4; i += 4)
    {
        ed_write_u32(dst + i, fill4);
    }
    ed_write_u32(dst + n - 4, fill4);
}

/* What ed_conv_column_tight reads, in the order its LDM loads it. */
typedef struct
{
    int32_t run;  /* one row of the window: kw * cin bytes */
    int32_t last; /* run - 4 */
    int32_t step; /* the input bytes from one row of the window to the next */
    int32_t kh, k4;
    int8_t *stage; /* the int8 staging copy (k4 bytes) */
    int32_t xstep; /* the input bytes from one output position of a row to the next: stride_w * cin */
} ed_conv_rows_t;

/* What every position of a call shares. */
typedef struct
{
    const int8_t *input; /* this batch */
    int32_t in_h, in_w, kh, kw, cin, k, k4, out_w;
    int32_t stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w;
    ed_conv_rows_t rows;
    int32_t row_bytes;       /* one row of the input */
    uint32_t x_end, y_end;   /* a window at base_x < x_end, base_y < y_end is inside the input and takes
                                ed_conv_column_tight (dilation_w 1, rows of at least 4 bytes; else 0) */
    uint32_t quad_x_end, quad_y_end; /* the same bounds where four windows of one output row are built
                                        in one call (three rows of 9 bytes, rows of 1 to 3 bytes; else 0) */
    int8_t zp;
    uint32_t zp4;            /* the zero point in four bytes */
    uint32_t zp02, zp13;     /* and widened */
    int pointwise;           /* 1 x 1 window, no padding, cin a multiple of 4: the pixel is the patch */
    int short_rows;          /* rows of 1 to 3 bytes (kw x cin, dilation_w 1): ed_conv_column_short inside
                                the input, else three rows of 9 bytes (ed_conv_column_tight's quad) */
} ed_conv_layer_t;

/* The fields of L that follow from the others. */
static void ed_conv_layer_derive(ed_conv_layer_t *L, const cmsis_nn_dims *in)
{
    L->in_h = in->h;
    L->in_w = in->w;
    L->row_bytes = in->w * L->cin;
    const int32_t run = L->kw * L->cin;
    L->rows = (ed_conv_rows_t){run, run - 4, L->dilation_h * L->row_bytes, L->kh, L->k4, L->rows.stage,
                               L->stride_w * L->cin};
    L->zp4 = 0x01010101u * (uint8_t)L->zp;
    ed_conv_widen4(L->zp4, &L->zp02, &L->zp13);
    const int32_t x_last = in->w - 1 - (L->kw - 1) * L->dilation_w, y_last = in->h - 1 - (L->kh - 1) * L->dilation_h;
    const int inside = L->dilation_w == 1 && x_last >= 0 && y_last >= 0;
    const int tight = inside && run >= 4, quads = inside && (run < 4 || (run == 9 && L->kh == 3));
    L->x_end = tight ? (uint32_t)x_last + 1 : 0u;
    L->y_end = tight ? (uint32_t)y_last + 1 : 0u;
    L->quad_x_end = quads ? (uint32_t)x_last + 1 : 0u;
    L->quad_y_end = quads ? (uint32_t)y_last + 1 : 0u;
    L->short_rows = L->dilation_w == 1 && run < 4;
}

/* One window of ed_conv_column_short into dst (its slot of the first group) from src. */
static inline __attribute__((always_inline)) void ed_conv_window_short(const ed_conv_rows_t *rows,
                                                                       const int8_t *src, uint32_t *dst)
{
    const int32_t run = rows->run, bits = 8 * run, step = rows->step;
    uint32_t word = 0;
    int32_t have = 0; /* bits of word filled, below 32 between rows */
    for (int32_t n = rows->kh; n > 0; n--, src += step)
    {
        uint32_t v = (uint8_t)src[0];
        if (run > 1)
        {
            v |= (uint32_t)(uint8_t)src[1] << 8;
        }
        if (run > 2)
        {
            v |= (uint32_t)(uint8_t)src[2] << 16;
        }
        word |= v << have;
        have += bits;
        if (have >= 32) /* full: widen it; the row's bytes that did not fit start the next word */
        {
            ed_conv_widen4(word, &dst[0], &dst[1]);
            dst += ED_CONV_GROUP_WORDS;
            have -= 32;
            word = v >> (bits - have); /* a shift of 8 to 24: have was below 32 before the row */
        }
    }
    if (have > 0)
    {
        ed_conv_widen4(word, &dst[0], &dst[1]);
    }
}

/* The columns of n windows inside the input whose rows are 1 to 3 bytes (kw x cin: a 3 x 3 window
 * over one channel, a grayscale first layer), rows->xstep input bytes apart (n is 1, or 4 for a
 * quad of one output row), into consecutive slots from col (col + 2 * which), from src, the
 * first window's first byte: each window's rows laid end to end into the group words, each word
 * widened once it is full, the last one's bytes past k zero. Byte loads only: nothing outside the
 * rows is read. */
__attribute__((noinline)) static void ed_conv_column_short(const ed_conv_rows_t *rows, const int8_t *first,
                                                           uint32_t *col, int32_t n)
{
    for (; n > 0; n--, first += rows->xstep, col += 2)
    {
        ed_conv_window_short(rows, first, col);
    }
}

/* Columns of n consecutive output positions of one output row (windows inside the input,
 * rows->xstep input bytes apart) into consecutive slots from dst (col + 2 * which), from src, the
 * first window's first byte; n is 1 except for three rows of 9 bytes. Rows of whole words: each
 * widened straight from the input, two groups per turn. Three rows of 9 bytes (a 3 x 3 RGB first
 * layer: 27 patch elements, 7 groups): each group one word read from the rows (unaligned) or,
 * where it straddles two rows, the tail of one row's last word shifted down and the next row's
 * first word shifted up; the last group's top byte shifted in as zero (k4 = 28); no staging copy.
 * Otherwise zeros past k, then the rows into the int8 staging copy a word at a time (at 0, 4, ...
 * and run - 4, the last word over the one before it), then widened two groups per turn. */
#if ED_NN_ASM
/* Naked: the arguments (r0-r3) unused in C. */
__attribute__((naked, noinline)) static void ed_conv_column_tight(__attribute__((unused)) const ed_conv_rows_t *rows,
                                                                  __attribute__((unused)) const int8_t *src,
                                                                  __attribute__((unused)) uint32_t *dst,
                                                                  __attribute__((unused)) int32_t n)
{
    __asm__ volatile(
        "push {r4-r9, lr}\n\t"
        "ldm r0, {r4, r6, r7, r8, r12}\n\t" /* r4 run, r6 last, r7 step, r8 rows, r12 k4 */
        "tst r4, #3\n\t"
        "beq 8f\n\t"
        "cmp r4, #9\n\t"
        "it eq\n\t"
        "cmpeq r8, #3\n\t"
        "beq 12f\n\t"
        "ldr r3, [r0, #20]\n\t"     /* r3 the staging copy */
        "add r0, r3, r12\n\t"       /* r0 the end of the staging copy */
        "movs r12, #0\n\t"
        "str r12, [r0, #-4]\n\t"    /* the rows overwrite the bytes below k */
        "mov r12, r3\n\t"           /* r12 the row in the staging copy */
        "5:\n\t"
        "movs r5, #0\n\t"
        "7:\n\t"
        "ldr lr, [r1, r5]\n\t"
        "str lr, [r12, r5]\n\t"
        "adds r5, r5, #4\n\t"
        "cmp r5, r6\n\t"
        "blt 7b\n\t"
        "ldr lr, [r1, r6]\n\t"
        "str lr, [r12, r6]\n\t"
        "add r1, r1, r7\n\t"
        "add r12, r12, r4\n\t"
        "subs r8, r8, #1\n\t"
        "bne 5b\n\t"
        /* widen: an odd group first */
        "sub r1, r0, r3\n\t"
        "lsls r1, r1, #29\n\t"
        "bpl 3f\n\t"
        "ldr r1, [r3], #4\n\t"
        "sxtb16 r4, r1\n\t"
        "sxtb16 r1, r1, ror #8\n\t"
        "str r4, [r2]\n\t"
        "str r1, [r2, #4]\n\t"
        "adds r2, r2, #32\n\t"
        "3:\n\t"
        "cmp r3, r0\n\t"
        "beq 4f\n\t"
        "6:\n\t"
        "ldr r1, [r3]\n\t"
        "ldr r4, [r3, #4]\n\t"
        "adds r3, r3, #8\n\t"
        "sxtb16 r5, r1\n\t"
        "sxtb16 r1, r1, ror #8\n\t"
        "sxtb16 r6, r4\n\t"
        "sxtb16 r4, r4, ror #8\n\t"
        "str r5, [r2]\n\t"
        "str r1, [r2, #4]\n\t"
        "str r6, [r2, #32]\n\t"
        "str r4, [r2, #36]\n\t"
        "adds r2, r2, #64\n\t"
        "cmp r3, r0\n\t"
        "bne 6b\n\t"
        "4:\n\t"
        "pop {r4-r9, pc}\n\t"
        "12:\n\t"                   /* three rows of 9 bytes: r1, r0, lr; n columns */
        "ldr r9, [r0, #24]\n\t"     /* xstep */
        "13:\n\t"
        "add r0, r1, r7\n\t"
        "add lr, r0, r7\n\t"
        "ldr r4, [r1]\n\t"          /* groups 0 and 1: row 0 bytes 0-3 and 4-7 */
        "ldr r5, [r1, #4]\n\t"
        "ldr r6, [r1, #5]\n\t"      /* row 0 bytes 5-8 */
        "ldr r12, [r0]\n\t"         /* row 1 bytes 0-3 */
        "sxtb16 r8, r4\n\t"
        "sxtb16 r4, r4, ror #8\n\t"
        "str r8, [r2]\n\t"
        "str r4, [r2, #4]\n\t"
        "sxtb16 r8, r5\n\t"
        "sxtb16 r5, r5, ror #8\n\t"
        "str r8, [r2, #32]\n\t"
        "str r5, [r2, #36]\n\t"
        "lsrs r6, r6, #24\n\t"      /* group 2: row 0 byte 8, row 1 bytes 0-2 */
        "orr r6, r6, r12, lsl #8\n\t"
        "ldr r4, [r0, #3]\n\t"      /* group 3: row 1 bytes 3-6 */
        "ldr r5, [r0, #5]\n\t"      /* row 1 bytes 5-8 */
        "ldr r12, [lr]\n\t"         /* row 2 bytes 0-3 */
        "sxtb16 r8, r6\n\t"
        "sxtb16 r6, r6, ror #8\n\t"
        "str r8, [r2, #64]\n\t"
        "str r6, [r2, #68]\n\t"
        "sxtb16 r8, r4\n\t"
        "sxtb16 r4, r4, ror #8\n\t"
        "str r8, [r2, #96]\n\t"
        "str r4, [r2, #100]\n\t"
        "lsrs r5, r5, #16\n\t"      /* group 4: row 1 bytes 7-8, row 2 bytes 0-1 */
        "orr r5, r5, r12, lsl #16\n\t"
        "ldr r4, [lr, #2]\n\t"      /* group 5: row 2 bytes 2-5 */
        "ldr r6, [lr, #5]\n\t"      /* group 6: row 2 bytes 6-8 and a zero */
        "sxtb16 r8, r5\n\t"
        "sxtb16 r5, r5, ror #8\n\t"
        "str r8, [r2, #128]\n\t"
        "str r5, [r2, #132]\n\t"
        "sxtb16 r8, r4\n\t"
        "sxtb16 r4, r4, ror #8\n\t"
        "str r8, [r2, #160]\n\t"
        "str r4, [r2, #164]\n\t"
        "lsrs r6, r6, #8\n\t"
        "sxtb16 r8, r6\n\t"
        "sxtb16 r6, r6, ror #8\n\t"
        "str r8, [r2, #192]\n\t"
        "str r6, [r2, #196]\n\t"
        "add r1, r1, r9\n\t"        /* the next position, the next slot */
        "adds r2, r2, #8\n\t"
        "subs r3, r3, #1\n\t"
        "bne 13b\n\t"
        "pop {r4-r9, pc}\n\t"
        "8:\n\t"                    /* rows of whole words, straight from the input */
        "mov r0, r1\n\t"            /* r0 the row, r3 its end */
        "add r3, r1, r4\n\t"
        "tst r4, #4\n\t"
        "beq 10f\n\t"
        "ldr r5, [r0], #4\n\t"
        "sxtb16 r6, r5\n\t"
        "sxtb16 r5, r5, ror #8\n\t"
        "str r6, [r2]\n\t"
        "str r5, [r2, #4]\n\t"
        "adds r2, r2, #32\n\t"
        "cmp r0, r3\n\t"
        "beq 11f\n\t"
        "10:\n\t"
        "ldr r5, [r0]\n\t"
        "ldr r6, [r0, #4]\n\t"
        "adds r0, r0, #8\n\t"
        "sxtb16 r12, r5\n\t"
        "sxtb16 r5, r5, ror #8\n\t"
        "sxtb16 lr, r6\n\t"
        "sxtb16 r6, r6, ror #8\n\t"
        "str r12, [r2]\n\t"
        "str r5, [r2, #4]\n\t"
        "str lr, [r2, #32]\n\t"
        "str r6, [r2, #36]\n\t"
        "adds r2, r2, #64\n\t"
        "cmp r0, r3\n\t"
        "bne 10b\n\t"
        "11:\n\t"
        "add r1, r1, r7\n\t"
        "subs r8, r8, #1\n\t"
        "bne 8b\n\t"
        "pop {r4-r9, pc}\n\t");
}
#else
static void ed_conv_column_tight(const ed_conv_rows_t *rows, const int8_t *src, uint32_t *dst, int32_t n)
{
    const int32_t run = rows->run, last = rows->last, step = rows->step, k4 = rows->k4;
    int8_t *stage = rows->stage;
    if ((run & 3) == 0)
    {
        for (int32_t n = rows->kh; n > 0; n--, src += step, dst += 2 * run) /* run / 4 groups of 8 words */
        {
            ed_conv_widen_run(src, run, dst, 0, 0);
        }
        return;
    }
    if (run == 9 && rows->kh == 3)
    {
        for (; n > 0; n--, src += rows->xstep, dst += 2)
        {
            const int8_t *r1 = src + step, *r2 = r1 + step;
            const uint32_t g[7] = {ed_read_u32(src), ed_read_u32(src + 4),
                                   (ed_read_u32(src + 5) >> 24) | (ed_read_u32(r1) << 8), ed_read_u32(r1 + 3),
                                   (ed_read_u32(r1 + 5) >> 16) | (ed_read_u32(r2) << 16), ed_read_u32(r2 + 2),
                                   ed_read_u32(r2 + 5) >> 8};
            for (int32_t i = 0; i < 7; i++)
            {
                ed_conv_widen4(g[i], &dst[ED_CONV_GROUP_WORDS * i], &dst[ED_CONV_GROUP_WORDS * i + 1]);
            }
        }
        return;
    }
    ed_write_u32(stage + k4 - 4, 0u);
    int8_t *s = stage;
    for (int32_t n = rows->kh; n > 0; n--, s += run, src += step)
    {
        for (int32_t i = 0; i < last; i += 4)
        {
            ed_write_u32(s + i, ed_read_u32(src + i));
        }
        ed_write_u32(s + last, ed_read_u32(src + last));
    }
    ed_conv_widen_run(stage, k4, dst, 0, 0);
}
#endif

/* Column `which` of a window whose columns are contiguous (dilation_w 1) and whose rows are not
 * whole words, or reach into the padding left or right: each row of the window, the bytes
 * [lo, hi) of its run inside the input, copied a word at a time into the int8 staging copy, the
 * zero point around them and in the rows above and below the input, zeros past k; then widened. */
static void ed_conv_column_rows(const ed_conv_layer_t *L, int32_t base_y, int32_t base_x, int32_t which,
                                uint32_t *col, int8_t *stage)
{
    const int32_t run = L->rows.run, cin = L->cin, in_h = L->in_h, row_bytes = L->row_bytes;
    const int32_t lo = base_x < 0 ? ed_min_i32(-base_x, L->kw) * cin : 0;
    const int32_t hi = ed_max_i32(lo, ed_min_i32(L->in_w - base_x, L->kw) * cin);
    const uint32_t zp4 = L->zp4;
    ed_write_u32(stage + L->k4 - 4, 0u); /* zeros past k: the rows overwrite the bytes below k */
    int8_t *dst = stage;
    int32_t iy = base_y, at = base_y * row_bytes + base_x * cin + lo; /* input byte of the row's lo */
    for (int32_t ky = L->kh; ky > 0; ky--, iy += L->dilation_h, at += L->rows.step, dst += run)
    {
        if ((uint32_t)iy >= (uint32_t)in_h)
        {
            ed_conv_fill(dst, zp4, run);
        }
        else if (hi - lo == run)
        {
            ed_conv_copy(dst, L->input + at, run);
        }
        else
        {
            ed_conv_fill(dst, zp4, run);
            if (hi > lo)
            {
                ed_conv_copy(dst + lo, L->input + at, hi - lo);
            }
        }
    }
    ed_conv_widen_run(stage, L->k4, col, 0, which);
}

/* Column `which` of output position (oy, ox), any window. */
__attribute__((noinline)) static void ed_conv_column_any(const ed_conv_layer_t *L, int32_t oy, int32_t ox,
                                                         int32_t which, uint32_t *col, int8_t *stage)
{
    const int32_t base_y = oy * L->stride_h - L->pad_top, base_x = ox * L->stride_w - L->pad_left;
    const int32_t run = L->rows.run;
    const int x_inside = base_x >= 0 && base_x + (L->kw - 1) * L->dilation_w < L->in_w;
    if (L->short_rows && x_inside && base_y >= 0 && base_y + (L->kh - 1) * L->dilation_h < L->in_h)
    {
        /* rows of 1 to 3 bytes inside the input, a window not in a quad of ed_conv_column_short's */
        ed_conv_column_short(&L->rows, L->input + base_y * L->row_bytes + base_x * L->cin, col + 2 * which, 1);
        return;
    }
    if (L->dilation_w == 1 && !(x_inside && (run & 3) == 0))
    {
        ed_conv_column_rows(L, base_y, base_x, which, col, stage);
        return;
    }
    if (x_inside && L->dilation_w == 1)
    {
        /* Every row of the window is a whole number of words: widen straight from the input. */
        for (int32_t ky = 0, g = 0; ky < L->kh; ky++, g += run / 4)
        {
            const int32_t iy = base_y + ky * L->dilation_h;
            if (iy >= 0 && iy < L->in_h)
            {
                ed_conv_widen_run(L->input + iy * L->row_bytes + base_x * L->cin, run, col, g, which);
            }
            else
            {
                uint32_t *dst = col + ED_CONV_GROUP_WORDS * g + 2 * which;
                for (int32_t i = 0; i < run; i += 4, dst += ED_CONV_GROUP_WORDS)
                {
                    dst[0] = L->zp02;
                    dst[1] = L->zp13;
                }
            }
        }
        return;
    }
    /* Dilated columns: tap by tap through the int8 staging copy, the zero point in the padding,
     * zeros past k. */
    int8_t *dst = stage;
    for (int32_t ky = 0; ky < L->kh; ky++)
    {
        const int32_t iy = base_y + ky * L->dilation_h;
        const int y_inside = iy >= 0 && iy < L->in_h;
        for (int32_t kx = 0; kx < L->kw; kx++, dst += L->cin)
        {
            const int32_t ix = base_x + kx * L->dilation_w;
            if (y_inside && ix >= 0 && ix < L->in_w)
            {
                ed_conv_copy(dst, L->input + iy * L->row_bytes + ix * L->cin, L->cin);
            }
            else
            {
                ed_conv_fill(dst, L->zp4, L->cin);
            }
        }
    }
    ed_conv_fill(dst, 0u, L->k4 - L->k);
    ed_conv_widen_run(stage, L->k4, col, 0, which);
}

/* Column `which` of output position (oy, ox): a window inside the input (dilation_w 1, rows of at
 * least 4 bytes) through ed_conv_column_tight, any other through ed_conv_column_any. */
static inline void ed_conv_column(const ed_conv_layer_t *L, int32_t oy, int32_t ox, int32_t which, uint32_t *col,
                                  int8_t *stage)
{
    const int32_t base_y = oy * L->stride_h - L->pad_top, base_x = ox * L->stride_w - L->pad_left;
    if ((uint32_t)base_x < L->x_end && (uint32_t)base_y < L->y_end)
    {
        ed_conv_column_tight(&L->rows, L->input + base_y * L->row_bytes + base_x * L->cin, col + 2 * which, 1);
        return;
    }
    ed_conv_column_any(L, oy, ox, which, col, stage);
}

#if ED_NN_ASM
/* One group of four patch elements for a pair of output channels and four positions: the pair's
 * word for the (x0, x2) half and two positions' (x0, x2) words in a row of three loads, one SXTB16
 * (the first channel's weights), per position SMLAD of the column word with the pair word (into
 * the packed sum) and with the first channel's weights; the other two positions the same; then
 * the (x1, x3) half with the pair's second word. 28 instructions per 32 MACs, each weight word
 * read once; no load takes its address from a register the load just before it wrote (the
 * column's post-indexed load is followed by the weights'), so each row of loads pipelines after
 * its first; r0 column (32 bytes a group), r1 weights (8 bytes a group), r4-r7 the first
 * channel's sums at positions 0 to 3, r8-r11 the packed sums (ed_convolve.h); r2, r3, r12, lr
 * free. Every instruction is a 32-bit encoding, so a group is ED_CONV_GROUP_BYTES long (the
 * block loops branch into the middle of four of them). */
#define ED_CONV_GROUP_BYTES "112"
#define ED_CONV_GROUP_HEAD                                                                                             \
    "ldr.w r12, [r0], #32\n\t"                                                                                          \
    "ldr.w r2, [r1], #8\n\t"                                                                                            \
    "ldr.w lr, [r0, #-24]\n\t"                                                                                          \
    "sxtb16 r3, r2\n\t"                                                                                                \
    "smlad r8, r12, r2, r8\n\t"                                                                                        \
    "smlad r4, r12, r3, r4\n\t"                                                                                        \
    "smlad r9, lr, r2, r9\n\t"                                                                                         \
    "smlad r5, lr, r3, r5\n\t"                                                                                         \
    "ldr.w r12, [r0, #-16]\n\t"                                                                                         \
    "ldr.w lr, [r0, #-8]\n\t"                                                                                           \
    "smlad r10, r12, r2, r10\n\t"                                                                                      \
    "smlad r6, r12, r3, r6\n\t"                                                                                        \
    "smlad r11, lr, r2, r11\n\t"                                                                                       \
    "smlad r7, lr, r3, r7\n\t"                                                                                         \
    "ldr.w r2, [r1, #-4]\n\t"                                                                                           \
    "ldr.w r12, [r0, #-28]\n\t"                                                                                         \
    "ldr.w lr, [r0, #-20]\n\t"                                                                                          \
    "sxtb16 r3, r2\n\t"                                                                                                \
    "smlad r8, r12, r2, r8\n\t"                                                                                        \
    "smlad r4, r12, r3, r4\n\t"                                                                                        \
    "smlad r9, lr, r2, r9\n\t"                                                                                         \
    "smlad r5, lr, r3, r5\n\t"                                                                                         \
    "ldr.w r12, [r0, #-12]\n\t"                                                                                         \
    "ldr.w lr, [r0, #-4]\n\t"
#define ED_CONV_GROUP                                                                                                  \
    ED_CONV_GROUP_HEAD                                                                                                 \
    "smlad r10, r12, r2, r10\n\t"                                                                                      \
    "smlad r6, r12, r3, r6\n\t"                                                                                        \
    "smlad r11, lr, r2, r11\n\t"                                                                                       \
    "smlad r7, lr, r3, r7\n\t"
/* The same, last in a turn of a block loop, then the turn's end test: col_end (+12 in the
 * caller's frame) loaded into r12 once r12 is free; Z set at the end of the column. */
#define ED_CONV_GROUP_LAST_TEST                                                                                        \
    ED_CONV_GROUP_HEAD                                                                                                 \
    "smlad r10, r12, r2, r10\n\t"                                                                                      \
    "smlad r6, r12, r3, r6\n\t"                                                                                        \
    "ldr r12, [sp, #12]\n\t"                                                                                           \
    "smlad r11, lr, r2, r11\n\t"                                                                                       \
    "smlad r7, lr, r3, r7\n\t"                                                                                         \
    "cmp r0, r12\n\t"
/* The loop over the groups of one block, entered at r12 (4b plus the groups it skips): three
 * groups, the last with the end test. */
#define ED_CONV_GROUP_LOOP                                                                                             \
    "bx r12\n\t"                                                                                                       \
    "4:\n\t" ED_CONV_GROUP ED_CONV_GROUP ED_CONV_GROUP "5:\n\t"                                                        \
    ".if (5b - 4b) != 3 * " ED_CONV_GROUP_BYTES "\n\t"                                                                 \
    ".error \"ED_CONV_GROUP is not " ED_CONV_GROUP_BYTES " bytes: the computed entry would miss\"\n\t"                 \
    ".endif\n\t" ED_CONV_GROUP_LAST_TEST "bne 4b\n\t"

/* Naked: the body is basic asm only, so the arguments (r0-r3) are marked unused. */
#define ED_ASM_ARG __attribute__((unused))

/* The block's products over `groups` groups (>= 1) added to acc[0..3], the first channel's sums
 * at the four positions, and acc[4..7], the packed sums (ed_conv_second gives the second
 * channel's): a computed entry into the loop of four groups, so its first turn takes the
 * groups % 4. Frame: [sp] acc, +12 col_end. */
__attribute__((naked, noinline)) static void ed_conv_block(ED_ASM_ARG const uint32_t *col, ED_ASM_ARG const uint32_t *w,
                                                           ED_ASM_ARG int32_t groups, ED_ASM_ARG int32_t *acc)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #16\n\t"
        "str r3, [sp]\n\t"
        "add r12, r0, r2, lsl #5\n\t"
        "str r12, [sp, #12]\n\t"     /* the end of the column */
        "rsbs r2, r2, #0\n\t"
        "and r2, r2, #3\n\t"          /* the groups the first turn skips */
        "adr.w r12, 4f\n\t"
        "mov.w lr, #" ED_CONV_GROUP_BYTES "\n\t"
        "mla r12, r2, lr, r12\n\t"
        "orr r12, r12, #1\n\t"       /* the entry, a Thumb address */
        "ldm r3, {r4-r11}\n\t"
        ED_CONV_GROUP_LOOP
        "ldr r3, [sp]\n\t"
        "stm r3, {r4-r11}\n\t"
        "add sp, sp, #16\n\t"
        "pop {r4-r11, pc}\n\t");
}
#else
/* The same as the Thumb-2 loop computes it: per half of a group, the pair's word against the
 * column word of each slot into the packed sum (modulo 2^32, as SMLAD), its even bytes (the first
 * channel's weights, SXTB16) into the first channel's. */
static void ed_conv_block(const uint32_t *col, const uint32_t *w, int32_t groups, int32_t *acc)
{
    for (int32_t g = 0; g < groups; g++, col += ED_CONV_GROUP_WORDS, w += 2)
    {
        for (int32_t half = 0; half < 2; half++)
        {
            uint32_t first, unused;
            ed_conv_widen4(w[half], &first, &unused);
            for (int32_t s = 0; s < ED_CONV_SLOTS; s++)
            {
                acc[s] = ed_dot2(col[2 * s + half], first, acc[s]);
                acc[4 + s] = ed_dot2(col[2 * s + half], w[half], acc[4 + s]);
            }
        }
    }
}
#endif

/* The second channel's sum of a pair: its bias plus its products, which are the packed sum less
 * the first channel's sum (both started from the first channel's bias) over 256, modulo 2^32,
 * so exact while they stay within +-2^23 (the build checks: ed_convolve.h). */
static inline int32_t ed_conv_second(int32_t packed, int32_t first, int32_t bias)
{
    return bias + ((int32_t)((uint32_t)packed - (uint32_t)first) >> 8);
}

/* Groups of four patch elements after which the general loop recovers the second channels'
 * products (512 elements: within +-2^23 for any int8 weights and inputs, so a layer flagged
 * chunked runs there). */
#define ED_CONV_CHUNK_GROUPS 128

/* acc[4 * o + s] = channel o's sum of a block (biases bias[0..1]) at the column in slot s; the
 * second channel's products recovered after every ED_CONV_CHUNK_GROUPS groups. Compiled for size:
 * it runs once per block of the general loop only, and every byte of code counts against flash. */
__attribute__((optimize("Os"))) static void ed_conv_pair(const uint32_t *col, const uint32_t *w, int32_t groups,
                                                          const int32_t *bias, int32_t *acc)
{
    int32_t part[8]; /* one chunk's sums: the first channel's, then the packed ones */
    for (int32_t i = 0; i < 8; i++)
    {
        acc[i] = bias[i / 4];
    }
    for (int32_t g = 0; g < groups; g += ED_CONV_CHUNK_GROUPS)
    {
        for (int32_t i = 0; i < 8; i++)
        {
            part[i] = acc[i % 4]; /* the packed sums start again from the first channel's */
        }
        ed_conv_block(col + ED_CONV_GROUP_WORDS * g, w + 2 * g, ed_min_i32(ED_CONV_CHUNK_GROUPS, groups - g), part);
        for (int32_t s = 0; s < ED_CONV_SLOTS; s++)
        {
            acc[s] = part[s];
            acc[4 + s] = ed_conv_second(part[4 + s], part[s], acc[4 + s]);
        }
    }
}

/* The fast requantized output: the constants carry the output offset less act_min, so the value
 * saturated to [0, range] (range = act_max - act_min, USAT then an unsigned byte minimum on the
 * M4) plus act_min is the requantized, clamped output. */
static inline int8_t ed_conv_fast_out(const ed_conv_q_t *q, int32_t acc, int32_t range, int32_t act_min)
{
    int32_t v = ed_conv_q_apply(q, acc);
    v = v < 0 ? 0 : (v > range ? range : v);
    return (int8_t)(v + act_min);
}

/* The common case, every block of two channels of four positions with every channel on the fast
 * requantization: what the loop over blocks reads (the asm loads it all with one LDM), fixed per
 * call. */
typedef struct
{
    const uint32_t *w;          /* +0, the first block's weights */
    const ed_conv_rq_t *rq;     /* +4, the first block's biases and constants */
    const uint32_t *col;        /* +8 */
    int32_t skip;               /* +12, (4 - groups % 4) % 4: the groups the first turn of a loop of four skips */
    const uint32_t *col_end;    /* +16, col + groups groups */
    uint32_t range4;            /* +20, act_max - act_min in each byte */
    uint32_t act_min4;          /* +24, act_min in each byte */
    const ed_conv_rq_t *rq_end; /* +28, past the whole blocks (cout / 2) */
} ed_conv_run_t;

#if ED_NN_ASM
_Static_assert(sizeof(ed_conv_rq_t) == 32, "ed_conv_run reads a block's biases and constants with LDM");
_Static_assert(sizeof(ed_conv_run_t) == 32, "ed_conv_run loads ed_conv_run_t with one LDM");

/* Requantization of one sum (register a) with the channel's constants in r2 (mult2), r3
 * (round), r12 (shift) as ed_conv_q_apply, saturated to [0, 255] (USAT: the rounding word
 * carries -act_min); lr scratch. */
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
#define ED_CONV_RQ(a)                                                                                                  \
    "smmla lr, " a ", r2, r3\n\t"                                                                                      \
    "add lr, lr, " a "\n\t"                                                                                            \
    "asr lr, lr, r12\n\t"                                                                                              \
    "usat " a ", #8, lr\n\t"
#else
#define ED_CONV_RQ(a)                                                                                                  \
    "smmlar lr, " a ", r2, r3\n\t"                                                                                     \
    "add lr, lr, " a "\n\t"                                                                                            \
    "add lr, lr, " a ", asr #31\n\t"                                                                                   \
    "asr lr, lr, r12\n\t"                                                                                              \
    "usat " a ", #8, lr\n\t"
#endif
/* The second channel's sum into register a from the packed sum there, the first channel's sum at
 * the same position in register first and the second channel's bias in r2, as ed_conv_second. */
#define ED_CONV_SECOND(a, first)                                                                                       \
    "sub " a ", " a ", " first "\n\t"                                                                                  \
    "add " a ", r2, " a ", asr #8\n\t"
/* The next channel's constants (r0 walks the block's record). */
#define ED_CONV_RQ_LOAD "ldm r0!, {r2, r3, r12}\n\t"

/* Every whole block of two channels of four positions (outputs at out[0..3]). Per block: the
 * sums from the biases (LDM), the groups (ED_CONV_GROUP_LOOP), eight requantizations (LDM of
 * each channel's constants), the bytes packed two positions to a word and clamped four at a
 * time, a halfword stored per position. r0 carries the next block's record from one block to
 * the next, r1 the weights; the rest lives in the frame: [sp] the record's constants, +4 col,
 * +8 entry (a Thumb address), +12 col_end, +16 range4, +20 act_min4, +24 rq_end, +28 to +40
 * out[0..3]. */
__attribute__((naked, noinline)) static void ed_conv_run(ED_ASM_ARG const ed_conv_run_t *run,
                                                         ED_ASM_ARG int8_t *const *out)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "ldm r1, {r10, r11, r12, lr}\n\t" /* out[0..3] */
        "push {r10, r11, r12, lr}\n\t"
        "ldm r0, {r2-r9}\n\t"        /* w, rq, col, skip, col_end, range4, act_min4, rq_end */
        "adr.w r0, 4f\n\t"
        "mov.w r1, #" ED_CONV_GROUP_BYTES "\n\t"
        "mla r5, r5, r1, r0\n\t"
        "orr r5, r5, #1\n\t"         /* the entry, a Thumb address */
        "push {r3-r9}\n\t"
        "mov r1, r2\n\t"
        "mov r0, r3\n\t"
        "1:\n\t"
        "ldr r4, [r0], #8\n\t"       /* the first channel's bias, where every sum starts */
        "str r0, [sp]\n\t"           /* the constants */
        "ldr r0, [sp, #4]\n\t"       /* col */
        "ldr r12, [sp, #8]\n\t"      /* entry */
        "mov r5, r4\n\t"
        "mov r6, r4\n\t"
        "mov r7, r4\n\t"
        "mov r8, r4\n\t"
        "mov r9, r4\n\t"
        "mov r10, r4\n\t"
        "mov r11, r4\n\t"
        ED_CONV_GROUP_LOOP
        "ldr r0, [sp]\n\t"
        "ldr r2, [r0, #-4]\n\t"      /* the second channel's bias: its sums (ed_conv_second) */
        ED_CONV_SECOND("r8", "r4") ED_CONV_SECOND("r9", "r5") ED_CONV_SECOND("r10", "r6")
        ED_CONV_SECOND("r11", "r7")
        ED_CONV_RQ_LOAD ED_CONV_RQ("r4") ED_CONV_RQ("r5") ED_CONV_RQ("r6") ED_CONV_RQ("r7")
        ED_CONV_RQ_LOAD ED_CONV_RQ("r8") ED_CONV_RQ("r9") ED_CONV_RQ("r10") ED_CONV_RQ("r11")
        "orr r4, r4, r8, lsl #8\n\t"  /* positions 0 and 1 */
        "orr r4, r4, r5, lsl #16\n\t"
        "orr r4, r4, r9, lsl #24\n\t"
        "orr r6, r6, r10, lsl #8\n\t" /* positions 2 and 3 */
        "orr r6, r6, r7, lsl #16\n\t"
        "orr r6, r6, r11, lsl #24\n\t"
        "ldr r2, [sp, #16]\n\t"
        "ldr r3, [sp, #20]\n\t"
        "ldr r8, [sp, #28]\n\t"
        "ldr r9, [sp, #32]\n\t"
        "ldr r10, [sp, #36]\n\t"
        "ldr r11, [sp, #40]\n\t"
        "ldr r12, [sp, #24]\n\t"     /* rq_end */
        "uqsub8 r5, r4, r2\n\t"      /* each byte limited to range4, act_min4 added */
        "uqsub8 r7, r6, r2\n\t"
        "sub r4, r4, r5\n\t"
        "sub r6, r6, r7\n\t"
        "uadd8 r4, r4, r3\n\t"
        "uadd8 r6, r6, r3\n\t"
        "strh r4, [r8], #2\n\t"
        "lsrs r4, r4, #16\n\t"
        "strh r4, [r9], #2\n\t"
        "strh r6, [r10], #2\n\t"
        "lsrs r6, r6, #16\n\t"
        "strh r6, [r11], #2\n\t"
        "str r8, [sp, #28]\n\t"
        "str r9, [sp, #32]\n\t"
        "str r10, [sp, #36]\n\t"
        "str r11, [sp, #40]\n\t"
        "cmp r0, r12\n\t"
        "bne 1b\n\t"
        "add sp, sp, #44\n\t"
        "pop {r4-r11, pc}\n\t");
}
#else
static void ed_conv_run(const ed_conv_run_t *run, int8_t *const *out)
{
    const int32_t groups = (int32_t)(run->col_end - run->col) / ED_CONV_GROUP_WORDS;
    const int32_t range = (uint8_t)run->range4, act_min = (int8_t)run->act_min4;
    const uint32_t *w = run->w;
    int32_t oc = 0;
    for (const ed_conv_rq_t *rq = run->rq; rq != run->rq_end; rq++, w += 2 * groups, oc += 2)
    {
        int32_t acc[8];
        ed_conv_pair(run->col, w, groups, rq->bias, acc);
        for (int32_t i = 0; i < 8; i++)
        {
            out[i % 4][oc + i / 4] = ed_conv_fast_out(&rq->q[i / 4], acc[i], range, act_min);
        }
    }
}
#endif

/* The requantized, clamped output of accumulator acc for channel c (constants q). */
static inline int8_t ed_conv_out(const ed_conv_q_t *q, const cmsis_nn_per_channel_quant_params *quant, int32_t c,
                                 int32_t acc, int32_t offset, int32_t act_min, int32_t act_max)
{
    if (q->shift == 0)
    {
        return ed_requantize_to_s8(acc, quant->multiplier[c], quant->shift[c], offset, act_min, act_max);
    }
    return ed_conv_fast_out(q, acc, act_max - act_min, act_min);
}

/* The next output position of a row-major walk over out_w columns. */
static inline void ed_conv_step(int32_t *oy, int32_t *ox, int32_t out_w)
{
    if (++*ox == out_w)
    {
        *ox = 0;
        ++*oy;
    }
}

/* Positions whose outputs a fused ADD takes per call (a multiple of ED_CONV_SLOTS). */
#define ED_CONV_ADD_POSITIONS 16

/* The convolution, its outputs stored (add NULL) or, with an ADD fused after it, each sixteen
 * positions' outputs staged in the scratch and the ADD's form of them and add->other stored
 * (ed_conv_add_run, ed_elementwise_add_linear_s8: it reads each word of both inputs before
 * it writes the output's word at the same place, so the output may overwrite add->other).
 * Inlined into each entry, so ed_convolve_s8 carries none of the ADD's code. */
static inline __attribute__((always_inline)) arm_cmsis_nn_status
ed_conv_body(const cmsis_nn_context *ctx, const cmsis_nn_conv_params *conv_params,
             const cmsis_nn_per_channel_quant_params *quant_params, const cmsis_nn_dims *input_dims,
             const int8_t *input_data, const cmsis_nn_dims *filter_dims, const uint32_t *packed_weights,
             const int32_t *folded_bias, const cmsis_nn_dims *output_dims, const ed_conv_add_t *add,
             int8_t *output_data)
{
    const cmsis_nn_conv_params *p = conv_params;
    const int32_t cin = input_dims->c, cout = output_dims->c;
    const int32_t k = filter_dims->h * filter_dims->w * cin, k4 = (k + 3) & ~3;
    if (filter_dims->c != cin || filter_dims->n != cout || folded_bias == NULL || ctx == NULL || ctx->buf == NULL ||
        ctx->size < ed_convolve_s8_get_buffer_size(input_dims, filter_dims) + (add ? ED_CONV_ADD_POSITIONS * cout : 0))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    const int32_t groups = k4 / 4;
    uint32_t *col = (uint32_t *)ctx->buf;
    int8_t *stage = (int8_t *)(col + ED_CONV_GROUP_WORDS * groups);
    ed_conv_rq_t *rq = (ed_conv_rq_t *)(void *)(stage + k4);
    const int32_t blocks = (cout + 1) / 2;
    int8_t *const staged = (int8_t *)(rq + blocks); /* with an ADD: ED_CONV_ADD_POSITIONS positions' outputs */
    const int32_t offset = p->output_offset, act_min = p->activation.min, act_max = p->activation.max;
    int all_fast = folded_bias[2 * blocks] == 0; /* false for a layer flagged chunked (ed_convolve.h) */
    for (int32_t c = 0; c < 2 * blocks; c++) /* a channel past the last: any valid constants */
    {
        const int32_t from = ed_min_i32(c, cout - 1);
        const ed_conv_q_t q = ed_conv_q_prepare(quant_params->multiplier[from], quant_params->shift[from],
                                                offset - act_min);
        rq[c / 2].bias[c % 2] = folded_bias[c];
        rq[c / 2].q[c % 2] = q;
        all_fast = all_fast && q.shift != 0;
    }
    const int8_t zp = (int8_t)(-p->input_offset);
    ed_conv_layer_t L = {
        .kh = filter_dims->h, .kw = filter_dims->w, .cin = cin, .k = k, .k4 = k4,
        .out_w = output_dims->w, .stride_h = p->stride.h, .stride_w = p->stride.w, .pad_top = p->padding.h,
        .pad_left = p->padding.w, .dilation_h = p->dilation.h, .dilation_w = p->dilation.w, .zp = zp,
    };
    L.rows.stage = stage;
    ed_conv_layer_derive(&L, input_dims);
    L.pointwise = L.kh == 1 && L.kw == 1 && (cin & 3) == 0 && p->padding.h == 0 && p->padding.w == 0 &&
                  (output_dims->h - 1) * p->stride.h < input_dims->h && (output_dims->w - 1) * p->stride.w < input_dims->w;
    const int32_t positions = output_dims->h * output_dims->w;
    /* What builds four windows of one output row inside the input in one call (quad_x_end) */
    void (*const quad_columns)(const ed_conv_rows_t *, const int8_t *, uint32_t *, int32_t) =
        L.short_rows ? ed_conv_column_short : ed_conv_column_tight;
    /* ed_conv_run takes the whole blocks of two channels; the general loop below an odd last
     * channel, or every block where a channel leaves the fast requantization or the layer is
     * flagged chunked (all_fast starts false). */
    const int32_t whole = all_fast ? cout / 2 : 0;
    const ed_conv_run_t run = {packed_weights, rq, col, (4 - groups % 4) % 4, col + ED_CONV_GROUP_WORDS * groups,
                               0x01010101u * (uint8_t)(act_max - act_min), 0x01010101u * (uint8_t)act_min,
                               rq + whole};
    for (int32_t n = 0; n < input_dims->n; n++)
    {
        L.input = input_data + n * input_dims->h * input_dims->w * cin;
        int8_t *output = output_data + n * positions * cout;
        int32_t oy = 0, ox = 0; /* of the next position, tracked without divisions */
        for (int32_t pos = 0; pos < positions; pos += ED_CONV_SLOTS)
        {
            const int32_t valid = ed_min_i32(ED_CONV_SLOTS, positions - pos);
            int8_t *out[ED_CONV_SLOTS];
            if (L.pointwise)
            {
                /* 1 x 1: each patch is a pixel */
                const int8_t *x[ED_CONV_SLOTS];
                for (int32_t s = 0; s < valid; s++)
                {
                    x[s] = L.input + ((oy * L.stride_h) * input_dims->w + ox * L.stride_w) * cin;
                    ed_conv_step(&oy, &ox, L.out_w);
                }
                for (int32_t s = valid; s < ED_CONV_SLOTS; s++)
                {
                    x[s] = x[valid - 1];
                }
                uint32_t *dst = col;
                for (int32_t i = 0; i < k4; i += 4, dst += ED_CONV_GROUP_WORDS)
                {
                    ed_conv_widen4(ed_read_u32(x[0] + i), &dst[0], &dst[1]);
                    ed_conv_widen4(ed_read_u32(x[1] + i), &dst[2], &dst[3]);
                    ed_conv_widen4(ed_read_u32(x[2] + i), &dst[4], &dst[5]);
                    ed_conv_widen4(ed_read_u32(x[3] + i), &dst[6], &dst[7]);
                }
            }
            else if (L.quad_x_end != 0 && valid == ED_CONV_SLOTS && ox + ED_CONV_SLOTS <= L.out_w &&
                     (uint32_t)(oy * L.stride_h - L.pad_top) < L.quad_y_end &&
                     (uint32_t)(ox * L.stride_w - L.pad_left) < L.quad_x_end &&
                     (uint32_t)((ox + ED_CONV_SLOTS - 1) * L.stride_w - L.pad_left) < L.quad_x_end)
            {
                /* four windows inside the input, in one output row: three rows of 9 bytes, or
                 * rows of 1 to 3 bytes */
                quad_columns(&L.rows,
                             L.input + (oy * L.stride_h - L.pad_top) * L.row_bytes + (ox * L.stride_w - L.pad_left) * cin,
                             col, ED_CONV_SLOTS);
                ox += ED_CONV_SLOTS;
                if (ox == L.out_w)
                {
                    ox = 0;
                    oy++;
                }
            }
            else
            {
                for (int32_t s = 0; s < valid; s++)
                {
                    ed_conv_column(&L, oy, ox, s, col, stage);
                    ed_conv_step(&oy, &ox, L.out_w);
                }
                for (int32_t s = valid; s < ED_CONV_SLOTS; s++) /* the last position again */
                {
                    for (int32_t g = 0; g < groups; g++)
                    {
                        col[ED_CONV_GROUP_WORDS * g + 2 * s] = col[ED_CONV_GROUP_WORDS * g + 2 * (valid - 1)];
                        col[ED_CONV_GROUP_WORDS * g + 2 * s + 1] = col[ED_CONV_GROUP_WORDS * g + 2 * (valid - 1) + 1];
                    }
                }
            }
            out[0] = add ? staged + (pos % ED_CONV_ADD_POSITIONS) * cout : output + pos * cout;
            for (int32_t s = 1; s < ED_CONV_SLOTS; s++) /* a repeated position writes its own outputs again */
            {
                out[s] = s < valid ? out[s - 1] + cout : out[s - 1];
            }
            if (whole > 0)
            {
                ed_conv_run(&run, out);
            }
            const uint32_t *w = packed_weights + whole * 2 * groups;
            for (int32_t b = whole, oc = 2 * whole; b < blocks; b++, oc += 2, w += 2 * groups)
            {
                int32_t acc[8];
                ed_conv_pair(col, w, groups, rq[b].bias, acc);
                for (int32_t o = 0; o < 2 && oc + o < cout; o++)
                {
                    for (int32_t s = 0; s < valid; s++)
                    {
                        out[s][oc + o] =
                            ed_conv_out(&rq[b].q[o], quant_params, oc + o, acc[4 * o + s], offset, act_min, act_max);
                    }
                }
            }
            const int32_t done = pos + valid; /* positions computed */
            if (add && (done % ED_CONV_ADD_POSITIONS == 0 || done == positions))
            {
                const int32_t first = (done - 1) / ED_CONV_ADD_POSITIONS * ED_CONV_ADD_POSITIONS;
                const int32_t at = (n * positions + first) * cout;
                ed_conv_add_run(add, staged, at, output_data, (done - first) * cout);
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

arm_cmsis_nn_status ed_convolve_s8(const cmsis_nn_context *ctx,
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
    return ed_conv_body(ctx, conv_params, quant_params, input_dims, input_data, filter_dims, packed_weights,
                        folded_bias, output_dims, NULL, output_data);
}

arm_cmsis_nn_status ed_convolve_add_s8(const cmsis_nn_context *ctx,
                                       const cmsis_nn_conv_params *conv_params,
                                       const cmsis_nn_per_channel_quant_params *quant_params,
                                       const cmsis_nn_dims *input_dims,
                                       const int8_t *input_data,
                                       const cmsis_nn_dims *filter_dims,
                                       const uint32_t *packed_weights,
                                       const int32_t *folded_bias,
                                       const cmsis_nn_dims *output_dims,
                                       const ed_conv_add_t *add,
                                       int8_t *output_data)
{
    if (add == NULL || add->other == NULL)
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    return ed_conv_body(ctx, conv_params, quant_params, input_dims, input_data, filter_dims, packed_weights,
                        folded_bias, output_dims, add, output_data);
}

int32_t ed_convolve_add_s8_get_buffer_size(const cmsis_nn_dims *input_dims, const cmsis_nn_dims *filter_dims)
{
    return ed_convolve_s8_get_buffer_size(input_dims, filter_dims) + ED_CONV_ADD_POSITIONS * filter_dims->n;
}

int32_t ed_convolve_s8_get_buffer_size(const cmsis_nn_dims *input_dims, const cmsis_nn_dims *filter_dims)
{
    const int32_t k4 = (filter_dims->h * filter_dims->w * input_dims->c + 3) & ~3;
    return 2 * ED_CONV_SLOTS * k4 + k4 + (int32_t)sizeof(ed_conv_rq_t) * ((filter_dims->n + 1) / 2);
}
