/*
 * ed_convolve_s8.c - edge-deploy's convolution as a register-blocked GEMM
 * (firmware/include/ed_convolve.h: the method, the packed weights and the folded bias). Written
 * for edge-deploy from the TFLite int8 arithmetic; no CMSIS-NN code.
 *
 * Per pair of output positions: both patches widened into the column buffer (straight from the
 * input where a row of the window is a whole number of words inside it, else through an int8
 * staging copy: word copies of the rows for a window inside the input, in Thumb-2 on the M4; the
 * zero point in the padding), then every block of three output channels:
 * the 3 x 2 dot products (Thumb-2 on the M4, C elsewhere), the requantization, six bytes stored;
 * a last block of one or two channels takes the 1 x 2 or 2 x 2 products only.
 */
#include "ed_convolve.h"
#include "ed_nn_support.h"

/* One output channel's fast requantization constants (ed_requant_out_prepare's, with the output
 * offset folded in; hi_shift < 0: the channel takes ed_requantize_to_s8). */
typedef struct
{
    int32_t mult;
    uint32_t round_lo;
    int32_t round_hi;
    int32_t hi_shift;
    int32_t bias; /* the folded bias, beside the constants the block reads after it */
} ed_conv_rq_t;

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

/* Widens n bytes (a multiple of 4) from src into column `which` from group g0 on: per group the
 * column words sit at 4g + 2 * which (x0, x2) and 4g + 2 * which + 1 (x1, x3). Two groups per
 * turn. */
