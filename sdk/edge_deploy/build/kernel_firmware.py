"""Test firmware that runs edge-deploy's s8 kernels on QEMU mps2-an386, one call per case.

Each :class:`KernelCase` names a kernel call with its NumPy arrays and parameters (the keyword
arguments of :mod:`edge_deploy.interp.ops`). :func:`build_kernel_firmware` writes a C file that
holds every case's data as ``const`` arrays, calls the kernel between two profiling marks
(``firmware/runtime/ed_profile.h``), prints each output as hex over semihosting, and exits.
:func:`run_kernel_firmware` runs it under QEMU with the instruction-count plugin and returns
each case's output and its exact executed-instruction count.

Used by the kernel tests (the SIMD path compared with the reference on the real Cortex-M4
instruction set) and by ``benchmarks/build_kernels.py``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.paths import resource_dir

KERNEL_PATHS = ("dsp", "portable")
_OPS = ("conv2d_s8", "depthwise_conv2d_s8", "fully_connected_s8", "max_pool_s8", "avg_pool_s8", "add_s8",
        "softmax_s8", "pad_s8")


@dataclass
class KernelCase:
    """One kernel call: ``op`` is an :mod:`edge_deploy.interp.ops` name, ``arrays`` its array
    arguments by name (x, w, bias, a, b), ``params`` the keyword arguments, ``out_shape`` the
    output shape and ``macs`` the multiply-accumulates it performs (for MAC/instruction)."""

    name: str
    op: str
    arrays: dict[str, np.ndarray | None]
    params: dict[str, Any]
    out_shape: tuple[int, ...]
    macs: int = 0
    expected: np.ndarray | None = field(default=None, repr=False)
    # For kernels outside the CMSIS-NN API (ed_sparse.h): case index -> C text with the case's
    # data and ``static int run_case_<i>(void)`` writing ``out_<i>``; ``op`` then only names it.
    c_source: Callable[[int], str] | None = field(default=None, repr=False)


def winograd_case(name: str, x: np.ndarray, w: np.ndarray, bias: np.ndarray, params: dict[str, Any], *,
                  maxpool2: bool = False) -> KernelCase:
    """A case calling ``ed_convolve_1d_winograd_s8`` (``maxpool2``: the fused max pool variant)
    on a 1-D conv2d (``params`` as for :func:`edge_deploy.interp.ops.conv2d_s8`, ``stride`` and
    ``padding`` given in it), with the filter transformed as the build does and the reference
    output (conv, then max pool) as ``expected``."""
    from edge_deploy.codegen.winograd import geometry, transform_filter
    from edge_deploy.interp import ops

    stride = int(params.get("stride", (1, 1))[1])
    left = int(params.get("padding", (0, 0, 0, 0))[2])
    conv = ops.conv2d_s8(x, w, bias, **params)
    expected = ops.max_pool_s8(conv, filter_hw=(1, 2), stride=(1, 2)) if maxpool2 else conv
    cout = w.shape[0]
    words = transform_filter(w, stride)
    scratch = geometry(w.shape[2], w.shape[3], cout, stride).scratch_bytes // 4
    act = f"{{{int(params.get('act_min', -128))}, {int(params.get('act_max', 127))}}}"
    dims = lambda s: "{%d, %d, %d, %d}" % tuple(s)  # noqa: E731 - a tiny formatter
    call = "ed_convolve_1d_winograd_maxpool2_s8" if maxpool2 else "ed_convolve_1d_winograd_s8"
    extra = "&conv, " if maxpool2 else ""

    def source(i: int) -> str:
        return (_c_array(f"x_{i}", "int8_t", x) + _c_array(f"u_{i}", "uint32_t", words)
                + _c_array(f"mult_{i}", "int32_t", _vec(params["out_mult"], cout))
                + _c_array(f"shift_{i}", "int32_t", _vec(params["out_shift"], cout))
                + _c_array(f"bias_{i}", "int32_t", bias)
                + f"static uint32_t scratch_{i}[{scratch}];\n"
                f"static int run_case_{i}(void)\n{{\n"
                f"    const cmsis_nn_context ctx = {{scratch_{i}, sizeof(scratch_{i})}};\n"
                f"    const cmsis_nn_conv_params params = {{{params['input_offset']}, {params['output_offset']}, "
                f"{{{stride}, 1}}, {{{left}, 0}}, {{1, 1}}, {act}}};\n"
                f"    const cmsis_nn_per_channel_quant_params quant = {{(int32_t *)mult_{i}, (int32_t *)shift_{i}}};\n"
                f"    const cmsis_nn_dims in = {dims(x.shape)}, flt = {dims(w.shape)}, bias_dims = {{1, 1, 1, {cout}}}, "
                f"conv = {dims(conv.shape)}, out = {dims(expected.shape)};\n"
                f"    (void)conv;\n"
                f"    return {call}(&ctx, &params, &quant, &in, x_{i}, &flt, u_{i}, &bias_dims, bias_{i}, {extra}&out, "
                f"out_{i});\n}}\n")

    macs = int(conv.size) * w.shape[2] * w.shape[3]
    return KernelCase(name, "conv2d_s8", {}, {}, expected.shape, macs, expected, c_source=source)


def _c_array(name: str, ctype: str, values) -> str:
    flat = np.asarray(values).reshape(-1)
    if flat.size == 0:
        flat = np.zeros(1, dtype=np.int64)
    body = ", ".join(str(int(v)) for v in flat)
    return f"static const {ctype} {name}[{flat.size}] __attribute__((aligned(4))) = {{{body}}};\n"


def _vec(values, count: int) -> np.ndarray:
    arr = np.asarray(values)
    return np.full(count, int(arr)) if arr.ndim == 0 else arr


def _case_source(i: int, case: KernelCase) -> str:
    """Data and a run_case_<i>() function calling the kernel for one case."""
    p = case.params
    a = case.arrays
    out_size = int(np.prod(case.out_shape))
    src = [f"/* case {i}: {case.name} ({case.op}) */\n", f"static int8_t out_{i}[{out_size}] __attribute__((aligned(4)));\n"]
    if case.c_source is not None:
        return "".join(src) + case.c_source(i)
    dims = lambda s: "{%d, %d, %d, %d}" % tuple(s)  # noqa: E731 - a tiny formatter
    act = f"{{{int(p.get('act_min', -128))}, {int(p.get('act_max', 127))}}}"
    if case.op in ("conv2d_s8", "depthwise_conv2d_s8"):
        x, w = a["x"], a["w"]
        cout = w.shape[0] if case.op == "conv2d_s8" else w.shape[3]
        stride, dil = p.get("stride", (1, 1)), p.get("dilation", (1, 1))
        top, _, left, _ = p.get("padding", (0, 0, 0, 0))
        src += [_c_array(f"x_{i}", "int8_t", x), _c_array(f"w_{i}", "int8_t", w),
                _c_array(f"mult_{i}", "int32_t", _vec(p["out_mult"], cout)),
                _c_array(f"shift_{i}", "int32_t", _vec(p["out_shift"], cout))]
        bias = "NULL"
        if a.get("bias") is not None:
            src.append(_c_array(f"bias_{i}", "int32_t", a["bias"]))
            bias = f"bias_{i}"
        tiles = (f"{{{stride[1]}, {stride[0]}}}, {{{left}, {top}}}, {{{dil[1]}, {dil[0]}}}, {act}")
        if case.op == "conv2d_s8":
            src.append(
                f"static int16_t scratch_{i}[{max(1, w.shape[1] * w.shape[2] * x.shape[3] * 2)}];\n"
                f"static int run_case_{i}(void)\n{{\n"
                f"    const cmsis_nn_context ctx = {{scratch_{i}, sizeof(scratch_{i})}};\n"
                f"    const cmsis_nn_conv_params params = {{{p['input_offset']}, {p['output_offset']}, {tiles}}};\n")
            call = "arm_convolve_s8"
        else:
            src.append(
                f"static int run_case_{i}(void)\n{{\n"
                f"    const cmsis_nn_context ctx = {{NULL, 0}};\n"
                f"    const cmsis_nn_dw_conv_params params = {{{p['input_offset']}, {p['output_offset']}, "
                f"{cout // x.shape[3]}, {tiles}}};\n")
            call = "arm_depthwise_conv_s8"
        src.append(
            f"    const cmsis_nn_per_channel_quant_params quant = {{(int32_t *)mult_{i}, (int32_t *)shift_{i}}};\n"
            f"    const cmsis_nn_dims in = {dims(x.shape)}, flt = {dims(w.shape)}, bias_dims = {{1, 1, 1, {cout}}},"
            f" out = {dims(case.out_shape)};\n"
            f"    return {call}(&ctx, &params, &quant, &in, x_{i}, &flt, w_{i}, &bias_dims, {bias}, &out, out_{i});\n"
            "}\n")
    elif case.op == "fully_connected_s8":
        x, w = a["x"], a["w"]
        units, depth = w.shape
        rows = x.size // depth
        src += [_c_array(f"x_{i}", "int8_t", x), _c_array(f"w_{i}", "int8_t", w)]
        bias = "NULL"
        if a.get("bias") is not None:
            src.append(_c_array(f"bias_{i}", "int32_t", a["bias"]))
            bias = f"bias_{i}"
        per_channel = np.ndim(p["out_mult"]) > 0
        if per_channel:
            src += [_c_array(f"mult_{i}", "int32_t", p["out_mult"]), _c_array(f"shift_{i}", "int32_t", p["out_shift"])]
            quant = (f"    const cmsis_nn_per_channel_quant_params quant = {{(int32_t *)mult_{i}, "
                     f"(int32_t *)shift_{i}}};\n")
            call = "arm_fully_connected_per_channel_s8"
        else:
            quant = f"    const cmsis_nn_per_tensor_quant_params quant = {{{int(p['out_mult'])}, {int(p['out_shift'])}}};\n"
            call = "arm_fully_connected_s8"
        src.append(
            f"static int run_case_{i}(void)\n{{\n    const cmsis_nn_context ctx = {{NULL, 0}};\n"
            f"    const cmsis_nn_fc_params params = {{{p['input_offset']}, {p.get('filter_offset', 0)}, "
            f"{p['output_offset']}, {act}}};\n{quant}"
            f"    const cmsis_nn_dims in = {{{rows}, 1, 1, {depth}}}, flt = {{{depth}, 1, 1, {units}}}, "
            f"bias_dims = {{1, 1, 1, {units}}}, out = {{{rows}, 1, 1, {units}}};\n"
            f"    return {call}(&ctx, &params, &quant, &in, x_{i}, &flt, w_{i}, &bias_dims, {bias}, &out, out_{i});\n"
            "}\n")
    elif case.op in ("max_pool_s8", "avg_pool_s8"):
        x = a["x"]
        stride, window = p["stride"], p["filter_hw"]
        top, _, left, _ = p.get("padding", (0, 0, 0, 0))
        call = "arm_max_pool_s8" if case.op == "max_pool_s8" else "arm_avgpool_s8"
        src += [_c_array(f"x_{i}", "int8_t", x),
                f"static int run_case_{i}(void)\n{{\n    const cmsis_nn_context ctx = {{NULL, 0}};\n"
                f"    const cmsis_nn_pool_params params = {{{{{stride[1]}, {stride[0]}}}, {{{left}, {top}}}, {act}}};\n"
                f"    const cmsis_nn_dims in = {dims(x.shape)}, flt = {{1, {window[0]}, {window[1]}, 1}}, "
                f"out = {dims(case.out_shape)};\n"
                f"    return {call}(&ctx, &params, &in, x_{i}, &flt, &out, out_{i});\n}}\n"]
    elif case.op == "add_s8":
        keys = ("input1_offset", "input1_mult", "input1_shift", "input2_offset", "input2_mult", "input2_shift",
                "left_shift")
        args = ", ".join(str(int(p[k])) for k in keys)
        tail = ", ".join(str(int(p[k])) for k in ("output_offset", "out_mult", "out_shift"))
        src += [_c_array(f"a_{i}", "int8_t", a["a"]), _c_array(f"b_{i}", "int8_t", a["b"]),
                f"static int run_case_{i}(void)\n{{\n    return arm_elementwise_add_s8(a_{i}, b_{i}, {args}, out_{i}, "
                f"{tail}, {int(p.get('act_min', -128))}, {int(p.get('act_max', 127))}, {out_size});\n}}\n"]
    elif case.op == "softmax_s8":
        x = a["x"]
        row = x.shape[-1]
        src += [_c_array(f"x_{i}", "int8_t", x),
                f"static int run_case_{i}(void)\n{{\n    arm_softmax_s8(x_{i}, {x.size // row}, {row}, "
                f"{int(p['input_mult'])}, {int(p['input_left_shift'])}, {int(p['diff_min'])}, out_{i});\n"
                "    return 0;\n}\n"]
    elif case.op == "pad_s8":
        x = a["x"]
        pre = [int(v[0]) for v in p["paddings"]]
        post = [int(v[1]) for v in p["paddings"]]
        src += [_c_array(f"x_{i}", "int8_t", x),
                f"static int run_case_{i}(void)\n{{\n    const cmsis_nn_dims in = {dims(x.shape)}, "
                f"pre = {dims(pre)}, post = {dims(post)};\n"
                f"    return arm_pad_s8(x_{i}, out_{i}, {int(p['pad_value'])}, &in, &pre, &post);\n}}\n"]
    else:
        raise ValueError(f"unknown kernel op {case.op!r}; expected one of {_OPS}")
    return "".join(src)


_MAIN = r"""
/* Semihosting SYS_WRITE0: print a NUL-terminated string on the host's stdout. */
static void ed_host_print(const char *text)
{
    register uint32_t op __asm__("r0") = 0x04u;
    register const char *arg __asm__("r1") = text;
    __asm__ volatile("bkpt 0xab" : : "r"(op), "r"(arg) : "memory");
}

