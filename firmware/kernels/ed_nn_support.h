/*
 * ed_nn_support.h - arithmetic shared by edge-deploy's own CMSIS-NN s8 kernels.
 *
 * Written for edge-deploy from the TFLite int8 arithmetic (gemmlowp fixed point); no
 * CMSIS-NN code. Everything here is static inline: each kernel file stays one public
 * function, and the compiler can fold the helpers into the inner loops.
 *
 * Kernel paths:
 *   ED_NN_DSP = 1  Cortex-M4 DSP SIMD path (<arm_acle.h>: SXTB16, SMLAD, SSAT), chosen when
 *                  the compiler defines __ARM_FEATURE_DSP, or on any host when the build
 *                  defines ED_NN_EMULATE_DSP (portable emulation of those instructions, so
 *                  sanitizers can check the SIMD path's indexing on the host too).
 *   ED_NN_DSP = 0  portable C path (any compiler, the host included). Define ED_NN_PORTABLE
 *                  to force it on a DSP-capable target.
 *   ED_NN_ASM = 1  the DSP path compiled for the M4 itself (not emulated): the kernels' loops in
 *                  Thumb-2 assembly; their C forms otherwise.
 */
#ifndef ED_NN_SUPPORT_H
#define ED_NN_SUPPORT_H

#include <stdint.h>
#include <string.h>

#include "arm_nnfunctions.h"

/* Bytewise signed maximum and minimum of four int8 lanes, in C (SSUB8 + SEL on the M4). */
static inline uint32_t ed_max4_s8_c(uint32_t a, uint32_t b)
{
    uint32_t out = 0;
    for (int i = 0; i < 32; i += 8)
    {
        const int8_t x = (int8_t)((a >> i) & 0xFFu), y = (int8_t)((b >> i) & 0xFFu);
        out |= (uint32_t)(uint8_t)(x >= y ? x : y) << i;
    }
    return out;
}
static inline uint32_t ed_min4_s8_c(uint32_t a, uint32_t b)
{
    uint32_t out = 0;
    for (int i = 0; i < 32; i += 8)
    {
        const int8_t x = (int8_t)((a >> i) & 0xFFu), y = (int8_t)((b >> i) & 0xFFu);
        out |= (uint32_t)(uint8_t)(x >= y ? y : x) << i;
    }
    return out;
}

/* SMLAD in C: acc plus the products of the int16 halves of a and b, modulo 2^32. */
static inline int32_t ed_smlad_c(uint32_t a, uint32_t b, int32_t acc)
{
    const int32_t lo = (int32_t)(int16_t)(a & 0xFFFFu) * (int16_t)(b & 0xFFFFu);
    const int32_t hi = (int32_t)(int16_t)(a >> 16) * (int16_t)(b >> 16);
    return (int32_t)((uint32_t)acc + (uint32_t)lo + (uint32_t)hi);
}

#if defined(ED_NN_PORTABLE)
#define ED_NN_DSP 0
#define ed_max4_s8 ed_max4_s8_c
#define ed_min4_s8 ed_min4_s8_c
#elif defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define ED_NN_DSP 1
/* The DSP path on the M4 itself: the hand-written Thumb-2 loops (elsewhere their C forms). */
#define ED_NN_ASM 1
#include <arm_acle.h>
/* Rotate right by 8 (for SXTAB16, where GCC folds it into the rotate operand). */
static inline uint32_t ed_ror8(uint32_t x)
{
    return (x >> 8) | (x << 24);
}
/* SXTB16 with its built-in rotation: bytes 1 and 3 as two halfwords, one instruction
 * (GCC 12 does not fold a rotate into __sxtb16). */