static inline void ed_conv_widen_run(const int8_t *src, int32_t n, uint32_t *col, int32_t g0, int32_t which)
{
    uint32_t *dst = col + 4 * g0 + 2 * which;
    int32_t i = 0;
    if (n & 4)
    {
        ed_conv_widen4(ed_read_u32(src), &dst[0], &dst[1]);
        i = 4;
        dst += 4;
    }
    for (; i < n; i += 8, dst += 8)
    {
        const uint32_t a = ed_read_u32(src + i), b = ed_read_u32(src + i + 4);
        ed_conv_widen4(a, &dst[0], &dst[1]);
        ed_conv_widen4(b, &dst[4], &dst[5]);
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
    int32_t mid;  /* min(4, run - 4): a row of 4 to 12 bytes is the words at 0, mid and run - 4 */
    int32_t last; /* run - 4 */
    int32_t step; /* the input bytes from one row of the window to the next */
    int32_t kh, k4;
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
    int8_t zp;
    uint32_t zp4;            /* the zero point in four bytes */
    uint32_t zp02, zp13;     /* and widened */
    int pointwise;           /* 1 x 1 window, no padding, cin a multiple of 4: the pixel is the patch */
} ed_conv_layer_t;

/* The fields of L that follow from the others. */
static void ed_conv_layer_derive(ed_conv_layer_t *L, const cmsis_nn_dims *in)
{
    L->in_h = in->h;
    L->in_w = in->w;
    L->row_bytes = in->w * L->cin;
    const int32_t run = L->kw * L->cin;
    L->rows = (ed_conv_rows_t){run, ed_min_i32(4, run - 4), run - 4, L->dilation_h * L->row_bytes, L->kh, L->k4};
    L->zp4 = 0x01010101u * (uint8_t)L->zp;
    ed_conv_widen4(L->zp4, &L->zp02, &L->zp13);
    const int32_t x_last = in->w - 1 - (L->kw - 1) * L->dilation_w, y_last = in->h - 1 - (L->kh - 1) * L->dilation_h;
    const int tight = L->dilation_w == 1 && run >= 4 && x_last >= 0 && y_last >= 0;
    L->x_end = tight ? (uint32_t)x_last + 1 : 0u;
    L->y_end = tight ? (uint32_t)y_last + 1 : 0u;
}

/* Column `which` (at dst: col + 2 * which) of a window inside the input, from src, its first byte.
 * Rows of whole words: each widened straight from the input, two groups per turn. Otherwise zeros
 * past k, then the rows into the int8 staging copy a word at a time (a row of at most 12 bytes as
 * the words at 0, mid and run - 4; a longer one at 0, 4, ... and run - 4; the last word over the
 * one before it), then widened two groups per turn. */
#if ED_NN_ASM
/* Naked: the arguments (r0-r3) unused in C. */
__attribute__((naked, noinline)) static void ed_conv_column_tight(__attribute__((unused)) const ed_conv_rows_t *rows,
                                                                  __attribute__((unused)) const int8_t *src,
                                                                  __attribute__((unused)) uint32_t *dst,
                                                                  __attribute__((unused)) int8_t *stage)
{
    __asm__ volatile(
        "push {r4-r8, lr}\n\t"
        "ldm r0, {r4-r8, r12}\n\t"  /* r4 run, r5 mid, r6 last, r7 step, r8 rows, r12 k4 */
        "tst r4, #3\n\t"
        "beq 8f\n\t"
        "add r0, r3, r12\n\t"       /* r0 the end of the staging copy */
        "movs r12, #0\n\t"
        "str r12, [r0, #-4]\n\t"    /* the rows overwrite the bytes below k */
        "mov r12, r3\n\t"           /* r12 the row in the staging copy */
        "cmp r4, #12\n\t"
        "bgt 5f\n\t"
        "1:\n\t"
        "ldr lr, [r1]\n\t"
        "str lr, [r12]\n\t"
        "ldr lr, [r1, r5]\n\t"
        "str lr, [r12, r5]\n\t"
        "ldr lr, [r1, r6]\n\t"
        "str lr, [r12, r6]\n\t"
        "add r1, r1, r7\n\t"
        "add r12, r12, r4\n\t"
        "subs r8, r8, #1\n\t"
        "bne 1b\n\t"
        "2:\n\t"                    /* widen: an odd group first */
        "sub r1, r0, r3\n\t"
        "lsls r1, r1, #29\n\t"
        "bpl 3f\n\t"
        "ldr r1, [r3], #4\n\t"
        "sxtb16 r4, r1\n\t"
        "sxtb16 r1, r1, ror #8\n\t"
        "str r4, [r2]\n\t"
        "str r1, [r2, #4]\n\t"
        "adds r2, r2, #16\n\t"
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
        "str r6, [r2, #16]\n\t"
        "str r4, [r2, #20]\n\t"
        "adds r2, r2, #32\n\t"
        "cmp r3, r0\n\t"
        "bne 6b\n\t"
        "4:\n\t"
        "pop {r4-r8, pc}\n\t"
        "5:\n\t"                    /* rows of more than 12 bytes */
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
        "b 2b\n\t"
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
        "adds r2, r2, #16\n\t"
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
        "str lr, [r2, #16]\n\t"
        "str r6, [r2, #20]\n\t"
        "adds r2, r2, #32\n\t"
        "cmp r0, r3\n\t"
        "bne 10b\n\t"
        "11:\n\t"
        "add r1, r1, r7\n\t"
        "subs r8, r8, #1\n\t"
        "bne 8b\n\t"
        "pop {r4-r8, pc}\n\t");
}
#else
static void ed_conv_column_tight(const ed_conv_rows_t *rows, const int8_t *src, uint32_t *dst, int8_t *stage)
{
    const int32_t run = rows->run, mid = rows->mid, last = rows->last, step = rows->step, k4 = rows->k4;
    if ((run & 3) == 0)
    {
        for (int32_t n = rows->kh; n > 0; n--, src += step, dst += run) /* run / 4 groups of 4 words */
        {
            ed_conv_widen_run(src, run, dst, 0, 0);
        }
        return;
    }
    ed_write_u32(stage + k4 - 4, 0u);
    int8_t *s = stage;
    for (int32_t n = rows->kh; n > 0; n--, s += run, src += step)
    {
        if (run <= 12)
        {
            const uint32_t a = ed_read_u32(src), b = ed_read_u32(src + mid), c = ed_read_u32(src + last);
            ed_write_u32(s, a);
            ed_write_u32(s + mid, b);
            ed_write_u32(s + last, c);
            continue;
        }
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
    if (L->pointwise)
    {
        ed_conv_widen_run(L->input + (base_y * L->in_w + base_x) * L->cin, L->k, col, 0, which);
        return;
    }
    const int32_t run = L->rows.run;
    const int x_inside = base_x >= 0 && base_x + (L->kw - 1) * L->dilation_w < L->in_w;
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
                uint32_t *dst = col + 4 * g + 2 * which;
                for (int32_t i = 0; i < run; i += 4, dst += 4)
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
        ed_conv_column_tight(&L->rows, L->input + base_y * L->row_bytes + base_x * L->cin, col + 2 * which, stage);
        return;
    }
    ed_conv_column_any(L, oy, ox, which, col, stage);
}

#if ED_NN_ASM
/* One group of four patch elements for three channels and two positions: the two positions'
 * (x0, x2) words and the three weight words in a row of five loads, six SMLAD, the (x1, x3)
 * words, six SMLAD (27 model cycles per 24 MACs; r0 column, r1 weights, r4-r9 the sums
 * o0p0, o0p1, o1p0, o1p1, o2p0, o2p1). */
#define ED_CONV_GROUP                                                                                                  \
    "ldr r11, [r0, #8]\n\t"                                                                                            \
    "ldr r10, [r0], #16\n\t"                                                                                           \
    "ldr r12, [r1, #8]\n\t"                                                                                            \
    "ldr r3, [r1, #4]\n\t"                                                                                             \
    "ldr r2, [r1], #12\n\t"                                                                                            \
    "sxtb16 lr, r2\n\t"                                                                                                \
    "smlad r4, r10, lr, r4\n\t"                                                                                        \
    "smlad r5, r11, lr, r5\n\t"                                                                                        \
    "sxtb16 lr, r3\n\t"                                                                                                \
    "smlad r6, r10, lr, r6\n\t"                                                                                        \
    "smlad r7, r11, lr, r7\n\t"                                                                                        \
    "sxtb16 lr, r12\n\t"                                                                                               \
    "smlad r8, r10, lr, r8\n\t"                                                                                        \
    "smlad r9, r11, lr, r9\n\t"                                                                                        \
    "ldr r10, [r0, #-12]\n\t"                                                                                          \
    "ldr r11, [r0, #-4]\n\t"                                                                                           \
    "sxtb16 lr, r2, ror #8\n\t"                                                                                        \
    "smlad r4, r10, lr, r4\n\t"                                                                                        \
    "smlad r5, r11, lr, r5\n\t"                                                                                        \
    "sxtb16 lr, r3, ror #8\n\t"                                                                                        \
    "smlad r6, r10, lr, r6\n\t"                                                                                        \
    "smlad r7, r11, lr, r7\n\t"                                                                                        \
    "sxtb16 lr, r12, ror #8\n\t"                                                                                       \
    "smlad r8, r10, lr, r8\n\t"                                                                                        \
    "smlad r9, r11, lr, r9\n\t"

/* Naked: the body is basic asm only, so the arguments (r0-r3) are marked unused. */
#define ED_ASM_ARG __attribute__((unused))

/* acc[0..5] += the 3 x 2 dot products over `groups` groups (>= 1): first the groups % 4 single
 * groups, then four per turn of the loop (its end compared on the stack). */
__attribute__((naked, noinline)) static void ed_conv_block_3x2(ED_ASM_ARG const uint32_t *col,
                                                               ED_ASM_ARG const uint32_t *w, ED_ASM_ARG int32_t groups,
                                                               ED_ASM_ARG int32_t *acc)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #12\n\t"
        "str r3, [sp, #8]\n\t"        /* [sp, #8] acc */
        "ldm r3, {r4-r9}\n\t"
        "add r3, r0, r2, lsl #4\n\t"
        "str r3, [sp, #4]\n\t"        /* [sp, #4] end of the column */
        "and r2, r2, #3\n\t"
        "add r2, r0, r2, lsl #4\n\t"
        "str r2, [sp]\n\t"            /* [sp] end of the single groups */
        "cmp r0, r2\n\t"
        "beq 2f\n\t"
        "1:\n\t"
        ED_CONV_GROUP
        "ldr r2, [sp]\n\t"
        "cmp r0, r2\n\t"
        "bne 1b\n\t"
        "2:\n\t"
        "ldr r2, [sp, #4]\n\t"
        "cmp r0, r2\n\t"
        "beq 4f\n\t"
        "3:\n\t"
        ED_CONV_GROUP ED_CONV_GROUP ED_CONV_GROUP ED_CONV_GROUP
        "ldr r2, [sp, #4]\n\t"
        "cmp r0, r2\n\t"
        "bne 3b\n\t"
        "4:\n\t"
        "ldr r3, [sp, #8]\n\t"
        "stm r3, {r4-r9}\n\t"
        "add sp, sp, #12\n\t"
        "pop {r4-r11, pc}\n\t");
}

