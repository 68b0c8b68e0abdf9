"""When a convolution kernel can fuse the max pool after it (window 2, stride 2 along the row)
exactly: the rule both ``*_maxpool2_s8`` kernels share."""

from __future__ import annotations

import numpy as np

from edge_deploy.ctext import comment_text, dims, shape_text
from edge_deploy.kernels.base import KernelContext, LayerCall
from edge_deploy.ops import kernel_params


def fusable_max_pool(call: LayerCall) -> str | None:
    """None when ``call.epilogue`` is a max pool the kernel can take in bit-exactly, else why not.

    The pool must have window 1x2, stride 1x2, no padding and no clamp of its own, share the
    convolution's quantization, and every requantization must be a positive multiplier with a
    right shift (then requantization is monotonic and the maximum can be taken before it); an
    activation threshold (activation pruning), if any, must sit on a ReLU output (then it is
    monotonic too, and applies after the pool alike)."""
    pool = call.epilogue
    if pool is None or pool.kind != "max_pool2d":
        return "no max pool follows"
    pp = kernel_params(call.graph, pool)
    if (tuple(pp["filter_hw"]) != (1, 2) or tuple(pp["stride"]) != (1, 2) or any(pp["padding"])
            or (pp["act_min"], pp["act_max"]) != (-128, 127)):
        return "the max pool is not window 1x2, stride 1x2, unpadded and unclamped"
    y, z = call.output, call.final_output
    if float(y.scale) != float(z.scale) or y.zero_point != z.zero_point:
        return "the max pool requantizes"
    p = call.params
    if (np.asarray(p["out_mult"]) <= 0).any() or (np.asarray(p["out_shift"]) > 0).any():
        return "a requantization is not monotonic (a multiplier <= 0 or a left shift)"
    if "act_threshold" in call.op.attrs and p["act_min"] < y.zero_point:
        return "the activation threshold is not on a ReLU output"
    return None


def pool_context(ctx: KernelContext, call: LayerCall) -> None:
    """Add the fused pool's comment line and the convolution's own dims (``conv_dims``)."""
    conv_out = call.output.shape
    ctx.comment.append(f"fused max pool 1x2 stride 2 (source layer {comment_text(call.epilogue.name)}): "
                       f"the convolution's {shape_text(conv_out)} output is never stored")
    ctx.fields["conv_dims"] = dims(conv_out)
