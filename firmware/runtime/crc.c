/* CRC-32 (IEEE, reflected 0xEDB88320: the same value as zlib.crc32) with a 16-entry table, and
 * the CRC-8 (poly 0x07) of frame headers. A nibble table keeps flash small (64 bytes) and is
 * fast enough for a serial link. */
#include "ed_protocol.h"

static const uint32_t crc32_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
    0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

/* Start with crc = 0xFFFFFFFF and xor the result with 0xFFFFFFFF at the end. */
uint32_t ed_crc32_update(uint32_t crc, const uint8_t *data, uint32_t length)
{
    for (uint32_t i = 0; i < length; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ crc32_nibble[crc & 0xFu];
        crc = (crc >> 4) ^ crc32_nibble[crc & 0xFu];
    }
    return crc;
}

uint8_t ed_crc8(const uint8_t *data, uint32_t length)
{
    uint8_t crc = 0;
    for (uint32_t i = 0; i < length; i++) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; bit++) {
            const uint32_t shifted = (uint32_t)crc << 1;
            crc = (uint8_t)((crc & 0x80u) ? shifted ^ 0x07u : shifted);
        }
    }
    return crc;
}
