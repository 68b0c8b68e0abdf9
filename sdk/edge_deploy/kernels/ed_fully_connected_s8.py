"""``ed_fully_connected_s8``: edge-deploy's fully connected layer (firmware/include/ed_fully_connected_packed.h):
five output rows per pass (ROWS) over weights interleaved at build time, one LDM per four weights of
five rows; each weight word's even bytes stored offset by 128 so the raw word is one SMLAD operand
and one SXTB16 makes the other (the input row widened once per row into the pair of int16 words
that match them); the input offset folded into the bias; per-tensor or per-channel requantization.
It also runs a pointwise convolution (1 x 1, stride 1, no padding) as the fully connected layer it
is over its positions: classifier heads over one position (person_detect's), where the convolution
kernels' four positions per pass would compute one four times. Over more positions it reads every
weight once per position where the convolution kernels read it once per four, which a flash with
wait states makes dear: the cost model prices that at the board's flash (person_detect's 3 x 3
pointwise layers: chosen at 0 wait states, not on the L4R5)."""

from __future__ import annotations

import numpy as np

from edge_deploy.kernels._layers import fully_connected
from edge_deploy.kernels._weighted import (fc_fields, fc_rows, folded_bias, pointwise_refusal, raw_accumulators_fit,
                                           requant_per_channel, weight_sums, weighted_context, weights_comment,
                                           zero_weight_offset)
from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall

ROWS = 5  # output rows per pass (ED_FC_ROWS in ed_fully_connected_packed.h)


def pack_weights(w: np.ndarray) -> np.ndarray:
    """(units, depth) int8 weights as the kernel reads them: depth padded with zeros to a multiple
    of 4, units with zero rows to a multiple of ROWS; per block of ROWS rows, per group of four
    inputs, one word per row, its bytes w0 + 128, w1, w2 + 128, w3 (the even ones as uint8, the
    odd ones as int8: ed_fully_connected_packed.h)."""
    units, depth = w.shape
    d4, u_padded = -(-depth // 4) * 4, -(-units // ROWS) * ROWS
    padded = np.zeros((u_padded, d4), dtype=np.uint8)
    padded[:units, :depth] = np.asarray(w, dtype=np.int8).view(np.uint8)
    padded[:, 0::2] ^= 0x80  # w + 128 as uint8
    blocks = padded.reshape(u_padded // ROWS, ROWS, d4 // 4, 4).transpose(0, 2, 1, 3)  # (block, group, row, byte)
    return np.ascontiguousarray(blocks).view("<u4").reshape(-1).astype(np.uint32)


def packed_bias(folded: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The folded bias plus 128 x the row's odd-position weights, what the packed words' encoding
    subtracts (ed_fully_connected_packed.h), zero padded to blocks of ROWS; int32, modulo 2^32 like
    the kernel's sums."""
    units = len(folded)
    padded = np.zeros(-(-units // ROWS) * ROWS, dtype=np.int64)
    padded[:units] = np.asarray(folded, dtype=np.int64) + 128 * np.asarray(w, dtype=np.int64)[:, 1::2].sum(axis=1)
    return ((padded + 2**31) % 2**32 - 2**31).astype(np.int32)


class EdFullyConnectedS8(KernelSpec):
    name = "ed_fully_connected_s8"
    op = "fully_connected"
    ops = ("fully_connected", "conv2d")  # a pointwise convolution as its fully connected layer (applies())
    header = "ed_fully_connected_packed.h"
    code_bytes = 3072  # 2,854 B measured (arm-none-eabi-nm -S of ed_fc_run and the entry, -O2), rounded up
    # Per input row: each block of ROWS output rows' groups of four inputs (the LDM / SMLAD loop),
    # each block (the sums' set-up, the per-tensor requantization, the stores), each group of four
    # inputs widened, each output of a per-channel layer (its requantization constants made per
    # output); per call.
    cost_terms = ("block_groups", "blocks", "input_groups", "channel_outputs", "calls")
    calibration = tuple(fully_connected(d, u, r, **extra) for d, u, r, extra in (
        (640, 128, 1, {}), (128, 128, 1, {}), (128, 8, 1, {}), (8, 128, 1, {}), (128, 640, 1, {}),
        (64, 12, 1, {"per_tensor": True}), (256, 2, 1, {"per_tensor": True}), (448, 100, 1, {}), (301, 17, 1, {}),
        (64, 64, 2, {"per_tensor": True}), (128, 128, 1, {"per_tensor": True}), (640, 128, 1, {"per_tensor": True}),
        # Several rows: pointwise convolutions over their positions (person_detect's 3 x 3 ones).
        (128, 256, 9, {}), (64, 40, 4, {"per_tensor": True}), (256, 64, 6, {})))

    def serves(self, op_kind: str) -> bool:
        return op_kind in self.ops

    def applies(self, call: LayerCall) -> str | None:
        why = (pointwise_refusal(call) if call.kind == "conv2d" else None) or zero_weight_offset(call)
        if why:
            return why
        sums, abs_sums = weight_sums(call)
        if not raw_accumulators_fit(folded_bias(call, sums), abs_sums):
            return "the bias with the input offset folded in could leave int32"
        return None

    def scratch_bytes(self, call: LayerCall) -> int:
        # The input row widened to int16 (ed_fc_widen), then the group that ends the loop.
        return 2 * -(-int(call.weight_rows.shape[1]) // 4) * 4 + 8

    def cost_features(self, call: LayerCall) -> list[float]:
        rows = fc_rows(call)
        units, depth = (int(v) for v in call.weight_rows.shape)
        blocks, groups = -(-units // ROWS), -(-depth // 4)
        per_channel = requant_per_channel(call)
        return [rows * blocks * groups, rows * blocks, rows * groups, rows * units * per_channel, 1]

    def context(self, call: LayerCall) -> KernelContext:
        sums, _ = weight_sums(call)
        w = np.asarray(call.weight_rows)
        weights = CArray("weights_packed", "uint32_t", pack_weights(w),
                         f"{weights_comment(call)}, packed: five rows interleaved word by word, even bytes + 128 "
                         "(ed_fully_connected_packed.h)")
        bias = CArray("bias_folded", "int32_t", packed_bias(folded_bias(call, sums), w),
                      "bias + input_offset * sum of the row's weights + 128 * sum of its odd-position weights, "
                      "zero padded to blocks of 5")
        ctx = weighted_context(call, [weights], bias=bias)
        if call.kind == "conv2d":
            fc_fields(call, ctx)  # a pointwise convolution's call: rows of its positions
        return ctx


KERNEL = EdFullyConnectedS8()
