"""Random pruned conv / fully connected layers and the QEMU kernel cases that run them with the
dense or a sparse kernel (``edge_deploy.build.kernel_firmware``): the sparse cost model's
calibration set and the sparse kernels' tests share them.

A layer is a dict: ``kind`` ("conv2d" / "fully_connected"), ``kernel`` ("dense", "group4",
"csr"), ``arrays`` (x, w, bias), ``params`` (the :mod:`edge_deploy.interp.ops` keyword
arguments), ``out_shape``, ``shape`` (:class:`~edge_deploy.codegen.sparse_cost.LayerShape`),
``kept`` (what the cost model counts), ``name`` and optionally ``pool`` (True: the group-sparse
conv with the fused max pool of window 2, stride 2, ``ed_convolve_group_sparse_maxpool2_s8``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_deploy.codegen.sparse import GROUP_SIZES, conv_row_elems, conv_scratch_bytes, encode_sparse, kernel_rows
from edge_deploy.codegen.sparse_cost import LayerShape


def _quant(rng: np.random.Generator, channels: int) -> tuple[np.ndarray, np.ndarray]:
    mult = rng.integers(1 << 30, (1 << 31) - 1, channels).astype(np.int32)
    shift = rng.integers(-9, -5, channels).astype(np.int32)
    return mult, shift


def random_layer(rng: np.random.Generator, kind: str, shape: tuple, kernel: str, zero_groups: float,
                 zero_weights: float, *, name: str = "") -> dict[str, Any]:
    """A random int8 layer of ``kind``: conv ``shape`` (width in, cin, taps, stride, cout,
    padding), fully connected ``shape`` (features, units); a ``zero_groups`` fraction of its
    groups of 4 and a ``zero_weights`` fraction of single weights set to zero."""
    if kind == "conv2d":
        width, cin, taps, stride, cout, pad = shape
        x = rng.integers(-128, 128, (1, 1, width, cin), dtype=np.int8)
        w = rng.integers(-127, 128, (cout, 1, taps, cin), dtype=np.int8)
        out_w = (width + 2 * pad - taps) // stride + 1
        out_shape = (1, 1, out_w, cout)
        extra = {"stride": (1, stride), "padding": (0, 0, pad, pad), "dilation": (1, 1)}
        layer_shape = LayerShape(positions=out_w, batches=1, channels=cout, row_length=taps * cin,
                                 row_elems=conv_row_elems(x.shape, w.shape, out_shape, extra["stride"],
                                                          extra["padding"], extra["dilation"]))
    else:
        depth, units = shape
        x = rng.integers(-128, 128, (1, depth), dtype=np.int8)
        w = rng.integers(-127, 128, (units, depth), dtype=np.int8)
        out_shape = (1, units)
        extra = {}
        layer_shape = LayerShape(positions=1, batches=1, channels=units, row_length=depth)
    rows = kernel_rows(w, kind).copy()
    k = rows.shape[1]
    group_mask = rng.random((rows.shape[0], -(-k // 4))) < zero_groups
    rows[np.repeat(group_mask, 4, axis=1)[:, :k]] = 0
    rows[rng.random(rows.shape) < zero_weights] = 0
    w = rows.reshape(w.shape)
    channels = w.shape[0]
    mult, shift = _quant(rng, channels)
    params = {"input_offset": int(rng.integers(-127, 129)), "output_offset": int(rng.integers(-128, 128)),
              "out_mult": mult, "out_shift": shift, "act_min": -128, "act_max": 127, **extra}
    bias = rng.integers(-20000, 20000, channels).astype(np.int32)
    if kernel == "dense":
        kept = int(rows.size)
    else:
        kept = encode_sparse(rows, GROUP_SIZES[kernel]).kept_groups
    return {"kind": kind, "kernel": kernel, "arrays": {"x": x, "w": w, "bias": bias}, "params": params,
            "out_shape": out_shape, "shape": layer_shape, "kept": kept, "name": name or f"{kind}-{kernel}"}


def reference_output(layer: dict[str, Any]) -> np.ndarray:
    """The layer's output from the reference interpreter (dense weights)."""
    from edge_deploy.interp import ops

    a = layer["arrays"]
    op = ops.conv2d_s8 if layer["kind"] == "conv2d" else ops.fully_connected_s8
    out = op(a["x"], a["w"], a["bias"], **layer["params"])
    if layer.get("pool"):  # the fused max pool of ed_convolve_group_sparse_maxpool2_s8
        out = ops.max_pool_s8(out, filter_hw=(1, 2), stride=(1, 2))
    return out


def _c_array(name: str, ctype: str, values) -> str:
    flat = np.asarray(values).reshape(-1)
    if flat.size == 0:
        flat = np.zeros(1, dtype=np.int64)
    return (f"static const {ctype} {name}[{flat.size}] __attribute__((aligned(4))) = "
            f"{{{', '.join(str(int(v)) for v in flat)}}};\n")


