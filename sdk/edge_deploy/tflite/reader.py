"""Import an int8 ``.tflite`` model into the graph IR.

Every problem a file can have (not a flatbuffer, truncated, corrupt offsets, a float model,
dynamic shapes, an op we do not support) raises :class:`EdgeDeployError` naming it; nothing else
escapes. Quirks TFLM accepts are accepted here too (a rank-1 bias whose ``quantized_dimension``
is not 0, for example).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir.graph import Graph, Op, QuantParams, Tensor
from edge_deploy.ops import OpDef, all_ops, get_op, validate
from edge_deploy.ops.base import ACTIVATIONS
from edge_deploy.tflite import schema as s
from edge_deploy.tflite.flatbuf import CorruptFlatbuffer, Table, root_table

_DTYPES = {s.INT8: "int8", s.INT16: "int16", s.INT32: "int32", s.FLOAT32: "float32", s.INT64: "int64",
           s.UINT8: "uint8"}
_MAX_ELEMENTS = 1 << 28  # a shape beyond this is corrupt for any microcontroller model


def load_tflite(path: str | os.PathLike) -> Graph:
    """Read a ``.tflite`` file into a validated int8 :class:`Graph`.

    Raises EdgeDeployError if the file is missing, corrupt or uses anything unsupported.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EdgeDeployError(f"cannot read '{path}': {exc.strerror}", "check the model path") from None
    return import_tflite(data, name=path.stem, source=str(path))


def import_tflite(data: bytes, *, name: str = "model", source: str = "the .tflite data") -> Graph:
    """Parse ``.tflite`` bytes into a validated int8 :class:`Graph` (see :func:`load_tflite`)."""
    try:
        graph = _parse(bytes(data), name)
    except EdgeDeployError as exc:
        raise EdgeDeployError(f"{source}: {exc.message}", exc.hint) from None
    except (CorruptFlatbuffer, struct.error, ValueError, IndexError, OverflowError, KeyError, TypeError) as exc:
        raise EdgeDeployError(
            f"{source} is not a valid .tflite file ({type(exc).__name__}: {exc})",
            "the file is truncated or corrupt; export or download it again",
        ) from None
    try:
        return validate(graph)
    except EdgeDeployError as exc:
        raise EdgeDeployError(f"{source}: {exc.message}", exc.hint or "the file is inconsistent; export it again") from None


