"""edge-deploy's sparse s8 kernels (firmware/kernels/ed_sparse_*.c, ed_sparse.h) against the dense
ones on the same pruned int8 weights, bit for bit.

On the host: both kernel paths (portable C, and the DSP path with its instructions emulated),
each call rendered through its template partial (tests/kernel_runner.py), against the dense
kernels and the reference interpreter, on edge cases (padding, stride, dilation, 2-D windows,
row lengths and position counts not a multiple of 4, 16-bit indices, empty rows, single
rounding). With ED_KERNELS_SANITIZE=1 everything is built with ASan + UBSan
(test_sparse_kernels_under_sanitizers reruns this file that way).
On QEMU mps2-an386: the Cortex-M4 SIMD code, with exact instruction counts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_deploy.kernels._sparse_format import decode_sparse, encode_sparse, kernel_rows
from edge_deploy.ops.conv2d import conv2d_s8
from edge_deploy.ops.fully_connected import fully_connected_s8
from edge_deploy.ops.max_pool2d import max_pool_s8
from edge_deploy.testing.harness import build_qemu, run_qemu
from edge_deploy.testing.random_layers import random_case
from kernel_runner import SANITIZE, HostKernels

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="no host gcc to build the kernels")


@pytest.fixture(scope="module", params=["portable", "dsp"])
def sparse(request) -> HostKernels:
    return HostKernels(request.param)


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
    want = conv2d_s8(x, w, bias, **kw)
    assert np.array_equal(sparse.conv2d_s8(x, w, bias, **kw), want)
    got = sparse.sparse_conv2d(kernel, x, w, bias, **kw)
    assert np.array_equal(got, want)
    assert np.array_equal(sparse.sparse_conv2d(kernel, x, w, None, **kw), conv2d_s8(x, w, None, **kw))


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
        assert np.array_equal(sparse.sparse_conv2d("group4", x, w, b, **kw), conv2d_s8(x, w, b, **kw))


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
    want = max_pool_s8(conv2d_s8(x, w, bias, **kw), filter_hw=(1, 2), stride=(1, 2))
    assert np.array_equal(sparse.sparse_conv2d("group4", x, w, bias, pool=True, **kw), want)


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
    want = fully_connected_s8(x, w, bias, **kw)
    assert np.array_equal(sparse.fully_connected_s8(x, w, bias, **kw), want)
    assert np.array_equal(sparse.sparse_fully_connected(kernel, x, w, bias, **kw), want)


@needs_gcc
@pytest.mark.parametrize("kernel", ["group4", "csr"])
def test_single_rounding_build_matches_too(kernel):
    kernels = HostKernels("dsp", rounding="single")
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (1, 1, 40, 8), dtype=np.int8)
    w = _pruned(rng, (12, 1, 3, 8))
    mult, shift = _quant(rng, 12)
    kw = dict(input_offset=17, output_offset=-3, out_mult=mult, out_shift=shift, padding=(0, 0, 1, 1))
    want = conv2d_s8(x, w, None, rounding="single", **kw)
    assert np.array_equal(kernels.sparse_conv2d(kernel, x, w, None, **kw), want)


@needs_gcc
@pytest.mark.skipif(SANITIZE, reason="already running under the sanitizers")
def test_sparse_kernels_under_sanitizers():
    """This file again, with ASan + UBSan builds of both paths, in a child process."""
    env = dict(os.environ, ED_KERNELS_SANITIZE="1")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "not qemu",
                             "-k", "not encoding", __file__], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


@pytest.mark.qemu
@pytest.mark.parametrize("path", ["dsp", "portable"])
def test_sparse_kernels_on_qemu_match_and_group_sparse_beats_dense(qemu_arm, tmp_path, path):
    """The Cortex-M4 build of every kernel on QEMU equals the reference; on a 75 % group-pruned
    3-tap conv and a 90 % pruned fully connected layer, the SIMD group-sparse kernel runs fewer
    instructions than the dense kernel and than the unstructured one."""
    from edge_deploy.kernels._layers import conv1d, fully_connected
    from edge_deploy.testing.cases import kernel_case

    rng = np.random.default_rng(3)
    cases = []

    def add(kernel, layer, name, change=None):
        case = random_case(np.random.default_rng(int(rng.integers(1 << 30))), kernel, layer, name=name)
        if change:  # other requantization or clamp: the same call with the changed parameters
            call = case.call
            epilogue = (call.epilogue.kind, call.epilogue.attrs) if call.epilogue is not None else None
            case = kernel_case(name, kernel, call.kind, list(case.inputs.values()), {**call.params, **change},
                               weights=call.weights.data, bias=call.bias.data, epilogue=epilogue, check=False)
        cases.append(case)

    dense_kernels = {"conv2d": ("arm_convolve_s8", "ed_convolve_group_sparse_s8", "ed_convolve_csr_s8"),
                     "fully_connected": ("arm_fully_connected_per_channel_s8", "ed_fully_connected_group_sparse_s8",
                                         "ed_fully_connected_csr_s8")}
    for name, kind, layer in (("conv3", "conv2d", conv1d(64, 32, 3, 1, 64, "same", zero_groups=0.75)),
                              ("conv1", "conv2d", conv1d(131, 1, 64, 8, 16, "same", zero_groups=0.5)),
                              ("fc1", "fully_connected", fully_connected(448, 100, zero_groups=0.9)),
                              ("fc-wide", "fully_connected", fully_connected(1030, 6, zero_groups=0.5))):
        seed = int(rng.integers(1 << 30))
        for tag, kernel in zip(("dense", "group4", "csr"), dense_kernels[kind]):  # the same layer, each kernel
            cases.append(random_case(np.random.default_rng(seed), kernel, layer, name=f"{name}-{tag}"))
    # The group-sparse kernel's other blocks and layouts: a position count not a multiple of 4
    # (tail block), stride 2 with padding, 16-bit indices, an activation clamp, a left shift
    # (no fast requantization), more than 64 output channels, cin not a multiple of 4.
    for shape, change in (((37, 16, 3, 1, 10, "same"), {}), ((40, 8, 5, 2, 12, "same"), {}),
                          ((10, 128, 9, 1, 4, "valid"), {}),
                          ((30, 16, 3, 1, 8, "same"), {"act_min": -60, "act_max": 90}),
                          ((30, 16, 3, 1, 8, "same"), {"out_shift": np.array([-7, 1] * 4, np.int32)}),
                          ((18, 16, 3, 1, 70, "same"), {}), ((33, 6, 3, 1, 5, "same"), {})):
        add("ed_convolve_group_sparse_s8", conv1d(*shape, zero_groups=0.7), f"conv2d{shape}{sorted(change)}-group4",
            change)
    # The fused max pool (ed_convolve_group_sparse_maxpool2_s8): TICNN's shapes on the assembly
    # row blocks (even and odd pooled widths, a 14-wide conv), 70 channels, a 37-wide conv (a
    # dropped last position), the block-column path (stride * cin 24), a clamp, a left shift.
    for shape, change in (((64, 32, 3, 1, 64, "same"), {}), ((131, 1, 64, 8, 16, "same"), {}),
                          ((16, 64, 3, 1, 64, "valid"), {}), ((18, 16, 3, 1, 70, "same"), {}),
                          ((37, 16, 3, 1, 10, "same"), {}), ((24, 24, 3, 1, 20, "same"), {}),
                          ((30, 16, 3, 1, 8, "same"), {"act_min": -60}),
                          ((30, 16, 3, 1, 8, "same"), {"out_shift": np.array([-7, 1] * 4, np.int32)})):
        add("ed_convolve_group_sparse_maxpool2_s8", conv1d(*shape, zero_groups=0.7, pool=True),
            f"conv2d{shape}{sorted(change)}-group4-pool", change)
    run = run_qemu(build_qemu(cases, tmp_path, path=path), cases)
    for case, out, status in zip(cases, run.outputs, run.statuses):
        assert status == 0 and np.array_equal(out, case.expected), case.name
    if path == "dsp":
        n = dict(zip((case.name for case in cases), run.instructions))
        for name in ("conv3", "fc1"):
            assert n[f"{name}-group4"] < 0.6 * n[f"{name}-dense"], n
            assert n[f"{name}-group4"] < n[f"{name}-csr"], n
