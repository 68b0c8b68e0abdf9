/*
 * ed_elementwise_add_linear_s8.c - ADD and SUB of two int8 vectors (ed_elementwise.h) where the
 * build found TFLite's int8 arithmetic to be, on all 65,536 input pairs, one linear form:
 *   output = SSAT8((gamma + floor(alpha * a / 2^8) + floor(beta * b / 2^8)) >> 20)
 * clamped to the activation range (kernels/ed_elementwise_add_linear_s8.py finds alpha, beta and
 * gamma by linear programming and checks every pair; a layer without such a form runs
 * ed_elementwise_add_s8's tables).
 *
 * The loop, ed_add_linear: on the DSP path a word of four inputs masked with 0xFF00FF00 holds
 * bytes 1 and 3 as the halfwords 256 * a1 and 256 * a3 (and shifted left by 8 first, bytes 0
 * and 2), which SMLAWB / SMLAWT multiply by a 32-bit coefficient, keeping bits 16..47 of the
 * product: each element is two multiply-accumulates, a shift folded into SSAT, and a quarter of
 * a BFI pack. The ADDs fused after a convolution (ed_convolve_add_s8, ed_convolve_winograd_add_s8)
 * call this kernel on their staged outputs (ed_conv_add_run, ed_convolve.h).
 */
#include "ed_binary.h"
#include "ed_convolve.h"
#include "ed_elementwise.h"

/* acc + floor(coef * bottom (top) halfword of lanes / 2^16): SMLAWB (SMLAWT). */
#if ED_NN_ASM
#define ed_smlawb(coef, lanes, acc) __smlawb((int32_t)(coef), (int32_t)(lanes), (acc))
#define ed_smlawt(coef, lanes, acc) __smlawt((int32_t)(coef), (int32_t)(lanes), (acc))
#else
static inline int32_t ed_smlawb(int32_t coef, uint32_t lanes, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(int32_t)(((int64_t)coef * (int16_t)(lanes & 0xFFFFu)) >> 16));
}
static inline int32_t ed_smlawt(int32_t coef, uint32_t lanes, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(int32_t)(((int64_t)coef * (int16_t)(lanes >> 16)) >> 16));
}
#endif

/* One output before the activation clamp, from the form's value. */
static inline int32_t ed_add_linear_out(int32_t v)
{
    return ed_sat8(v >> ED_ADD_LINEAR_SHIFT);
}


#if ED_NN_ASM
/* Four outputs from the next four bytes of each input (the pointers step on), before the
 * activation clamp: two loads, four masks, eight SMLAW, four SSAT with the shift, three BFI. */