/* One group for one channel and two positions: the four column words and the weight word in a
 * row of five loads, two SXTB16, four SMLAD (12 model cycles per 8 MACs; r4, r5 the sums). */
#define ED_CONV_GROUP_1X2                                                                                              \
    "ldr r11, [r0, #4]\n\t"                                                                                            \
    "ldr r12, [r0, #8]\n\t"                                                                                            \
    "ldr r3, [r0, #12]\n\t"                                                                                            \
    "ldr r10, [r0], #16\n\t"                                                                                           \
    "ldr r2, [r1], #12\n\t"                                                                                            \
    "sxtb16 lr, r2\n\t"                                                                                                \
    "smlad r4, r10, lr, r4\n\t"                                                                                        \
    "smlad r5, r12, lr, r5\n\t"                                                                                        \
    "sxtb16 lr, r2, ror #8\n\t"                                                                                        \
    "smlad r4, r11, lr, r4\n\t"                                                                                        \
    "smlad r5, r3, lr, r5\n\t"

/* One group for two channels and two positions: six loads, four SXTB16, eight SMLAD (18 model
 * cycles per 16 MACs; r4-r7 the sums o0p0, o0p1, o1p0, o1p1). */
#define ED_CONV_GROUP_2X2                                                                                              \
    "ldr r11, [r0, #4]\n\t"                                                                                            \
    "ldr r12, [r0, #8]\n\t"                                                                                            \
    "ldr r3, [r0, #12]\n\t"                                                                                            \
    "ldr r10, [r0], #16\n\t"                                                                                           \
    "ldr r8, [r1, #4]\n\t"                                                                                             \
    "ldr r2, [r1], #12\n\t"                                                                                            \
    "sxtb16 lr, r2\n\t"                                                                                                \
    "smlad r4, r10, lr, r4\n\t"                                                                                        \
    "smlad r5, r12, lr, r5\n\t"                                                                                        \
    "sxtb16 lr, r2, ror #8\n\t"                                                                                        \
    "smlad r4, r11, lr, r4\n\t"                                                                                        \
    "smlad r5, r3, lr, r5\n\t"                                                                                         \
    "sxtb16 lr, r8\n\t"                                                                                                \
    "smlad r6, r10, lr, r6\n\t"                                                                                        \
    "smlad r7, r12, lr, r7\n\t"                                                                                        \
    "sxtb16 lr, r8, ror #8\n\t"                                                                                        \
    "smlad r6, r11, lr, r6\n\t"                                                                                        \
    "smlad r7, r3, lr, r7\n\t"

