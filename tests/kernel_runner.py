"""The C kernels called one at a time from the tests, with NumPy arrays and the reference's
keyword arguments, on the host (portable path, or the DSP path with its instructions emulated).

Each call is a :func:`edge_deploy.testing.cases.kernel_case` rendered through the kernel's
template partial (the call a generated model makes) and run by
:mod:`edge_deploy.testing.harness`; the kernels are compiled once per variant. With
ED_KERNELS_SANITIZE=1 everything is built with AddressSanitizer and UndefinedBehaviorSanitizer.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from edge_deploy.testing.cases import KernelCase, kernel_case
from edge_deploy.testing.harness import KernelRun, build_host, run_host

SANITIZE = os.environ.get("ED_KERNELS_SANITIZE") == "1"


def random_requant(rng: np.random.Generator, channels: int, shifts=(-10, 0)) -> tuple[np.ndarray, np.ndarray]:
    """Random per-channel requantization: Q31 multipliers in [0.5, 1) and shifts in ``shifts``
    (low inclusive, high exclusive)."""
    mult = rng.integers(1 << 30, (1 << 31) - 1, channels).astype(np.int32)
    shift = rng.integers(shifts[0], shifts[1], channels).astype(np.int32)
    return mult, shift
_ACT = {"activation": "none"}


class HostKernels:
    """One host build variant of the kernels: ``path`` ("portable" or "dsp"), ``rounding``."""

    def __init__(self, path: str, *, rounding: str = "double", sanitize: bool = SANITIZE) -> None:
        self.path, self.rounding, self.sanitize = path, rounding, sanitize
        self._work = Path(tempfile.mkdtemp(prefix=f"edge-deploy-kernels-{path}-"))
        self._count = 0

    def run(self, cases: list[KernelCase]) -> KernelRun:
        """Build and run ``cases`` at once."""
        self._count += 1
        exe = build_host(cases, self._work / str(self._count), path=self.path, sanitize=self.sanitize,
                         rounding=self.rounding)
        return run_host(exe, cases)

    def one(self, case: KernelCase) -> np.ndarray:
        """Run one case; raises ValueError with the kernel's status when it fails."""
        run = self.run([case])
        if run.statuses[0] != 0:
            raise ValueError(f"{case.kernel.name} returned status {run.statuses[0]}")
        return run.outputs[0]

    def case(self, kernel: str, op: str, inputs, params, **options) -> KernelCase:
        """A case of ``kernel`` with this build's rounding."""
        return kernel_case(f"{kernel}-{self._count}", kernel, op, inputs, params, rounding=self.rounding, **options)

    def conv2d_s8(self, x, w, bias, **params) -> np.ndarray:
        return self.one(self.case("arm_convolve_s8", "conv2d", [x], params, weights=w, bias=bias, attrs=_ACT))

    def depthwise_conv2d_s8(self, x, w, bias, **params) -> np.ndarray:
        return self.one(self.case("arm_depthwise_conv_s8", "depthwise_conv2d", [x], params, weights=w, bias=bias,
                                  attrs=_ACT))

    def fully_connected_s8(self, x, w, bias, **params) -> np.ndarray:
        kernel = "arm_fully_connected_per_channel_s8" if np.size(params["out_mult"]) > 1 else "arm_fully_connected_s8"
        return self.one(self.case(kernel, "fully_connected", [np.asarray(x).reshape(-1, w.shape[1])], params,
                                  weights=w, bias=bias, attrs=_ACT))

    def max_pool_s8(self, x, **params) -> np.ndarray:
        return self.one(self.case("arm_max_pool_s8", "max_pool2d", [x], params, attrs=_ACT))

    def avg_pool_s8(self, x, **params) -> np.ndarray:
        return self.one(self.case("arm_avgpool_s8", "avg_pool2d", [x], params, attrs=_ACT))

    def add_s8(self, a, b, **params) -> np.ndarray:
        return self.one(self.case("arm_elementwise_add_s8", "add", [a, b], params, attrs=_ACT))

    def softmax_s8(self, x, **params) -> np.ndarray:
        return self.one(self.case("arm_softmax_s8", "softmax", [x], params))

    def pad_s8(self, x, paddings, pad_value) -> np.ndarray:
        return self.one(self.case("arm_pad_s8", "pad", [x], {"paddings": list(paddings), "pad_value": pad_value}))

    def winograd_conv1d_s8(self, x, w, bias, *, stride=1, padding=(0, 0), maxpool2=False, **params) -> np.ndarray:
        """The Winograd convolution of a 1-D layer (``stride`` along the row, ``padding`` (left,
        right)); ``maxpool2``: with the max pool 1x2 stride 2 fused."""
        return self.winograd_conv_s8(x, w, bias, stride=(1, stride), padding=(0, 0, *padding), maxpool2=maxpool2,
                                     **params)

    def winograd_conv_s8(self, x, w, bias, *, stride=(1, 1), padding=(0, 0, 0, 0), maxpool2=False,
                         **params) -> np.ndarray:
        """The Winograd convolution of any layer (``stride`` (h, w), ``padding`` (top, bottom,
        left, right)); ``maxpool2``: with the max pool 1x2 stride 2 fused."""
        params = dict(params, stride=tuple(stride), padding=tuple(padding))
        kernel = "ed_convolve_1d_winograd_maxpool2_s8" if maxpool2 else "ed_convolve_winograd_s8"
        epilogue = ("max_pool2d", {"filter": (1, 2), "stride": (1, 2), "padding": "valid", "activation": "none"})
        return self.one(self.case(kernel, "conv2d", [x], params, weights=w, bias=bias, attrs=_ACT,
                                  epilogue=epilogue if maxpool2 else None, check=False))

    def sparse_conv2d(self, fmt: str, x, w, bias, *, pool=False, **params) -> np.ndarray:
        """ed_convolve_group_sparse_s8 (``fmt`` "group4") or ed_convolve_csr_s8 ("csr"); with
        ``pool`` ed_convolve_group_sparse_maxpool2_s8 (the conv, then a max pool 1x2 stride 2)."""
        kernel = "ed_convolve_group_sparse_maxpool2_s8" if pool else \
            {"group4": "ed_convolve_group_sparse_s8", "csr": "ed_convolve_csr_s8"}[fmt]
        epilogue = ("max_pool2d", {"filter": (1, 2), "stride": (1, 2), "padding": "valid", "activation": "none"})
        return self.one(self.case(kernel, "conv2d", [x], params, weights=w, bias=bias, attrs=_ACT,
                                  epilogue=epilogue if pool else None, check=False))

    def sparse_fully_connected(self, fmt: str, x, w, bias, **params) -> np.ndarray:
        """ed_fully_connected_group_sparse_s8 / ed_fully_connected_csr_s8 (scalar mult/shift: per tensor)."""
        kernel = {"group4": "ed_fully_connected_group_sparse_s8", "csr": "ed_fully_connected_csr_s8"}[fmt]
        return self.one(self.case(kernel, "fully_connected", [np.asarray(x).reshape(-1, w.shape[1])], params,
                                  weights=w, bias=bias, attrs=_ACT, check=False))