def _parse(buf: bytes, name: str) -> Graph:
    if len(buf) < 8:
        raise CorruptFlatbuffer(f"only {len(buf)} bytes")
    if buf[4:8] != s.FILE_IDENTIFIER:
        raise EdgeDeployError("is not a TFLite flatbuffer (no 'TFL3' identifier)", "pass a .tflite model file")
    model = root_table(buf)
    version = model.scalar(s.MODEL_VERSION, "<I", 0)
    if version != s.SCHEMA_VERSION:
        raise EdgeDeployError(f"has TFLite schema version {version}; only version 3 is supported")
    subgraphs = model.tables(s.MODEL_SUBGRAPHS)
    if len(subgraphs) != 1:
        raise EdgeDeployError(f"has {len(subgraphs)} subgraphs; only single-subgraph models are supported")
    buffers = model.tables(s.MODEL_BUFFERS)
    opcodes = [_builtin_code(t) for t in model.tables(s.MODEL_OPERATOR_CODES)]
    sub = subgraphs[0]
    file_tensors = sub.tables(s.SUBGRAPH_TENSORS)
    inputs = _indices(sub, s.SUBGRAPH_INPUTS, len(file_tensors))
    outputs = _indices(sub, s.SUBGRAPH_OUTPUTS, len(file_tensors))
    names = _unique_names(file_tensors)

    readers = operator_readers()
    ops: list[Op] = []
    used: set[int] = set(inputs) | set(outputs)
    for number, table in enumerate(sub.tables(s.SUBGRAPH_OPERATORS)):
        index = table.scalar(s.OPERATOR_OPCODE_INDEX, "<I", 0)
        if index >= len(opcodes):
            raise CorruptFlatbuffer(f"operator {number} uses opcode index {index} of {len(opcodes)}")
        code, custom = opcodes[index]
        op_ins = list(_indices(table, s.OPERATOR_INPUTS, len(file_tensors), allow_missing=True))
        op_outs = list(_indices(table, s.OPERATOR_OUTPUTS, len(file_tensors)))
        label = f"operator {number}"
        definition = readers.get(code) if custom is None else None
        if definition is None:
            what = f"custom op '{custom}'" if custom is not None else f"op {s.OPERATOR_NAMES.get(code, f'with builtin code {code}')}"
            raise EdgeDeployError(f"{label} is {what}, which edge-deploy does not support",
                                  f"supported: {', '.join(supported_operators())}")
        op_name = definition.tflite_codes[0].name
        if not op_outs or not op_ins or op_ins[0] < 0:
            raise EdgeDeployError(f"{label} ({op_name}) has {len(op_ins)} inputs and {len(op_outs)} outputs")
        reader = _OptionsReader(table.table(s.OPERATOR_BUILTIN_OPTIONS), label, op_ins, file_tensors, buffers,
                                op_outs)
        # An operator with several outputs (SPLIT, UNPACK) becomes one IR op per output.
        pieces = definition.from_tflite_outputs(code, reader) if len(op_outs) > 1 else \
            [definition.from_tflite(code, reader)]
        if len(pieces) != len(op_outs):
            raise EdgeDeployError(f"{label} ({op_name}) has {len(op_outs)} outputs, its options say {len(pieces)}")
        data_inputs = [op_ins[p] for p in definition.tflite_data_positions(code, len(op_ins))]
        if any(i < 0 for i in data_inputs[:max(1, definition.arity[0])]):
            raise EdgeDeployError(f"{label} ({op_name}) lacks a required input")
        used.update(i for i in data_inputs if i >= 0)
        used.update(op_outs)
        for out, attrs in zip(op_outs, pieces):
            ops.append(Op(definition.kind, names[out], [names[i] if i >= 0 else "" for i in data_inputs],
                          [names[out]], attrs))

    tensors = {names[i]: _tensor(file_tensors[i], buffers, names[i]) for i in sorted(used)}
    stored_name = sub.string(s.SUBGRAPH_NAME)
    graph_name = stored_name if stored_name and stored_name != "main" else name
    graph = Graph(graph_name, tensors, ops, [names[i] for i in inputs], [names[i] for i in outputs])
    _check_types(graph)
    return graph


def _builtin_code(table: Table) -> tuple[int, str | None]:
    deprecated = table.scalar(s.OPCODE_DEPRECATED_BUILTIN_CODE, "<b", 0)
    code = max(int(deprecated), int(table.scalar(s.OPCODE_BUILTIN_CODE, "<i", 0)))
    custom = table.string(s.OPCODE_CUSTOM_CODE) if code == 32 else None
    return code, custom


def _indices(table: Table, slot: int, count: int, allow_missing: bool = False) -> list[int]:
    values = table.array(slot, "int32")
    values = [] if values is None else [int(v) for v in values]
    for v in values:
        if v >= count or (v < 0 and not (allow_missing and v == -1)):
            raise CorruptFlatbuffer(f"tensor index {v} out of range (model has {count} tensors)")
    return values


def _unique_names(file_tensors: list[Table]) -> list[str]:
    names, seen = [], set()
    for i, t in enumerate(file_tensors):
        base = t.string(s.TENSOR_NAME) or f"tensor_{i}"
        name = base if base not in seen else f"{base}:{i}"
        seen.add(name)
        names.append(name)
    return names