/* The last block of a layer whose channels are not a multiple of 3: acc[0 .. 2n - 1] += the
 * n x 2 dot products (n = 1 or 2; the packed block's zero rows skipped), the groups % 2 single
 * group first, then two per turn. */
#define ED_CONV_BLOCK_N2(name, group, last_acc)                                                                        \
    __attribute__((naked, noinline)) static void name(ED_ASM_ARG const uint32_t *col, ED_ASM_ARG const uint32_t *w,   \
                                                      ED_ASM_ARG int32_t groups, ED_ASM_ARG int32_t *acc)             \
    {                                                                                                                  \
        __asm__ volatile("push {r4-r11, lr}\n\t"                                                                       \
                         "push {r3}\n\t"                                                                               \
                         "ldm r3, {r4-" last_acc "}\n\t"                                                               \
                         "add r9, r0, r2, lsl #4\n\t" /* end of the column */                                          \
                         "tst r2, #1\n\t"                                                                              \
                         "beq 1f\n\t" group "1:\n\t"                                                                   \
                         "cmp r0, r9\n\t"                                                                              \
                         "beq 2f\n\t" group group "b 1b\n\t"                                                           \
                         "2:\n\t"                                                                                      \
                         "pop {r3}\n\t"                                                                                \
                         "stm r3, {r4-" last_acc "}\n\t"                                                               \
                         "pop {r4-r11, pc}\n\t");                                                                      \
    }
ED_CONV_BLOCK_N2(ed_conv_block_1x2, ED_CONV_GROUP_1X2, "r5")
ED_CONV_BLOCK_N2(ed_conv_block_2x2, ED_CONV_GROUP_2X2, "r7")

/* acc[0 .. 2n - 1] += the n x 2 dot products of the block at w (n = 1 to 3 channels). */
static void ed_conv_block(const uint32_t *col, const uint32_t *w, int32_t groups, int32_t *acc, int32_t n)
{
    if (n == 1)
    {
        ed_conv_block_1x2(col, w, groups, acc);
    }
    else if (n == 2)
    {
        ed_conv_block_2x2(col, w, groups, acc);
    }
    else
    {
        ed_conv_block_3x2(col, w, groups, acc);
    }
}
#else
/* Sum of the int16 pair products of a and b, modulo 2^32 (SMLAD). */
static inline int32_t ed_conv_dot2(uint32_t a, uint32_t b, int32_t acc)
{
#if ED_NN_DSP
    return ed_smlad(a, b, acc);
#else
    const int32_t lo = (int32_t)(int16_t)(a & 0xFFFFu) * (int16_t)(b & 0xFFFFu);
    const int32_t hi = (int32_t)(int16_t)(a >> 16) * (int16_t)(b >> 16);
    return (int32_t)((uint32_t)acc + (uint32_t)lo + (uint32_t)hi);
#endif
}

/* acc[0 .. 2n - 1] += the n x 2 dot products of the block at w (n = 1 to 3 channels). */
static void ed_conv_block(const uint32_t *col, const uint32_t *w, int32_t groups, int32_t *acc, int32_t n)
{
    for (int32_t g = 0; g < groups; g++, col += 4, w += 3)
    {
        for (int32_t o = 0; o < n; o++)
        {
            uint32_t w02, w13;
            ed_conv_widen4(w[o], &w02, &w13);
            acc[2 * o] = ed_conv_dot2(col[1], w13, ed_conv_dot2(col[0], w02, acc[2 * o]));
            acc[2 * o + 1] = ed_conv_dot2(col[3], w13, ed_conv_dot2(col[2], w02, acc[2 * o + 1]));
        }
    }
}
#endif

