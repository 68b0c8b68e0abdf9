/*
 * ed_sparse_support.h - input patches ("columns") and checks shared by the sparse s8 kernels
 * (ed_sparse_conv_s8.c, ed_sparse_fc_s8.c). Written for edge-deploy; no CMSIS-NN code.
 *
 * A sparse kernel reads the input at the kept weights' positions only, so the input patch of
 * an output position is widened to int16 once (input offset added) and then indexed by group.
 * Convolutions work on four output positions at a time, so every weight loaded feeds four
 * outputs. A 1-D convolution whose windows start on groups of four reads the input row widened
 * once per call (ed_sparse_row_elems, ed_sparse_widen_row: pair order, position p's group g at
 * element p * stride * cin + 4g); other convolutions widen four patches per block. Two layouts
 * of those patches (k: element of the patch in (kh, kw, cin) order, j: which of
 * the four positions; rows padded with zeros to a multiple of 4 elements):
 *
 *   pair order (group-sparse DSP path): per group g, 16 int16: for j = 0..3 the elements
 *       4g, 4g+2, 4g+1, 4g+3 of position j - the order SXTB16 unpacks a weight word in, so
 *       one group of one position is two words, each one SMLAD operand;
 *   natural order (portable and CSR paths): element k of position j at k * 4 + j.
 */
#ifndef ED_SPARSE_SUPPORT_H
#define ED_SPARSE_SUPPORT_H

#include "ed_nn_support.h"
#include "ed_sparse.h"

#define ED_SPARSE_COLUMNS 4

/* Elements of a row padded to whole words (the stored group's zero padding). */
static inline int32_t ed_sparse_padded(int32_t k_total)
{
    return (k_total + 3) & ~3;
}

/* Slot of patch element k of column j in either layout. */
static inline int32_t ed_sparse_slot(int32_t k, int32_t j, int pair_order)
{
    static const int8_t order[4] = {0, 2, 1, 3};
    return pair_order ? (k & ~3) * 4 + j * 4 + order[k & 3] : k * ED_SPARSE_COLUMNS + j;
}

/* The kept group numbers of one row, and the number of the i-th (wide: uint16 indices). */
static inline int32_t ed_sparse_index(const uint8_t *index8, const uint16_t *index16, int32_t i, int wide)
{
    return wide ? (int32_t)index16[i] : (int32_t)index8[i];
}

#if ED_NN_DSP
/* Widens the n bytes at src (n a multiple of 4) into patch elements k0 .. k0 + n of column j
 * in pair order; SXTAB16 adds the offset while it widens. Returns k0 + n. */
static inline int32_t ed_sparse_widen_pairs(const int8_t *src, int16_t *col, int32_t k0, int32_t n, int32_t j,
                                            int32_t offset)
{
    const uint32_t offset2 = ed_dup16(offset);
    int16_t *dst = col + k0 * 4 + j * 4;
    for (int32_t i = 0; i < n; i += 4, dst += 16)
    {
        const uint32_t word = ed_read_u32(src + i);
        ed_write_u32(dst, ed_sxtab16(offset2, word));
        ed_write_u32(dst + 2, ed_sxtab16_ror8(offset2, word));
    }
    return k0 + n;
}

/* A 1-D window (one row `row` of the input) starting at input position base_x, kw taps, partly
 * outside the row: when the taps outside and inside are whole groups of four elements, writes
 * zero groups and widens the inside as one run into column j; returns 0 (nothing written)
 * otherwise. */
