"""``arm_batch_matmul_s8``: CMSIS-NN's batch matmul (v7.0.0 API) of up to two batch axes: it
multiplies LHS rows by rows of the transposed RHS, so the layer transposes an activation operand
in scratch when the adjoint flags ask for it (``arm_transpose_s8``) and a constant operand at
build time."""

from __future__ import annotations

import numpy as np

from edge_deploy.ctext import dims
from edge_deploy.kernels.base import CArray, KernelContext, KernelSpec, LayerCall


def _padded(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (1,) * (4 - len(shape)) + tuple(int(d) for d in shape)


def _swap(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape[:-2] + (shape[-1], shape[-2])


class ArmBatchMatmulS8(KernelSpec):
    name = "arm_batch_matmul_s8"
    op = "batch_matmul"
    upstream = "7.0.0"
    cost_terms = ("macs", "outputs", "transposed", "calls")
    calibration = ({"in": [(1, 6, 8), (1, 5, 8)], "attrs": {"adj_y": True}},
                   {"in": [(1, 16, 32), (1, 32, 16)]},
                   {"in": [(1, 4, 10, 12), (1, 4, 10, 12)], "attrs": {"adj_y": True}},
                   {"in": [(1, 8, 6), (1, 8, 6)], "attrs": {"adj_x": True}},
                   {"in": [(2, 24, 16), (2, 16, 8)]},
                   {"in": [(1, 32, 32), (1, 16, 32)], "attrs": {"adj_y": True}})

    def _transposes(self, call: LayerCall) -> tuple[bool, bool]:
        """Whether the LHS and the RHS must be transposed for the API (row times row)."""
        return bool(call.params["adj_x"]), not call.params["adj_y"]

    def applies(self, call: LayerCall) -> str | None:
        if max(len(call.graph.tensor(n).shape) for n in call.op.inputs) > 4:
            return "an operand has more than two batch axes (arm_batch_matmul_s8 takes n and h)"
        for name in call.op.inputs:
            lead = _padded(call.graph.tensor(name).shape)[:2]
            if any(d not in (1, o) for d, o in zip(lead, _padded(call.output.shape)[:2])):
                return "its batch axes broadcast other than from 1"
        return None

    def _scratch_parts(self, call: LayerCall) -> list[tuple[str, int]]:
        parts = []
        for which, name, needed in zip(("lhs", "rhs"), call.op.inputs, self._transposes(call)):
            t = call.graph.tensor(name)
            if needed and not t.is_constant:
                parts.append((which, int(np.prod(t.shape))))
        return parts

    def scratch_bytes(self, call: LayerCall) -> int:
        return sum(-(-size // 4) * 4 for _, size in self._scratch_parts(call))

    def cost_features(self, call: LayerCall) -> list[float]:
        return [call.macs, int(np.prod(call.output.shape)), sum(size for _, size in self._scratch_parts(call)), 1]

    def context(self, call: LayerCall) -> KernelContext:
        p = call.params
        ctx = KernelContext()
        ctx.constant("LHS_OFFSET", p["lhs_offset"], "-(LHS zero point)")
        ctx.constant("RHS_OFFSET", p["rhs_offset"], "-(RHS zero point)")
        ctx.constant("OUTPUT_OFFSET", p["output_offset"], "output zero point")
        ctx.constant("OUT_MULT", p["out_mult"], "LHS scale * RHS scale / output scale (Q31)")
        ctx.constant("OUT_SHIFT", p["out_shift"])
        operands, offset, activation = [], 0, 0
        for which, name, needed in zip(("lhs", "rhs"), call.op.inputs, self._transposes(call)):
            t = call.graph.tensor(name)
            shape = _padded(t.shape)
            final = _swap(shape) if needed else shape
            entry = {"which": which, "dims": dims(final), "source_dims": dims(shape), "transpose": False}
            if t.is_constant:
                data = np.asarray(t.data, dtype=np.int8).reshape(shape)
                ctx.arrays.append(CArray(which, "int8_t", np.swapaxes(data, -1, -2) if needed else data,
                                         f"constant {which.upper()} '{name}'" + (", transposed" if needed else "")))
                entry["array"] = which
            else:
                entry.update(input=activation, transpose=needed, scratch_offset=offset)
                activation += 1
                if needed:
                    offset += -(-int(np.prod(shape)) // 4) * 4
            operands.append(entry)
        ctx.fields.update(operands=operands, out_dims=dims(_padded(call.output.shape)), scratch_needed=offset)
        flags = ", ".join(f for f, on in (("adj_x", p["adj_x"]), ("adj_y", p["adj_y"])) if on) or "no adjoint"
        ctx.comment.append(f"{flags}; the API takes the RHS transposed")
        return ctx


KERNEL = ArmBatchMatmulS8()
