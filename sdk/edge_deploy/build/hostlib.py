"""edge-deploy's CMSIS-NN s8 kernels (``firmware/kernels/``) compiled for the host, via ctypes.

The same C that runs on the Cortex-M4, built with the host gcc into a shared library, so
Python can call every kernel with NumPy arrays and compare it with the reference interpreter.
Variants:

* ``path="portable"``: the portable C path (what a non-DSP core runs);
* ``path="dsp"``: the SIMD path with the DSP instructions emulated in C (``ED_NN_EMULATE_DSP``),
  so sanitizers see its indexing on the host;
* ``sanitize=True``: ``-fsanitize=address,undefined``. Loading such a library into Python
  needs the sanitizer runtimes preloaded: see :func:`sanitizer_env`.

Wrapper keyword arguments mirror :mod:`edge_deploy.interp.ops`, so a test calls both alike.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.fsutil import atomic_output_file
from edge_deploy.paths import resource_dir

KERNEL_PATHS = ("portable", "dsp")


def kernel_sources() -> list[Path]:
    """The kernel C files and headers, sorted (the inputs of every kernel build)."""
    firmware = resource_dir("firmware")
    files = sorted((firmware / "kernels").glob("*.[ch]")) + sorted((firmware / "include").glob("*.h"))
    return files


def _host_cc() -> str:
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise EdgeDeployError("no host C compiler found (gcc or $CC)", hint="apt-get install gcc")
    return cc


def host_kernel_flags(path: str = "portable", *, sanitize: bool = False, rounding: str = "double") -> list[str]:
    """Compiler flags for a host build of the kernels. Raises ValueError on an unknown option."""
    if path not in KERNEL_PATHS:
        raise ValueError(f"unknown kernel path {path!r}; expected one of {KERNEL_PATHS}")
    if rounding not in ("double", "single"):
        raise ValueError(f"unknown rounding {rounding!r}; expected 'double' or 'single'")
    firmware = resource_dir("firmware")
    flags = ["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-fPIC",
             f"-I{firmware / 'include'}", f"-I{firmware / 'kernels'}"]
    flags.append("-DED_NN_EMULATE_DSP" if path == "dsp" else "-DED_NN_PORTABLE")
    if rounding == "single":
        flags.append("-DCMSIS_NN_USE_SINGLE_ROUNDING")
    if sanitize:
        flags += ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
    return flags


def build_host_kernels(path: str = "portable", *, sanitize: bool = False, rounding: str = "double",
                       cache_dir: str | os.PathLike | None = None) -> Path:
    """Compile ``firmware/kernels/*.c`` into a host shared library; returns its path.

    The library is cached under ``cache_dir`` (default: a folder in the system temp dir) by a
    hash of the sources and flags, so repeated calls are free. Raises EdgeDeployError when the
    compiler fails.
    """
    flags = host_kernel_flags(path, sanitize=sanitize, rounding=rounding)
    cc = _host_cc()
    digest = hashlib.sha256()
    for item in [cc, *flags]:
        digest.update(item.encode() + b"\0")
    for source in kernel_sources():
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    cache = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "edge-deploy-hostlib"
    target = cache / f"kernels-{path}-{rounding}{'-san' if sanitize else ''}-{digest.hexdigest()[:16]}.so"
    if target.exists():
        return target
    c_files = [str(s) for s in kernel_sources() if s.suffix == ".c"]
    with atomic_output_file(target) as tmp:
        cmd = [cc, *flags, "-shared", "-o", str(tmp), *c_files]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise EdgeDeployError(
                f"host build of the kernels failed:\n{result.stderr.strip()}",
                hint="fix the C error above in firmware/kernels/",
            )
    return target


def sanitizer_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a Python process that loads a sanitized library: runtimes preloaded."""
    env = dict(os.environ if base is None else base)
    cc = _host_cc()
    runtimes = []
    for name in ("libasan.so", "libubsan.so"):
        found = subprocess.run([cc, f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
        if found and os.path.isabs(found):
            runtimes.append(found)
    env["LD_PRELOAD"] = ":".join(runtimes)
    env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


class _Tile(ctypes.Structure):
    _fields_ = [("w", ctypes.c_int32), ("h", ctypes.c_int32)]


class _Context(ctypes.Structure):
    _fields_ = [("buf", ctypes.c_void_p), ("size", ctypes.c_int32)]


class _Dims(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int32), ("h", ctypes.c_int32), ("w", ctypes.c_int32), ("c", ctypes.c_int32)]


class _PerChannel(ctypes.Structure):
    _fields_ = [("multiplier", ctypes.c_void_p), ("shift", ctypes.c_void_p)]


class _PerTensor(ctypes.Structure):
    _fields_ = [("multiplier", ctypes.c_int32), ("shift", ctypes.c_int32)]


class _Activation(ctypes.Structure):
    _fields_ = [("min", ctypes.c_int32), ("max", ctypes.c_int32)]


class _ConvParams(ctypes.Structure):
    _fields_ = [("input_offset", ctypes.c_int32), ("output_offset", ctypes.c_int32), ("stride", _Tile),
                ("padding", _Tile), ("dilation", _Tile), ("activation", _Activation)]


class _DwConvParams(ctypes.Structure):
    _fields_ = [("input_offset", ctypes.c_int32), ("output_offset", ctypes.c_int32), ("ch_mult", ctypes.c_int32),
                ("stride", _Tile), ("padding", _Tile), ("dilation", _Tile), ("activation", _Activation)]


class _PoolParams(ctypes.Structure):
    _fields_ = [("stride", _Tile), ("padding", _Tile), ("activation", _Activation)]


class _FcParams(ctypes.Structure):
    _fields_ = [("input_offset", ctypes.c_int32), ("filter_offset", ctypes.c_int32),
                ("output_offset", ctypes.c_int32), ("activation", _Activation)]


def _ptr(array: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(array.ctypes.data)


def _c_array(values, dtype, count: int | None = None) -> np.ndarray:
    array = np.ascontiguousarray(np.asarray(values, dtype=dtype))
    if count is not None and array.ndim == 0:
        array = np.full(count, array, dtype=dtype)
    return array


def _check(status: int, name: str) -> None:
    if status != 0:
        raise ValueError(f"{name} returned status {status} (argument error)")


class HostKernels:
    """The kernels of one host build, callable with NumPy arrays (one call per kernel)."""

    def __init__(self, library: str | os.PathLike) -> None:
        """Load the shared library built by :func:`build_host_kernels`."""
        self.path = Path(library)
        self.lib = ctypes.CDLL(str(self.path))
        self.lib.arm_convolve_s8_get_buffer_size.restype = ctypes.c_int32
        self.lib.arm_avgpool_s8_get_buffer_size.restype = ctypes.c_int32
        self.lib.ed_convolve_1d_winograd_s8_get_buffer_size.restype = ctypes.c_int32

    def _scratch(self, size: int) -> tuple[_Context, np.ndarray]:
        # Guard bytes after the scratch would hide an overrun from ASan; allocate exactly.
        buffer = np.zeros(max(size, 1), dtype=np.int8)
        return _Context(ctypes.c_void_p(buffer.ctypes.data) if size > 0 else None, size), buffer

    def conv_buffer_size(self, input_shape, filter_shape) -> int:
        """``arm_convolve_s8_get_buffer_size`` for NHWC input and OHWI filter shapes."""
        return int(self.lib.arm_convolve_s8_get_buffer_size(ctypes.byref(_Dims(*input_shape)),
                                                            ctypes.byref(_Dims(*filter_shape))))

    def conv2d_s8(self, x, w, bias, *, input_offset, output_offset, out_mult, out_shift, stride=(1, 1),
                  padding=(0, 0, 0, 0), dilation=(1, 1), act_min=-128, act_max=127) -> np.ndarray:
        """``arm_convolve_s8``: NHWC int8 x, OHWI int8 w, int32 bias (or None) -> NHWC int8."""
        x = _c_array(x, np.int8)
        w = _c_array(w, np.int8)
        cout = w.shape[0]
        top, bottom, left, right = padding
        out_h = (x.shape[1] + top + bottom - ((w.shape[1] - 1) * dilation[0] + 1)) // stride[0] + 1
        out_w = (x.shape[2] + left + right - ((w.shape[2] - 1) * dilation[1] + 1)) // stride[1] + 1
        out = np.zeros((x.shape[0], out_h, out_w, cout), dtype=np.int8)
        mult = _c_array(out_mult, np.int32, cout)
        shift = _c_array(out_shift, np.int32, cout)
        bias_arr = None if bias is None else _c_array(bias, np.int32)
        params = _ConvParams(input_offset, output_offset, _Tile(stride[1], stride[0]), _Tile(left, top),
                             _Tile(dilation[1], dilation[0]), _Activation(act_min, act_max))
        in_dims, flt_dims = _Dims(*x.shape), _Dims(*w.shape)
        ctx, _buf = self._scratch(self.conv_buffer_size(x.shape, w.shape))
        status = self.lib.arm_convolve_s8(
            ctypes.byref(ctx), ctypes.byref(params), ctypes.byref(_PerChannel(_ptr(mult), _ptr(shift))),
            ctypes.byref(in_dims), _ptr(x), ctypes.byref(flt_dims), _ptr(w), ctypes.byref(_Dims(1, 1, 1, cout)),
            None if bias_arr is None else _ptr(bias_arr), ctypes.byref(_Dims(*out.shape)), _ptr(out))
        _check(status, "arm_convolve_s8")
        return out

    def winograd_conv1d_s8(self, x, w, bias, *, input_offset, output_offset, out_mult, out_shift, stride=1,
                           padding=(0, 0), act_min=-128, act_max=127, maxpool2=False) -> np.ndarray:
        """``ed_convolve_1d_winograd_s8``: NHWC int8 x of height 1, OHWI int8 w of height 1 (the
        filter is transformed here, as the build does), ``padding`` (left, right) -> NHWC int8.
        With ``maxpool2``, ``ed_convolve_1d_winograd_maxpool2_s8``: the output max-pooled by 2."""
        from edge_deploy.codegen.winograd import transform_filter

        x = _c_array(x, np.int8)
        w = _c_array(w, np.int8)
        cout = w.shape[0]
        left, right = padding
        out_w = (x.shape[2] + left + right - w.shape[2]) // stride + 1
        conv_dims = _Dims(x.shape[0], 1, out_w, cout)
        out = np.zeros((x.shape[0], 1, out_w // 2 if maxpool2 else out_w, cout), dtype=np.int8)
        words = _c_array(transform_filter(w, stride), np.uint32)
        mult = _c_array(out_mult, np.int32, cout)
        shift = _c_array(out_shift, np.int32, cout)
        bias_arr = None if bias is None else _c_array(bias, np.int32)
        params = _ConvParams(input_offset, output_offset, _Tile(stride, 1), _Tile(left, 0), _Tile(1, 1),
                             _Activation(act_min, act_max))
        in_dims, flt_dims = _Dims(*x.shape), _Dims(*w.shape)
        size = int(self.lib.ed_convolve_1d_winograd_s8_get_buffer_size(ctypes.byref(params), ctypes.byref(in_dims),
                                                                        ctypes.byref(flt_dims)))
        ctx, _buf = self._scratch(size)
        name = "ed_convolve_1d_winograd_maxpool2_s8" if maxpool2 else "ed_convolve_1d_winograd_s8"
        dims = (ctypes.byref(conv_dims),) if maxpool2 else ()
        status = getattr(self.lib, name)(
            ctypes.byref(ctx), ctypes.byref(params), ctypes.byref(_PerChannel(_ptr(mult), _ptr(shift))),
            ctypes.byref(in_dims), _ptr(x), ctypes.byref(flt_dims), _ptr(words), ctypes.byref(_Dims(1, 1, 1, cout)),
            None if bias_arr is None else _ptr(bias_arr), *dims, ctypes.byref(_Dims(*out.shape)), _ptr(out))
        _check(status, name)
        return out

    def depthwise_conv2d_s8(self, x, w, bias, *, input_offset, output_offset, out_mult, out_shift, stride=(1, 1),
                            padding=(0, 0, 0, 0), dilation=(1, 1), act_min=-128, act_max=127) -> np.ndarray:
        """``arm_depthwise_conv_s8``: NHWC int8 x, 1HWO int8 w -> NHWC int8."""
        x = _c_array(x, np.int8)
        w = _c_array(w, np.int8)
        cout = w.shape[3]
        top, bottom, left, right = padding
        out_h = (x.shape[1] + top + bottom - ((w.shape[1] - 1) * dilation[0] + 1)) // stride[0] + 1
        out_w = (x.shape[2] + left + right - ((w.shape[2] - 1) * dilation[1] + 1)) // stride[1] + 1
        out = np.zeros((x.shape[0], out_h, out_w, cout), dtype=np.int8)
        mult = _c_array(out_mult, np.int32, cout)
        shift = _c_array(out_shift, np.int32, cout)
        bias_arr = None if bias is None else _c_array(bias, np.int32)
        params = _DwConvParams(input_offset, output_offset, cout // x.shape[3], _Tile(stride[1], stride[0]),
                               _Tile(left, top), _Tile(dilation[1], dilation[0]), _Activation(act_min, act_max))
        ctx = _Context(None, 0)
        status = self.lib.arm_depthwise_conv_s8(
            ctypes.byref(ctx), ctypes.byref(params), ctypes.byref(_PerChannel(_ptr(mult), _ptr(shift))),
            ctypes.byref(_Dims(*x.shape)), _ptr(x), ctypes.byref(_Dims(*w.shape)), _ptr(w),
            ctypes.byref(_Dims(1, 1, 1, cout)), None if bias_arr is None else _ptr(bias_arr),
            ctypes.byref(_Dims(*out.shape)), _ptr(out))
        _check(status, "arm_depthwise_conv_s8")
        return out

    def fully_connected_s8(self, x, w, bias, *, input_offset, output_offset, out_mult, out_shift, filter_offset=0,
                           act_min=-128, act_max=127) -> np.ndarray:
        """``arm_fully_connected_s8`` (scalar mult/shift) or ``_per_channel_s8`` (arrays):
        x reshaped to ``(rows, in)``, w ``(out, in)`` -> ``(rows, out)`` int8."""
        w = _c_array(w, np.int8)
        depth, units = w.shape[1], w.shape[0]
        x = _c_array(x, np.int8).reshape(-1, depth)
        out = np.zeros((x.shape[0], units), dtype=np.int8)
        bias_arr = None if bias is None else _c_array(bias, np.int32)
        params = _FcParams(input_offset, filter_offset, output_offset, _Activation(act_min, act_max))
        ctx = _Context(None, 0)
        common = (ctypes.byref(_Dims(x.shape[0], 1, 1, depth)), _ptr(x), ctypes.byref(_Dims(depth, 1, 1, units)),
                  _ptr(w), ctypes.byref(_Dims(1, 1, 1, units)), None if bias_arr is None else _ptr(bias_arr),
                  ctypes.byref(_Dims(x.shape[0], 1, 1, units)), _ptr(out))
        if np.ndim(out_mult) == 0:
            quant = _PerTensor(int(out_mult), int(out_shift))
            status = self.lib.arm_fully_connected_s8(ctypes.byref(ctx), ctypes.byref(params), ctypes.byref(quant),
                                                     *common)
            _check(status, "arm_fully_connected_s8")
        else:
            mult = _c_array(out_mult, np.int32, units)
            shift = _c_array(out_shift, np.int32, units)
            status = self.lib.arm_fully_connected_per_channel_s8(
                ctypes.byref(ctx), ctypes.byref(params), ctypes.byref(_PerChannel(_ptr(mult), _ptr(shift))), *common)
            _check(status, "arm_fully_connected_per_channel_s8")
        return out

    def _pool(self, name, x, filter_hw, stride, padding, act_min, act_max) -> np.ndarray:
        x = _c_array(x, np.int8)
        top, bottom, left, right = padding
        out_h = (x.shape[1] + top + bottom - filter_hw[0]) // stride[0] + 1
        out_w = (x.shape[2] + left + right - filter_hw[1]) // stride[1] + 1
        out = np.zeros((x.shape[0], out_h, out_w, x.shape[3]), dtype=np.int8)
        params = _PoolParams(_Tile(stride[1], stride[0]), _Tile(left, top), _Activation(act_min, act_max))
        ctx = _Context(None, 0)
        status = getattr(self.lib, name)(ctypes.byref(ctx), ctypes.byref(params), ctypes.byref(_Dims(*x.shape)),
                                         _ptr(x), ctypes.byref(_Dims(1, filter_hw[0], filter_hw[1], 1)),
                                         ctypes.byref(_Dims(*out.shape)), _ptr(out))
        _check(status, name)
        return out

    def max_pool_s8(self, x, *, filter_hw, stride, padding=(0, 0, 0, 0), act_min=-128, act_max=127) -> np.ndarray:
        """``arm_max_pool_s8`` on an NHWC int8 tensor."""
        return self._pool("arm_max_pool_s8", x, filter_hw, stride, padding, act_min, act_max)

    def avg_pool_s8(self, x, *, filter_hw, stride, padding=(0, 0, 0, 0), act_min=-128, act_max=127) -> np.ndarray:
        """``arm_avgpool_s8`` on an NHWC int8 tensor."""
        return self._pool("arm_avgpool_s8", x, filter_hw, stride, padding, act_min, act_max)

    def add_s8(self, a, b, *, input1_offset, input1_mult, input1_shift, input2_offset, input2_mult, input2_shift,
               left_shift, output_offset, out_mult, out_shift, act_min=-128, act_max=127) -> np.ndarray:
        """``arm_elementwise_add_s8`` on two equally shaped int8 arrays."""
        a = _c_array(a, np.int8)
        b = _c_array(b, np.int8)
        if a.shape != b.shape:
            raise ValueError(f"arm_elementwise_add_s8 needs equal shapes, got {a.shape} and {b.shape}")
        out = np.zeros_like(a)
        args = [input1_offset, input1_mult, input1_shift, input2_offset, input2_mult, input2_shift, left_shift]
        status = self.lib.arm_elementwise_add_s8(
            _ptr(a), _ptr(b), *[ctypes.c_int32(int(v)) for v in args], _ptr(out),
            *[ctypes.c_int32(int(v)) for v in (output_offset, out_mult, out_shift, act_min, act_max, a.size)])
        _check(status, "arm_elementwise_add_s8")
        return out

    def softmax_s8(self, x, *, input_mult, input_left_shift, diff_min) -> np.ndarray:
        """``arm_softmax_s8`` over the last axis of an int8 array."""
        x = _c_array(x, np.int8)
        out = np.zeros_like(x)
        row = x.shape[-1]
        self.lib.arm_softmax_s8(_ptr(x), ctypes.c_int32(x.size // row), ctypes.c_int32(row),
                                ctypes.c_int32(int(input_mult)), ctypes.c_int32(int(input_left_shift)),
                                ctypes.c_int32(int(diff_min)), _ptr(out))
        return out

    def pad_s8(self, x, paddings, pad_value) -> np.ndarray:
        """``arm_pad_s8`` on an NHWC int8 tensor; ``paddings`` one (before, after) pair per dim."""
        x = _c_array(x, np.int8)
        pre = [int(p[0]) for p in paddings]
        post = [int(p[1]) for p in paddings]
        out = np.zeros([d + a + b for d, a, b in zip(x.shape, pre, post)], dtype=np.int8)
        status = self.lib.arm_pad_s8(_ptr(x), _ptr(out), ctypes.c_int8(int(pad_value)), ctypes.byref(_Dims(*x.shape)),
                                     ctypes.byref(_Dims(*pre)), ctypes.byref(_Dims(*post)))
        _check(status, "arm_pad_s8")
        return out