static inline int ed_sparse_padding_groups(int32_t base_x, int32_t kw, int32_t in_w, int32_t cin, const int8_t *row,
                                           int16_t *col, int32_t j, int32_t offset)
{
    const int32_t first = ed_max_i32(0, -base_x), last = ed_min_i32(kw, in_w - base_x);
    const int32_t zeros_left = first * cin, run = (last - first) * cin, k_total = kw * cin;
    if (last <= first || (zeros_left & 3) != 0 || (run & 3) != 0)
    {
        return 0;
    }
    for (int32_t k = 0; k < k_total; k += 4)
    {
        if (k < zeros_left || k >= zeros_left + run)
        {
            ed_write_u32(col + k * 4 + j * 4, 0u); /* group k / 4 of column j: two words */
            ed_write_u32(col + k * 4 + j * 4 + 2, 0u);
        }
    }
    ed_sparse_widen_pairs(row + (base_x + first) * cin, col, zeros_left, run, j, offset);
    return 1;
}
#endif

/* Writes column j of output position (out_y, out_x): the patch plus the input offset, zero
 * where the window leaves the input (the zero point plus the offset) and in the padding. */
static inline void ed_sparse_conv_column(const cmsis_nn_conv_params *p, const cmsis_nn_dims *in, const int8_t *input,
                                  const cmsis_nn_dims *flt, int32_t out_y, int32_t out_x, int16_t *col, int32_t j,
                                  int pair_order)
{
    const int32_t cin = in->c;
    const int32_t k_total = flt->h * flt->w * cin;
    const int32_t base_y = out_y * p->stride.h - p->padding.h;
    const int32_t base_x = out_x * p->stride.w - p->padding.w;
    const int32_t offset = p->input_offset;
    int32_t k = 0;
    if (flt->h == 1 && p->dilation.w == 1 && base_y >= 0 && base_y < in->h && base_x >= 0 &&
        base_x + flt->w <= in->w)
    {
        /* The whole patch is one run of the input (a 1-D convolution away from the edges). */
        const int8_t *src = input + (base_y * in->w + base_x) * cin;
#if ED_NN_DSP
        if (pair_order)
        {
            k = ed_sparse_widen_pairs(src, col, 0, k_total & ~3, j, offset);
        }
#endif
        for (; k < k_total; k++)
        {
            col[ed_sparse_slot(k, j, pair_order)] = (int16_t)(src[k] + offset);
        }
    }
#if ED_NN_DSP
    else if (pair_order && flt->h == 1 && p->dilation.w == 1 && base_y >= 0 && base_y < in->h &&
             (k_total & 3) == 0 && ed_sparse_padding_groups(base_x, flt->w, in->w, cin, input + base_y * in->w * cin,
                                                             col, j, offset))
    {
        return; /* a 1-D window partly in the padding: zero groups and one widened run */
    }
#endif
    else
    {
        for (int32_t ky = 0; ky < flt->h; ky++)
        {
            const int32_t iy = base_y + ky * p->dilation.h;
            for (int32_t kx = 0; kx < flt->w; kx++)
            {
                const int32_t ix = base_x + kx * p->dilation.w;
                const int inside = iy >= 0 && iy < in->h && ix >= 0 && ix < in->w;
                const int8_t *src = input + (iy * in->w + ix) * cin;
                for (int32_t c = 0; c < cin; c++, k++)
                {
                    col[ed_sparse_slot(k, j, pair_order)] = inside ? (int16_t)(src[c] + offset) : 0;
                }
            }
        }
    }
    for (; k < ed_sparse_padded(k_total); k++)
    {
        col[ed_sparse_slot(k, j, pair_order)] = 0;
    }
}

/* The widened input row of a 1-D convolution (input, filter and output one row, dilation 1):
 * when every output position's window starts on a group of four elements (stride * cin and
 * left padding * cin multiples of 4, kw * cin too) and the position stride 2 * stride * cin
 * bytes is one the assembly blocks take (16 .. 256), the kernel widens the input row once per
 * call, padding included, and every block of four positions reads its columns from it:
 * position p's group g is element p * stride * cin + 4g. Returns the elements of that row
 * (enough for ceil(out_w / 4) blocks, zeros past the input), 0 when the layer does not
 * qualify. */