static inline uint32_t ed_sxtb16_ror8_asm(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
#define ed_sxtb16(x) ((uint32_t)__sxtb16(x))
#define ed_sxtb16_ror8(x) ed_sxtb16_ror8_asm(x)
#define ed_smlad(a, b, acc) __smlad((a), (b), (acc))
#define ed_sadd16(a, b) ((uint32_t)__sadd16((a), (b)))
#define ed_smlabb(a, b, acc) __smlabb((a), (b), (acc))
#define ed_smlatt(a, b, acc) __smlatt((a), (b), (acc))
#define ed_sxtab16(acc, x) ((uint32_t)__sxtab16((acc), (x)))
/* SXTAB16 with its built-in rotation (GCC 12 emits a separate ROR for the intrinsic form). */
static inline uint32_t ed_sxtab16_ror8_asm(uint32_t acc, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(x));
    return r;
}
#define ed_sxtab16_ror8(acc, x) ed_sxtab16_ror8_asm((acc), (x))
/* Bytewise signed maximum: SSUB8 sets the GE flags that SEL reads. */
static inline uint32_t ed_max4_s8(uint32_t a, uint32_t b)
{
    (void)__ssub8(a, b);
    return (uint32_t)__sel(a, b);
}
/* Bytewise signed minimum: where a >= b (GE set) SEL takes b. */
static inline uint32_t ed_min4_s8(uint32_t a, uint32_t b)
{
    (void)__ssub8(a, b);
    return (uint32_t)__sel(b, a);
}
#elif defined(ED_NN_EMULATE_DSP)
#define ED_NN_DSP 1
#define ed_max4_s8 ed_max4_s8_c
#define ed_min4_s8 ed_min4_s8_c
/* Host emulation of the DSP instructions the SIMD path uses. */
static inline uint32_t ed_pack16(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
}
static inline uint32_t ed_sxtb16(uint32_t x)
{
    return ed_pack16((int8_t)(x & 0xFFu), (int8_t)((x >> 16) & 0xFFu));
}
static inline uint32_t ed_sxtb16_ror8(uint32_t x)
{
    return ed_pack16((int8_t)((x >> 8) & 0xFFu), (int8_t)((x >> 24) & 0xFFu));
}
#define ed_smlad ed_smlad_c
static inline uint32_t ed_sadd16(uint32_t a, uint32_t b)
{
    return ed_pack16((int16_t)(a & 0xFFFFu) + (int16_t)(b & 0xFFFFu), (int16_t)(a >> 16) + (int16_t)(b >> 16));
}
static inline uint32_t ed_sxtab16(uint32_t acc, uint32_t x)
{
    return ed_pack16((int16_t)(acc & 0xFFFFu) + (int8_t)(x & 0xFFu), (int16_t)(acc >> 16) + (int8_t)((x >> 16) & 0xFFu));
}
static inline uint32_t ed_sxtab16_ror8(uint32_t acc, uint32_t x)
{
    return ed_sxtab16(acc, (x >> 8) | (x << 24));
}
static inline int32_t ed_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)((int32_t)(int16_t)(a & 0xFFFFu) * (int16_t)(b & 0xFFFFu)));
}
static inline int32_t ed_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)((int32_t)(int16_t)(a >> 16) * (int16_t)(b >> 16)));
}
#else
#define ED_NN_DSP 0
#define ed_max4_s8 ed_max4_s8_c
#define ed_min4_s8 ed_min4_s8_c
#endif

#ifndef ED_NN_ASM
#define ED_NN_ASM 0
#endif

/* SMLAD on any path: the instruction (or its emulation) on the DSP path, its C form on the
 * portable one (for loops over int16 pairs that both paths share). */
#if ED_NN_DSP
#define ed_dot2(a, b, acc) ed_smlad((a), (b), (acc))
#else
#define ed_dot2(a, b, acc) ed_smlad_c((a), (b), (acc))
#endif

