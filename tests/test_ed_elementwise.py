"""edge-deploy's element-wise kernels of two inputs (``ed_elementwise_add_s8`` for ADD and SUB,
``ed_elementwise_mul_s8`` for MUL, issue 13), called through their template partials and compared
bit for bit with the ops' int8 references: on the host (portable C and the emulated DSP path, both
roundings; ED_KERNELS_SANITIZE=1 builds them with ASan + UBSan, which
test_elementwise_under_sanitizers does) and on QEMU mps2-an386 (the M4's own DSP instructions),
on the edge shapes: lengths that are not a multiple of 4 and a lone element, zero points at their
limits, SUB's negated multiplier, every broadcast the ops allow (a per-channel operand, a row, a
single value against a tensor, and in either order), activation clamps, and an output
requantization off the fast path. ``ed_elementwise_add_linear_s8`` (ADD and SUB as one linear
form of the bytes, where the build proves it exact) runs on the same builds: ResNet-8's first
residual ADD (its TFLite parameters, whose double- and single-rounding forms differ), zero points
at the limits, lengths of 1, 13 (8 + 4 + 1) and 105, clamps and a broadcast operand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from edge_deploy.ir.graph import QuantParams
from edge_deploy.kernels import get_kernel
from edge_deploy.kernels.base import LayerCall
from edge_deploy.kernels.choose import KernelPolicy, choose_kernels
from edge_deploy.ops import kernel_params
from edge_deploy.tflite import load_tflite
from edge_deploy.numerics.fixedpoint import quantize_multiplier
from edge_deploy.ops.add import ADD_LEFT_SHIFT
from edge_deploy.testing.cases import kernel_case
from edge_deploy.testing.harness import build_qemu, run_qemu
from kernel_runner import SANITIZE, HostKernels

ACT = {"activation": "none"}


def add_params(scales, zero_points, *, sub=False, act=(-128, 127)):
    """TFLite's ADD (SUB) parameters for input scales / zero points and the output's."""
    (s1, s2, sy), (z1, z2, zy) = scales, zero_points
    twice_max = 2 * max(s1, s2)
    m1, e1 = quantize_multiplier(s1 / twice_max)
    m2, e2 = quantize_multiplier(s2 / twice_max)
    mo, eo = quantize_multiplier(twice_max / ((1 << ADD_LEFT_SHIFT) * sy))
    return dict(input1_offset=-z1, input1_mult=m1, input1_shift=e1, input2_offset=-z2,
                input2_mult=-m2 if sub else m2, input2_shift=e2, left_shift=ADD_LEFT_SHIFT, output_offset=zy,
                out_mult=mo, out_shift=eo, act_min=act[0], act_max=act[1])


def mul_params(scales, zero_points, *, act=(-128, 127)):
    (s1, s2, sy), (z1, z2, zy) = scales, zero_points
    mo, eo = quantize_multiplier(s1 * s2 / sy)
    return dict(input1_offset=-z1, input2_offset=-z2, output_offset=zy, out_mult=mo, out_shift=eo,
                act_min=act[0], act_max=act[1])


# (name, input shapes, scales (in 1, in 2, out), zero points, activation clamp)
SHAPES = [
    ("resnet-residual", ((1, 8, 8, 64), (1, 8, 8, 64)), (0.037, 0.021, 0.05), (-128, 127, 5), (-128, 127)),
    ("odd-length", ((1, 7, 5, 3), (1, 7, 5, 3)), (0.02, 0.031, 0.04), (127, -128, -128), (-128, 127)),
    ("one-element", ((1, 1), (1, 1)), (0.5, 0.25, 0.3), (0, 0, 0), (-128, 127)),
    ("per-channel", ((1, 5, 3, 7), (1, 1, 1, 7)), (0.011, 0.09, 0.06), (-3, 17, -9), (-128, 127)),
    ("per-channel-first", ((1, 1, 1, 6), (1, 3, 5, 6)), (0.2, 0.2, 0.3), (4, 4, -128), (-128, 127)),
    ("row", ((1, 4, 3, 9), (1, 1, 3, 9)), (0.05, 0.03, 0.02), (10, -20, 0), (-128, 127)),
    ("single-value", ((1, 6, 6, 5), (1, 1, 1, 1)), (0.03, 0.07, 0.08), (-128, 127, -128), (-128, 127)),
    ("relu-clamp", ((1, 13), (1, 13)), (0.04, 0.05, 0.03), (-1, 2, -128), (-128, 90)),
    ("relu6-clamp", ((1, 4, 4, 5), (1, 4, 4, 5)), (0.04, 0.05, 0.03), (-1, 2, -100), (-100, 20)),
]


# ResNet-8's (MLPerf Tiny IC) first residual ADD, kernel_params of pretrainedResnet_quant.tflite.
RESNET8_ADD = dict(input1_offset=128, input1_mult=1623821475, input1_shift=-2, input2_offset=-4,
                   input2_mult=1073741824, input2_shift=0, left_shift=ADD_LEFT_SHIFT, output_offset=-128,
                   out_mult=1098017566, out_shift=-17, act_min=-128, act_max=127)

# ed_elementwise_add_linear_s8: (name, input shapes, scales, zero points, clamp), each exact.
LINEAR = [
    ("ic-residual", ((1, 8, 8, 16), (1, 8, 8, 16)), (0.0512, 0.0297, 0.0669), (-128, 4, -128), (-128, 127)),
    ("zero-points-at-limits", ((1, 7, 5, 3), (1, 7, 5, 3)), (0.0231, 0.0419, 0.0533), (127, -128, 127), (-128, 127)),
    ("zero-points-low", ((1, 1), (1, 1)), (0.0231, 0.0419, 0.0533), (-128, -128, -128), (-128, 127)),
    ("relu-clamp", ((1, 13), (1, 13)), (0.0413, 0.0527, 0.0311), (-1, 2, -128), (-128, 90)),
    ("relu6-per-channel", ((1, 3, 3, 5), (1, 1, 1, 5)), (0.0413, 0.0527, 0.0311), (-1, 2, -100), (-100, 20)),
]


def _linear_cases(make, rng):
    """ed_elementwise_add_linear_s8 on ResNet-8's ADD and on LINEAR, ADD and SUB."""
    a, b = (rng.integers(-128, 128, (1, 4, 4, 9), dtype=np.int8) for _ in range(2))
    cases = [make("linear-resnet8", "ed_elementwise_add_linear_s8", "add", [a, b], RESNET8_ADD)]
    for name, shapes, scales, zps, act in LINEAR:
        a, b = (rng.integers(-128, 128, s, dtype=np.int8) for s in shapes)
        for op in ("add", "sub"):
            cases.append(make(f"linear-{op}-{name}", "ed_elementwise_add_linear_s8", op, [a, b],
                              add_params(scales, zps, sub=op == "sub", act=act)))
    return cases


