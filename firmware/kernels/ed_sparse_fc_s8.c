/*
 * ed_sparse_fc_s8.c - s8 fully connected on sparse weights (ed_sparse.h): group-sparse
 * (group_size 4) and unstructured (CSR). Written for edge-deploy from the TFLite
 * FULLY_CONNECTED arithmetic; no CMSIS-NN code. Bit-exact with arm_fully_connected_s8 /
 * _per_channel_s8 on the dense weights (weight zero point 0).
 *
 * Each input row is widened once (ed_sparse_support.h); each output then walks its kept
 * groups: on the DSP path one index, one weight word, two SXTB16 and two SMLAD per group.
 */
#include "ed_sparse_support.h"

#if ED_NN_DSP && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(ED_NN_PORTABLE)
/* One kept group: index, weight word, two SXTB16, one LDRD of the widened input, two SMLAD. */
#define ED_FC_GROUP(LOAD_INDEX)             \
    LOAD_INDEX "\n\t"                       \
    "ldr %[w], [%[vp]], #4\n\t"             \
    "add %[a], %[cb], %[a], lsl #3\n\t"     \
    "sxtb16 %[t], %[w]\n\t"                 \
    "sxtb16 %[w], %[w], ror #8\n\t"         \
    "ldrd %[x], %[y], [%[a]]\n\t"           \
    "smlad %[acc], %[x], %[t], %[acc]\n\t"  \
    "smlad %[acc], %[y], %[w], %[acc]\n\t"

/* A row's kept groups in Thumb-2: an odd group first, then two per iteration (as the conv). */
#define ED_FC_ROW_ASM(LOAD_INDEX, IP)                                                                  \
    do                                                                                                 \
    {                                                                                                  \
        uint32_t w_, t_, x_, y_, a_;                                                                   \
        int32_t n_ = count;                                                                            \
        __asm__ volatile("lsrs %[n], %[n], #1\n\t"                                                     \
                         "bcc 2f\n\t" ED_FC_GROUP(LOAD_INDEX) "2:\n\t"                                 \
                         "beq 3f\n"                                                                    \
                         "1:\n\t" ED_FC_GROUP(LOAD_INDEX) ED_FC_GROUP(LOAD_INDEX)                      \
                         "subs %[n], %[n], #1\n\t"                                                     \
                         "bne 1b\n"                                                                    \
                         "3:\n\t"                                                                      \
                         : [acc] "+r"(a), [vp] "+r"(values), [ip] "+r"(IP), [n] "+r"(n_), [w] "=&r"(w_), \
                           [t] "=&r"(t_), [x] "=&r"(x_), [y] "=&r"(y_), [a] "=&r"(a_)                  \
                         : [cb] "r"(col)                                                               \
                         : "cc", "memory");                                                            \
    } while (0)
#define ED_FC_ASM 1
#else
#define ED_FC_ASM 0
#endif

static inline __attribute__((always_inline)) const int8_t *
ed_group_dot(const int16_t *col, const int8_t *values, const uint8_t *index8, const uint16_t *index16, int32_t count,
             int wide, int32_t *acc, int aligned)
{
    int32_t a = *acc;
#if ED_FC_ASM
    if (aligned) /* LDRD needs a word-aligned widened row */
    {
        if (wide)
        {
            ED_FC_ROW_ASM("ldrh %[a], [%[ip]], #2", index16);
        }
        else
        {
            ED_FC_ROW_ASM("ldrb %[a], [%[ip]], #1", index8);
        }
        *acc = a;
        return values;
    }
#else
    (void)aligned;
#endif
#if ED_NN_DSP
    const uint32_t *words = (const uint32_t *)(const void *)col;
    for (int32_t i = 0; i < count; i++)
    {
        const uint32_t *c = words + ed_sparse_index(index8, index16, i, wide) * 2;
        const uint32_t wword = ed_read_u32(values);
        values += 4;
        a = ed_smlad(c[1], ed_sxtb16_ror8(wword), ed_smlad(c[0], ed_sxtb16(wword), a));
    }
#else
    for (int32_t i = 0; i < count; i++, values += 4)
    {
        const int16_t *c = col + ed_sparse_index(index8, index16, i, wide) * 4;
        a += c[0] * values[0] + c[1] * values[1] + c[2] * values[2] + c[3] * values[3];
    }
#endif
    *acc = a;
    return values;
}

