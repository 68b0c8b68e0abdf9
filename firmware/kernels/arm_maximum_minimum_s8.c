/*
 * arm_maximum_minimum_s8.c - CMSIS-NN's element-wise maximum and minimum (v7.0.0 API), written
 * for edge-deploy from the public description: raw int8 values, NHWC dims, an input axis of
 * size 1 broadcast. Rows along C where both inputs are dense use the bytewise SIMD max / min.
 */
#include "ed_nn_support.h"

typedef int8_t (*ed_pick_fn)(int8_t, int8_t);

static int8_t ed_pick_max(int8_t a, int8_t b)
{
    return a > b ? a : b;
}

static int8_t ed_pick_min(int8_t a, int8_t b)
{
    return a < b ? a : b;
}

static arm_cmsis_nn_status ed_max_min_s8(const int8_t *in1, const cmsis_nn_dims *d1, const int8_t *in2,
                                         const cmsis_nn_dims *d2, int8_t *out, const cmsis_nn_dims *od, int is_max)
{
    const int32_t s1[4] = {d1->n, d1->h, d1->w, d1->c};
    const int32_t s2[4] = {d2->n, d2->h, d2->w, d2->c};
    const int32_t so[4] = {od->n, od->h, od->w, od->c};
    int32_t step1[4], step2[4];
    int32_t t1 = 1, t2 = 1;
    for (int32_t k = 3; k >= 0; k--) {
        if ((s1[k] != so[k] && s1[k] != 1) || (s2[k] != so[k] && s2[k] != 1)) {
            return ARM_CMSIS_NN_ARG_ERROR;
        }
        step1[k] = s1[k] == 1 ? 0 : t1;
        step2[k] = s2[k] == 1 ? 0 : t2;
        t1 *= s1[k];
        t2 *= s2[k];
    }
    const ed_pick_fn pick = is_max ? ed_pick_max : ed_pick_min;
    for (int32_t n = 0; n < so[0]; n++) {
        for (int32_t h = 0; h < so[1]; h++) {
            for (int32_t w = 0; w < so[2]; w++) {
                const int8_t *a = in1 + n * step1[0] + h * step1[1] + w * step1[2];
                const int8_t *b = in2 + n * step2[0] + h * step2[1] + w * step2[2];
                int32_t c = 0;
#if ED_NN_DSP
                if (step1[3] == 1 && step2[3] == 1) {
                    for (; c + 4 <= so[3]; c += 4) {
                        uint32_t wa, wb;
                        memcpy(&wa, a + c, 4);
                        memcpy(&wb, b + c, 4);
                        const uint32_t r = is_max ? ed_max4_s8(wa, wb) : ed_min4_s8(wa, wb);
                        memcpy(out + c, &r, 4);
                    }
                }
#endif
                for (; c < so[3]; c++) {
                    out[c] = pick(a[c * step1[3]], b[c * step2[3]]);
                }
                out += so[3];
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

arm_cmsis_nn_status arm_maximum_s8(const cmsis_nn_context *ctx,
                                   const int8_t *input_1_data,
                                   const cmsis_nn_dims *input_1_dims,
                                   const int8_t *input_2_data,
                                   const cmsis_nn_dims *input_2_dims,
                                   int8_t *output_data,
                                   const cmsis_nn_dims *output_dims)
{
    (void)ctx;
    return ed_max_min_s8(input_1_data, input_1_dims, input_2_data, input_2_dims, output_data, output_dims, 1);
}

arm_cmsis_nn_status arm_minimum_s8(const cmsis_nn_context *ctx,
                                   const int8_t *input_1_data,
                                   const cmsis_nn_dims *input_1_dims,
                                   const int8_t *input_2_data,
                                   const cmsis_nn_dims *input_2_dims,
                                   int8_t *output_data,
                                   const cmsis_nn_dims *output_dims)
{
    (void)ctx;
    return ed_max_min_s8(input_1_data, input_1_dims, input_2_data, input_2_dims, output_data, output_dims, 0);
}