def _cases(make, rng, rounding="double"):
    """ADD, SUB and MUL on every shape; then the slow requantization (an output scale far below
    the inputs', a left shift) of each kernel."""
    cases = []
    for name, shapes, scales, zps, act in SHAPES:
        a, b = (rng.integers(-128, 128, s, dtype=np.int8) for s in shapes)
        cases.append(make(f"add-{name}", "ed_elementwise_add_s8", "add", [a, b], add_params(scales, zps, act=act)))
        cases.append(make(f"sub-{name}", "ed_elementwise_add_s8", "sub", [a, b],
                          add_params(scales, zps, sub=True, act=act)))
        cases.append(make(f"mul-{name}", "ed_elementwise_mul_s8", "mul", [a, b], mul_params(scales, zps, act=act)))
    a, b = (rng.integers(-128, 128, (1, 3, 3, 3), dtype=np.int8) for _ in range(2))
    cases.append(make("add-slow-requant", "ed_elementwise_add_s8", "add", [a, b],
                      add_params((0.5, 0.4, 0.0005), (3, -3, 0))))
    cases.append(make("mul-slow-requant", "ed_elementwise_mul_s8", "mul", [a, b],
                      mul_params((0.5, 0.4, 0.001), (3, -3, 0))))
    return cases + _linear_cases(make, rng)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no host gcc to build the kernels")