def _shape(t: Table, name: str) -> tuple[int, ...]:
    shape = t.array(s.TENSOR_SHAPE, "int32")
    shape = () if shape is None else tuple(int(d) for d in shape)
    signature = t.array(s.TENSOR_SHAPE_SIGNATURE, "int32")
    signature = shape if signature is None else tuple(int(d) for d in signature)
    # TensorFlow's converter writes a batch of -1 into shape_signature (and sometimes the shape)
    # of models whose shapes are otherwise static: the batch is read as 1, as TFLM does.
    if len(shape) == len(signature) and shape and signature[0] < 0 and shape[0] in (1, -1):
        shape, signature = (1, *shape[1:]), (1, *signature[1:])
    if any(d < 0 for d in shape) or any(d < 0 for d in signature):
        dynamic = signature if any(d < 0 for d in signature) else shape
        raise EdgeDeployError(f"tensor '{name}' has a dynamic shape {dynamic} (a -1 other than the batch)",
                              "convert the model with fixed input shapes (batch 1)")
    if int(np.prod(shape, dtype=np.float64)) > _MAX_ELEMENTS:
        raise CorruptFlatbuffer(f"tensor '{name}' claims shape {shape}")
    return shape


def _tensor(t: Table, buffers: list[Table], name: str) -> Tensor:
    code = t.scalar(s.TENSOR_TYPE, "<b", 0)
    if code not in _DTYPES:
        raise EdgeDeployError(f"tensor '{name}' has type {s.TENSOR_TYPE_NAMES.get(code, code)}, which is not supported")
    if t.has(s.TENSOR_SPARSITY):
        raise EdgeDeployError(f"tensor '{name}' is a sparse tensor, which is not supported")
    shape = _shape(t, name)
    dtype = _DTYPES[code]
    data = _buffer_data(t, buffers, name, dtype, shape)
    quant = _quant(t, name)
    variable = bool(t.scalar(s.TENSOR_IS_VARIABLE, "<?", False))
    if variable:
        # A state starts at its zero point (TFLM and the TFLite interpreter reset it so): stored
        # data is dropped when it says just that, and refused otherwise.
        zero = int(quant.zero_point[0]) if quant is not None else 0
        if data is not None and np.any(data != zero):
            raise EdgeDeployError(f"variable tensor '{name}' stores an initial value other than its zero point, "
                                  "which is not supported", "a recurrent op's state starts at zero")
        data = None
    return Tensor(name, shape, dtype, quant, data, variable=variable)


def _buffer_data(t: Table, buffers: list[Table], name: str, dtype: str, shape: tuple[int, ...]) -> np.ndarray | None:
    index = t.scalar(s.TENSOR_BUFFER, "<I", 0)
    if index == 0:
        return None
    if index >= len(buffers):
        raise CorruptFlatbuffer(f"tensor '{name}' uses buffer {index} of {len(buffers)}")
    buffer = buffers[index]
    if buffer.scalar(s.BUFFER_OFFSET, "<Q", 0) > 1:
        raise EdgeDeployError(f"tensor '{name}' keeps its data outside the flatbuffer (a >2 GB model), not supported")
    raw = buffer.bytes(s.BUFFER_DATA)
    if not raw:
        return None
    expected = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if len(raw) != expected:
        raise CorruptFlatbuffer(f"tensor '{name}' of shape {shape} has {len(raw)} data bytes, expected {expected}")
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype).reshape(shape)


def _quant(t: Table, name: str) -> QuantParams | None:
    q = t.table(s.TENSOR_QUANTIZATION)
    if q is None:
        return None
    scale = q.array(s.QUANT_SCALE, "float32")
    zero = q.array(s.QUANT_ZERO_POINT, "int64")
    if scale is None or scale.size == 0:
        return None
    if zero is None or zero.size not in (1, scale.size):
        raise EdgeDeployError(f"tensor '{name}' has {scale.size} scales but {0 if zero is None else zero.size} zero points")
    if not np.all(np.isfinite(scale)) or np.any(scale < 0):
        raise EdgeDeployError(f"tensor '{name}' has an invalid quantization scale {scale[:4]}")
    return QuantParams(scale, zero, int(q.scalar(s.QUANT_QUANTIZED_DIMENSION, "<i", 0)))


def _constant(file_tensors, buffers, index: int, what: str) -> np.ndarray:
    if index < 0:
        raise EdgeDeployError(f"{what} is missing")
    t = file_tensors[index]
    name = t.string(s.TENSOR_NAME) or f"tensor_{index}"
    tensor = _tensor(t, buffers, name)
    if tensor.data is None:
        raise EdgeDeployError(f"{what} ('{name}') must be a constant", "convert the model with constant shapes and paddings")
    return tensor.data


