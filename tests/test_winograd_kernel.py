"""The Winograd F(4,3) kernel (firmware/kernels/ed_winograd_conv_s8.c), on 1-D and 2-D layers, and
its build-time filter transform (edge_deploy.kernels._winograd): bit-exact with the reference
convolution on the host (portable path and the DSP path with its instructions emulated; with
ED_KERNELS_SANITIZE=1 under ASan + UBSan) and on the Cortex-M4 under QEMU, and chosen by the
build where it is faster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from edge_deploy.kernels import _winograd as winograd
from edge_deploy.kernels import get_kernel
from edge_deploy.kernels.choose import KernelPolicy
from edge_deploy.kernels.cost import estimate_cycles
from edge_deploy.ops.conv2d import conv2d_s8
from edge_deploy.ops.max_pool2d import max_pool_s8
from edge_deploy.testing.cases import kernel_case
from kernel_runner import SANITIZE

KERNEL, POOL_KERNEL = "ed_convolve_winograd_s8", "ed_convolve_1d_winograd_maxpool2_s8"
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="no host gcc to build the kernels")
needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                               reason="needs arm-none-eabi-gcc and qemu-system-arm")

# (input NHWC, filter (out, taps), stride, padding (left, right))
CASES = [
    pytest.param((1, 1, 2048, 1), (16, 64), 8, (28, 28), id="ticnn-conv1-k64-s8"),
    pytest.param((1, 1, 64, 32), (64, 3), 1, (1, 1), id="ticnn-3tap-same"),
    pytest.param((1, 1, 16, 64), (64, 3), 1, (0, 0), id="ticnn-conv5-valid"),
    pytest.param((1, 1, 13, 5), (7, 3), 1, (1, 1), id="odd-channels-odd-outputs"),
    pytest.param((2, 1, 40, 3), (6, 7), 2, (3, 2), id="batch2-k7-stride2-asym-pad"),
    pytest.param((1, 1, 9, 2), (3, 4), 3, (0, 0), id="stride-3-k4"),
    pytest.param((1, 1, 3, 4), (5, 3), 1, (1, 1), id="fewer-than-one-tile"),
    pytest.param((1, 1, 6, 1), (1, 1), 1, (0, 0), id="k1-pointwise"),
    pytest.param((1, 1, 20, 3), (70, 3), 1, (1, 1), id="cout-over-quant-table"),
    pytest.param((1, 1, 10, 6), (4, 5), 1, (4, 4), id="padding-wider-than-kernel-half"),
]

# 2-D layers: (input NHWC, filter (out, rows, taps), stride (h, w), padding (top, bottom, left, right))
CASES_2D = [
    pytest.param((1, 8, 8, 16), (16, 3, 3), (1, 1), (1, 1, 1, 1), id="resnet-3x3-same"),
    pytest.param((1, 7, 9, 5), (7, 3, 3), (1, 1), (0, 0, 0, 0), id="odd-channels-valid"),
    pytest.param((2, 6, 10, 3), (6, 3, 5), (2, 2), (1, 2, 2, 2), id="batch2-3x5-stride2-asym-pad"),
    pytest.param((1, 5, 5, 4), (5, 2, 3), (3, 1), (2, 1, 1, 1), id="2-rows-vertical-stride3"),
    pytest.param((1, 10, 4, 1), (8, 10, 4), (2, 2), (4, 5, 1, 2), id="ds-cnn-first-10x4"),
    pytest.param((1, 3, 12, 8), (4, 4, 3), (1, 1), (2, 2, 1, 1), id="more-padding-rows-than-input"),
]


def _case(in_shape, flt, stride, padding, seed=0, *, extreme=False):
    """A random layer; ``flt`` (out, taps) is a 1-D filter, (out, rows, taps) a 2-D one."""
    rng = np.random.default_rng(seed + sum(in_shape) * 7 + sum(f * m for f, m in zip(flt, (31, 1, 3))))
    cin = in_shape[3]
    x = rng.integers(-128, 128, in_shape).astype(np.int8)
    w = rng.integers(-127, 128, (flt[0], *((1,) if len(flt) == 2 else ()), *flt[1:], cin)).astype(np.int8)
    if extreme:
        x[:] = -128
        w[:] = 127
        w[0] = -128
    bias = rng.integers(-20000, 20000, flt[0]).astype(np.int32)
    mult = rng.integers(1 << 30, (1 << 31) - 1, flt[0]).astype(np.int32)
    shift = rng.integers(-14, -5, flt[0]).astype(np.int32)
    shift[::5] = 1  # a left shift: the kernel's slow requantization path
    params = dict(input_offset=int(rng.integers(-127, 129)) if not extreme else 128,
                  output_offset=int(rng.integers(-128, 128)), out_mult=mult, out_shift=shift)
    return x, w, bias, params


@needs_gcc
@pytest.mark.parametrize("in_shape, flt, stride, padding", CASES)
def test_winograd_matches_reference_on_the_host(kernels, in_shape, flt, stride, padding):
    x, w, bias, params = _case(in_shape, flt, stride, padding)
    expected = conv2d_s8(x, w, bias, stride=(1, stride), padding=(0, 0, *padding), **params)
    got = kernels.winograd_conv1d_s8(x, w, bias, stride=stride, padding=padding, **params)
    np.testing.assert_array_equal(got, expected)


@needs_gcc
@pytest.mark.parametrize("in_shape, flt, stride, padding", CASES_2D)
def test_winograd_2d_matches_reference_on_the_host(kernels, in_shape, flt, stride, padding):
    """Filter rows as more virtual channels: every row's input row, the padding rows as zeros."""
    x, w, bias, params = _case(in_shape, flt, stride, padding, seed=3)
    expected = conv2d_s8(x, w, bias, stride=stride, padding=padding, **params)
    got = kernels.winograd_conv_s8(x, w, bias, stride=stride, padding=padding, **params)
    np.testing.assert_array_equal(got, expected)