static inline __attribute__((always_inline)) uint32_t ed_add_linear4(const int8_t **pa, const int8_t **pb,
                                                                     int32_t alpha, int32_t beta, int32_t gamma,
                                                                     uint32_t mask)
{
    uint32_t wa, wb, a02, b02, out;
    __asm__("ldr %[wa], [%[pa]], #4\n\t"
            "ldr %[wb], [%[pb]], #4\n\t"
            "and %[a02], %[mask], %[wa], lsl #8\n\t"
            "and %[b02], %[mask], %[wb], lsl #8\n\t"
            "and %[wa], %[wa], %[mask]\n\t"
            "and %[wb], %[wb], %[mask]\n\t"
            "smlawb %[out], %[alpha], %[a02], %[gamma]\n\t"
            "smlawb %[out], %[beta], %[b02], %[out]\n\t"
            "smlawt %[a02], %[alpha], %[a02], %[gamma]\n\t"
            "smlawt %[a02], %[beta], %[b02], %[a02]\n\t"
            "smlawb %[b02], %[alpha], %[wa], %[gamma]\n\t"
            "smlawb %[b02], %[beta], %[wb], %[b02]\n\t"
            "smlawt %[wa], %[alpha], %[wa], %[gamma]\n\t"
            "smlawt %[wa], %[beta], %[wb], %[wa]\n\t"
            "ssat %[out], #8, %[out], asr #20\n\t"
            "ssat %[b02], #8, %[b02], asr #20\n\t"
            "ssat %[a02], #8, %[a02], asr #20\n\t"
            "ssat %[wa], #8, %[wa], asr #20\n\t"
            "bfi %[out], %[b02], #8, #8\n\t"
            "bfi %[out], %[a02], #16, #8\n\t"
            "bfi %[out], %[wa], #24, #8"
            : [wa] "=&r"(wa), [wb] "=&r"(wb), [a02] "=&r"(a02), [b02] "=&r"(b02), [out] "=&r"(out),
              [pa] "+r"(*pa), [pb] "+r"(*pb)
            : [alpha] "r"(alpha), [beta] "r"(beta), [gamma] "r"(gamma), [mask] "r"(mask)
            : "memory");
    return out;
}
#elif ED_NN_DSP
/* The same in C (the host's emulation of the DSP path). */
static inline uint32_t ed_add_linear4(const int8_t **pa, const int8_t **pb, int32_t alpha, int32_t beta,
                                      int32_t gamma, uint32_t mask)
{
    const uint32_t wa = ed_read_u32(*pa), wb = ed_read_u32(*pb);
    *pa += 4;
    *pb += 4;
    const uint32_t a02 = (wa << 8) & mask, a13 = wa & mask;
    const uint32_t b02 = (wb << 8) & mask, b13 = wb & mask;
    const int32_t v0 = ed_add_linear_out(ed_smlawb(beta, b02, ed_smlawb(alpha, a02, gamma)));
    const int32_t v1 = ed_add_linear_out(ed_smlawb(beta, b13, ed_smlawb(alpha, a13, gamma)));
    const int32_t v2 = ed_add_linear_out(ed_smlawt(beta, b02, ed_smlawt(alpha, a02, gamma)));
    const int32_t v3 = ed_add_linear_out(ed_smlawt(beta, b13, ed_smlawt(alpha, a13, gamma)));
    return ((uint32_t)v0 & 0xFFu) | (((uint32_t)v1 & 0xFFu) << 8) | (((uint32_t)v2 & 0xFFu) << 16) |
           ((uint32_t)v3 << 24);
}
#endif

/* The loop, with (clamp) or without the activation clamp (a full [-128, 127] range): eight
 * elements a turn on the DSP path, then one at a time. */
static inline __attribute__((always_inline)) void ed_add_linear(const int8_t *input1, const int8_t *input2,
                                                                int32_t alpha, int32_t beta, int32_t gamma,
                                                                int32_t act_min, int32_t act_max, int8_t *output,
                                                                int32_t size, int clamp)
{
    const int8_t *const end = input1 + size;
#if ED_NN_DSP
    const uint32_t lo = ed_splat4_s8(act_min);
    const uint32_t hi = ed_splat4_s8(act_max);
    const uint32_t mask = 0xFF00FF00u;
    /* Eight a turn (the loop's compare and branch once per eight), then four, then one. */
    const int8_t *const end8 = input1 + (size & ~7);
    while (input1 != end8) {
        uint32_t out0 = ed_add_linear4(&input1, &input2, alpha, beta, gamma, mask);
        uint32_t out1 = ed_add_linear4(&input1, &input2, alpha, beta, gamma, mask);
        if (clamp) {
            out0 = ed_clamp4_s8(out0, lo, hi);
            out1 = ed_clamp4_s8(out1, lo, hi);
        }
        ed_write_u32(output, out0);
        ed_write_u32(output + 4, out1);
        output += 8;
    }
    if (size & 4) {
        uint32_t out = ed_add_linear4(&input1, &input2, alpha, beta, gamma, mask);
        ed_write_u32(output, clamp ? ed_clamp4_s8(out, lo, hi) : out);
        output += 4;
    }
#endif
    while (input1 != end) {
        const uint32_t a = (uint32_t)*input1++ << 8, b = (uint32_t)*input2++ << 8;
        const int32_t v = ed_add_linear_out(ed_smlawb(beta, b, ed_smlawb(alpha, a, gamma)));
        *output++ = clamp ? ed_clamp_s8(v, act_min, act_max) : (int8_t)v;
    }
}

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

void ed_conv_add_run(const ed_conv_add_t *add, const int8_t *staged, int32_t at, int8_t *output, int32_t size)
{
    (void)ed_elementwise_add_linear_s8(staged, add->other + at, add->alpha, add->beta, add->gamma, add->alpha_single,
                                       add->beta_single, add->gamma_single, add->act_min, add->act_max, output + at,
                                       size);
}
