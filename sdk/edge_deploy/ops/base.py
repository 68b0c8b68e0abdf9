"""What every op module provides: :class:`OpDef`, the one place that knows everything about an
IR op (attributes and their checks, arity, output shape, int8 and float reference, kernel
parameters, quantization rule, ``.tflite`` mapping, PyTorch lowering, builder helper).

An op module ``edge_deploy/ops/<kind>.py`` defines one subclass and exposes its instance as
``OP``; :mod:`edge_deploy.ops` discovers the modules, so adding an op adds a file and edits no
table. ``docs/adding-an-op.md`` is the checklist.

Op modules import only :mod:`edge_deploy.ir`, :mod:`edge_deploy.numerics` and this package: the
``.tflite`` reader and writer and the PyTorch lowering pass them small accessor objects
(:class:`TfliteOptionsReader`, :class:`TfliteOptionsWriter`), so no package above ``ops`` is
imported from here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir.graph import Graph, Op, QuantParams, Tensor
from edge_deploy.numerics.quant import ACTIVATIONS, activation_range

PADDINGS = ("same", "valid")


def op_error(op: Op, problem: str, hint: str | None = None) -> EdgeDeployError:
    """An EdgeDeployError naming ``op`` (its name and kind)."""
    return EdgeDeployError(f"op '{op.name}' ({op.kind}): {problem}", hint)


# ---- attributes -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Attr:
    """One attribute of an op: ``check(value)`` returns None or what is wrong with the value;
    ``required`` attributes must be present, optional ones default to ``default``."""

    name: str
    check: Callable[[Any], str | None]
    required: bool = True
    default: Any = None


def _pair(value: Any) -> str | None:
    try:
        ok = len(value) == 2 and all(int(v) == v and v >= 1 for v in value)
    except TypeError:
        ok = False
    return None if ok else f"must be two positive integers, got {value!r}"


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda value: None if value in choices else f"{value!r} is not one of {choices}"


STRIDE = Attr("stride", _pair)
DILATION = Attr("dilation", _pair)
FILTER = Attr("filter", _pair)
PADDING = Attr("padding", _one_of(PADDINGS))
ACTIVATION = Attr("activation", _one_of(ACTIVATIONS))

# Activation pruning (edge_deploy.slim.activation) may annotate any op that fuses a ReLU: values
# below ``act_threshold`` become the zero point; ``act_density`` is the measured nonzero share.
PRUNING_ATTRS = ("act_threshold", "act_density")


# ---- accessors the .tflite reader and writer hand to an op ------------------------------------

class TfliteOptionsReader(Protocol):
    """What an op's :meth:`OpDef.from_tflite` may ask of the operator being read."""

    label: str  # "operator 7", for messages
    inputs: list[int]  # the operator's tensor indices (-1: an omitted optional input)
    outputs: list[int]  # its output tensor indices

    def error(self, problem: str) -> EdgeDeployError:
        """An EdgeDeployError naming the operator."""

    def option_vector(self, slot: int) -> list[int]:
        """An int32 vector field of the builtin options (empty when absent)."""

    def shape(self, position: int) -> tuple[int, ...]:
        """The shape of input ``position`` (-1: output 0, -2: output 1 ...)."""

    def option(self, slot: int, fmt: str, default: Any) -> Any:
        """A scalar field of the operator's builtin options (``fmt`` a struct code)."""

    def activation(self, slot: int) -> str:
        """A fused-activation field, checked against :data:`ACTIVATIONS`."""

    def padding(self, slot: int) -> str:
        """A padding field, as ``"same"`` or ``"valid"``."""

    def constant(self, position: int) -> np.ndarray:
        """The data of the constant tensor at input ``position`` (raises if it is not constant)."""


class TfliteOptionsWriter(Protocol):
    """What an op's :meth:`OpDef.to_tflite` uses to write its builtin options table."""

    def table(self, options_type: int, fields: list[tuple[int, str, Any]]) -> tuple[int, int]:
        """Write an options table: ``fields`` are ``(slot, kind, value)`` with kind ``i8``, ``i32``,
        ``bool``, ``f32`` or ``i32[]`` (a vector); returns ``(options_type, offset)``."""


@dataclass(frozen=True)
class TfliteCode:
    """A TFLite builtin operator this op maps to: its code, name, and the op version int8
    kernels are registered from (TFLite's op versioning)."""

    code: int
    name: str
    version: int