@needs_gcc
@pytest.mark.parametrize("in_shape, flt, stride, padding", CASES[:6])
@pytest.mark.parametrize("relu", [False, True])
def test_winograd_fused_max_pool_matches_conv_then_pool(kernels, in_shape, flt, stride, padding, relu):
    x, w, bias, params = _case(in_shape, flt, stride, padding, seed=11)
    act = dict(act_min=int(params["output_offset"]), act_max=127) if relu else {}
    conv = conv2d_s8(x, w, bias, stride=(1, stride), padding=(0, 0, *padding), **params, **act)
    expected = max_pool_s8(conv, filter_hw=(1, 2), stride=(1, 2))
    got = kernels.winograd_conv1d_s8(x, w, bias, stride=stride, padding=padding, maxpool2=True, **params, **act)
    np.testing.assert_array_equal(got, expected)


@needs_gcc
def test_winograd_relu_range_and_no_bias(kernels):
    x, w, _, params = _case((1, 1, 33, 8), (12, 3), 1, (1, 1), seed=5)
    params["out_shift"] = np.full(12, -9, np.int32)  # all channels on the fast path
    expected = conv2d_s8(x, w, None, padding=(0, 0, 1, 1), act_min=-20, act_max=90, **params)
    got = kernels.winograd_conv1d_s8(x, w, None, padding=(1, 1), act_min=-20, act_max=90, **params)
    np.testing.assert_array_equal(got, expected)


@needs_gcc
def test_winograd_int32_headroom_at_the_limit(kernels):
    """K * C = 2739 with every input at the far end of the offset range and every weight at its
    limit: the largest sums the kernel admits must still come out exact (sums modulo 2^32)."""
    x, w, bias, params = _case((1, 1, 8, 913), (5, 3), 1, (1, 1), extreme=True)
    assert w.shape[2] * w.shape[3] <= winograd.MAX_KC
    params["out_mult"] = np.full(5, 1 << 30, np.int32)
    params["out_shift"] = np.full(5, -31, np.int32)
    expected = conv2d_s8(x, w, bias, padding=(0, 0, 1, 1), **params)
    got = kernels.winograd_conv1d_s8(x, w, bias, padding=(1, 1), **params)
    np.testing.assert_array_equal(got, expected)


