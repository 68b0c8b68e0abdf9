"""What every kernel spec provides: :class:`KernelSpec`, everything about one C kernel function
(the op it serves, whether upstream CMSIS-NN has it, when it applies, its scratch, its cost, its
weight encoding, the epilogue it fuses, its code size), and :class:`LayerCall`, the layer a
kernel is asked about.

A kernel module ``edge_deploy/kernels/<c function>.py`` defines one subclass and exposes its
instance as ``KERNEL``; its call is the template partial ``templates/kernels/<c function>.c.j2``
(the body of the layer's C function). :mod:`edge_deploy.kernels` discovers the modules, so adding
a kernel adds two files. ``docs/adding-an-op.md`` is the checklist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, NamedTuple

import numpy as np

from edge_deploy.ir.graph import Graph, Op, Tensor
from edge_deploy.ops import get_op

# Families of edge-deploy's own kernels that build options switch on and off as a group.
# Kernel families the flash fallback (edge_deploy.build.firmware_build.fit_flash) may take back
# from a layer when the flash is short: "sparse" and "winograd" (which options also switch), and
# two that trade flash for speed: "tables" (build-time lookup tables: the element-wise ADD's
# rescales, softmax's exponentials) and "widened" (weights stored wider than int8).
FAMILIES = ("sparse", "winograd", "tables", "widened")


@dataclass(frozen=True, eq=False)
class LayerCall:
    """One layer as a kernel sees it: ``op`` of ``graph``, the op fused after it (``epilogue``,
    e.g. a max pool, or None), and the numbers both the interpreter and the C are fed
    (``params``: :func:`edge_deploy.ops.kernel_params` of ``op``, or given explicitly by a test
    harness)."""

    graph: Graph
    op: Op
    params: dict[str, Any]
    epilogue: Op | None = None

    @property
    def kind(self) -> str:
        """The op kind."""
        return self.op.kind

    @property
    def input(self) -> Tensor:
        """Input 0."""
        return self.graph.tensor(self.op.inputs[0])

    @property
    def output(self) -> Tensor:
        """The op's own output (the epilogue's input when there is one)."""
        return self.graph.tensor(self.op.outputs[0])

    @property
    def final_output(self) -> Tensor:
        """What the call writes: the epilogue's output, or the op's."""
        op = self.epilogue or self.op
        return self.graph.tensor(op.outputs[0])

    @property
    def epilogue_inputs(self) -> tuple[str, ...]:
        """The activations the epilogue reads besides the op's output (a fused ADD's other
        operand), in its input order."""
        if self.epilogue is None:
            return ()
        return tuple(n for n in self.epilogue.inputs
                     if n and n != self.op.outputs[0] and not self.graph.tensor(n).is_constant)

    @property
    def weights(self) -> Tensor | None:
        """The constant weights (input 1 of a weighted op), or None."""
        if len(self.op.inputs) > 1 and self.op.inputs[1] and self.graph.tensor(self.op.inputs[1]).is_constant:
            return self.graph.tensor(self.op.inputs[1])
        return None

    @property
    def bias(self) -> Tensor | None:
        """The constant bias (input 2), or None."""
        if len(self.op.inputs) > 2 and self.op.inputs[2]:
            return self.graph.tensor(self.op.inputs[2])
        return None

    @cached_property
    def weight_rows(self) -> np.ndarray:
        """The int8 weights as the conv / fully connected kernels read them: one row per output
        channel (OHWI or (out, in) flattened; a depthwise layer's (1, kh, kw, C) as C rows of its
        kh x kw taps), the op's output-channel axis (``weight_axis``) first."""
        w = np.moveaxis(np.asarray(self.weights.data), get_op(self.op).weight_axis, 0)
        return w.reshape(w.shape[0], -1)

    @property
    def macs(self) -> int:
        """The op's multiply-accumulates."""
        return get_op(self.op).macs(self.graph, self.op)


@dataclass(frozen=True)
class CArray:
    """A constant array the generated C holds in flash for a layer."""

    name: str  # suffix after the layer's C name ("weights" -> l03_conv_weights)
    ctype: str  # int8_t, uint8_t, int16_t, uint16_t, int32_t, uint32_t
    values: np.ndarray
    comment: str

    @property
    def nbytes(self) -> int:
        """Flash bytes of the array."""
        return int(np.asarray(self.values).size) * CTYPE_BYTES[self.ctype]


CTYPE_BYTES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4}


@dataclass(frozen=True)
class CConstant:
    """A ``#define <LAYER>_<name> (<value>)`` the generated C gives a layer."""

    name: str
    value: int
    comment: str = ""


class InPlace(NamedTuple):
    """A kernel's output written over one of its inputs: ``input`` (its index among the layer's
    activations); ``grows``: the kernel streams over that input, each part read before the
    output reaches it, so a larger output may start the difference before the input (else the
    output must be no larger)."""

    input: int
    grows: bool = False