/* The common case, every block of three channels of one pair of positions with every channel on
 * the fast requantization: what the loop over blocks reads (the asm by offset), fixed per call. */
typedef struct
{
    const uint32_t *col;        /* +0 */
    const uint32_t *w;          /* +4, the first block's weights */
    const ed_conv_rq_t *rq;     /* +8, the first channel's constants */
    const ed_conv_rq_t *rq_end; /* +12, past the last whole block's (the short block's) */
    int32_t cout;               /* +16 */
    const uint32_t *single_end; /* +20, col + (groups % 4) groups */
    const uint32_t *col_end;    /* +24, col + groups groups */
    int32_t act_min, act_max;   /* +28, +32 */
    int32_t clamp;              /* +36, nonzero when the activation range is narrower than int8 */
    int32_t tail;               /* +40, channels of the short block after the whole ones (0 to 2) */
    uint32_t act_min4, act_max4; /* +44, +48, the bounds in each byte (the clamp of four bytes at once) */
} ed_conv_run_t;

#if ED_NN_ASM
_Static_assert(sizeof(ed_conv_rq_t) == 20, "ED_CONV_REQUANT reads ed_conv_rq_t at 20-byte steps");
_Static_assert(sizeof(ed_conv_run_t) == 52, "ed_conv_run reads ed_conv_run_t by offset");

/* Requantization of the two positions' sums of one channel (registers a, b) with the constants
 * at byte `qo` of r0 (ed_conv_rq_t): mult r10, round_lo r11, round_hi r12, hi_shift lr. */
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
#define ED_CONV_REQUANT_ONE(a)                                                                                         \
    "mov r2, r11\n\t"                                                                                                  \
    "mov r1, r12\n\t"                                                                                                  \
    "smlal r2, r1, " a ", r10\n\t"                                                                                     \
    "asr r1, r1, lr\n\t"                                                                                               \
    "ssat " a ", #8, r1\n\t"
#else
#define ED_CONV_REQUANT_ONE(a)                                                                                         \
    "and r1, " a ", #0x80000000\n\t"                                                                                   \
    "subs r2, r11, r1\n\t"                                                                                             \
    "sbc r1, r12, #0\n\t"                                                                                              \
    "smlal r2, r1, " a ", r10\n\t"                                                                                     \
    "asr r1, r1, lr\n\t"                                                                                               \
    "ssat " a ", #8, r1\n\t"
#endif
#define ED_CONV_REQUANT(a, b, qo)                                                                                      \
    "ldr r10, [r0, #" qo "]\n\t"                                                                                       \
    "ldr r11, [r0, #" qo "+4]\n\t"                                                                                     \
    "ldr r12, [r0, #" qo "+8]\n\t"                                                                                     \
    "ldr lr, [r0, #" qo "+12]\n\t" ED_CONV_REQUANT_ONE(a) ED_CONV_REQUANT_ONE(b)
#define ED_CONV_CLAMP(a)                                                                                               \
    "cmp " a ", r10\n\t"                                                                                               \
    "it lt\n\t"                                                                                                        \
    "movlt " a ", r10\n\t"                                                                                             \
    "cmp " a ", r11\n\t"                                                                                               \
    "it gt\n\t"                                                                                                        \
    "movgt " a ", r11\n\t"

/* Every block of one pair of positions (outputs at out0 and out0 + cout): the sums from the
 * biases (ED_CONV_GROUP, the groups % 4 single groups, then four per turn), six
 * requantizations, the clamp when asked, six bytes stored (fewer in a last short block). The
 * state it changes lives on its stack: [sp] run, +4 col_end, +8 single_end, +12 w, +16 rq,
 * +20 out0, +24 out1. */