@needs_gcc
def test_winograd_2d_int32_headroom_at_the_limit(kernels):
    """R * K * C = 3 * 3 * 304 = 2736: the rows share the limit of one 1-D row."""
    x, w, bias, params = _case((1, 4, 6, 304), (3, 3, 3), (1, 1), (1, 1, 1, 1), extreme=True)
    assert w.shape[1] * w.shape[2] * w.shape[3] <= winograd.MAX_KC
    params["out_mult"] = np.full(3, 1 << 30, np.int32)
    params["out_shift"] = np.full(3, -31, np.int32)
    expected = conv2d_s8(x, w, bias, padding=(1, 1, 1, 1), **params)
    got = kernels.winograd_conv_s8(x, w, bias, padding=(1, 1, 1, 1), **params)
    np.testing.assert_array_equal(got, expected)


def test_transform_layout_recovers_the_filter():
    """Decoding the packed words (block, component, pair, channel; pairs (v, v+2), (v+1, v+3))
    and inverting 24 G on components 0, 3 and 5 gives back the taps of every virtual channel."""
    rng = np.random.default_rng(2)
    for cout, rows, k, cin, stride in [(5, 1, 64, 1, 8), (8, 1, 3, 6, 1), (3, 1, 7, 3, 2), (6, 3, 3, 5, 1),
                                       (4, 2, 5, 2, 2)]:
        w = rng.integers(-127, 128, (cout, rows, k, cin)).astype(np.int8)
        geo = winograd.geometry(k, cin, cout, stride, rows)
        words = winograd.transform_filter(w, stride)
        assert words.size == geo.weight_words
        segments = rows * geo.segments  # filter row r's segments follow row r - 1's
        lo = (words & 0xFFFF).astype(np.uint16).view(np.int16).astype(np.int64)
        hi = (words >> 16).astype(np.uint16).view(np.int16).astype(np.int64)
        u = np.stack([lo, hi], -1).reshape(geo.blocks, 6, segments, geo.group // 4, 2, 4, 2)
        # -> (oc, segment, virtual channel, component): channel 4g + 2 * half + parity
        u = u.transpose(0, 5, 2, 3, 6, 4, 1).reshape(geo.blocks * 4, segments, geo.group, 6)
        g0, g2 = u[..., 0] // 6, u[..., 5] // 24
        g1 = (u[..., 3] - g0 - 4 * g2) // 2
        for oc in range(cout):
            for r in range(rows):
                for q in range(geo.segments):
                    for v in range(geo.group):
                        phase, c = divmod(v, cin)
                        for kk, got in enumerate((g0, g1, g2)):
                            tap = (3 * q + kk) * stride + phase
                            want = w[oc, r, tap, c] if v < stride * cin and tap < k else 0
                            assert got[oc, r * geo.segments + q, v] == want, (oc, r, q, v, kk)
        assert not u[cout:].any()  # padded output channels are zero


def test_unsupported_layers_are_named():
    assert winograd.unsupported((1, 4, 8, 2), (3, 3, 3, 2), (1, 2, 6, 3), (1, 1), (1, 1)) is None  # 2-D
    assert "dilation" in winograd.unsupported((1, 1, 8, 2), (3, 1, 3, 2), (1, 1, 4, 3), (1, 1), (1, 2))
    assert "dilation" in winograd.unsupported((1, 6, 8, 2), (3, 3, 3, 2), (1, 2, 6, 3), (1, 1), (2, 1))
    assert "headroom" in winograd.unsupported((1, 8, 8, 310), (3, 3, 3, 310), (1, 6, 6, 3), (1, 1), (1, 1))
    assert "headroom" in winograd.unsupported((1, 1, 8, 1000), (3, 1, 3, 1000), (1, 1, 8, 3), (1, 1), (1, 1))
    assert winograd.unsupported((1, 1, 8, 2), (3, 1, 3, 2), (1, 1, 8, 3), (1, 1), (1, 1)) is None
    op = kernel_case("c", "arm_convolve_s8", "conv2d", [np.zeros((1, 1, 8, 2), np.int8)],
                     {"input_offset": 0, "output_offset": 0, "out_mult": [1 << 30] * 3, "out_shift": [-1] * 3},
                     weights=np.ones((3, 1, 3, 2), np.int8)).call.op
    assert KernelPolicy.from_options(winograd="off").refusal(get_kernel(KERNEL), op) == "--winograd off"
    assert KernelPolicy.from_options().refusal(get_kernel(KERNEL), op) is None


@needs_gcc
def test_winograd_under_sanitizers():
    """The host tests of this file again, with ASan + UBSan builds of both paths."""
    if SANITIZE:
        pytest.skip("already running under the sanitizers")
    env = dict(os.environ, ED_KERNELS_SANITIZE="1")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__,
                             "-k", "host or relu or headroom or pool"], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def _qemu_cases():
    cases = []
    shapes = [("conv1", (1, 1, 2048, 1), (16, 64), 8, (28, 28)), ("conv3", (1, 1, 64, 32), (64, 3), 1, (1, 1)),
              ("odd", (1, 1, 13, 5), (7, 3), 1, (1, 1)),
              ("wide", (1, 1, 10, 150), (8, 3), 1, (1, 1)),  # 76 pairs: the first, a partial run of 11, 4 runs of 16
              ("pointwise", (1, 1, 9, 2), (5, 1), 1, (0, 0)),  # 2 pairs: the first and a run of one
              ("cout72", (1, 1, 16, 8), (72, 3), 1, (1, 1)),  # over the 64-channel table: per-block constants
              ("resnet", (1, 8, 8, 16), (16, 3, 3), (1, 1), (1, 1, 1, 1)),  # 2-D: rows of padding top and bottom
              ("ds-cnn", (1, 12, 6, 1), (8, 4, 3), (2, 2), (1, 2, 1, 1))]  # 2-D, strided both ways
    for name, in_shape, flt, stride, padding in shapes:
        x, w, bias, params = _case(in_shape, flt, stride, padding, seed=9)
        params["out_shift"][::5] = -7
        kw = dict(stride=(1, stride), padding=(0, 0, *padding), **params)
        if len(flt) == 3:  # a 2-D layer: stride (h, w) and padding (top, bottom, left, right) as given
            kw = dict(params, stride=stride, padding=padding)
        pool = ("max_pool2d", {"filter": (1, 2), "stride": (1, 2), "padding": "valid", "activation": "none"})
        cases.append(kernel_case(f"{name}-direct", "arm_convolve_s8", "conv2d", [x], kw, weights=w, bias=bias))
        cases.append(kernel_case(f"{name}-winograd", KERNEL, "conv2d", [x], kw, weights=w, bias=bias, check=False))
        relu = dict(kw, act_min=int(params["output_offset"]), act_max=127)
        cases.append(kernel_case(f"{name}-winograd-pool", POOL_KERNEL, "conv2d", [x], relu, weights=w, bias=bias,
                                 epilogue=pool, check=False))
    return cases


