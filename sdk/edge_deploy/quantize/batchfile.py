"""Batch files shared by every command: N samples stacked on a new first axis.

A sample may be in the checkpoint's PyTorch layout (``(C, L)`` for a Conv1d model, ``(C, H, W)``
for a Conv2d one) or in the IR / ``.tflite`` layout (``(1, L, C)``, ``(H, W, C)``): the shape says
which. int8 samples are taken as they are; float samples are quantized with the model input's scale
and zero point (said on stderr). :func:`load_int8_batch` is what ``infer`` and ``run`` read;
:func:`to_torch_layout` lets ``quantize --calib`` take either layout of a float batch.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from edge_deploy.errors import EdgeDeployError

HINT = ("a batch file holds N samples stacked on a new first axis, each shaped like the model input without "
        "its batch dimension of 1 (the checkpoint's layout or the .tflite / IR layout)")


def read_batch(source: str | os.PathLike | np.ndarray, what: str = "inputs") -> np.ndarray:
    """The array in a ``.npy`` file (or ``source`` itself). Raises EdgeDeployError if unreadable,
    empty or cut short."""
    if isinstance(source, np.ndarray):
        return source
    try:
        return np.load(source, allow_pickle=False)
    except EOFError:
        # numpy's word for a file with no (or too few) bytes; not the user's Ctrl-D.
        raise EdgeDeployError(f"cannot read {what} {source}: the file is empty or cut short",
                              "pass a .npy file written by numpy.save") from None
    except (OSError, ValueError) as exc:
        raise EdgeDeployError(f"cannot read {what} {source}: {exc}", "pass a .npy file written by numpy.save") from None


def check_samples(batch: np.ndarray, what: str = "inputs") -> np.ndarray:
    """``batch`` (samples on the first axis) if it holds at least one sample and, when float,
    only finite values. Raises EdgeDeployError naming the first sample with a NaN or infinity."""
    if batch.ndim == 0 or len(batch) == 0:
        raise EdgeDeployError(f"{what} hold no sample (0 along the first axis)",
                              "pass a batch file with at least one sample")
    if np.issubdtype(batch.dtype, np.floating):
        bad = ~np.isfinite(batch.reshape(len(batch), -1))
        if bad.any():
            sample, element = (int(i) for i in np.argwhere(bad)[0])
            value = batch.reshape(len(batch), -1)[sample, element]
            raise EdgeDeployError(
                f"{what} hold {bad.sum()} values that are not finite: the first is {value} in sample {sample} "
                f"(element {element} of it)",
                "replace or drop the samples with NaN or infinite values before running them")
    return batch


def torch_sample_shape(ir_sample: tuple[int, ...]) -> tuple[int, ...] | None:
    """The PyTorch layout of an NHWC sample ``(H, W, C)``: ``(C, W)`` when H is 1 (Conv1d), else
    ``(C, H, W)``; None for other ranks (no second layout)."""
    if len(ir_sample) != 3:
        return None
    h, w, c = ir_sample
    return (c, w) if h == 1 else (c, h, w)


def _shape_text(sample: tuple[int, ...]) -> str:
    return "(N, " + ", ".join(map(str, sample)) + ")"


def to_ir_batch(batch: np.ndarray, ir_sample: tuple[int, ...], torch_sample: tuple[int, ...] | None = None,
                what: str = "inputs") -> np.ndarray:
    """``batch`` in the IR layout ``(N, *ir_sample)``: taken as is, or moved from the PyTorch
    layout ``(N, *torch_sample)`` (default: derived from ``ir_sample``). A single sample without
    the N axis is a batch of one. Raises EdgeDeployError naming both accepted shapes."""
    from edge_deploy.quantize.pipeline import to_ir_layout

    ir_sample = tuple(int(d) for d in ir_sample)
    torch_sample = tuple(int(d) for d in torch_sample) if torch_sample is not None else torch_sample_shape(ir_sample)
    shape = tuple(batch.shape)
    if shape in (ir_sample, torch_sample):
        batch, shape = batch[None], (1,) + shape
    if shape[1:] == ir_sample:
        return batch
    if torch_sample is not None and shape[1:] == torch_sample:
        moved = to_ir_layout(batch)
        if tuple(moved.shape[1:]) == ir_sample:
            return moved
    accepted = _shape_text(ir_sample) + ("" if torch_sample is None else f" or {_shape_text(torch_sample)}")
    raise EdgeDeployError(f"{what} have shape {shape}; the model takes {accepted}", HINT)


def load_int8_batch(source, ir_sample: tuple[int, ...], scale: float, zero_point: int,
                    torch_sample: tuple[int, ...] | None = None, what: str = "inputs", quiet: bool = False) -> np.ndarray:
    """An int8 batch ``(N, *ir_sample)`` from a batch file or array in either layout.

    int8 data is used as is; float data is quantized with ``scale`` / ``zero_point`` (a line on
    stderr says so unless ``quiet``). Raises EdgeDeployError for another dtype, a shape that fits
    neither layout, no sample, or a NaN / infinity in a float batch (naming its sample)."""
    batch = read_batch(source, what)
    if batch.dtype != np.int8 and not np.issubdtype(batch.dtype, np.floating):
        raise EdgeDeployError(f"{what} are {batch.dtype}; expected int8 (used as is) or float32 (quantized)",
                              "save the batch as int8 or float32")
    batch = check_samples(to_ir_batch(batch, ir_sample, torch_sample, what), what)
    if batch.dtype != np.int8:
        from edge_deploy.ir.graph import QuantParams
        from edge_deploy.quantize.ptq import quantize_input

        if not quiet:
            print(f"{what}: {batch.dtype} batch quantized with the model input's scale {float(scale):.6g} and "
                  f"zero point {int(zero_point)}", file=sys.stderr)
        batch = quantize_input(batch, QuantParams([float(scale)], [int(zero_point)]))
    return np.ascontiguousarray(batch)


def load_interface_batch(source, ir_sample: tuple[int, ...], dtype: str, torch_sample: tuple[int, ...] | None = None,
                         what: str = "inputs") -> np.ndarray:
    """A batch for a model whose input is ``dtype`` float32 or uint8 (it quantizes its own input with
    a QUANTIZE): the samples as they are, float32 from any float batch. Raises EdgeDeployError for
    another dtype or a shape that fits neither layout."""
    batch = read_batch(source, what)
    if batch.dtype != np.dtype(dtype) and not (dtype == "float32" and np.issubdtype(batch.dtype, np.floating)):
        raise EdgeDeployError(f"{what} are {batch.dtype}; the model's input is {dtype}",
                              f"save the batch as {dtype} (the model quantizes its own input)")
    batch = check_samples(to_ir_batch(batch, ir_sample, torch_sample, what), what)
    return np.ascontiguousarray(batch.astype(dtype))


def load_graph_batch(source, graph, torch_sample: tuple[int, ...] | None = None, what: str = "inputs") -> np.ndarray:
    """:func:`load_int8_batch` for the single input of an int8 ``graph`` (:func:`load_interface_batch`
    for a float32 or uint8 input)."""
    if len(graph.inputs) != 1:
        raise EdgeDeployError(f"graph '{graph.name}' has {len(graph.inputs)} inputs; batch files feed one")
    t = graph.tensor(graph.inputs[0])
    if t.dtype != "int8":
        return load_interface_batch(source, tuple(t.shape[1:]), t.dtype, torch_sample, what)
    return load_int8_batch(source, tuple(t.shape[1:]), t.scale, t.zero_point, torch_sample, what)
