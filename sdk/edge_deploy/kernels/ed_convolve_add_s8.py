"""``ed_convolve_add_s8``: ``ed_convolve_s8`` with the ADD after it fused (a ResNet's residual:
conv + skip). Per sixteen output positions the convolution's outputs are staged in the scratch and
``ed_elementwise_add_linear_s8``'s form of them and the ADD's other operand is stored
(firmware/include/ed_convolve.h); the convolution's output tensor is never stored, and the sum may
overwrite the other operand where nothing reads it afterwards (then the layer needs no memory for
either the convolution's output or the ADD's). Bit-exact where the ADD has a linear form (checked
on all 65,536 input pairs, :mod:`edge_deploy.kernels.ed_elementwise_add_linear_s8`)."""

from __future__ import annotations

import dataclasses

from edge_deploy.ctext import comment_text, shape_text
from edge_deploy.kernels import get_kernel
from edge_deploy.kernels._layers import add_after
from edge_deploy.kernels._weighted import conv_positions
from edge_deploy.kernels.base import InPlace, KernelContext, LayerCall
from edge_deploy.kernels.cost import estimate_cycles
from edge_deploy.kernels.ed_convolve_s8 import EdConvolveS8, filter_shape
from edge_deploy.kernels.ed_elementwise_add_linear_s8 import coefficients
from edge_deploy.ops import get_op, kernel_params


def _other(call: LayerCall) -> tuple[str, int] | str:
    """``(the ADD's other operand, the ADD input the convolution's output is)``, or why the ADD
    cannot be fused: it must be an ADD of the convolution's output and one other activation of the
    same shape (no broadcast), computed before the convolution runs."""
    add, graph = call.epilogue, call.graph
    if add is None or add.kind != "add":
        return "no ADD follows"
    mine = call.op.outputs[0]
    others = [n for n in add.inputs if n != mine]
    if len(add.inputs) != 2 or len(others) != 1:
        return "the ADD does not take the convolution's output and one other operand"
    other = others[0]
    if graph.tensor(other).is_constant:
        return "the ADD's other operand is a constant"
    shape = tuple(call.output.shape)
    if tuple(graph.tensor(other).shape) != shape or tuple(call.final_output.shape) != shape:
        return f"the ADD broadcasts (operands {shape_text(shape)} and {shape_text(graph.tensor(other).shape)})"
    order = {op.outputs[0]: i for i, op in enumerate(graph.ops) if op.outputs}
    if order.get(other, -1) > order[mine]:
        return "the ADD's other operand is computed after the convolution"
    return other, add.inputs.index(mine)


def _form(call: LayerCall) -> tuple[tuple[int, int, int], ...] | str:
    """The linear form of the ADD with the convolution's output as its first input (double
    rounding, single rounding), or why there is none."""
    found = _other(call)
    if isinstance(found, str):
        return found
    params = kernel_params(call.graph, call.epilogue)
    if found[1] == 1:  # the convolution's output is the ADD's second input: the same ADD swapped
        params = {**params, **{f"input{a}_{k}": params[f"input{b}_{k}"]
                               for a, b in ((1, 2), (2, 1)) for k in ("offset", "mult", "shift")}}
    return coefficients(params)


STAGED_POSITIONS = 16  # ED_CONV_ADD_POSITIONS: the positions whose outputs each ADD call takes