@needs_arm
@pytest.mark.parametrize("path", ["dsp", "portable"])
def test_winograd_on_the_cortex_m4(tmp_path, path):
    """Bit-exact on the real instruction set, 1-D and 2-D; on the DSP path TICNN's 3-tap layer runs
    fewer modelled cycles than arm_convolve_s8 (the reason the build picks it), and the cost model
    prices the 1-D and the 2-D layer within 25 %."""
    from edge_deploy.testing.harness import build_qemu, run_qemu

    cases = _qemu_cases()
    run = run_qemu(build_qemu(cases, tmp_path, path=path), cases)
    for i, case in enumerate(cases):
        assert run.statuses[i] == 0, case.name
        np.testing.assert_array_equal(run.outputs[i], case.expected, err_msg=case.name)
    if path == "dsp":
        names = [c.name for c in cases]
        direct, wino = run.cycles[names.index("conv3-direct")], run.cycles[names.index("conv3-winograd")]
        assert wino < 0.85 * direct, (wino, direct)
        for name in ("conv3-winograd", "resnet-winograd"):  # the build's cost model, 1-D and 2-D
            case = cases[names.index(name)]
            modelled, measured = estimate_cycles(case.kernel, case.call), run.cycles[names.index(name)]
            assert abs(modelled - measured) < 0.25 * measured, (name, modelled, measured)