@pytest.mark.parametrize("path,rounding", [("portable", "double"), ("dsp", "double"), ("dsp", "single"),
                                           ("portable", "single")])
def test_elementwise_matches_reference_on_the_host(path, rounding):
    kernels = HostKernels(path, rounding=rounding)
    cases = _cases(lambda name, kernel, op, inputs, params: kernels.case(kernel, op, inputs, params, attrs=ACT),
                   np.random.default_rng(13))
    run = kernels.run(cases)
    for case, out, status in zip(cases, run.outputs, run.statuses):
        assert status == 0, case.name
        np.testing.assert_array_equal(out, case.expected, err_msg=f"{path} {rounding}: {case.name}")


def test_add_tables_are_the_reference_per_input_step():
    """The tables hold each input's rescale of every byte; the single-rounding table follows only
    for an input whose rescale rounds differently (here input 2, of the smaller scale), and the
    input of the larger scale (exactly half the common scale) needs none."""
    rng = np.random.default_rng(5)
    a, b = (rng.integers(-128, 128, (1, 4, 4, 8), dtype=np.int8) for _ in range(2))
    case = kernel_case("tables", "ed_elementwise_add_s8", "add", [a, b],
                       add_params((0.037, 0.021, 0.05), (-128, 127, 5)), attrs=ACT)
    tables, distances = get_kernel("ed_elementwise_add_s8").tables(case.call)
    assert tables.size == 3 * 256 and distances == [0, 256]
    byte = 200  # read unsigned: -56
    assert tables[byte] == 2 * ((-56 + 128) << 19)  # input 1: (x - zp) << 20, times exactly 1/2, doubled
    p = case.call.params
    double, single = tables[256 + byte] / 2, tables[512 + byte] / 2
    exact = (-56 - 127) * (1 << 20) * p["input2_mult"] * 2.0 ** (p["input2_shift"] - 31)
    assert abs(double - exact) <= 1 and abs(single - exact) <= 0.5
    assert not np.array_equal(tables[256:512], tables[512:])


@pytest.mark.qemu
def test_elementwise_matches_reference_on_cortex_m4(tmp_path):
    cases = _cases(lambda name, kernel, op, inputs, params: kernel_case(name, kernel, op, inputs, params, attrs=ACT),
                   np.random.default_rng(31))
    run = run_qemu(build_qemu(cases, tmp_path, path="dsp"), cases)
    for case, out, status in zip(cases, run.outputs, run.statuses):
        assert status == 0, case.name
        np.testing.assert_array_equal(out, case.expected, err_msg=case.name)
    # ADD's cycles per element on the residual shape: the table path against CMSIS-NN's API kernel.
    first = cases[0]
    upstream = kernel_case("upstream", "arm_elementwise_add_s8", "add", list(first.inputs.values()),
                           first.call.params, attrs=ACT)
    base = run_qemu(build_qemu([upstream], tmp_path / "upstream", path="dsp"), [upstream])
    assert run.cycles[0] * 4 < base.cycles[0]
    # The linear form on ResNet-8's ADD against the tables on the residual shape: under half the
    # cycles per element.
    linear = next(i for i, c in enumerate(cases) if c.name == "linear-resnet8")
    assert run.cycles[linear] / cases[linear].expected.size < 0.5 * run.cycles[0] / first.expected.size


