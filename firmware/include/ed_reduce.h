/*
 * ed_reduce.h - edge-deploy's reduction kernels. CMSIS-NN has no MEAN; TFLite models end with one
 * whenever Keras' GlobalAveragePooling or a reduce_mean was converted.
 */
#ifndef ED_REDUCE_H
#define ED_REDUCE_H

#include <stdint.h>

#include "arm_nn_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** MEAN, int8 (TFLite MEAN as ai-edge-litert computes it: QuantizedMeanOrSum). The input is a
 *  row-major tensor of shape dims (n, h, w, c); every axis whose bit is set in axis_mask
 *  (1: n, 2: h, 4: w, 8: c) is reduced. For each output element, in row-major order of the
 *  shape with the reduced axes set to 1 (also the layout without them, keep_dims false):
 *  the int32 sum (wrapping) of input + input_offset over the reduced elements, requantized
 *  with (multiplier, shift) - input_scale / output_scale with the element count folded in -
 *  plus output_offset, saturated to int8. */
arm_cmsis_nn_status ed_mean_s8(const int8_t *input,
                               const cmsis_nn_dims *dims,
                               uint32_t axis_mask,
                               int32_t input_offset,
                               int32_t output_offset,
                               int32_t multiplier,
                               int32_t shift,
                               int8_t *output);

/** REDUCE_MAX, int8: the largest raw value over the axes set in axis_mask (as ed_mean_s8), for
 *  each output element in row-major order. */
arm_cmsis_nn_status ed_reduce_max_s8(const int8_t *input, const cmsis_nn_dims *dims, uint32_t axis_mask,
                                     int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* ED_REDUCE_H */