def test_build_chooses_and_reports_winograd(tmp_path):
    """auto picks the kernel per layer by the model and says why; the transformed filter replaces
    the int8 one in model.c; off and unknown modes behave."""
    sys.path.insert(0, os.path.dirname(__file__))
    from codegen_models import ticnn_graph

    from edge_deploy.codegen import plan_model, render_model
    from edge_deploy.errors import EdgeDeployError

    graph = ticnn_graph()
    model = plan_model(graph, winograd="auto")
    convs = [layer for layer in model.layers if layer.op.kind == "conv2d"]
    for layer in convs:  # the cheapest by the cost model, every alternative priced or ruled out
        priced = [alt.cycles for alt in layer.choice.alternatives if alt.out is None]
        assert priced and layer.choice.cycles <= min(priced)
        assert {alt.kernel for alt in layer.choice.alternatives} >= {"arm_convolve_s8"} - {layer.kernel}
    used = [layer for layer in convs if layer.kernel in (KERNEL, POOL_KERNEL)]
    assert used, "no TICNN conv was faster with Winograd in the model"
    # Every TICNN conv is followed by a max pool of 2: fused, the pool has no layer of its own
    # and the conv writes the pool's output.
    assert all(layer.kernel == POOL_KERNEL and layer.fused for layer in used)
    pools = [op for op in graph.ops if op.kind == "max_pool2d"]
    assert len(model.layers) == len(graph.ops) - len(used)
    assert {layer.output for layer in used} <= {op.outputs[0] for op in pools}
    files, context = render_model(model, "mps2-an386")
    name = used[0].c_name
    assert f"{name}_weights_winograd[" in files["model.c"] and f"{name}_weights[" not in files["model.c"]
    assert '#include "ed_winograd.h"' in files["model.c"]
    off_files, off_context = render_model(plan_model(graph, winograd="off"), "mps2-an386")
    assert "winograd" not in off_files["model.c"]
    assert context["weights_bytes"] > off_context["weights_bytes"]  # int16 components cost flash
    with pytest.raises(EdgeDeployError, match="--winograd mode 'fast'"):
        plan_model(graph, winograd="fast")