def test_linear_add_is_exact_on_every_byte_pair_or_not_chosen():
    """The linear form's coefficients reproduce TFLite's ADD on all 65,536 byte pairs in both
    roundings (ResNet-8's first ADD, whose two roundings need different coefficients); a layer
    whose outputs sit on exact ties (scales in ratios of small integers: 0.037 / 0.021 / 0.05)
    has no such form, the kernel says why, and the choice falls back to the tables."""
    from edge_deploy.kernels import ed_elementwise_add_linear_s8 as linear

    found = linear.coefficients(RESNET8_ADD)
    assert found[0] != found[1]
    for rounding, (alpha, beta, gamma) in zip(linear.ROUNDINGS, found):
        exact = linear.exact_outputs(RESNET8_ADD, rounding)
        np.testing.assert_array_equal(linear.form_outputs(alpha, beta, gamma), exact)
        assert not np.array_equal(linear.form_outputs(alpha, beta, gamma + (1 << 16)), exact)
    graph = load_tflite(RESIDUAL_ADD)
    # the ADD alone on the linear form, or fused into the convolution before it (whose epilogue
    # is the same form), whichever the cost model prices lower
    assert _add_kernels(graph) in (["ed_elementwise_add_linear_s8"], ["ed_convolve_add_s8"])
    add = _tie_scales(graph)
    assert "no linear form" in get_kernel("ed_elementwise_add_linear_s8").applies(
        LayerCall(graph, add, kernel_params(graph, add)))
    assert _add_kernels(graph) == ["ed_elementwise_add_s8"]  # neither the form nor the fusion


def _add_kernels(graph) -> list[str]:
    """The kernels that run ``graph``'s ADDs, alone or fused after the op before."""
    return [c.kernel.name for c in choose_kernels(graph, KernelPolicy())
            if c.call.kind == "add" or (c.call.epilogue is not None and c.call.epilogue.kind == "add")]


RESIDUAL_ADD = os.path.join(os.path.dirname(__file__), "data", "tflite", "residual_add.tflite")


def _tie_scales(graph):
    """The ADD of ``graph`` with its inputs' and output's scales set to 0.037, 0.021 and 0.05
    (ratios of small integers: outputs on exact ties, which only the rescales' rounding decides,
    so no linear form of the bytes gives them); returns the op."""
    add = next(op for op in graph.ops if op.kind == "add")
    for name, scale in zip([*add.inputs, *add.outputs], (0.037, 0.021, 0.05)):
        t = graph.tensor(name)
        t.quant = QuantParams(np.array([scale], dtype=np.float32), t.quant.zero_point, 0)
    return add


@pytest.mark.slow
@pytest.mark.skipif(SANITIZE, reason="already running under the sanitizers")
@pytest.mark.skipif(shutil.which("gcc") is None, reason="no host gcc to build the kernels")
def test_elementwise_under_sanitizers():
    """The host tests again with ASan + UBSan builds, in a child process."""
    env = dict(os.environ, ED_KERNELS_SANITIZE="1")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "not qemu",
                             "-k", "on_the_host", __file__], env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
def test_the_flash_fallback_takes_the_add_tables_back(tmp_path):
    """ADD's rescale tables are flash traded for speed (family "tables"): on a flash one byte short
    of the full firmware the layers go back to arm_elementwise_add_s8 until the firmware fits,
    and the report says why. (The ADD's scales are set so that no linear form applies, which
    would need no tables.)"""
    from edge_deploy.boards import load_board
    from edge_deploy.build.firmware_build import build_graph

    graph = load_tflite(RESIDUAL_ADD)
    _tie_scales(graph)
    board = load_board("mps2-an386")
    full = build_graph(graph, board, tmp_path / "full").report
    adds = [layer for layer in full["layers"] if layer["op"] == "add"]
    assert adds and all(layer["kernel"] == "ed_elementwise_add_s8" for layer in adds)
    flash = board.memory.flash.model_copy(update={"size": full["flash_bytes"] - 1})
    small = board.model_copy(update={"memory": board.memory.model_copy(update={"flash": flash})})
    tight = build_graph(graph, small, tmp_path / "tight").report
    assert tight["flash_bytes"] < full["flash_bytes"]
    assert tight["budget"]["flash_needed_bytes"] < full["budget"]["flash_needed_bytes"]
    fallback = " ".join(tight["kernel_policy"]["flash_fallback"])
    moved = [layer for layer in tight["layers"] if layer["op"] == "add" and layer["kernel"] != "ed_elementwise_add_s8"]
    assert moved and all(layer["kernel"] == "arm_elementwise_add_s8" and layer["name"] in fallback for layer in moved)
