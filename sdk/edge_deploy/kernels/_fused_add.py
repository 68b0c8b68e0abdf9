"""An ADD fused after a convolution (a ResNet's residual: conv + skip), shared by
``ed_convolve_add_s8`` and ``ed_convolve_winograd_add_s8`` (:class:`FusedAdd`, mixed into their
convolution's spec): when the ADD can be taken in, its linear form
(``ed_elementwise_add_linear_s8``'s, checked on all 65,536 input pairs), the in-place rule and the
C constants of ``ed_conv_add_t`` (firmware/include/ed_convolve.h)."""

from __future__ import annotations

from typing import ClassVar

from edge_deploy.ctext import comment_text, shape_text
from edge_deploy.kernels.base import InPlace, KernelContext, LayerCall
from edge_deploy.kernels.ed_elementwise_add_linear_s8 import coefficients
from edge_deploy.ops import get_op, kernel_params


def other_operand(call: LayerCall) -> tuple[str, int] | str:
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


def linear_form(call: LayerCall) -> tuple[tuple[int, int, int], ...] | str:
    """The linear form of the ADD with the convolution's output as its first input (double
    rounding, single rounding), or why there is none."""
    found = other_operand(call)
    if isinstance(found, str):
        return found
    params = kernel_params(call.graph, call.epilogue)
    if found[1] == 1:  # the convolution's output is the ADD's second input: the same ADD swapped
        params = {**params, **{f"input{a}_{k}": params[f"input{b}_{k}"]
                               for a, b in ((1, 2), (2, 1)) for k in ("offset", "mult", "shift")}}
    return coefficients(params)


def fusable_add(call: LayerCall) -> str | None:
    """None when ``call.epilogue`` is an ADD the convolution can take in bit-exactly, else why not."""
    if get_op(call.op).litert_rounding != get_op(call.epilogue).litert_rounding:
        return "the ADD and the convolution requantize with different roundings under --rounding litert"
    form = linear_form(call)
    return form if isinstance(form, str) else None


def add_in_place(call: LayerCall, inputs: tuple[str, ...]) -> InPlace | None:
    """The sum may overwrite the ADD's other operand (each of its bytes is read before the byte of
    the sum at its place is written)."""
    found = other_operand(call)
    return None if isinstance(found, str) else InPlace(inputs.index(found[0]))


def add_context(ctx: KernelContext, call: LayerCall, kernel: str, staged: str) -> None:
    """The ADD's constants (``ed_conv_add_t``'s fields, both roundings) and comment line into
    ``ctx``; ``staged`` says how many positions' outputs each ADD call takes."""
    form = linear_form(call)
    if isinstance(form, str):
        raise ValueError(f"{kernel} cannot run {call.op.name}: {form}")
    for suffix, (alpha, beta, gamma) in zip(("", "_SINGLE"), form):
        rounding = "single" if suffix else "double"
        ctx.constant(f"ADD_ALPHA{suffix}", alpha, f"{rounding} rounding: the convolution's output's coefficient")
        ctx.constant(f"ADD_BETA{suffix}", beta, f"{rounding} rounding: the other operand's coefficient")
        ctx.constant(f"ADD_GAMMA{suffix}", gamma, f"{rounding} rounding: the constant term")
    add = kernel_params(call.graph, call.epilogue)
    ctx.constant("ADD_ACT_MIN", add["act_min"], f"the ADD's fused activation "
                 f"'{call.epilogue.attrs.get('activation', 'none')}', in output units")
    ctx.constant("ADD_ACT_MAX", add["act_max"])
    other, _ = other_operand(call)
    ctx.comment.append(f"fused ADD (source layer {comment_text(call.epilogue.name)}) with "
                       f"{comment_text(other)}: the convolution's {shape_text(call.output.shape)} output is "
                       f"never stored (ed_elementwise_add_linear_s8's form, {staged} at a time)")


class FusedAdd:
    """Mixed in before a convolution's kernel spec: the same kernel with the ADD after it fused.
    ``staged`` says how many positions' outputs each ADD call takes (the kernel's comment line)."""

    epilogue = "add"
    staged: ClassVar[str]

    def applies(self, call: LayerCall) -> str | None:
        return super().applies(call) or fusable_add(call)

    def in_place(self, call: LayerCall, inputs: tuple[str, ...]) -> InPlace | None:
        return add_in_place(call, inputs)

    def facts(self, call: LayerCall) -> dict:
        return {**super().facts(call), "fused_add": call.epilogue.name}

    def context(self, call: LayerCall) -> KernelContext:
        ctx = super().context(call)
        add_context(ctx, call, self.name, self.staged)
        return ctx
