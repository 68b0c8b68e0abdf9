/*
 * ed_binary.h - what ed_elementwise_add_s8.c and ed_elementwise_mul_s8.c share: four outputs
 * packed into a word and clamped to the activation range four bytes at a time.
 */
#ifndef ED_BINARY_H
#define ED_BINARY_H

#include "ed_nn_support.h"

/* Four values already in [-128, 127] as the bytes of a word, v0 lowest: two halfword packs
 * (PKHBT) and one masked merge. */
static inline uint32_t ed_pack4_s8(int32_t v0, int32_t v1, int32_t v2, int32_t v3)
{
    const uint32_t p02 = ((uint32_t)v0 & 0xFFFFu) | ((uint32_t)v2 << 16);
    const uint32_t p13 = ((uint32_t)v1 & 0xFFFFu) | ((uint32_t)v3 << 16);
    return (p02 & 0x00FF00FFu) | ((p13 & 0x00FF00FFu) << 8);
}

/* The activation range as four bytes each, for ed_clamp4_s8. */
static inline uint32_t ed_splat4_s8(int32_t value)
{
    return (uint32_t)(uint8_t)value * 0x01010101u;
}

/* Each byte of word clamped to [low, high] (ed_splat4_s8 words). */
static inline uint32_t ed_clamp4_s8(uint32_t word, uint32_t low, uint32_t high)
{
    return ed_min4_s8(ed_max4_s8(word, low), high);
}

#endif /* ED_BINARY_H */
