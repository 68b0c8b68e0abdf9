"""``ed_elementwise_add_linear_s8``: ADD and SUB as one linear form of the two input bytes, for
the layers where the build proves it equal to TFLite's int8 arithmetic on all 65,536 input pairs
(firmware/kernels/ed_elementwise_add_linear_s8.c):

    output = SSAT8((gamma + floor(alpha * a / 2^8) + floor(beta * b / 2^8)) >> 20)

TFLite rescales each input, sums and requantizes the sum, rounding three times; the result is
``floor(alpha' a + beta' b + gamma' + e)`` with real coefficients (the scale ratios) and a tiny
error ``e`` of the rescale's rounding. Where no pair lies closer to an output step than the
form's resolution, real coefficients that reproduce every output exist: a linear program over
the 65,536 pairs (each pair's output ``k`` asks ``k + d <= alpha' a + beta' b + gamma' <= k + 1 -
d``; a saturated output asks one side only) maximises the margin ``d``; alpha, beta and gamma are
its solution in units of 2^-28, 2^-28 and 2^-20, and the build then runs the C arithmetic on every
pair and keeps the kernel only where all 65,536 outputs match. Double and single rounding each get
their own coefficients (mostly the same). Near-exact ties (a pair on an output step, which only
the rescale's rounding decides) have no margin: such a layer runs ``ed_elementwise_add_s8``'s
tables. No flash arrays; per element two SMLAW multiply-accumulates, SSAT with the shift, and a
quarter of the packing, loads and store."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from edge_deploy.kernels._binary import BinaryKernel
from edge_deploy.kernels._operands import operand_sources
from edge_deploy.kernels.base import KernelContext, LayerCall
from edge_deploy.ops.add import add_s8

SHIFT = 20  # ED_ADD_LINEAR_SHIFT: the form's value is the output times 2^SHIFT
COEFFICIENT_SHIFT = SHIFT + 8  # alpha, beta: the lanes hold 256 * byte, SMLAW keeps bits 16..47
INT32_MAX = (1 << 31) - 1
ROUNDINGS = ("double", "single")
_A, _B = (g.ravel() for g in np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij"))


def exact_outputs(params: dict, rounding: str) -> np.ndarray:
    """TFLite's ADD (SUB) of every pair of input bytes (index: 256 * (a + 128) + b + 128), before
    the activation clamp."""
    full = dict(params, act_min=-128, act_max=127)
    return add_s8(_A.astype(np.int8), _B.astype(np.int8), rounding=rounding, **full).astype(np.int64)


def form_outputs(alpha: int, beta: int, gamma: int) -> np.ndarray | None:
    """What the C computes on every pair (the order of exact_outputs), or None where a partial sum
    leaves int32."""
    first = gamma + ((alpha * _A) >> 8)
    value = first + ((beta * _B) >> 8)
    if max(np.abs(first).max(), np.abs(value).max()) > INT32_MAX:
        return None
    return np.clip(value >> SHIFT, -128, 127)


def _margin_solution(f: np.ndarray) -> np.ndarray | None:
    """(alpha', beta', gamma') of the largest margin, or None when there is no positive margin.

    Only the pairs near an output step bind: the program starts from those within 0.1 of one
    under a least-squares fit and adds every pair the solution violates until it violates none
    (then its margin is the margin over all pairs): on ResNet-8's ADD one program of 6,400
    constraints instead of 131,072."""
    from scipy.optimize import linprog  # here, not at import: the registry loads every kernel spec

    x = np.stack([_A, _B, np.ones(f.size)], 1).astype(float)
    low, high = f > -128, f < 127  # a saturated output bounds one side only
    inside = low & high
    coefficients = np.linalg.lstsq(x[inside], f[inside] + 0.5, rcond=None)[0]
    margin, active = None, np.zeros((2, f.size), dtype=bool)
    for _ in range(20):
        value = x @ coefficients
        slack = np.stack([np.where(low, value - f, np.inf), np.where(high, f + 1 - value, np.inf)])
        if margin is None:
            close = slack < 0.1
        else:
            close = slack < margin - 1e-12
            if not (close & ~active).any():
                return coefficients
        active |= close
        lo, hi = active
        rows = np.concatenate([np.column_stack([-x[lo], np.ones(lo.sum())]), np.column_stack([x[hi], np.ones(hi.sum())])])
        bounds = np.concatenate([-f[lo], f[hi] + 1.0])
        result = linprog([0, 0, 0, -1], A_ub=rows, b_ub=bounds, bounds=[(None, None)] * 3 + [(None, 1)],
                         method="highs")
        if result.status != 0 or result.x[3] <= 0:
            return None  # no positive margin on these pairs, so none on all
        coefficients, margin = result.x[:3], float(result.x[3])
    return None


def _fit(f: np.ndarray) -> tuple[int, int, int] | None:
    """Integer (alpha, beta, gamma) whose form gives ``f`` on every pair, or None."""
    solution = _margin_solution(f)
    if solution is None:
        return None
    alpha, beta = (int(round(v * 2 ** COEFFICIENT_SHIFT)) for v in solution[:2])
    # The two floors lose up to 2 units of 2^-SHIFT: the middle of that range is added back.
    gamma = int(round(solution[2] * 2 ** SHIFT)) + 1
    if max(abs(alpha), abs(beta), abs(gamma)) > INT32_MAX:
        return None
    out = form_outputs(alpha, beta, gamma)
    return (alpha, beta, gamma) if out is not None and np.array_equal(out, f) else None


@lru_cache(maxsize=256)
def _coefficients(key: tuple) -> tuple[tuple[int, int, int], ...] | str:
    params = dict(key)
    found = {}
    for rounding in ROUNDINGS:
        f = exact_outputs(params, rounding)
        same = [r for r in found if np.array_equal(found[r][1], f)]
        fitted = found[same[0]][0] if same else _fit(f)
        if fitted is None:
            return f"no linear form of the input bytes gives TFLite's outputs under {rounding} rounding"
        found[rounding] = (fitted, f)
    return tuple(found[r][0] for r in ROUNDINGS)


def coefficients(params: dict) -> tuple[tuple[int, int, int], ...] | str:
    """((alpha, beta, gamma) for double rounding, the same for single), or why there are none."""
    return _coefficients(tuple(sorted((k, int(v)) for k, v in params.items())))


class EdElementwiseAddLinearS8(BinaryKernel):
    name = "ed_elementwise_add_linear_s8"
    op = "add"
    header = "ed_elementwise.h"

    def serves(self, op_kind: str) -> bool:
        return op_kind in ("add", "sub")

    def applies(self, call: LayerCall) -> str | None:
        found = coefficients(call.params)
        return found if isinstance(found, str) else None

    def context(self, call: LayerCall) -> KernelContext:
        found = coefficients(call.params)
        if isinstance(found, str):
            raise ValueError(f"{self.name} cannot run {call.op.name}: {found}")
        ctx = KernelContext()
        for suffix, (alpha, beta, gamma) in zip(("", "_SINGLE"), found):
            rounding = "single" if suffix else "double"
            ctx.constant(f"ALPHA{suffix}", alpha, f"{rounding} rounding: input 1's coefficient (2^-{COEFFICIENT_SHIFT})")
            ctx.constant(f"BETA{suffix}", beta, f"{rounding} rounding: input 2's coefficient (2^-{COEFFICIENT_SHIFT})")
            ctx.constant(f"GAMMA{suffix}", gamma, f"{rounding} rounding: the constant term (2^-{SHIFT})")
        p = call.params
        ctx.constant("ACT_MIN", p["act_min"], f"fused activation '{call.op.attrs.get('activation', 'none')}', "
                     "in output units")
        ctx.constant("ACT_MAX", p["act_max"])
        plan = self.plan(call)
        ctx.fields.update(plan.fields(), operands=operand_sources(call, ctx))
        ctx.comment.append(f"{call.kind}: TFLite's outputs on all 65,536 input pairs are one linear form of the bytes")
        if plan.loops:
            ctx.comment.append(f"broadcast: {plan.calls} calls of {plan.block} elements")
        return ctx


KERNEL = EdElementwiseAddLinearS8()