def sparse_case_source(layer: dict[str, Any], i: int) -> str:
    """C for one sparse layer call in the kernel firmware: data and ``run_case_<i>``."""
    a, p = layer["arrays"], layer["params"]
    x, w = a["x"], a["w"]
    enc = encode_sparse(kernel_rows(w, layer["kind"]), GROUP_SIZES[layer["kernel"]])
    wide = enc.indices.dtype == np.uint16
    index_type = "uint16_t" if wide else "uint8_t"
    channels = w.shape[0]
    src = [_c_array(f"x_{i}", "int8_t", x), _c_array(f"v_{i}", "int8_t", enc.values),
           _c_array(f"idx_{i}", index_type, enc.indices), _c_array(f"cnt_{i}", "uint16_t", enc.row_counts),
           _c_array(f"mult_{i}", "int32_t", p["out_mult"]), _c_array(f"shift_{i}", "int32_t", p["out_shift"]),
           _c_array(f"bias_{i}", "int32_t", a["bias"])]
    idx8, idx16 = ("NULL", f"idx_{i}") if wide else (f"idx_{i}", "NULL")
    weights = (f"    const ed_sparse_weights_s8 wts = {{{enc.group_size}, {enc.row_groups}, cnt_{i}, {idx8}, "
               f"{idx16}, v_{i}}};\n")
    quant = f"    const cmsis_nn_per_channel_quant_params quant = {{(int32_t *)mult_{i}, (int32_t *)shift_{i}}};\n"
    act = f"{{{p['act_min']}, {p['act_max']}}}"
    suffix = "group_sparse" if layer["kernel"] == "group4" else "csr"
    if layer["kind"] == "conv2d":
        stride, pad = p["stride"], p["padding"]
        out = layer["out_shape"]
        scratch = conv_scratch_bytes(x.shape, w.shape, out, stride, pad, p["dilation"]) // 2
        src.append(
            f"static int16_t scratch_{i}[{scratch}] __attribute__((aligned(4)));\n"
            f"static int run_case_{i}(void)\n{{\n"
            f"    const cmsis_nn_context ctx = {{scratch_{i}, sizeof(scratch_{i})}};\n"
            f"    const cmsis_nn_conv_params params = {{{p['input_offset']}, {p['output_offset']}, "
            f"{{{stride[1]}, {stride[0]}}}, {{{pad[2]}, {pad[0]}}}, {{1, 1}}, {act}}};\n{quant}{weights}"
            f"    const cmsis_nn_dims in = {{{x.shape[0]}, {x.shape[1]}, {x.shape[2]}, {x.shape[3]}}}, "
            f"flt = {{{w.shape[0]}, {w.shape[1]}, {w.shape[2]}, {w.shape[3]}}}, bias_dims = {{1, 1, 1, {channels}}}, "
            f"out = {{{out[0]}, {out[1]}, {out[2]}, {out[3]}}};\n"
            + (f"    const cmsis_nn_dims pooled = {{{out[0]}, 1, {out[2] // 2}, {out[3]}}};\n"
               f"    return ed_convolve_group_sparse_maxpool2_s8(&ctx, &params, &quant, &in, x_{i}, &flt, &wts, "
               f"&bias_dims, bias_{i}, &out, &pooled, out_{i});\n}}\n" if layer.get("pool") else
               f"    return ed_convolve_{suffix}_s8(&ctx, &params, &quant, &in, x_{i}, &flt, &wts, &bias_dims, "
               f"bias_{i}, &out, out_{i});\n}}\n"))
    else:
        depth = w.shape[1]
        rows = x.size // depth
        src.append(
            f"static int16_t scratch_{i}[{-(-depth // 4) * 4}];\n"
            f"static int run_case_{i}(void)\n{{\n"
            f"    const cmsis_nn_context ctx = {{scratch_{i}, sizeof(scratch_{i})}};\n"
            f"    const cmsis_nn_fc_params params = {{{p['input_offset']}, 0, {p['output_offset']}, {act}}};\n"
            f"{quant}{weights}"
            f"    const cmsis_nn_dims in = {{{rows}, 1, 1, {depth}}}, flt = {{{depth}, 1, 1, {channels}}}, "
            f"bias_dims = {{1, 1, 1, {channels}}}, out = {{{rows}, 1, 1, {channels}}};\n"
            f"    return ed_fully_connected_{suffix}_s8(&ctx, &params, &quant, 1, &in, x_{i}, &flt, &wts, &bias_dims, "
            f"bias_{i}, &out, out_{i});\n}}\n")
    return "".join(src)


def kernel_case(layer: dict[str, Any]):
    """The :class:`~edge_deploy.build.kernel_firmware.KernelCase` running ``layer`` with its
    kernel on the target; ``macs`` counts the dense layer's MACs."""
    from edge_deploy.build.kernel_firmware import KernelCase

    a = layer["arrays"]
    macs = int(np.prod(layer["out_shape"])) * int(np.prod(a["w"].shape[1:]))
    if layer.get("pool"):
        n, h, w, c = layer["out_shape"]
        return KernelCase(layer["name"], "conv2d_group4_maxpool2", dict(a), dict(layer["params"]), (n, h, w // 2, c),
                          macs=macs, c_source=lambda i, layer=layer: sparse_case_source(layer, i))
    if layer["kernel"] == "dense":
        op = "conv2d_s8" if layer["kind"] == "conv2d" else "fully_connected_s8"
        return KernelCase(layer["name"], op, dict(a), dict(layer["params"]), layer["out_shape"], macs=macs)
    return KernelCase(layer["name"], f"{layer['kind']}_{layer['kernel']}", dict(a), dict(layer["params"]),
                      layer["out_shape"], macs=macs, c_source=lambda i, layer=layer: sparse_case_source(layer, i))
