"""When a fully connected layer reads pruned activations (Integral Pruning), choose between the
dense kernel and ``ed_fully_connected_skip_zero_s8`` (firmware/include/ed_activation.h).

The input density comes from the graph: the producer's ``act_density`` (measured when the plan
was made), through reshapes, and through a max pool of window ``k`` as ``1 - (1 - d)^k`` (the
pool keeps a zero only when its whole window is zero; windows taken as independent). The cost
model is in executed instructions, fitted on QEMU mps2-an386 (fc 512 -> 64, one row; see
tests/test_activation_firmware_kernels.py): the dense kernel about 1.71 per MAC; the skipping
kernel about 9 per input feature (compaction), 4.2 per kept MAC and 40 per output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_deploy.ir.graph import Graph, Op

SKIP_ZERO_KERNEL = "ed_fully_connected_skip_zero_s8"
DENSE_PER_MAC = 1.71
SKIP_PER_INPUT = 9.0
SKIP_PER_KEPT_MAC = 4.2
SKIP_PER_OUTPUT = 40.0


@dataclass(frozen=True)
class SkipZeroChoice:
    """The decision for one fully connected layer: expected input density, both modelled
    instruction counts, and whether the skipping kernel is used."""

    density: float
    dense_instructions: int
    skip_instructions: int

    @property
    def chosen(self) -> bool:
        """True when the zero-skipping kernel is modelled cheaper."""
        return self.skip_instructions < self.dense_instructions

    def to_dict(self) -> dict:
        """Plain data for the build report."""
        return {"kernel": SKIP_ZERO_KERNEL if self.chosen else "dense", "input_density": round(self.density, 4),
                "modelled_dense_instructions": self.dense_instructions,
                "modelled_skip_instructions": self.skip_instructions}


def input_density(graph: Graph, name: str) -> float | None:
    """Expected fraction of nonzero values of tensor ``name``, or None when it is not a pruned
    activation (or its density is unknown)."""
    producers = graph.producers()
    while name in producers:
        op = graph.ops[producers[name]]
        if "act_threshold" in op.attrs:
            density = op.attrs.get("act_density")
            return None if density is None else float(density)
        if op.kind == "reshape":
            name = op.inputs[0]
        elif op.kind == "max_pool2d" and op.attrs.get("activation", "none") == "none":
            inner = input_density(graph, op.inputs[0])
            window = int(np.prod(op.attrs["filter"]))
            return None if inner is None else 1.0 - (1.0 - inner) ** window
        else:
            return None
    return None


def skip_zero_choice(graph: Graph, op: Op) -> SkipZeroChoice | None:
    """The modelled choice for a fully connected ``op`` whose input is pruned, else None (also
    for a nonzero weight zero point, where a skipped input would still contribute)."""
    if op.kind != "fully_connected":
        return None
    w = graph.tensor(op.inputs[1])
    if np.any(w.quant.zero_point != 0):
        return None
    density = input_density(graph, op.inputs[0])
    if density is None:
        return None
    units, depth = w.shape
    rows = int(np.prod(graph.tensor(op.inputs[0]).shape)) // depth
    macs = rows * units * depth
    skip = SKIP_PER_INPUT * depth * rows + SKIP_PER_KEPT_MAC * density * macs + SKIP_PER_OUTPUT * units * rows
    return SkipZeroChoice(density, int(DENSE_PER_MAC * macs), int(skip))


def skip_zero_scratch_bytes(graph: Graph, op: Op) -> int:
    """Scratch of ed_fully_connected_skip_zero_s8: an (index, value) int16 pair per input feature."""
    return 4 * int(graph.tensor(op.inputs[1]).shape[1])
