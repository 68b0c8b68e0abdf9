"""Frames of the edge-deploy serial protocol (docs/protocol.md), host side.

    0xA5 0x5A | type u8 | seq u8 | length u16 LE | header CRC-8 | payload | CRC-32 LE

The header CRC-8 (poly 0x07, init 0) covers type, seq and length; the CRC-32 (``zlib.crc32``)
covers type, seq, length and payload. :class:`FrameDecoder` finds frames in any byte stream,
skipping garbage and recovering from corrupt or truncated frames.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SYNC = b"\xa5\x5a"
HEADER_BYTES = 7
TRAILER_BYTES = 4
# The longest payload the host sends or accepts before a device's INFO says otherwise: the runtime's
# default request buffer (ED_MAX_PAYLOAD). A device reports its own in INFO (max_payload, 256 to
# 65535; a generated model's firmware takes 256), and with INFO stream=1 its LOAD_INPUT and
# RUN_BATCH requests and its tensor replies may be as long as the length field holds.
MAX_PAYLOAD = 4096
# The request payload every device takes (ED_MAX_PAYLOAD's minimum), INFO or not.
MIN_DEVICE_PAYLOAD = 256
LENGTH_FIELD_MAX = 0xFFFF
REPLY = 0x80
# Requests use seq 1..255; seq 0 marks frames that answer no request (BOOT, FAULT, and a
# TRUNCATED error for a header cut short, whose seq the device could not read).
NO_REQUEST_SEQ = 0

# Requests (host -> device); the reply has the same seq and type | REPLY.
INFO = 0x01
ECHO = 0x02
MODEL_INFO = 0x03
LOAD_INPUT = 0x04
RUN = 0x05
READ_OUTPUT = 0x06
READ_PROFILE = 0x07
EXIT = 0x08
SPIN = 0x09
RUN_BATCH = 0x0A
RESET_STATE = 0x0B  # a stateful model's variable tensors back to their start (INFO reset_state=1)
# Requests whose payload a stream=1 device takes straight into the input tensor.
STREAMED_REQUESTS = frozenset({LOAD_INPUT, RUN_BATCH})

# Sent by the device on its own.
BOOT = 0xF0
FAULT = 0xF1
ERROR = 0xFF

# ERROR codes (first payload byte of an ERROR frame).
ERR_BAD_CRC = 1
ERR_TRUNCATED = 2
ERR_TOO_LONG = 3
ERR_UNKNOWN_TYPE = 4
ERR_BAD_REQUEST = 5
ERR_NO_MODEL = 6
ERR_OUT_OF_RANGE = 7
ERR_MODEL_FAILED = 8

ERROR_NAMES = {
    ERR_BAD_CRC: "BAD_CRC",
    ERR_TRUNCATED: "TRUNCATED",
    ERR_TOO_LONG: "TOO_LONG",
    ERR_UNKNOWN_TYPE: "UNKNOWN_TYPE",
    ERR_BAD_REQUEST: "BAD_REQUEST",
    ERR_NO_MODEL: "NO_MODEL",
    ERR_OUT_OF_RANGE: "OUT_OF_RANGE",
    ERR_MODEL_FAILED: "MODEL_FAILED",
}
# Errors that mean "your frame did not arrive intact": the request is sent again.
RESEND_ERRORS = frozenset({ERR_BAD_CRC, ERR_TRUNCATED})


def crc8(data: bytes) -> int:
    """CRC-8 with polynomial 0x07 and initial value 0 (the frame header check)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


@dataclass(frozen=True)
class Frame:
    """One decoded frame."""

    type: int
    seq: int
    payload: bytes


def encode_frame(frame_type: int, seq: int, payload: bytes = b"", *, max_payload: int = MAX_PAYLOAD) -> bytes:
    """Return the bytes of one frame. ``max_payload`` is the receiver's limit (a device's INFO
    max_payload; at most LENGTH_FIELD_MAX). Raises ValueError if the payload is over it."""
    limit = min(max_payload, LENGTH_FIELD_MAX)
    if len(payload) > limit:
        raise ValueError(f"payload of {len(payload)} bytes is over the {limit}-byte maximum")
    fields = struct.pack("<BBH", frame_type & 0xFF, seq & 0xFF, len(payload))
    crc = zlib.crc32(fields + payload) & 0xFFFFFFFF
    return SYNC + fields + bytes([crc8(fields)]) + payload + struct.pack("<I", crc)


class FrameDecoder:
    """Incremental frame parser: ``feed(bytes)`` returns the complete frames found so far.

    Bytes that cannot start a frame are skipped; a header or payload that fails its CRC is
    dropped one byte at a time, so a good frame hidden after garbage or inside the bytes of a
    truncated frame is still found. ``skipped_bytes`` and ``bad_frames`` count what was dropped.
    """

    def __init__(self, max_payload: int = MAX_PAYLOAD) -> None:
        # Longer frames are taken as false headers; raise it to a device's INFO max_payload.
        self.max_payload = max_payload
        self._buffer = bytearray()
        self.skipped_bytes = 0
        self.bad_frames = 0

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return the frames completed by them, in order."""
        self._buffer += data
        frames = []
        while True:
            frame = self._next_frame()
            if frame is None:
                return frames
            frames.append(frame)

    def pending_bytes(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buffer)

    def resync(self) -> list[Frame]:
        """Give up on the frame being waited for (its sender went quiet, so it was truncated):
        drop its first byte and look for frames in what is held. Returns the frames found."""
        if not self._buffer:
            return []
        self.bad_frames += 1
        self._drop(1)
        return self.feed(b"")

    def _drop(self, count: int) -> None:
        del self._buffer[:count]
        self.skipped_bytes += count

    def _next_frame(self) -> Frame | None:
        buffer = self._buffer
        while True:
            start = buffer.find(SYNC)
            if start < 0:
                # Keep a trailing 0xA5: it may be the first half of a sync pair.
                keep = 1 if buffer[-1:] == SYNC[:1] else 0
                self._drop(len(buffer) - keep)
                return None
            if start:
                self._drop(start)
            if len(buffer) < HEADER_BYTES:
                return None
            fields = bytes(buffer[2:6])
            frame_type, seq, length = struct.unpack("<BBH", fields)
            if crc8(fields) != buffer[6] or length > self.max_payload:
                self.bad_frames += 1
                self._drop(1)
                continue
            total = HEADER_BYTES + length + TRAILER_BYTES
            if len(buffer) < total:
                return None
            payload = bytes(buffer[HEADER_BYTES : HEADER_BYTES + length])
            (sent_crc,) = struct.unpack("<I", buffer[total - TRAILER_BYTES : total])
            if zlib.crc32(fields + payload) & 0xFFFFFFFF != sent_crc:
                self.bad_frames += 1
                self._drop(1)
                continue
            del buffer[:total]
            return Frame(frame_type, seq, payload)