__attribute__((naked, noinline)) static void ed_conv_run(ED_ASM_ARG const ed_conv_run_t *run,
                                                         ED_ASM_ARG int8_t *out0)
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #28\n\t"
        "str r0, [sp]\n\t"
        "ldr r2, [r0, #24]\n\t"
        "str r2, [sp, #4]\n\t"      /* col_end */
        "ldr r2, [r0, #20]\n\t"
        "str r2, [sp, #8]\n\t"      /* single_end */
        "ldr r2, [r0, #4]\n\t"
        "str r2, [sp, #12]\n\t"     /* w */
        "ldr r2, [r0, #8]\n\t"
        "str r2, [sp, #16]\n\t"     /* rq */
        "str r1, [sp, #20]\n\t"     /* out0 */
        "ldr r2, [r0, #16]\n\t"
        "add r2, r1, r2\n\t"
        "str r2, [sp, #24]\n\t"     /* out1 = out0 + cout */
        "1:\n\t"
        "ldr r3, [sp]\n\t"
        "ldr r1, [sp, #12]\n\t"     /* w */
        "ldr r2, [sp, #16]\n\t"     /* rq: the biases sit at +16, +36, +56 */
        "ldr r0, [r3, #0]\n\t"      /* col */
        "ldr r4, [r2, #16]\n\t"
        "ldr r6, [r2, #36]\n\t"
        "ldr r8, [r2, #56]\n\t"
        "mov r5, r4\n\t"
        "mov r7, r6\n\t"
        "mov r9, r8\n\t"
        "ldr r2, [sp, #8]\n\t"
        "cmp r0, r2\n\t"
        "beq 3f\n\t"
        "2:\n\t"
        ED_CONV_GROUP
        "ldr r2, [sp, #8]\n\t"
        "cmp r0, r2\n\t"
        "bne 2b\n\t"
        "3:\n\t"
        "ldr r2, [sp, #4]\n\t"
        "cmp r0, r2\n\t"
        "beq 5f\n\t"
        "4:\n\t"
        ED_CONV_GROUP ED_CONV_GROUP ED_CONV_GROUP ED_CONV_GROUP
        "ldr r2, [sp, #4]\n\t"
        "cmp r0, r2\n\t"
        "bne 4b\n\t"
        "5:\n\t"
        "str r1, [sp, #12]\n\t"     /* w, at the next block */
        "ldr r0, [sp, #16]\n\t"     /* rq */
        ED_CONV_REQUANT("r4", "r5", "0") ED_CONV_REQUANT("r6", "r7", "20") ED_CONV_REQUANT("r8", "r9", "40")
        "ldr r3, [sp]\n\t"
        "ldr r2, [r3, #36]\n\t"
        "cbz r2, 6f\n\t"
        /* The clamp: each position's three bytes in one word (r4, r5), clamped four bytes at a
         * time (SSUB8 sets a lane's GE flag where it is at least the bound, SEL picks), stored
         * as a halfword and a byte. */
        "bfi r4, r6, #8, #8\n\t"
        "bfi r4, r8, #16, #8\n\t"
        "bfi r5, r7, #8, #8\n\t"
        "bfi r5, r9, #16, #8\n\t"
        "ldr r10, [r3, #44]\n\t"
        "ldr r11, [r3, #48]\n\t"
        "ssub8 r2, r4, r10\n\t"
        "sel r4, r4, r10\n\t"
        "ssub8 r2, r4, r11\n\t"
        "sel r4, r11, r4\n\t"
        "ssub8 r2, r5, r10\n\t"
        "sel r5, r5, r10\n\t"
        "ssub8 r2, r5, r11\n\t"
        "sel r5, r11, r5\n\t"
        "ldr r2, [sp, #20]\n\t"     /* out0 */
        "ldr r1, [sp, #24]\n\t"     /* out1 */
        "strh r4, [r2]\n\t"
        "strh r5, [r1]\n\t"
        "lsrs r4, r4, #16\n\t"
        "lsrs r5, r5, #16\n\t"
        "strb r4, [r2, #2]\n\t"
        "strb r5, [r1, #2]\n\t"
        "b 7f\n\t"
        "6:\n\t"
        "ldr r2, [sp, #20]\n\t"     /* out0 */
        "ldr r1, [sp, #24]\n\t"     /* out1 */
        "strb r4, [r2]\n\t"
        "strb r6, [r2, #1]\n\t"
        "strb r8, [r2, #2]\n\t"
        "strb r5, [r1]\n\t"
        "strb r7, [r1, #1]\n\t"
        "strb r9, [r1, #2]\n\t"
        "7:\n\t"
        "ldr r10, [r3, #12]\n\t"    /* rq_end */
        "adds r0, r0, #60\n\t"      /* rq, at the next block */
        "adds r2, r2, #3\n\t"
        "adds r1, r1, #3\n\t"
        "str r0, [sp, #16]\n\t"
        "str r2, [sp, #20]\n\t"
        "str r1, [sp, #24]\n\t"
        "cmp r0, r10\n\t"
        "bne 1b\n\t"
        /* The short block (one or two channels), one group per turn of its loop. */
        "ldr r10, [r3, #40]\n\t"    /* tail */
        "cmp r10, #0\n\t"
        "beq 9f\n\t"
        "ldr r4, [r0, #16]\n\t"
        "ldr r6, [r0, #36]\n\t"
        "mov r5, r4\n\t"
        "mov r7, r6\n\t"
        "ldr r1, [sp, #12]\n\t"     /* w */
        "ldr r0, [r3, #0]\n\t"      /* col */
        "ldr r9, [sp, #4]\n\t"      /* col_end */
        "cmp r10, #1\n\t"
        "bne 12f\n\t"
        "11:\n\t" ED_CONV_GROUP_1X2
        "cmp r0, r9\n\t"
        "bne 11b\n\t"
        "b 13f\n\t"
        "12:\n\t" ED_CONV_GROUP_2X2
        "cmp r0, r9\n\t"
        "bne 12b\n\t"
        "13:\n\t"
        "ldr r0, [sp, #16]\n\t"     /* rq of the short block */
        ED_CONV_REQUANT("r4", "r5", "0") ED_CONV_REQUANT("r6", "r7", "20")
        "ldr r3, [sp]\n\t"
        "ldr r2, [r3, #36]\n\t"
        "cbz r2, 14f\n\t"
        "ldr r10, [r3, #28]\n\t"
        "ldr r11, [r3, #32]\n\t"
        ED_CONV_CLAMP("r4") ED_CONV_CLAMP("r5") ED_CONV_CLAMP("r6") ED_CONV_CLAMP("r7")
        "14:\n\t"
        "ldr r2, [sp, #20]\n\t"
        "ldr r1, [sp, #24]\n\t"
        "ldr r0, [r3, #40]\n\t"
        "strb r4, [r2]\n\t"
        "strb r5, [r1]\n\t"
        "cmp r0, #2\n\t"
        "bne 9f\n\t"
        "strb r6, [r2, #1]\n\t"
        "strb r7, [r1, #1]\n\t"
        "9:\n\t"
        "add sp, sp, #28\n\t"
        "pop {r4-r11, pc}\n\t");
}
#else
static void ed_conv_run(const ed_conv_run_t *run, int8_t *out0)
{
    const int32_t groups = (int32_t)(run->col_end - run->col) / 4;
    int8_t *out1 = out0 + run->cout;
    const uint32_t *w = run->w;
    const ed_conv_rq_t *end = run->rq_end + (run->tail ? 3 : 0);
    for (const ed_conv_rq_t *rq = run->rq; rq != end; rq += 3, w += 3 * groups, out0 += 3, out1 += 3)
    {
        int32_t acc[6] = {rq[0].bias, rq[0].bias, rq[1].bias, rq[1].bias, rq[2].bias, rq[2].bias};
        const int32_t valid = rq == run->rq_end ? run->tail : 3;
        ed_conv_block(run->col, w, groups, acc, valid);
        for (int32_t i = 0; i < 2 * valid; i++)
        {
            const ed_conv_rq_t *r = &rq[i / 2];
            const ed_requant_t q = {r->mult, r->round_lo, r->round_hi, r->hi_shift, 0};
            int32_t v = ed_sat8(ed_requant_fast(&q, acc[i]));
            if (run->clamp)
            {
                v = ed_clamp_s8(v, run->act_min, run->act_max);
            }
            ((i & 1) ? out1 : out0)[i / 2] = (int8_t)v;
        }
    }
}
#endif