class _OptionsReader:
    """What an op module reads an operator through (:class:`edge_deploy.ops.base.TfliteOptionsReader`)."""

    def __init__(self, options: Table | None, label: str, inputs: list[int], file_tensors, buffers,
                 outputs: list[int]) -> None:
        self._options, self.label, self.inputs, self.outputs = options, label, inputs, outputs
        self._file_tensors, self._buffers = file_tensors, buffers

    def error(self, problem: str) -> EdgeDeployError:
        return EdgeDeployError(f"{self.label} {problem}")

    def option(self, slot: int, fmt: str, default):
        return default if self._options is None else self._options.scalar(slot, fmt, default)

    def activation(self, slot: int) -> str:
        code = self.option(slot, "<b", 0)
        name = s.ACTIVATION_NAMES.get(code, str(code))
        if name not in ACTIVATIONS:
            raise EdgeDeployError(f"{self.label} has fused activation {name}, which is not supported")
        return name

    def padding(self, slot: int) -> str:
        value = self.option(slot, "<b", 0)
        if value not in (s.PADDING_SAME, s.PADDING_VALID):
            raise EdgeDeployError(f"{self.label} has unknown padding {value}")
        return "same" if value == s.PADDING_SAME else "valid"

    def constant(self, position: int) -> np.ndarray:
        if position >= len(self.inputs):
            raise EdgeDeployError(f"{self.label} has no input {position}")
        return _constant(self._file_tensors, self._buffers, self.inputs[position], f"{self.label} input {position}")

    def option_vector(self, slot: int) -> list[int]:
        """An int32 vector field of the options (empty when absent)."""
        values = None if self._options is None else self._options.array(slot, "int32")
        return [] if values is None else [int(v) for v in values]

    def shape(self, position: int) -> tuple[int, ...]:
        """The shape of the tensor at input ``position`` (a negative position counts outputs: -1
        is output 0)."""
        index = self.inputs[position] if position >= 0 else self.outputs[-position - 1]
        name = self._file_tensors[index].string(s.TENSOR_NAME) or f"tensor_{index}"
        return _shape(self._file_tensors[index], name)


def operator_readers() -> dict[int, OpDef]:
    """Builtin operator code -> the op that reads it, from the op registry."""
    return {code.code: definition for definition in all_ops() for code in definition.tflite_codes}


def supported_operators() -> list[str]:
    """Names of the builtin operators the importer reads, sorted."""
    return sorted(code.name for definition in all_ops() for code in definition.tflite_codes)


def _check_types(graph: Graph) -> None:
    for op in graph.ops:
        get_op(op).tflite_finish(graph, op)
    quantized = graph.is_quantized
    readers, producers = graph.consumers(), graph.producers()
    for name in graph.activations():
        t = graph.tensor(name)
        if t.dtype == "int8":
            if t.quant is None:
                raise EdgeDeployError(f"tensor '{name}' is int8 without quantization parameters",
                                      "convert with full-integer quantization")
            continue
        # A float32 or uint8 tensor only at the interface, read or written by an op that takes it
        # (QUANTIZE / DEQUANTIZE).
        touching = [graph.ops[i] for i in readers.get(name, [])] + \
            ([graph.ops[producers[name]]] if name in producers else [])
        if quantized and all(_accepts(graph, op) for op in touching):
            continue
        what = "float" if t.dtype == "float32" else t.dtype
        raise EdgeDeployError(
            f"tensor '{name}' is {what}, not quantized int8: this is not a full-integer int8 model",
            "convert with full-integer quantization (int8 activations; a float or uint8 interface is fine, "
            "with QUANTIZE and DEQUANTIZE at its ends)",
        )


def _accepts(graph: Graph, op: Op) -> bool:
    try:
        get_op(op).check_activations(graph, op)
    except EdgeDeployError:
        return False
    return True