# ---- the op ------------------------------------------------------------------------------------

class OpDef:
    """Base class of every op; class attributes describe the op, methods compute its facts.

    Subclasses set ``kind``, ``attrs``, ``arity`` and ``tflite_codes`` and override what differs
    from the defaults here (a unary, shape-preserving op without weights).
    """

    kind: ClassVar[str]
    attrs: ClassVar[tuple[Attr, ...]] = ()
    arity: ClassVar[tuple[int, int]] = (1, 1)
    # Ops with weights: input 1 is a constant weight tensor quantized per channel along
    # ``weight_axis``, input 2 an optional int32 bias.
    weight_axis: ClassVar[int | None] = None
    view: ClassVar[bool] = False  # no code: the output is the input's bytes (reshape)
    in_place: ClassVar[bool] = False  # the output may overwrite input 0 (element-wise ops)
    # Inputs other than weights may be constants (the kernel keeps them in flash) as long as one
    # input is an activation; otherwise input 0 must be an activation.
    constant_operands: ClassVar[bool] = False
    # One 8-bit input, and each output element a function of the same input element only (RELU,
    # LOGISTIC, a requantizing QUANTIZE ...): the firmware may run it as a 256-entry table
    # (:meth:`byte_table`, the ``ed_lut_s8`` kernel).
    elementwise_unary: ClassVar[bool] = False
    # Two inputs combined element by element with NumPy broadcasting (ADD, SUB, MUL, MAXIMUM ...):
    # with one input a single constant value it is a one-input op, a table too.
    elementwise_binary: ClassVar[bool] = False
    # Positions of inputs that are variable (state) tensors (``Tensor.variable``, TFLite's
    # ``is_variable``: SVDF's activation state, LSTM's output and cell states). The op reads such
    # an input and writes its new value back in place: :meth:`run_int8` / :meth:`run_float` get
    # the state's current value as that argument (a writable array of the tensor's shape, batch 1)
    # and must overwrite it; the interpreter then runs samples one at a time, in order, and the
    # generated C keeps the tensor in its own zero-initialised storage, never in the arena (the
    # kernel partial finds it in ``l.states``). Any other input position refuses a variable tensor.
    state_inputs: ClassVar[tuple[int, ...]] = ()
    # Which rounding the ai-edge-litert 2.x reference kernels were measured to use (the
    # interpreter's "litert" policy); "double" is TFLM / CMSIS-NN's.
    litert_rounding: ClassVar[str] = "double"
    rounding_sensitive: ClassVar[bool] = False  # the int8 reference takes a ``rounding`` argument
    # The op's int8 reference function (``conv2d_s8`` ...), whose keyword arguments are
    # :meth:`kernel_params`; None for a view.
    reference: ClassVar[Callable[..., np.ndarray] | None] = None
    # ``.tflite``: the builtin operators read into this op, and how many leading inputs are IR
    # inputs (the rest are constants read into attributes, such as PAD's paddings).
    tflite_codes: ClassVar[tuple[TfliteCode, ...]] = ()
    tflite_data_inputs: ClassVar[int] = 1
    # PyTorch lowering: nn.Module class names / fx call targets this op lowers (see
    # edge_deploy.quantize.lower); the lowering itself is :meth:`lower_torch`.
    torch_modules: ClassVar[tuple[str, ...]] = ()
    torch_functions: ClassVar[tuple[str, ...]] = ()
    # torch.export lowering: ATen operator names this op lowers (``conv2d`` for
    # ``aten.conv2d.default``; in-place variants such as ``relu_`` count as their name without the
    # underscore), see edge_deploy.quantize.aten; the lowering itself is :meth:`lower_aten`.
    aten_targets: ClassVar[tuple[str, ...]] = ()

    # -- structure ------------------------------------------------------------------------------

    def attr(self, op: Op, name: str) -> Any:
        """The value of attribute ``name`` of ``op``, or its default."""
        for spec in self.attrs:
            if spec.name == name:
                return op.attrs.get(name, spec.default) if not spec.required else op.attrs[name]
        raise KeyError(f"{self.kind} has no attribute {name!r}")

    def check_structure(self, graph: Graph, op: Op) -> None:
        """Arity, tensor references and attribute values (raises naming the op)."""
        low, high = self.arity
        if not low <= len(op.inputs) <= high or len(op.outputs) != 1:
            raise op_error(op, f"takes {low}..{high} inputs and 1 output, got {len(op.inputs)} and {len(op.outputs)}")
        for name in list(op.inputs) + list(op.outputs):
            if name and name not in graph.tensors:
                raise op_error(op, f"refers to tensor '{name}', which the graph does not have")
        missing = [a.name for a in self.attrs if a.required and a.name not in op.attrs]
        if missing:
            raise op_error(op, f"missing attribute(s) {', '.join(missing)}")
        for spec in self.attrs:
            if spec.name in op.attrs and not (not spec.required and op.attrs[spec.name] is None):
                problem = spec.check(op.attrs[spec.name])
                if problem:
                    raise op_error(op, f"{spec.name} {problem}")

    def is_view(self, graph: Graph, op: Op) -> bool:
        """True when ``op`` runs no code, its output being input 0's bytes (default: :attr:`view`;
        a TRANSPOSE that only moves axes of size 1 is one too)."""
        return self.view

    def output_shape(self, graph: Graph, op: Op) -> tuple[int, ...]:
        """``op``'s output shape from its inputs and attributes (default: input 0's shape)."""
        return tuple(graph.tensor(op.inputs[0]).shape)

    def macs(self, graph: Graph, op: Op) -> int:
        """Multiply-accumulates of one inference (0 for ops without weights)."""
        return 0

    # -- int8 -----------------------------------------------------------------------------------

    def check_activations(self, graph: Graph, op: Op) -> None:
        """The generic int8 rule: input 0 and the outputs are int8 activations quantized per
        tensor (QUANTIZE and DEQUANTIZE, at a float or uint8 boundary, say otherwise)."""
        for name in [n for n in op.inputs[:1] + op.outputs if n]:
            activation_tensor_check(op, graph.tensor(name))

    def check_quantized(self, graph: Graph, op: Op) -> None:
        """int8 rules beyond the generic ones (input 0 and the output int8 per tensor; weights)."""

    def kernel_params(self, graph: Graph, op: Op) -> dict[str, Any]:
        """The numbers the int8 reference and the generated C are fed, derived from the
        quantization exactly as TFLite does (no tensors, no ``rounding``)."""
        return {}

    def run_int8(self, args: list, params: dict[str, Any]) -> np.ndarray:
        """The int8 reference on a batch: ``args`` are the op's input values (constants as
        stored), ``params`` :meth:`kernel_params` plus ``rounding`` when rounding-sensitive."""
        raise NotImplementedError(f"{self.kind} has no int8 reference")

    def byte_table(self, params: dict[str, Any], input_dtype: str = "int8") -> np.ndarray:
        """For an :attr:`elementwise_unary` op: its int8 reference on every input byte, as 256
        output bytes indexed by the input byte read unsigned (``table[(uint8_t)x]``)."""
        values = np.arange(256, dtype=np.uint8).view(np.dtype(input_dtype))
        return np.asarray(self.run_int8([values], params)).reshape(256).view(np.uint8)

    def run_float(self, graph: Graph, op: Op, args: list) -> np.ndarray:
        """The float32 reference on a batch (the lowered PyTorch model before quantization)."""
        raise NotImplementedError(f"{self.kind} has no float reference")

    def output_quant(self, graph: Graph, op: Op, ranges: dict[str, tuple[float, float]],
                     calibrated: Callable[[float, float], QuantParams]) -> QuantParams:
        """The output's int8 quantization after calibration (default: from its measured range)."""
        return calibrated(*ranges[op.outputs[0]])

    def quantize_attrs(self, op: Op) -> None:
        """Turn float-graph attributes into their int8 form (in place; default: nothing)."""

    # -- .tflite --------------------------------------------------------------------------------

    def from_tflite(self, code: int, reader: TfliteOptionsReader) -> dict[str, Any]:
        """Attributes of an operator with builtin ``code`` (one of :attr:`tflite_codes`)."""
        return {}

    def tflite_data_positions(self, code: int, count: int) -> list[int]:
        """Which of an operator's ``count`` inputs are the IR op's inputs, in order (default: the
        first :attr:`tflite_data_inputs`; SPLIT's data is its second input)."""
        return list(range(min(count, self.tflite_data_inputs)))

    def from_tflite_outputs(self, code: int, reader: TfliteOptionsReader) -> list[dict[str, Any]]:
        """For an operator with several outputs (SPLIT, UNPACK): the attributes of one IR op per
        output, each op computing its output alone (default: refused)."""
        raise reader.error(f"({self.tflite_codes[0].name}) has {len(reader.outputs)} outputs; "
                           f"edge-deploy's {self.kind} has one")

    def tflite_code(self, op: Op) -> TfliteCode:
        """The builtin operator ``op`` is written as (default: the first of :attr:`tflite_codes`)."""
        return self.tflite_codes[0]

    def to_tflite(self, graph: Graph, op: Op, writer: TfliteOptionsWriter) -> tuple[int, int] | None:
        """Write ``op``'s builtin options; returns ``(options_type, offset)`` or None."""
        return None

    def tflite_input_order(self, data: list[int], extra: list[int]) -> list[int]:
        """The operator's input tensor indices from the IR inputs' (``data``) and the constants of
        :meth:`tflite_extra_inputs` (``extra``); default: the IR inputs first (TRANSPOSE_CONV
        puts its output shape first)."""
        return data + extra

    def tflite_extra_inputs(self, graph: Graph, op: Op) -> list[tuple[str, np.ndarray]]:
        """Constant inputs TFLite expects after the IR inputs (``(name suffix, data)``)."""
        return []

    def tflite_intermediates(self, graph: Graph, op: Op) -> list[tuple[str, str, QuantParams | None]]:
        """Intermediate tensors the operator carries in a ``.tflite`` (``(name suffix, dtype,
        quantization)``, written empty; TFLite's integer LSTM reads its hidden scale there)."""
        return []

    def tflite_finish(self, graph: Graph, op: Op) -> None:
        """Complete attributes that need the whole graph once read (default: nothing)."""

    # -- PyTorch and the builder ---------------------------------------------------------------

    def lower_torch(self, lowering: Any, node: Any, target: Any) -> Any:
        """Lower one fx node (a module of :attr:`torch_modules` or a call of
        :attr:`torch_functions`) through ``lowering`` (:class:`edge_deploy.quantize.lower.Lowering`)."""
        raise NotImplementedError(f"{self.kind} has no PyTorch lowering")

    def lower_aten(self, lowering: Any, node: Any) -> Any:
        """Lower one node of a ``torch.export`` graph calling one of :attr:`aten_targets` through
        ``lowering`` (:class:`edge_deploy.quantize.aten.AtenLowering`)."""
        raise NotImplementedError(f"{self.kind} has no ATen lowering")

    def build(self, builder: Any, *args: Any, **kwargs: Any) -> str:
        """Add this op to a :class:`edge_deploy.ops.builder.GraphBuilder`; returns the output name."""
        raise NotImplementedError(f"{self.kind} has no builder helper")