/* The requantized, clamped output of accumulator acc for channel c. */
static inline int8_t ed_conv_out(const ed_conv_rq_t *rq, const cmsis_nn_per_channel_quant_params *quant, int32_t c,
                                 int32_t acc, int32_t offset, int32_t act_min, int32_t act_max)
{
    if (rq->hi_shift < 0)
    {
        return ed_requantize_to_s8(acc, quant->multiplier[c], quant->shift[c], offset, act_min, act_max);
    }
    const ed_requant_t q = {rq->mult, rq->round_lo, rq->round_hi, rq->hi_shift, 0};
    return ed_clamp_s8(ed_sat8(ed_requant_fast(&q, acc)), act_min, act_max);
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
    const cmsis_nn_conv_params *p = conv_params;
    const int32_t cin = input_dims->c, cout = output_dims->c;
    const int32_t k = filter_dims->h * filter_dims->w * cin, k4 = (k + 3) & ~3;
    if (filter_dims->c != cin || filter_dims->n != cout || folded_bias == NULL || ctx == NULL || ctx->buf == NULL ||
        ctx->size < ed_convolve_s8_get_buffer_size(input_dims, filter_dims))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    uint32_t *col = (uint32_t *)ctx->buf;
    int8_t *stage = (int8_t *)(col + k4);
    ed_conv_rq_t *rq = (ed_conv_rq_t *)(void *)(stage + k4);
    const int32_t blocks = (cout + 2) / 3;
    for (int32_t c = 0; c < 3 * blocks; c++) /* channels past the last: any valid constants */
    {
        const int32_t from = ed_min_i32(c, cout - 1);
        const ed_requant_out_t r =
            ed_requant_out_prepare(quant_params->multiplier[from], quant_params->shift[from], p->output_offset);
        rq[c] = (ed_conv_rq_t){r.q.mult, r.q.round_lo, r.q.round_hi, r.q.hi_shift, folded_bias[c]};
    }
    const int8_t zp = (int8_t)(-p->input_offset);
    ed_conv_layer_t L = {
        .kh = filter_dims->h, .kw = filter_dims->w, .cin = cin, .k = k, .k4 = k4,
        .out_w = output_dims->w, .stride_h = p->stride.h, .stride_w = p->stride.w, .pad_top = p->padding.h,
        .pad_left = p->padding.w, .dilation_h = p->dilation.h, .dilation_w = p->dilation.w, .zp = zp,
    };
    ed_conv_layer_derive(&L, input_dims);
    L.pointwise = L.kh == 1 && L.kw == 1 && (cin & 3) == 0 && p->padding.h == 0 && p->padding.w == 0 &&
                  (output_dims->h - 1) * p->stride.h < input_dims->h && (output_dims->w - 1) * p->stride.w < input_dims->w;
    const int32_t groups = k4 / 4;
    const int32_t positions = output_dims->h * output_dims->w;
    const int32_t offset = p->output_offset, act_min = p->activation.min, act_max = p->activation.max;
    const int32_t clamp = act_min > -128 || act_max < 127;
    int all_fast = 1;
    for (int32_t c = 0; c < cout; c++)
    {
        all_fast = all_fast && rq[c].hi_shift >= 0;
    }
    /* ed_conv_run takes the whole blocks, then a short block of one or two channels with its zero
     * rows skipped; without a whole block the general loop below takes the short one. */
    const int32_t whole = cout / 3;
    const ed_conv_run_t run = {col, packed_weights, rq, rq + 3 * whole, cout, col + 4 * (groups & 3),
                               col + 4 * groups, act_min, act_max, clamp, cout % 3,
                               0x01010101u * (uint8_t)act_min, 0x01010101u * (uint8_t)act_max};
    for (int32_t n = 0; n < input_dims->n; n++)
    {
        L.input = input_data + n * input_dims->h * input_dims->w * cin;
        int8_t *output = output_data + n * positions * cout;
        int32_t oy = 0, ox = 0; /* of position pos, tracked without divisions */
        for (int32_t pos = 0; pos < positions; pos += 2)
        {
            const int both = pos + 1 < positions;
            if (L.pointwise && both && ox + 1 < L.out_w)
            {
                /* 1 x 1: both patches are pixels of one input row */
                const int8_t *x0 = L.input + ((oy * L.stride_h) * input_dims->w + ox * L.stride_w) * cin;
                const int8_t *x1 = x0 + L.stride_w * cin;
                uint32_t *dst = col;
                for (int32_t i = 0; i < k4; i += 4, dst += 4)
                {
                    ed_conv_widen4(ed_read_u32(x0 + i), &dst[0], &dst[1]);
                    ed_conv_widen4(ed_read_u32(x1 + i), &dst[2], &dst[3]);
                }
                ox += 2;
                if (ox == L.out_w)
                {
                    ox = 0;
                    oy++;
                }
                goto columns_ready;
            }
            ed_conv_column(&L, oy, ox, 0, col, stage);
            if (++ox == L.out_w)
            {
                ox = 0;
                oy++;
            }
            if (both)
            {
                ed_conv_column(&L, oy, ox, 1, col, stage);
                if (++ox == L.out_w)
                {
                    ox = 0;
                    oy++;
                }
            }
            else
            {
                for (int32_t g = 0; g < groups; g++) /* the lone last position twice */
                {
                    col[4 * g + 2] = col[4 * g];
                    col[4 * g + 3] = col[4 * g + 1];
                }
            }
        columns_ready:;
            int8_t *out0 = output + pos * cout, *out1 = out0 + cout;
            int32_t first = 0; /* the first block the general loop below takes */
            if (all_fast && both && whole > 0)
            {
                ed_conv_run(&run, out0);
                first = blocks;
            }
            const uint32_t *w = packed_weights + first * 3 * groups;
            for (int32_t b = first, oc = 3 * first; b < blocks; b++, oc += 3, w += 3 * groups)
            {
                int32_t acc[6];
                for (int32_t i = 0; i < 3; i++)
                {
                    acc[2 * i] = acc[2 * i + 1] = oc + i < cout ? folded_bias[oc + i] : 0;
                }
                ed_conv_block(col, w, groups, acc, ed_min_i32(3, cout - oc));
                for (int32_t i = 0; i < 3 && oc + i < cout; i++)
                {
                    out0[oc + i] = ed_conv_out(&rq[oc + i], quant_params, oc + i, acc[2 * i], offset, act_min, act_max);
                    if (both)
                    {
                        out1[oc + i] =
                            ed_conv_out(&rq[oc + i], quant_params, oc + i, acc[2 * i + 1], offset, act_min, act_max);
                    }
                }
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

int32_t ed_convolve_s8_get_buffer_size(const cmsis_nn_dims *input_dims, const cmsis_nn_dims *filter_dims)
{
    const int32_t k4 = (filter_dims->h * filter_dims->w * input_dims->c + 3) & ~3;
    return 4 * k4 + k4 + 20 * 3 * ((filter_dims->n + 2) / 3);
}
