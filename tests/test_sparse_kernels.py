"""edge-deploy's sparse s8 kernels (firmware/kernels/ed_sparse_*.c, ed_sparse.h) against the dense
ones on the same pruned int8 weights, bit for bit.

On the host: both kernel paths (portable C, and the DSP path with its instructions emulated)
through ctypes, against the dense host kernels and the reference interpreter, on edge cases
(padding, stride, dilation, 2-D windows, row lengths and position counts not a multiple of 4,
16-bit indices, empty rows, single rounding). With ED_SPARSE_SANITIZE=1 the libraries are built
with ASan + UBSan (test_sparse_kernels_under_sanitizers reruns this file that way).
On QEMU mps2-an386: the Cortex-M4 SIMD code, with exact instruction counts.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_deploy.build.hostlib import HostKernels, build_host_kernels, sanitizer_env
from edge_deploy.codegen.sparse import GROUP_SIZES, conv_scratch_bytes, decode_sparse, encode_sparse, kernel_rows
from edge_deploy.codegen.sparse_cases import kernel_case, random_layer, reference_output
from edge_deploy.interp import ops

SANITIZE = os.environ.get("ED_SPARSE_SANITIZE") == "1"
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="no host gcc to build the kernels")


class _Tile(ctypes.Structure):
    _fields_ = [("w", ctypes.c_int32), ("h", ctypes.c_int32)]


class _Context(ctypes.Structure):
    _fields_ = [("buf", ctypes.c_void_p), ("size", ctypes.c_int32)]


class _Dims(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int32), ("h", ctypes.c_int32), ("w", ctypes.c_int32), ("c", ctypes.c_int32)]


class _PerChannel(ctypes.Structure):
    _fields_ = [("multiplier", ctypes.c_void_p), ("shift", ctypes.c_void_p)]


class _Activation(ctypes.Structure):
    _fields_ = [("min", ctypes.c_int32), ("max", ctypes.c_int32)]


class _ConvParams(ctypes.Structure):
    _fields_ = [("input_offset", ctypes.c_int32), ("output_offset", ctypes.c_int32), ("stride", _Tile),
                ("padding", _Tile), ("dilation", _Tile), ("activation", _Activation)]


class _FcParams(ctypes.Structure):
    _fields_ = [("input_offset", ctypes.c_int32), ("filter_offset", ctypes.c_int32),
                ("output_offset", ctypes.c_int32), ("activation", _Activation)]


class _SparseWeights(ctypes.Structure):
    _fields_ = [("group_size", ctypes.c_int32), ("row_groups", ctypes.c_int32), ("row_counts", ctypes.c_void_p),
                ("index8", ctypes.c_void_p), ("index16", ctypes.c_void_p), ("values", ctypes.c_void_p)]


def _ptr(array: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(array.ctypes.data) if array.size else ctypes.c_void_p(None)


class SparseKernels:
    """The sparse kernels of one host build of firmware/kernels/, called with NumPy arrays."""

    def __init__(self, path: str, rounding: str = "double") -> None:
        self.lib = ctypes.CDLL(str(build_host_kernels(path, sanitize=SANITIZE, rounding=rounding)))
        self.dense = HostKernels(build_host_kernels(path, sanitize=SANITIZE, rounding=rounding))

    def _weights(self, rows: np.ndarray, group_size: int, keep: list):
        enc = encode_sparse(rows, group_size)
        # A layer with nothing kept still passes one (unused) index and group, as the generated C does.
        arrays = [np.ascontiguousarray(a if a.size else np.zeros(n, a.dtype))
                  for a, n in ((enc.row_counts, 1), (enc.indices, 1), (enc.values, group_size))]
        keep += arrays
        counts, index, values = arrays
        wide = index.dtype == np.uint16
        # Exactly-sized buffers, so ASan sees any read past a kept group's data.
        return _SparseWeights(group_size, enc.row_groups, _ptr(counts), None if wide else _ptr(index),
                              _ptr(index) if wide else None, _ptr(values))

    def conv2d(self, kernel: str, x, w, bias, *, input_offset, output_offset, out_mult, out_shift, stride=(1, 1),
               padding=(0, 0, 0, 0), dilation=(1, 1), act_min=-128, act_max=127, pool=False) -> np.ndarray:
        """ed_convolve_group_sparse_s8 (kernel "group4") or ed_convolve_csr_s8 ("csr"); with
        ``pool`` ed_convolve_group_sparse_maxpool2_s8 (the conv, then a max pool 1x2 stride 2)."""
        x, w = np.ascontiguousarray(x, np.int8), np.ascontiguousarray(w, np.int8)
        cout = w.shape[0]
        top, bottom, left, right = padding
        out_h = (x.shape[1] + top + bottom - ((w.shape[1] - 1) * dilation[0] + 1)) // stride[0] + 1
        out_w = (x.shape[2] + left + right - ((w.shape[2] - 1) * dilation[1] + 1)) // stride[1] + 1
        out = np.zeros((x.shape[0], out_h, out_w, cout), dtype=np.int8)
        keep: list = []
        weights = self._weights(kernel_rows(w, "conv2d"), GROUP_SIZES[kernel], keep)
        mult = np.ascontiguousarray(np.broadcast_to(out_mult, cout), np.int32)
        shift = np.ascontiguousarray(np.broadcast_to(out_shift, cout), np.int32)
        bias_arr = None if bias is None else np.ascontiguousarray(bias, np.int32)
        in_dims, flt_dims = _Dims(*x.shape), _Dims(*w.shape)
        params = _ConvParams(input_offset, output_offset, _Tile(stride[1], stride[0]), _Tile(left, top),
                             _Tile(dilation[1], dilation[0]), _Activation(act_min, act_max))
        size = self.lib.ed_convolve_sparse_s8_get_buffer_size(ctypes.byref(params), ctypes.byref(in_dims),
                                                              ctypes.byref(flt_dims), ctypes.byref(_Dims(*out.shape)))
        assert size == conv_scratch_bytes(x.shape, w.shape, out.shape, stride, padding, dilation)
        scratch = np.zeros(size, dtype=np.uint8)
        common = (ctypes.byref(_Context(_ptr(scratch), size)), ctypes.byref(params),
                  ctypes.byref(_PerChannel(_ptr(mult), _ptr(shift))), ctypes.byref(in_dims), _ptr(x),
                  ctypes.byref(flt_dims), ctypes.byref(weights), ctypes.byref(_Dims(1, 1, 1, cout)),
                  None if bias_arr is None else _ptr(bias_arr))
        if pool:
            pooled = np.zeros((out.shape[0], 1, out.shape[2] // 2, cout), dtype=np.int8)
            status = self.lib.ed_convolve_group_sparse_maxpool2_s8(
                *common, ctypes.byref(_Dims(*out.shape)), ctypes.byref(_Dims(*pooled.shape)), _ptr(pooled))
            assert status == 0, f"fused conv + pool returned {status}"
            return pooled
        fn = self.lib.ed_convolve_group_sparse_s8 if kernel == "group4" else self.lib.ed_convolve_csr_s8
        status = fn(*common, ctypes.byref(_Dims(*out.shape)), _ptr(out))
        assert status == 0, f"{kernel} conv returned {status}"
        return out

    def fully_connected(self, kernel: str, x, w, bias, *, input_offset, output_offset, out_mult, out_shift,
                        act_min=-128, act_max=127) -> np.ndarray:
        """ed_fully_connected_group_sparse_s8 / ed_fully_connected_csr_s8; scalar mult/shift
        means per tensor (quant_step 0)."""
        w = np.ascontiguousarray(w, np.int8)
        units, depth = w.shape
        x = np.ascontiguousarray(x, np.int8).reshape(-1, depth)
        out = np.zeros((x.shape[0], units), dtype=np.int8)
        keep: list = []
        weights = self._weights(w, GROUP_SIZES[kernel], keep)
        per_channel = np.ndim(out_mult) > 0
        mult = np.ascontiguousarray(np.atleast_1d(out_mult), np.int32)
        shift = np.ascontiguousarray(np.atleast_1d(out_shift), np.int32)
        bias_arr = None if bias is None else np.ascontiguousarray(bias, np.int32)
        flt_dims = _Dims(depth, 1, 1, units)
        size = self.lib.ed_fully_connected_sparse_s8_get_buffer_size(ctypes.byref(flt_dims))
        scratch = np.zeros(size, dtype=np.uint8)
        fn = (self.lib.ed_fully_connected_group_sparse_s8 if kernel == "group4"
              else self.lib.ed_fully_connected_csr_s8)
        status = fn(ctypes.byref(_Context(_ptr(scratch), size)),
                    ctypes.byref(_FcParams(input_offset, 0, output_offset, _Activation(act_min, act_max))),
                    ctypes.byref(_PerChannel(_ptr(mult), _ptr(shift))), 1 if per_channel else 0,
                    ctypes.byref(_Dims(x.shape[0], 1, 1, depth)), _ptr(x), ctypes.byref(flt_dims),
                    ctypes.byref(weights), ctypes.byref(_Dims(1, 1, 1, units)),
                    None if bias_arr is None else _ptr(bias_arr), ctypes.byref(_Dims(x.shape[0], 1, 1, units)),
                    _ptr(out))
        assert status == 0, f"{kernel} fully connected returned {status}"
        return out


@pytest.fixture(scope="module", params=["portable", "dsp"])
def sparse(request) -> SparseKernels:
    return SparseKernels(request.param)


def _pruned(rng, shape, zero_groups=0.7, zero_weights=0.0, kind="conv2d"):
    w = rng.integers(-127, 128, shape, dtype=np.int8)
    rows = kernel_rows(w, kind).copy()
    k = rows.shape[1]
    mask = rng.random((rows.shape[0], -(-k // 4))) < zero_groups
    rows[np.repeat(mask, 4, axis=1)[:, :k]] = 0
    rows[rng.random(rows.shape) < zero_weights] = 0
    rows[0] = 0  # one output channel with nothing kept
    return rows.reshape(shape)


def _quant(rng, channels):
    return (rng.integers(1 << 30, (1 << 31) - 1, channels).astype(np.int32),
            rng.integers(-10, 2, channels).astype(np.int32))


@given(rows=st.integers(1, 6), length=st.integers(1, 70), group_size=st.sampled_from([1, 4]),
       density=st.floats(0, 1), seed=st.integers(0, 2**16))
@settings(max_examples=60, deadline=None)
def test_encoding_round_trips_and_counts_scalpel_groups(rows, length, group_size, density, seed):
    from edge_deploy.slim.scalpel import group_sparsity_of

    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, (rows, length), dtype=np.int8)
    w[rng.random(w.shape) > density] = 0
    enc = encode_sparse(w, group_size)
    assert np.array_equal(decode_sparse(enc, length), w)
    found = group_sparsity_of(w, group_size)  # Scalpel's own grouping (slim stage)
    assert enc.kept_groups == found.total_groups - found.zero_groups
    assert enc.values.size == enc.kept_groups * group_size
    assert int(enc.row_counts.sum()) == enc.kept_groups


def test_long_rows_use_16_bit_indices():
    w = np.zeros((2, 4 * 300), dtype=np.int8)
    w[1, -1] = 5
    enc = encode_sparse(w, 4)
    assert enc.indices.dtype == np.uint16 and enc.indices.tolist() == [299]
    assert encode_sparse(w[:, :1024], 4).indices.dtype == np.uint8


CONV_CASES = [  # (x shape NHWC, w shape OHWI, stride, padding, dilation)
    ((1, 1, 200, 1), (16, 1, 64, 1), (1, 8), (0, 0, 28, 28), (1, 1)),   # TICNN's wide first conv
    ((1, 1, 37, 16), (10, 1, 3, 16), (1, 1), (0, 0, 1, 1), (1, 1)),      # 3-tap, odd position count
    ((1, 1, 30, 6), (7, 1, 3, 6), (1, 2), (0, 0, 1, 0), (1, 1)),         # row length 18 (not 4k)
    ((2, 9, 11, 3), (5, 3, 3, 3), (2, 1), (1, 1, 1, 1), (1, 1)),         # 2-D, batch 2, padding
    ((1, 7, 9, 5), (6, 2, 3, 5), (1, 1), (0, 1, 2, 1), (2, 2)),          # dilation
    ((1, 1, 12, 100), (3, 1, 3, 100), (1, 1), (0, 0, 0, 0), (1, 1)),     # 300 > 256 elements: wide csr
]


@needs_gcc
@pytest.mark.parametrize("kernel", ["group4", "csr"])
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_sparse_conv_equals_dense_on_pruned_weights(sparse, kernel, case):
    x_shape, w_shape, stride, padding, dilation = CONV_CASES[case]
    rng = np.random.default_rng(case)
    x = rng.integers(-128, 128, x_shape, dtype=np.int8)
    w = _pruned(rng, w_shape, zero_groups=0.6, zero_weights=0.3 if kernel == "csr" else 0.0)
    mult, shift = _quant(rng, w_shape[0])
    kw = dict(input_offset=int(rng.integers(-127, 129)), output_offset=int(rng.integers(-128, 128)),
              out_mult=mult, out_shift=shift, stride=stride, padding=padding, dilation=dilation,
              act_min=-100, act_max=120)
    bias = rng.integers(-5000, 5000, w_shape[0]).astype(np.int32)
    want = ops.conv2d_s8(x, w, bias, **kw)
    assert np.array_equal(sparse.dense.conv2d_s8(x, w, bias, **kw), want)
    got = sparse.conv2d(kernel, x, w, bias, **kw)
    assert np.array_equal(got, want)
    assert np.array_equal(sparse.conv2d(kernel, x, w, None, **kw), ops.conv2d_s8(x, w, None, **kw))


@needs_gcc
@pytest.mark.parametrize("clamp", [False, True])
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_group_sparse_fast_block_equals_dense(sparse, case, clamp):
    """Right shifts only (every channel on the prepared fast requantization: the fast block of
    the DSP path), with and without an activation clamp, with and without bias."""
    x_shape, w_shape, stride, padding, dilation = CONV_CASES[case]
    rng = np.random.default_rng(100 + case)
    x = rng.integers(-128, 128, x_shape, dtype=np.int8)
    w = _pruned(rng, w_shape, zero_groups=0.7)
    cout = w_shape[0]
    kw = dict(input_offset=int(rng.integers(-127, 129)), output_offset=int(rng.integers(-128, 128)),
              out_mult=rng.integers(1 << 30, (1 << 31) - 1, cout).astype(np.int32),
              out_shift=rng.integers(-12, 0, cout).astype(np.int32), stride=stride, padding=padding,
              dilation=dilation, act_min=-90 if clamp else -128, act_max=100 if clamp else 127)
    bias = rng.integers(-30000, 30000, cout).astype(np.int32)
    for b in (bias, None):
        assert np.array_equal(sparse.conv2d("group4", x, w, b, **kw), ops.conv2d_s8(x, w, b, **kw))


@needs_gcc
@pytest.mark.parametrize("variant", ["fast", "clamp", "left-shift"])
@pytest.mark.parametrize("case", [0, 1, 2, 5])
def test_group_sparse_conv_with_fused_pool_equals_conv_then_pool(sparse, case, variant):
    """ed_convolve_group_sparse_maxpool2_s8 against the reference conv followed by the max pool
    (1-D cases: odd and even conv widths, stride 8, a row length not a multiple of 4), on the fast
    block (maximum before requantization) and on the general one."""
    x_shape, w_shape, stride, padding, dilation = CONV_CASES[case]
    rng = np.random.default_rng(200 + case)
    x = rng.integers(-128, 128, x_shape, dtype=np.int8)
    w = _pruned(rng, w_shape, zero_groups=0.7)
    cout = w_shape[0]
    shift = rng.integers(-12, 0, cout).astype(np.int32)
    if variant == "left-shift":
        shift[::2] = 1
    kw = dict(input_offset=int(rng.integers(-127, 129)), output_offset=int(rng.integers(-128, 128)),
              out_mult=rng.integers(1 << 30, (1 << 31) - 1, cout).astype(np.int32), out_shift=shift, stride=stride,
              padding=padding, dilation=dilation, act_min=-70 if variant == "clamp" else -128, act_max=127)
    bias = rng.integers(-30000, 30000, cout).astype(np.int32)
    want = ops.max_pool_s8(ops.conv2d_s8(x, w, bias, **kw), filter_hw=(1, 2), stride=(1, 2))
    assert np.array_equal(sparse.conv2d("group4", x, w, bias, pool=True, **kw), want)


@needs_gcc
@pytest.mark.parametrize("kernel", ["group4", "csr"])
@pytest.mark.parametrize("depth,units,rows,per_channel", [(448, 100, 1, True), (101, 9, 3, False),
                                                          (1100, 5, 1, True), (3, 4, 2, True)])
def test_sparse_fully_connected_equals_dense_on_pruned_weights(sparse, kernel, depth, units, rows, per_channel):
    rng = np.random.default_rng(depth)
    x = rng.integers(-128, 128, (rows, depth), dtype=np.int8)
    w = _pruned(rng, (units, depth), zero_groups=0.8, zero_weights=0.2 if kernel == "csr" else 0.0,
                kind="fully_connected")
    mult, shift = _quant(rng, units)
    kw = dict(input_offset=int(rng.integers(-127, 129)), output_offset=int(rng.integers(-128, 128)),
              out_mult=mult if per_channel else mult[0], out_shift=shift if per_channel else shift[0])
    bias = rng.integers(-5000, 5000, units).astype(np.int32)
    want = ops.fully_connected_s8(x, w, bias, **kw)
    assert np.array_equal(sparse.dense.fully_connected_s8(x, w, bias, **kw), want)
    assert np.array_equal(sparse.fully_connected(kernel, x, w, bias, **kw), want)


@needs_gcc
@pytest.mark.parametrize("kernel", ["group4", "csr"])
def test_single_rounding_build_matches_too(kernel):
    kernels = SparseKernels("dsp", rounding="single")
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (1, 1, 40, 8), dtype=np.int8)
    w = _pruned(rng, (12, 1, 3, 8))
    mult, shift = _quant(rng, 12)
    kw = dict(input_offset=17, output_offset=-3, out_mult=mult, out_shift=shift, padding=(0, 0, 1, 1))
    want = ops.conv2d_s8(x, w, None, rounding="single", **kw)
    assert np.array_equal(kernels.conv2d(kernel, x, w, None, **kw), want)


@needs_gcc
def test_bad_sparse_weights_are_refused(sparse):
    """A weights struct that does not match the filter shape returns ARM_CMSIS_NN_ARG_ERROR."""
    w = _pruned(np.random.default_rng(0), (4, 1, 3, 8))
    keep: list = []
    weights = sparse._weights(kernel_rows(w, "conv2d"), 4, keep)
    weights.row_groups += 1
    x = np.zeros((1, 1, 10, 8), np.int8)
    out = np.zeros((1, 1, 8, 4), np.int8)
    q = np.ones(4, np.int32)
    scratch = np.zeros(1024, np.uint8)
    status = sparse.lib.ed_convolve_group_sparse_s8(
        ctypes.byref(_Context(_ptr(scratch), 1024)), ctypes.byref(_ConvParams(0, 0, _Tile(1, 1), _Tile(0, 0),
                                                                              _Tile(1, 1), _Activation(-128, 127))),
        ctypes.byref(_PerChannel(_ptr(q), _ptr(q))), ctypes.byref(_Dims(*x.shape)), _ptr(x),
        ctypes.byref(_Dims(*w.shape)), ctypes.byref(weights), ctypes.byref(_Dims(1, 1, 1, 4)), None,
        ctypes.byref(_Dims(*out.shape)), _ptr(out))
    assert status == -1


@needs_gcc
@pytest.mark.skipif(SANITIZE, reason="already running under the sanitizers")
def test_sparse_kernels_under_sanitizers():
    """This file again, with ASan + UBSan builds of both paths, in a child process."""
    env = sanitizer_env()
    if not env["LD_PRELOAD"]:
        pytest.skip("gcc has no libasan / libubsan runtime to preload")
    env["ED_SPARSE_SANITIZE"] = "1"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "not qemu",
                             "-k", "not encoding", __file__], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


@pytest.mark.qemu
@pytest.mark.parametrize("path", ["dsp", "portable"])
def test_sparse_kernels_on_qemu_match_and_group_sparse_beats_dense(qemu_arm, tmp_path, path):
    """The Cortex-M4 build of every kernel on QEMU equals the reference; on a 75 % group-pruned
    3-tap conv and a 90 % pruned fully connected layer, the SIMD group-sparse kernel runs fewer
    instructions than the dense kernel and than the unstructured one."""
    from edge_deploy.build.kernel_firmware import build_kernel_firmware, run_kernel_firmware

    rng = np.random.default_rng(3)
    layers = []
    for kind, shape, zg in (("conv2d", (64, 32, 3, 1, 64, 1), 0.75), ("conv2d", (131, 1, 64, 8, 16, 28), 0.5),
                            ("fully_connected", (448, 100), 0.9), ("fully_connected", (1030, 6), 0.5)):
        base = random_layer(rng, kind, shape, "dense", zg, 0.0)
        for kernel in ("dense", "group4", "csr"):
            layers.append({**base, "kernel": kernel, "name": f"{kind}{shape}-{kernel}"})
    # The group-sparse kernel's other blocks and layouts: a position count not a multiple of 4
    # (tail block), stride 2 with padding, 16-bit indices, an activation clamp, a left shift
    # (no fast requantization), more than 64 output channels, cin not a multiple of 4.
    for shape, change in (((37, 16, 3, 1, 10, 1), {}), ((40, 8, 5, 2, 12, 2), {}), ((10, 128, 9, 1, 4, 0), {}),
                          ((30, 16, 3, 1, 8, 1), {"act_min": -60, "act_max": 90}),
                          ((30, 16, 3, 1, 8, 1), {"out_shift": np.array([-7, 1] * 4, np.int32)}),
                          ((18, 16, 3, 1, 70, 1), {}), ((33, 6, 3, 1, 5, 1), {})):
        base = random_layer(rng, "conv2d", shape, "group4", 0.7, 0.0)
        base["params"] = {**base["params"], **change}
        layers.append({**base, "name": f"conv2d{shape}{sorted(change)}-group4"})
    # The fused max pool (ed_convolve_group_sparse_maxpool2_s8): TICNN's shapes on the assembly
    # row blocks (even and odd pooled widths, a 14-wide conv), 70 channels, a 37-wide conv (a
    # dropped last position), the block-column path (stride * cin 24), a clamp, a left shift.
    for shape, change in (((64, 32, 3, 1, 64, 1), {}), ((131, 1, 64, 8, 16, 28), {}), ((16, 64, 3, 1, 64, 0), {}),
                          ((18, 16, 3, 1, 70, 1), {}),
                          ((37, 16, 3, 1, 10, 1), {}), ((24, 24, 3, 1, 20, 1), {}),
                          ((30, 16, 3, 1, 8, 1), {"act_min": -60}),
                          ((30, 16, 3, 1, 8, 1), {"out_shift": np.array([-7, 1] * 4, np.int32)})):
        base = random_layer(rng, "conv2d", shape, "group4", 0.7, 0.0)
        base["params"] = {**base["params"], **change}
        layers.append({**base, "pool": True, "name": f"conv2d{shape}{sorted(change)}-group4-pool"})
    cases = [kernel_case(layer) for layer in layers]
    run = run_kernel_firmware(build_kernel_firmware(cases, tmp_path, path=path), cases)
    for layer, out, status in zip(layers, run.outputs, run.statuses):
        want = reference_output(layer)
        assert status == 0 and np.array_equal(out.reshape(want.shape), want), layer["name"]
    if path == "dsp":
        n = dict(zip((layer["name"] for layer in layers), run.instructions))
        for name in ("conv2d(64, 32, 3, 1, 64, 1)", "fully_connected(448, 100)"):
            assert n[f"{name}-group4"] < 0.6 * n[f"{name}-dense"], n
            assert n[f"{name}-group4"] < n[f"{name}-csr"], n