/* Four bytes from any address as one word (unaligned LDR on the M4, memcpy elsewhere). */
static inline uint32_t ed_read_u32(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline void ed_write_u32(void *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

/* Both halfwords set to value (the input offset, in [-255, 255]). */
static inline uint32_t ed_dup16(int32_t value)
{
    return ((uint32_t)value & 0xFFFFu) | ((uint32_t)value << 16);
}

/* gemmlowp SaturatingRoundingDoublingHighMul without the one saturating case
 * (a == b == INT32_MIN), which a positive Q31 multiplier never reaches. gemmlowp adds a nudge
 * of 2^30 (or 1 - 2^30 for a negative product) and divides by 2^31 truncating toward zero;
 * for either sign that equals floor((a * b + 2^30) / 2^31), one SMULL, an add and a shift. */
static inline int32_t ed_doubling_high_mult(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * (int64_t)b + (1LL << 30)) >> 31);
}

/* Same, saturating (gemmlowp semantics), for the softmax fixed-point maths. */
static inline int32_t ed_sat_doubling_high_mult(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN)
    {
        return INT32_MAX;
    }
    return ed_doubling_high_mult(a, b);
}

/* gemmlowp RoundingDivideByPOT: divide by 2^exponent, rounding half away from zero. */
static inline int32_t ed_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)((1u << exponent) - 1u); /* exponent in [0, 31] */
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * 2^left_shift with two's-complement wrap, as TFLite's int32 multiply does on every
 * target it runs on; written on unsigned so it is defined behaviour in C. */
static inline int32_t ed_shift_left_wrap(int32_t x, int32_t left_shift)
{
    return (int32_t)((uint32_t)x << left_shift);
}

/* TFLite MultiplyByQuantizedMultiplier: val * multiplier * 2^shift with the build's
 * rounding convention (double rounding by default). */
static inline int32_t ed_requantize(int32_t val, int32_t multiplier, int32_t shift)
{
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
    const int32_t total_shift = 31 - shift;
    const int64_t rounded = (int64_t)val * multiplier + (1LL << (total_shift - 1));
    return (int32_t)(rounded >> total_shift);
#else
    const int32_t left_shift = shift > 0 ? shift : 0;
    const int32_t right_shift = shift > 0 ? 0 : -shift;
    return ed_divide_by_pot(ed_doubling_high_mult(ed_shift_left_wrap(val, left_shift), multiplier), right_shift);
#endif
}

/* One output channel's requantization, prepared once per channel and applied to many
 * accumulators (ed_requant_apply). For a right shift of 1..31 and a non-negative multiplier
 * (what TFLite's QuantizeMultiplier gives for conv and fully connected layers) both roundings
 * collapse into one 64-bit multiply-add and a shift of its high word:
 *   double: floor((acc * m + 2^30 + 2^(30+e) - [acc < 0] * 2^31) / 2^(31+e))
 *   single: floor((acc * m + 2^(30+e)) / 2^(31+e))
 * (double: SaturatingRoundingDoublingHighMul is floor((p + 2^30) / 2^31), RoundingDivideByPOT
 * is floor((x + 2^(e-1) - [x < 0]) / 2^e), and two nested floor divisions are one; [x < 0] may
 * be replaced by [acc < 0] because they differ only where x == 0 and the result is 0 either
 * way). About 7 instructions instead of about 25; other shifts take ed_requantize. */
typedef struct
{
    int32_t mult;     /* Q31 multiplier */
    uint32_t round_lo; /* rounding term of the fast path, low and high words */
    int32_t round_hi;
    int32_t hi_shift; /* e - 1 for the fast path, -1 for ed_requantize */
    int32_t shift;    /* TFLite shift (> 0: left), for ed_requantize */
} ed_requant_t;

static inline ed_requant_t ed_requant_prepare(int32_t multiplier, int32_t shift)
{
    ed_requant_t q = {multiplier, 0u, 0, -1, shift};
    if (multiplier >= 0 && shift <= -1 && shift >= -31)
    {
        const int32_t e = -shift;
#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)
        const uint64_t round = (uint64_t)1 << (30 + e);
#else
        const uint64_t round = ((uint64_t)1 << 30) + ((uint64_t)1 << (30 + e));
#endif
        q.round_lo = (uint32_t)round;
        q.round_hi = (int32_t)(round >> 32);
        q.hi_shift = e - 1;
    }
    return q;
}

