"""Broadcasting for kernels that take two equally long vectors (``arm_elementwise_add_s8``,
``arm_elementwise_mul_s8``, ``ed_prelu_s8``): the output is cut into blocks along which both
operands are dense (the trailing axes they share in full), and the layer calls the kernel once
per block, stepping each operand by its stride (0 where it is broadcast). A squeeze-excite gate
(1, 1, 1, C) times (1, H, W, C) is H * W calls of C elements; equal shapes are one call."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BroadcastPlan:
    """``block`` elements per call; ``loops`` the outer loops, outermost first, each
    ``(count, step of operand a, step of operand b, step of the output)``."""

    block: int
    loops: tuple[tuple[int, int, int, int], ...]

    @property
    def calls(self) -> int:
        """Kernel calls per inference."""
        return int(np.prod([loop[0] for loop in self.loops])) if self.loops else 1

    def fields(self) -> dict:
        """What ``templates/kernels/_broadcast.c.j2`` prints: the block, the loops and each
        pointer's offset expression (empty without loops)."""
        names = [f"i{k}" for k in range(len(self.loops))]

        def offset(which: int) -> str:
            terms = [f"{n} * {loop[which]}" for n, loop in zip(names, self.loops) if loop[which]]
            return " + ".join(terms) or "0"

        return {"block_size": self.block,
                "loops": [{"var": n, "count": loop[0]} for n, loop in zip(names, self.loops)],
                "offset_a": offset(1), "offset_b": offset(2), "offset_out": offset(3)}


def _strides(shape: tuple[int, ...], out: tuple[int, ...]) -> list[int]:
    strides, step = [], 1
    for dim, full in zip(reversed(shape), reversed(out)):
        strides.append(0 if dim == 1 and full != 1 else step)
        step *= dim
    return list(reversed(strides))


def broadcast_plan(a_shape, b_shape, out_shape) -> BroadcastPlan:
    """The blocks and loops of ``a`` (shape ``a_shape``) op ``b`` into ``out_shape`` (NumPy
    broadcasting; shapes of lower rank are padded in front)."""
    out = tuple(int(d) for d in out_shape)
    a = (1,) * (len(out) - len(a_shape)) + tuple(int(d) for d in a_shape)
    b = (1,) * (len(out) - len(b_shape)) + tuple(int(d) for d in b_shape)
    k = len(out)
    while k > 0 and a[k - 1] == b[k - 1] == out[k - 1]:
        k -= 1
    block = int(np.prod(out[k:]))
    sa, sb, so = _strides(a, out), _strides(b, out), _strides(out, out)
    loops: list[tuple[int, int, int, int]] = []
    for d in range(k):
        if out[d] == 1:
            continue
        step = (out[d], sa[d], sb[d], so[d])
        if loops:
            c, pa, pb, po = loops[-1]
            if pa == step[1] * step[0] and pb == step[2] * step[0] and po == step[3] * step[0]:
                loops[-1] = (c * step[0], step[1], step[2], step[3])
                continue
        loops.append(step)
    return BroadcastPlan(block, tuple(loops))