static inline int32_t ed_sparse_row_elems(const cmsis_nn_conv_params *p, const cmsis_nn_dims *in,
                                          const cmsis_nn_dims *flt, const cmsis_nn_dims *out)
{
    const int32_t cin = in->c;
    const int32_t step = p->stride.w * cin;
    const int32_t blocks = (out->w + 3) & ~3;
    if (in->h != 1 || flt->h != 1 || out->h != 1 || p->padding.h != 0 || p->dilation.w != 1 || blocks == 0 ||
        (step & 3) != 0 || ((p->padding.w * cin) & 3) != 0 || ((flt->w * cin) & 3) != 0 || step < 8 || step > 128 ||
        (step & (step - 1)) != 0)
    {
        return 0;
    }
    return ((blocks - 1) * p->stride.w + flt->w) * cin;
}

/* Widens the input row into `elems` elements in pair order (per group of four: x0, x2, x1, x3),
 * input offset added: pad_left * cin zeros (a multiple of 4), the row, zeros after it. */
static inline void ed_sparse_widen_row(const int8_t *input, int32_t in_elems, int32_t pad_elems, int32_t elems,
                                       int32_t offset, int16_t *row)
{
    static const int8_t order[4] = {0, 2, 1, 3};
    int32_t k = 0;
    for (; k < pad_elems && k < elems; k += 4)
    {
        ed_write_u32(row + k, 0u);
        ed_write_u32(row + k + 2, 0u);
    }
    const int32_t run = ed_min_i32(in_elems, elems - k);
    int32_t i = 0;
#if ED_NN_DSP
    const uint32_t offset2 = ed_dup16(offset);
    for (; i + 4 <= run; i += 4, k += 4)
    {
        const uint32_t word = ed_read_u32(input + i);
        ed_write_u32(row + k, ed_sxtab16(offset2, word));
        ed_write_u32(row + k + 2, ed_sxtab16_ror8(offset2, word));
    }
#endif
    for (; k < elems; k++, i++)
    {
        row[(k & ~3) + order[k & 3]] = i < run ? (int16_t)(input[i] + offset) : 0;
    }
}

/* Column j of a block that has fewer than four positions: zeros, so every slot is defined. */
static inline void ed_sparse_zero_column(int16_t *col, int32_t k_total, int32_t j, int pair_order)
{
    for (int32_t k = 0; k < ed_sparse_padded(k_total); k++)
    {
        col[ed_sparse_slot(k, j, pair_order)] = 0;
    }
}

/* One fully connected input row widened: pair order per group (x0, x2, x1, x3) or natural. */
static inline void ed_sparse_fc_column(const int8_t *x, int32_t depth, int32_t offset, int16_t *col, int pair_order)
{
    static const int8_t order[4] = {0, 2, 1, 3};
    int32_t k = 0;
#if ED_NN_DSP
    if (pair_order)
    {
        const uint32_t offset2 = ed_dup16(offset);
        for (; k + 4 <= depth; k += 4)
        {
            const uint32_t word = ed_read_u32(x + k);
            ed_write_u32(col + k, ed_sadd16(ed_sxtb16(word), offset2));
            ed_write_u32(col + k + 2, ed_sadd16(ed_sxtb16_ror8(word), offset2));
        }
    }
#endif
    for (; k < ed_sparse_padded(depth); k++)
    {
        const int32_t slot = pair_order ? (k & ~3) + order[k & 3] : k;
        col[slot] = k < depth ? (int16_t)(x[k] + offset) : 0;
    }
}

/* The weights must describe a filter of k_total elements per row in groups of group_size. */
static inline int ed_sparse_weights_valid(const ed_sparse_weights_s8 *w, int32_t k_total, int32_t group_size)
{
    return w != NULL && w->group_size == group_size &&
           w->row_groups == (k_total + group_size - 1) / group_size && w->row_counts != NULL &&
           (w->index8 != NULL) != (w->index16 != NULL) && (w->index8 == NULL || w->row_groups <= 256);
}

#endif /* ED_SPARSE_SUPPORT_H */