/* The fast path alone, for callers that checked hi_shift >= 0 once per channel. */
static inline int32_t ed_requant_fast(const ed_requant_t *q, int32_t acc)
{
    int64_t round = (int64_t)(((uint64_t)(uint32_t)q->round_hi << 32) | q->round_lo);
#if !defined(CMSIS_NN_USE_SINGLE_ROUNDING)
    round -= (int64_t)((uint32_t)acc & 0x80000000u);
#endif
    const int64_t v = (int64_t)acc * q->mult + round;
    return (int32_t)(v >> 32) >> q->hi_shift;
}

static inline int32_t ed_requant_apply(const ed_requant_t *q, int32_t acc)
{
    if (q->hi_shift < 0)
    {
        return ed_requantize(acc, q->mult, q->shift);
    }
    return ed_requant_fast(q, acc);
}

/* Requantization to int8 output for one channel: the fast path also folds the output offset
 * into the rounding term's high word (offset * 2^(e-1), exact because the shift that follows
 * is by e - 1), so an output costs the multiply-add, a shift, SSAT and the activation clamp. */
typedef struct
{
    ed_requant_t q;
    int32_t offset; /* output offset, for the slow path */
} ed_requant_out_t;

static inline ed_requant_out_t ed_requant_out_prepare(int32_t multiplier, int32_t shift, int32_t offset)
{
    ed_requant_out_t r = {ed_requant_prepare(multiplier, shift), offset};
    /* |high word| <= 2^30 and |offset * 2^(e-1)| <= 2^29 for e <= 23: no overflow. */
    if (r.q.hi_shift >= 0 && r.q.hi_shift <= 22)
    {
        r.q.round_hi += (int32_t)((uint32_t)offset << r.q.hi_shift);
    }
    else
    {
        r.q.hi_shift = -1;
    }
    return r;
}

/* Saturated to [-128, 127] (SSAT on the M4). */
static inline int32_t ed_sat8(int32_t v)
{
#if ED_NN_DSP && !defined(ED_NN_EMULATE_DSP) && !defined(ED_NN_PORTABLE)
    return __ssat(v, 8);
#else
    return v < -128 ? -128 : (v > 127 ? 127 : v);
#endif
}

static inline int8_t ed_requant_out_s8(const ed_requant_out_t *r, int32_t acc, int32_t act_min, int32_t act_max)
{
    int32_t v;
    if (r->q.hi_shift < 0)
    {
        v = ed_requantize(acc, r->q.mult, r->q.shift) + r->offset;
        v = v < -128 ? -128 : (v > 127 ? 127 : v);
    }
    else
    {
        v = ed_sat8(ed_requant_apply(&r->q, acc));
    }
    v = v < act_min ? act_min : v;
    v = v > act_max ? act_max : v;
    return (int8_t)v;
}

/* Clamped to [act_min, act_max] (within [-128, 127]) as int8. */
static inline int8_t ed_clamp_s8(int32_t v, int32_t act_min, int32_t act_max)
{
    v = v < act_min ? act_min : v;
    v = v > act_max ? act_max : v;
    return (int8_t)v;
}

/* Requantized accumulator plus output offset, clamped to the activation range. */
static inline int8_t ed_requantize_to_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t output_offset,
                                         int32_t act_min, int32_t act_max)
{
    int32_t out = ed_requantize(acc, multiplier, shift) + output_offset;
    out = out < act_min ? act_min : out;
    out = out > act_max ? act_max : out;
    return (int8_t)out;
}

static inline int32_t ed_min_i32(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

static inline int32_t ed_max_i32(int32_t a, int32_t b)
{
    return a > b ? a : b;
}

#endif /* ED_NN_SUPPORT_H */