@dataclass
class KernelContext:
    """What a kernel's template partial prints for one layer, besides the generic layer fields:
    constants, flash arrays, comment lines and kernel-specific fields (``fields``)."""

    constants: list[CConstant] = field(default_factory=list)
    arrays: list[CArray] = field(default_factory=list)
    comment: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)

    def constant(self, name: str, value: int, comment: str = "") -> None:
        """Add a constant."""
        self.constants.append(CConstant(name, int(value), comment))


class KernelSpec:
    """Base class of every kernel spec; class attributes describe it, methods compute its facts."""

    name: ClassVar[str]  # the C function
    op: ClassVar[str]  # the op kind it serves
    header: ClassVar[str] = "arm_nnfunctions.h"
    # The first upstream CMSIS-NN release that declares this function (with the parameters the
    # partial passes; a later API change is rendered from the checkout's header), or None for
    # edge-deploy's own kernels (``--cmsis-nn`` builds call upstream's wherever the checkout
    # declares the function, and edge-deploy's only for a layer no upstream function can run).
    upstream: ClassVar[str | None] = None
    family: ClassVar[str | None] = None  # one of FAMILIES: a kernel the flash fallback may take back
    epilogue: ClassVar[str | None] = None  # an op kind fused after the op (its output never stored)
    # For a kernel with an epilogue: the kernel it extends (the same arithmetic without it).
    base: ClassVar[str | None] = None
    # Flash for the kernel's code beyond what every build carries (the budget, before linking);
    # kernels sharing code name the same ``code_group`` and are counted once.
    code_bytes: ClassVar[int] = 0
    code_group: ClassVar[str | None] = None
    # Names of :meth:`cost_features`, in the order of the coefficients in costs.json.
    cost_terms: ClassVar[tuple[str, ...]] = ("calls",)
    # Layers the calibration measures this kernel on (edge_deploy.testing.random_layers format;
    # at least a few more than cost terms), so the cost coefficients fit the shapes it meets.
    calibration: ClassVar[tuple[dict[str, Any], ...]] = ()

    def serves(self, op_kind: str) -> bool:
        """True when this kernel runs ops of ``op_kind`` (default: its :attr:`op`; a generic
        kernel, a table lookup say, serves every op with some property)."""
        return op_kind == self.op

    @property
    def template(self) -> str:
        """The template partial with the kernel's call (the layer function's body)."""
        return f"kernels/{self.name}.c.j2"

    def applies(self, call: LayerCall) -> str | None:
        """None when this kernel can run ``call`` exactly, else the reason it cannot."""
        return None

    def worthwhile(self, call: LayerCall) -> str | None:
        """None, or why this kernel is not worth choosing unless the options force it (a sparse
        format that would store more bytes than the dense weights, say)."""
        return None

    def scratch_bytes(self, call: LayerCall) -> int:
        """Scratch bytes the plan reserves for the kernel: what its C ``*_get_buffer_size`` asks
        for on the DSP path (a test checks them equal), or more where upstream CMSIS-NN's asks
        for more, so the same generated sources link against either."""
        return 0

    def upstream_scratch_bytes(self, call: LayerCall, library: Any) -> int:
        """What upstream CMSIS-NN asks for on ``call`` when ``library`` (an upstream checkout,
        :class:`edge_deploy.kernels.library.KernelLibrary`) provides the function: its
        ``*_get_buffer_size`` on the Cortex-M DSP path for the entry point the partial calls with
        that checkout's API (default: :meth:`scratch_bytes`)."""
        return self.scratch_bytes(call)

    def c_scratch_bytes(self, call: LayerCall) -> int:
        """What edge-deploy's C ``*_get_buffer_size`` returns on the DSP path (default: the
        reserved :meth:`scratch_bytes`)."""
        return self.scratch_bytes(call)

    def in_place(self, call: LayerCall, inputs: tuple[str, ...]) -> InPlace | None:
        """Which of the layer's activation ``inputs`` the kernel's output may overwrite (the
        planner shares their memory where that input is read by nothing later), or None. Default:
        the first, for an op that runs in place (element-wise) without an epilogue."""
        return InPlace(0) if get_op(call.op).in_place and call.epilogue is None and inputs else None

    def cost_features(self, call: LayerCall) -> list[float]:
        """The counts the cost model weighs (one per :attr:`cost_terms`)."""
        return [1.0]

    def context(self, call: LayerCall) -> KernelContext:
        """Constants, arrays (weights in this kernel's encoding), comment lines and fields."""
        return KernelContext()

    def facts(self, call: LayerCall) -> dict[str, Any]:
        """What report.json records about this kernel on ``call`` (sparsity, geometry, ...)."""
        return {}

    def weight_bytes(self, call: LayerCall) -> int:
        """Flash bytes of the layer's constant arrays with this kernel."""
        return sum(a.nbytes for a in self.context(call).arrays)