@needs_arm
def test_forced_winograd_build_is_bit_exact_on_qemu(tmp_path, capsys):
    sys.path.insert(0, os.path.dirname(__file__))
    from codegen_models import ticnn_graph, ticnn_inputs

    from edge_deploy.build.firmware_build import build_graph
    from edge_deploy.cli import main
    from edge_deploy.errors import EdgeDeployError

    graph = ticnn_graph()
    out = tmp_path / "build"
    report = build_graph(graph, "mps2-an386", out, winograd="force").report
    convs = [layer for layer in report["layers"] if layer["op"] == "conv2d"]
    assert [layer["kernel"] for layer in convs] == [POOL_KERNEL] * len(convs)
    assert all(layer["fused"] for layer in convs)
    assert all(layer["kernel_choice"]["reason"].startswith("forced") for layer in convs)
    np.save(tmp_path / "x.npy", ticnn_inputs(graph, 3))
    status = main(["run", str(out), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy"), "--check"])
    assert status == 0, capsys.readouterr().out
    with pytest.raises(EdgeDeployError, match="upstream CMSIS-NN has no Winograd"):
        build_graph(graph, "mps2-an386", tmp_path / "b2", winograd="force", cmsis_nn=tmp_path)


@needs_arm
def test_auto_gives_layers_back_to_direct_until_the_filters_fit_the_flash(tmp_path):
    """On a small flash --winograd auto turns layers back to the direct kernel, those that save
    the fewest modelled cycles per extra byte first, until the estimate fits; the compiled
    firmware then takes back what still fits the board: the estimate is kilobytes over it."""
    sys.path.insert(0, os.path.dirname(__file__))
    from codegen_models import ticnn_graph

    from edge_deploy.boards import load_board
    from edge_deploy.build.firmware_build import build_graph, fit_flash
    from edge_deploy.kernels.choose import KernelPolicy

    def with_flash(board, size):
        flash = board.memory.flash.model_copy(update={"size": size})
        return board.model_copy(update={"memory": board.memory.model_copy(update={"flash": flash})})

    def wino_layers(report):
        return [layer["name"] for layer in report["layers"]
                if layer["kernel"] in (KERNEL, POOL_KERNEL)]

    graph = ticnn_graph()
    board = load_board("mps2-an386")
    direct = build_graph(graph, board, tmp_path / "off", winograd="off").report["budget"]["flash_needed_bytes"]
    full = build_graph(graph, board, tmp_path / "on").report
    assert len(wino_layers(full)) == 3 and full["kernel_policy"]["flash_fallback"] == []
    # room on the estimate for no Winograd filter at all: it gives all three back ...
    small = with_flash(board, direct + 256)
    on_estimate, budget = fit_flash(graph, small, KernelPolicy.from_options(flash=small.flash))
    assert len(on_estimate.policy.exclude) == 3 and budget.flash_needed_bytes <= direct + 256
    # ... one byte short of all of them: layers go direct until it fits; here all three at once,
    # since one or two would add the direct kernel's code without dropping the Winograd kernel's
    middle = full["budget"]["flash_needed_bytes"] - 1
    part, budget = fit_flash(graph, with_flash(board, middle), KernelPolicy.from_options(flash=board.flash))
    assert part.policy.exclude and budget.flash_needed_bytes <= middle
    # ... and the full build's firmware fits that small board, so the build takes them all back
    assert full["flash_bytes"] <= direct + 256
    tight = build_graph(graph, small, tmp_path / "tight").report
    assert wino_layers(tight) == wino_layers(full) and tight["kernel_policy"]["flash_fallback"] == []
    assert tight["flash_bytes"] == full["flash_bytes"]


def test_flash_limit_gives_winograd_back_below_the_board(tmp_path, capsys):
    """--flash-limit is a flash budget of the user's below the board's: the same giving back,
    the limit and the model's own weights in report.json, the firmware within it; a limit the
    model cannot meet even with everything given back is one error line, and nothing is written."""
    sys.path.insert(0, os.path.dirname(__file__))
    from codegen_models import ticnn_graph

    from edge_deploy.build.firmware_build import build_graph
    from edge_deploy.cli import main
    from edge_deploy.errors import EdgeDeployError
    from edge_deploy.tflite import export_tflite

    graph = ticnn_graph()
    full = build_graph(graph, "mps2-an386", tmp_path / "on").report
    assert full["flash_limit_bytes"] is None and full["weights_bytes"] > full["model_weights_bytes"] > 0
    off = build_graph(graph, "mps2-an386", tmp_path / "off", winograd="off").report
    limit = off["flash_bytes"] + 512  # below the full build's
    assert limit < full["flash_bytes"]
    limited = build_graph(graph, "mps2-an386", tmp_path / "limited", flash_limit=limit).report
    assert limited["flash_limit_bytes"] == limit and limited["flash_bytes"] <= limit
    assert limited["kernel_policy"]["flash_fallback"] and limited["model_weights_bytes"] == full["model_weights_bytes"]
    with pytest.raises(EdgeDeployError, match="over --flash-limit"):
        build_graph(graph, "mps2-an386", tmp_path / "never", flash_limit=full["model_weights_bytes"])
    assert not (tmp_path / "never").exists()
    model = tmp_path / "ticnn.tflite"
    model.write_bytes(export_tflite(graph))
    assert main(["build", str(model), "--board", "mps2-an386", "--out", str(tmp_path / "cli"),
                 "--flash-limit", "1000"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: model") and "over --flash-limit 1,000" in err and "Traceback" not in err
    assert not (tmp_path / "cli").exists()
    assert main(["build", str(model), "--board", "mps2-an386", "--out", str(tmp_path / "cli"),
                 "--flash-limit", "0"]) != 0
    assert "--flash-limit" in capsys.readouterr().err


def test_flash_limit_is_fitted_to_the_compiled_firmware_not_the_estimate(tmp_path):
    """The flash estimate fit_flash decides on is conservative (it overstates TICNN's firmware by
    kilobytes), so on the estimate alone a limit of exactly the full build's firmware would give
    every Winograd layer back. The build measures its firmware and fits again: at that limit it
    keeps them all; one byte below it gives back what it must, and stays within the limit."""
    sys.path.insert(0, os.path.dirname(__file__))
    from codegen_models import ticnn_graph

    from edge_deploy.boards import load_board
    from edge_deploy.build.firmware_build import build_graph, fit_flash
    from edge_deploy.kernels.choose import KernelPolicy

    def wino_layers(report):
        return sorted(layer["name"] for layer in report["layers"] if layer["kernel"] in (KERNEL, POOL_KERNEL))

    graph = ticnn_graph()
    board = load_board("mps2-an386")
    full = build_graph(graph, board, tmp_path / "on").report
    limit = full["flash_bytes"]
    assert full["budget"]["flash_needed_bytes"] > limit  # the estimate alone would not keep them
    on_estimate, _ = fit_flash(graph, board, KernelPolicy.from_options(flash=board.flash), limit)
    assert len(on_estimate.policy.exclude) > 0
    kept = build_graph(graph, board, tmp_path / "kept", flash_limit=limit).report
    assert kept["flash_bytes"] == limit and wino_layers(kept) == wino_layers(full) and len(wino_layers(full)) == 3
    assert kept["kernel_policy"]["flash_fallback"] == []
    short = build_graph(graph, board, tmp_path / "short", flash_limit=limit - 1).report
    assert short["flash_bytes"] <= limit - 1 and len(wino_layers(short)) < 3


def test_sparse_layers_go_dense_winograd_where_that_is_faster():
    """A conv with a few zero groups of four: the sparse kernel beats arm_convolve_s8 in the model,
    but the dense Winograd kernel beats both, so auto/auto runs it (its alternatives say by how
    much); with --winograd off the sparse kernel stays."""
    sys.path.insert(0, os.path.dirname(__file__))
    from codegen_models import ticnn_graph

    from edge_deploy.codegen import plan_model

    graph = ticnn_graph()
    conv = [op for op in graph.ops if op.kind == "conv2d"][2]  # 3 taps, 16 -> 16 channels
    w = graph.tensor(conv.inputs[1]).data
    groups = w.reshape(w.shape[0], -1, 4)
    groups[:, ::3] = 0  # one group of four in three, in kernel order
    auto = {layer.op.name: layer for layer in plan_model(graph, sparse="auto", winograd="auto").layers}[conv.name]
    off = {layer.op.name: layer for layer in plan_model(graph, sparse="auto", winograd="off").layers}[conv.name]
    assert off.kernel.startswith("ed_convolve_group_sparse")
    assert auto.kernel in (KERNEL, POOL_KERNEL)
    sparse = [alt for alt in auto.choice.alternatives if alt.kernel == off.kernel]
    assert sparse and sparse[0].cycles > auto.choice.cycles


@needs_arm
def test_fused_pool_with_an_activation_threshold_is_bit_exact(tmp_path, capsys):
    """Activation pruning's threshold on a ReLU conv is monotonic, so it may follow the fused
    pool: the build fuses, applies it to the pooled rows, and matches the reference
    (threshold, then pool) on QEMU."""
    sys.path.insert(0, os.path.dirname(__file__))
    from codegen_models import ticnn_graph, ticnn_inputs

    from edge_deploy.build.firmware_build import build_graph
    from edge_deploy.cli import main

    graph = ticnn_graph()
    conv = next(op for op in graph.ops if op.kind == "conv2d")
    assert conv.attrs.get("activation") == "relu"
    conv.attrs["act_threshold"] = graph.tensor(conv.outputs[0]).zero_point + 6
    out = tmp_path / "build"
    report = build_graph(graph, "mps2-an386", out).report
    first = report["layers"][0]
    assert first["kernel"] == POOL_KERNEL and first["fused"]
    assert "ed_threshold_s8(" in (out / "src" / "model.c").read_text()
    np.save(tmp_path / "x.npy", ticnn_inputs(graph, 3))
    status = main(["run", str(out), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy"), "--check"])
    assert status == 0, capsys.readouterr().out