class EdConvolveAddS8(EdConvolveS8):
    name = "ed_convolve_add_s8"
    epilogue = "add"
    base = "ed_convolve_s8"
    code_bytes = 3072  # a second copy of the convolution's C driver (the Thumb-2 loops are shared) and the ADD's loop
    # The convolution's own modelled cycles (ed_convolve_s8's terms and coefficients), the ADD's
    # elements (ed_elementwise_add_linear_s8's loop over the staged outputs) and its calls (one
    # per STAGED_POSITIONS positions).
    cost_terms = ("convolution", "add_elements", "add_calls")
    calibration = tuple(add_after([
        {"in": [(1, 32, 32, 16)], "w": (16, 3, 3, 16), "attrs": {"stride": (1, 1), "dilation": (1, 1),
                                                               "padding": "same"}},
        {"in": [(1, 16, 16, 16)], "w": (32, 1, 1, 16), "attrs": {"stride": (2, 2), "dilation": (1, 1),
                                                               "padding": "valid"}},
        {"in": [(1, 8, 8, 32)], "w": (64, 1, 1, 32), "attrs": {"stride": (2, 2), "dilation": (1, 1),
                                                              "padding": "valid"}},
        {"in": [(1, 8, 8, 24)], "w": (24, 3, 3, 24), "attrs": {"stride": (1, 1), "dilation": (1, 1),
                                                              "padding": "same"}},
        {"in": [(1, 7, 5, 8)], "w": (7, 3, 3, 8), "attrs": {"stride": (1, 1), "dilation": (1, 1),
                                                           "padding": "same"}},
        {"in": [(1, 9, 9, 12)], "w": (12, 1, 1, 12), "attrs": {"stride": (1, 1), "dilation": (1, 1),
                                                              "padding": "valid"}},
    ], slots=(0, 1, 0, 1, 0, 1)))

    def serves(self, op_kind: str) -> bool:
        return op_kind == "conv2d"

    def applies(self, call: LayerCall) -> str | None:
        why = super().applies(call)
        if why:
            return why
        if get_op(call.op).litert_rounding != get_op(call.epilogue).litert_rounding:
            return "the ADD and the convolution requantize with different roundings under --rounding litert"
        form = _form(call)
        return form if isinstance(form, str) else None

    def scratch_bytes(self, call: LayerCall) -> int:
        return super().scratch_bytes(call) + STAGED_POSITIONS * filter_shape(call)[0]

    def in_place(self, call: LayerCall, inputs: tuple[str, ...]) -> InPlace | None:
        """The sum may overwrite the ADD's other operand (each of its bytes is read before the
        byte of the sum at its place is written)."""
        found = _other(call)
        return None if isinstance(found, str) else InPlace(inputs.index(found[0]))

    def cost_features(self, call: LayerCall) -> list[float]:
        positions, batches = conv_positions(call)
        convolution = estimate_cycles(get_kernel(self.base), dataclasses.replace(call, epilogue=None))
        return [convolution, batches * positions * filter_shape(call)[0],
                batches * -(-positions // STAGED_POSITIONS)]

    def facts(self, call: LayerCall) -> dict:
        return {**super().facts(call), "fused_add": call.epilogue.name}

    def context(self, call: LayerCall) -> KernelContext:
        ctx = super().context(call)
        form = _form(call)
        if isinstance(form, str):
            raise ValueError(f"{self.name} cannot run {call.op.name}: {form}")
        for suffix, (alpha, beta, gamma) in zip(("", "_SINGLE"), form):
            rounding = "single" if suffix else "double"
            ctx.constant(f"ADD_ALPHA{suffix}", alpha, f"{rounding} rounding: the convolution's output's coefficient")
            ctx.constant(f"ADD_BETA{suffix}", beta, f"{rounding} rounding: the other operand's coefficient")
            ctx.constant(f"ADD_GAMMA{suffix}", gamma, f"{rounding} rounding: the constant term")
        add = kernel_params(call.graph, call.epilogue)
        ctx.constant("ADD_ACT_MIN", add["act_min"], f"the ADD's fused activation "
                     f"'{call.epilogue.attrs.get('activation', 'none')}', in output units")
        ctx.constant("ADD_ACT_MAX", add["act_max"])
        other, _ = _other(call)
        ctx.comment.append(f"fused ADD (source layer {comment_text(call.epilogue.name)}) with "
                           f"{comment_text(other)}: the convolution's {shape_text(call.output.shape)} output is "
                           "never stored (ed_elementwise_add_linear_s8's form, sixteen positions at a time)")
        return ctx


KERNEL = EdConvolveAddS8()
