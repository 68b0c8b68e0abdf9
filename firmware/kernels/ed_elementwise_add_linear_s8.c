/*
 * ed_elementwise_add_linear_s8.c - ADD and SUB of two int8 vectors (ed_elementwise.h) where the
 * build found TFLite's int8 arithmetic to be, on all 65,536 input pairs, one linear form:
 *   output = SSAT8((gamma + floor(alpha * a / 2^8) + floor(beta * b / 2^8)) >> 20)
 * clamped to the activation range (kernels/ed_elementwise_add_linear_s8.py finds alpha, beta and
 * gamma by linear programming and checks every pair; a layer without such a form runs
 * ed_elementwise_add_s8's tables).
 *
 * The loop is ed_add_linear (ed_add_linear.h).
 */
#include "ed_add_linear.h"

arm_cmsis_nn_status ed_elementwise_add_linear_s8(const int8_t *input1,
                                                 const int8_t *input2,
                                                 int32_t alpha,
                                                 int32_t beta,
                                                 int32_t gamma,
                                                 int32_t alpha_single,
                                                 int32_t beta_single,
                                                 int32_t gamma_single,
                                                 int32_t act_min,
                                                 int32_t act_max,
                                                 int8_t *output,
                                                 int32_t size)
{
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
    alpha = alpha_single;
    beta = beta_single;
    gamma = gamma_single;
#else
    (void)alpha_single;
    (void)beta_single;
    (void)gamma_single;
#endif
    if (act_min == -128 && act_max == 127) {
        ed_add_linear(input1, input2, alpha, beta, gamma, act_min, act_max, output, size, 0);
    } else {
        ed_add_linear(input1, input2, alpha, beta, gamma, act_min, act_max, output, size, 1);
    }
    return ARM_CMSIS_NN_SUCCESS;
}