static inline __attribute__((always_inline)) const int8_t *
ed_csr_dot(const int16_t *col, const int8_t *values, const uint8_t *index8, const uint16_t *index16, int32_t count,
           int wide, int32_t *acc)
{
    int32_t a = *acc;
    for (int32_t i = 0; i < count; i++)
    {
        a += col[ed_sparse_index(index8, index16, i, wide)] * values[i];
    }
    *acc = a;
    return values + count;
}

static arm_cmsis_nn_status ed_fully_connected_sparse(const cmsis_nn_context *ctx, const cmsis_nn_fc_params *p,
                                                     const cmsis_nn_per_channel_quant_params *quant,
                                                     int32_t quant_step, const cmsis_nn_dims *input_dims,
                                                     const int8_t *input_data, const cmsis_nn_dims *filter_dims,
                                                     const ed_sparse_weights_s8 *filter, const int32_t *bias,
                                                     const cmsis_nn_dims *output_dims, int8_t *output_data,
                                                     int32_t group_size)
{
    const int32_t depth = filter_dims->n;
    const int32_t units = output_dims->c;
    if (p->filter_offset != 0 || filter_dims->c != units || !ed_sparse_weights_valid(filter, depth, group_size))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    if (ctx == NULL || ctx->buf == NULL || ctx->size < ed_fully_connected_sparse_s8_get_buffer_size(filter_dims))
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    const int aligned = ((uintptr_t)ctx->buf & 3u) == 0;
    const int pair_order = ED_NN_DSP && group_size == 4;
    const int wide = filter->index16 != NULL;
    int16_t *col = (int16_t *)ctx->buf;
    for (int32_t b = 0; b < input_dims->n; b++)
    {
        ed_sparse_fc_column(input_data + b * depth, depth, p->input_offset, col, pair_order);
        const int8_t *values = filter->values;
        const uint8_t *index8 = filter->index8;
        const uint16_t *index16 = filter->index16;
        int8_t *out = output_data + b * units;
        for (int32_t o = 0; o < units; o++)
        {
            const int32_t count = filter->row_counts[o];
            int32_t acc = bias ? bias[o] : 0;
            if (group_size == 4)
            {
                values = wide ? ed_group_dot(col, values, NULL, index16, count, 1, &acc, aligned)
                              : ed_group_dot(col, values, index8, NULL, count, 0, &acc, aligned);
            }
            else
            {
                values = wide ? ed_csr_dot(col, values, NULL, index16, count, 1, &acc)
                              : ed_csr_dot(col, values, index8, NULL, count, 0, &acc);
            }
            if (wide)
            {
                index16 += count;
            }
            else
            {
                index8 += count;
            }
            const int32_t qi = o * quant_step;
            const ed_requant_out_t q = ed_requant_out_prepare(quant->multiplier[qi], quant->shift[qi], p->output_offset);
            out[o] = ed_requant_out_s8(&q, acc, p->activation.min, p->activation.max);
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

arm_cmsis_nn_status ed_fully_connected_group_sparse_s8(const cmsis_nn_context *ctx,
                                                       const cmsis_nn_fc_params *fc_params,
                                                       const cmsis_nn_per_channel_quant_params *quant,
                                                       int32_t quant_step,
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
    return ed_fully_connected_sparse(ctx, fc_params, quant, quant_step, input_dims, input_data, filter_dims, filter,
                                     bias_data, output_dims, output_data, 4);
}

arm_cmsis_nn_status ed_fully_connected_csr_s8(const cmsis_nn_context *ctx,
                                              const cmsis_nn_fc_params *fc_params,
                                              const cmsis_nn_per_channel_quant_params *quant,
                                              int32_t quant_step,
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
    return ed_fully_connected_sparse(ctx, fc_params, quant, quant_step, input_dims, input_data, filter_dims, filter,
                                     bias_data, output_dims, output_data, 1);
}

int32_t ed_fully_connected_sparse_s8_get_buffer_size(const cmsis_nn_dims *filter_dims)
{
    return ed_sparse_padded(filter_dims->n) * (int32_t)sizeof(int16_t);
}