# ---- helpers shared by several ops ------------------------------------------------------------

_SMALLEST_SCALE = float(np.finfo(np.float32).tiny)  # the smallest normal float32

# Far beyond any microcontroller model (16 MiB of int8 activation in one tensor; one layer that
# would take seconds on a Cortex-M4): a graph past these is a corrupt file, and refusing it keeps
# the host-side interpreter and planner from allocating gigabytes for it.
MAX_TENSOR_ELEMENTS = 1 << 24
MAX_OP_MACS = 1 << 28


def activation_tensor_check(op: Op, t: Tensor) -> None:
    """Raise unless ``t`` is an int8 activation with valid per-tensor quantization."""
    if t.dtype != "int8" or t.quant is None or t.quant.per_channel:
        raise op_error(op, f"activation '{t.name}' must be int8 with per-tensor quantization")
    if not -128 <= t.zero_point <= 127:
        raise op_error(op, f"activation '{t.name}' has zero point {t.zero_point}, outside int8's -128..127")
    if not (math.isfinite(t.scale) and t.scale >= _SMALLEST_SCALE):
        raise op_error(op, f"activation '{t.name}' has scale {t.scale}; a scale must be a finite, normal float32 > 0",
                       "quantize the model again (a scale this small or odd comes from a corrupt or hand-edited file)")


def fused_activation_range(op: Op, y: Tensor) -> tuple[int, int]:
    """The int8 clamp of ``op``'s fused activation on output ``y``."""
    try:
        return activation_range(op.attrs.get("activation", "none"), y.scale, y.zero_point)
    except ValueError as exc:
        raise op_error(op, str(exc)) from None