/* "case <i> <status> <hex bytes>" per case, in chunks that fit a small line buffer. */
static void ed_print_output(int index, int status, const int8_t *data, int size)
{
    static const char digits[] = "0123456789abcdef";
    char line[136];
    int pos = 0;
    line[pos++] = 'c'; line[pos++] = 'a'; line[pos++] = 's'; line[pos++] = 'e'; line[pos++] = ' ';
    char number[12];
    int n = 0, value = index;
    do { number[n++] = (char)('0' + value % 10); value /= 10; } while (value > 0);
    while (n > 0) { line[pos++] = number[--n]; }
    line[pos++] = ' ';
    line[pos++] = status == 0 ? '0' : 'E';
    line[pos++] = ' ';
    for (int i = 0; i < size; i++) {
        const uint8_t byte = (uint8_t)data[i];
        line[pos++] = digits[byte >> 4];
        line[pos++] = digits[byte & 15];
        if (pos >= 128) { line[pos] = 0; ed_host_print(line); pos = 0; }
    }
    line[pos++] = '\n';
    line[pos] = 0;
    ed_host_print(line);
}

int main(void)
{
    int failures = 0;
    for (uint32_t i = 0; i < ED_CASE_COUNT; i++) {
        ed_profile_mark(i);
        const int status = ed_cases[i].run();
        ed_profile_mark(ED_PROFILE_MARK_END);
        failures += status != 0;
        ed_print_output((int)i, status, ed_cases[i].out, ed_cases[i].size);
    }
    return failures;
}
"""


def kernel_cases_source(cases: Sequence[KernelCase]) -> str:
    """The C source of the test firmware for ``cases`` (deterministic for the same cases)."""
    if len(cases) > 255:
        raise ValueError("at most 255 kernel cases fit the profiling marks")
    parts = ["/* Generated by edge_deploy.build.kernel_firmware: kernel cases for QEMU. */\n",
             "#include <stddef.h>\n#include <stdint.h>\n#include \"arm_nnfunctions.h\"\n#include \"ed_profile.h\"\n#include \"ed_sparse.h\"\n#include \"ed_winograd.h\"\n\n"]
    for i, case in enumerate(cases):
        parts.append(_case_source(i, case))
    parts.append(f"\n#define ED_CASE_COUNT {len(cases)}u\n")
    parts.append("static const struct { int (*run)(void); const int8_t *out; int size; } ed_cases[] = {\n")
    for i, case in enumerate(cases):
        parts.append(f"    {{run_case_{i}, out_{i}, {int(np.prod(case.out_shape))}}},\n")
    parts.append("};\n")
    parts.append(_MAIN)
    return "".join(parts)


def build_kernel_firmware(cases: Sequence[KernelCase], out_dir: str | Path, *, path: str = "dsp",
                          opt: str = "-O2") -> Path:
    """Compile the kernel cases with the kernels' ``path`` ("dsp" or "portable") for
    mps2-an386; returns the ELF. Raises EdgeDeployError when the toolchain fails."""
    from edge_deploy.profile.baremetal import CPU_FLAGS, LINKER_SCRIPT, STARTUP_C, arm_gcc

    if path not in KERNEL_PATHS:
        raise ValueError(f"unknown kernel path {path!r}; expected one of {KERNEL_PATHS}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cases.c").write_text(kernel_cases_source(cases))
    (out / "startup.c").write_text(STARTUP_C)
    (out / "link.ld").write_text(LINKER_SCRIPT)
    firmware = resource_dir("firmware")
    kernels = sorted(str(f) for f in (firmware / "kernels").glob("*.c"))
    elf = out / f"kernels-{path}.elf"
    cmd = [arm_gcc(), *CPU_FLAGS, opt, "-g", "-std=c11", "-Wall", "-Wextra", "-ffunction-sections",
           f"-I{firmware / 'include'}", f"-I{firmware / 'kernels'}", f"-I{firmware / 'runtime'}",
           *(["-DED_NN_PORTABLE"] if path == "portable" else []),
           "-T", str(out / "link.ld"), "-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections",
           str(out / "cases.c"), str(out / "startup.c"), *kernels, "-o", str(elf), "-lc", "-lgcc"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise EdgeDeployError(f"building the kernel test firmware failed:\n{proc.stderr.strip()[-3000:]}",
                              hint="fix the kernel or the case named in the compiler message")
    return elf


@dataclass(frozen=True)
class KernelRun:
    """Outputs (by case index), executed instructions and Cortex-M4 model cycles per case of one
    firmware run."""

    outputs: list[np.ndarray]
    statuses: list[int]
    instructions: list[int]
    cycles: list[int] = field(default_factory=list)


def run_kernel_firmware(elf: str | Path, cases: Sequence[KernelCase], *, timeout_s: float = 120.0) -> KernelRun:
    """Run the kernel firmware on QEMU mps2-an386 with instruction counting.

    Returns each case's output (shaped ``out_shape``), kernel status, instruction count and
    model cycles.
    Raises EdgeDeployError when QEMU fails or the output is incomplete.
    """
    from edge_deploy.profile.attribution import per_mark, segment_cycles
    from edge_deploy.profile.cycle_model import CortexM4Timing
    from edge_deploy.profile.decode import decode_code
    from edge_deploy.profile.qemu_run import run_with_counts

    run = run_with_counts(elf, timeout_s=timeout_s)
    # QEMU sends semihosting console output to stderr or stdout depending on its version.
    text = (run.stdout + run.stderr).replace("\r", "")
    lines = {}
    for chunk in text.split("case ")[1:]:
        head, _, rest = chunk.partition(" ")
        status, _, hexdata = rest.partition(" ")
        lines[int(head)] = (status, "".join(hexdata.split()))
    outputs, statuses = [], []
    for i, case in enumerate(cases):
        if i not in lines:
            raise EdgeDeployError(f"the kernel firmware printed no output for case {i} ({case.name})",
                                  hint=f"QEMU said: {run.stderr[-500:]}")
        status, hexdata = lines[i]
        statuses.append(0 if status == "0" else -1)
        data = np.frombuffer(bytes.fromhex(hexdata), dtype=np.int8)
        outputs.append(data.reshape(case.out_shape) if data.size == np.prod(case.out_shape) else data)
    tallies = per_mark(segment_cycles(run.counts, decode_code(run.counts.code), CortexM4Timing()))
    instructions = [tallies[i].instructions if i in tallies else 0 for i in range(len(cases))]
    cycles = [tallies[i].cycles if i in tallies else 0 for i in range(len(cases))]
    return KernelRun(outputs=outputs, statuses=statuses, instructions=instructions, cycles=cycles)
