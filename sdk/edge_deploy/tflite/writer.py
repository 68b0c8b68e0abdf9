"""Export a quantized IR graph to an int8 ``.tflite`` flatbuffer (one subgraph, builtin ops)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import flatbuffers
import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.fsutil import atomic_write_bytes
from edge_deploy.ir.graph import Graph, Op
from edge_deploy.ops import get_op, validate
from edge_deploy.tflite import schema as s

_TYPE_CODES = {"int8": s.INT8, "int16": s.INT16, "int32": s.INT32, "float32": s.FLOAT32, "uint8": s.UINT8}


class _FileTensor:
    """A tensor as it will be written: IR tensors plus the constants TFLite wants as inputs."""

    def __init__(self, name, shape, dtype, quant=None, data=None, variable=False):
        self.name, self.shape, self.dtype, self.quant, self.data = name, tuple(shape), dtype, quant, data
        self.variable = variable


def export_tflite(graph: Graph, path: str | os.PathLike | None = None, *, description: str = "edge-deploy",
                  check: bool = True) -> bytes:
    """Serialize ``graph`` (int8, validated) to ``.tflite`` bytes; also write them to ``path`` if given.

    Ops add the constant inputs TFLite expects (RESHAPE's shape, PAD's paddings, MEAN's axis) and
    their builtin options through their op modules. The output is deterministic for a given graph.
    Raises EdgeDeployError for a graph that does not validate, unless ``check`` is False: then the
    graph is written as it is (how the reader's fuzzer makes inconsistent files).
    """
    if check:
        validate(graph)
    tensors: list[_FileTensor] = [_FileTensor(t.name, t.shape, t.dtype, t.quant, t.data, t.variable)
                                   for t in graph.tensors.values()]
    index = {t.name: i for i, t in enumerate(tensors)}
    op_io: list[tuple[Op, list[int], list[int], list[int]]] = []
    for op in graph.ops:
        inputs = [index[n] if n else -1 for n in op.inputs]
        extra = []
        for suffix, data in get_op(op).tflite_extra_inputs(graph, op):
            name = f"{op.name}/{suffix}"
            index[name] = len(tensors)
            tensors.append(_FileTensor(name, data.shape, "int8" if data.dtype == np.int8 else "int32",
                                       graph.tensor(op.outputs[0]).quant if data.dtype == np.int8 else None, data))
            extra.append(index[name])
        intermediates = []
        for suffix, dtype, quant in get_op(op).tflite_intermediates(graph, op):
            intermediates.append(len(tensors))
            tensors.append(_FileTensor(f"{op.name}/{suffix}", (0,), dtype, quant))
        op_io.append((op, get_op(op).tflite_input_order(inputs, extra), [index[n] for n in op.outputs], intermediates))

    codes = sorted({get_op(op).tflite_code(op) for op in graph.ops}, key=lambda c: c.code)
    builder = flatbuffers.Builder(1024)

    buffer_offsets = [_buffer(builder, None)]
    tensor_offsets = []
    for t in tensors:
        buffer_index = 0
        if t.data is not None:
            buffer_index = len(buffer_offsets)
            buffer_offsets.append(_buffer(builder, np.ascontiguousarray(t.data).astype(t.data.dtype.newbyteorder("<")).tobytes()))
        tensor_offsets.append(_tensor(builder, t, buffer_index))

    opcode_index = {c.code: i for i, c in enumerate(codes)}
    operator_offsets = [_operator(builder, graph, op, ins, outs, opcode_index[get_op(op).tflite_code(op).code], mids)
                        for op, ins, outs, mids in op_io]
    name = builder.CreateString(graph.name)
    sub_tensors = _vector_of_offsets(builder, tensor_offsets)
    sub_inputs = builder.CreateNumpyVector(np.array([index[n] for n in graph.inputs], dtype=np.int32))
    sub_outputs = builder.CreateNumpyVector(np.array([index[n] for n in graph.outputs], dtype=np.int32))
    sub_ops = _vector_of_offsets(builder, operator_offsets)
    builder.StartObject(6)
    builder.PrependUOffsetTRelativeSlot(s.SUBGRAPH_TENSORS, sub_tensors, 0)
    builder.PrependUOffsetTRelativeSlot(s.SUBGRAPH_INPUTS, sub_inputs, 0)
    builder.PrependUOffsetTRelativeSlot(s.SUBGRAPH_OUTPUTS, sub_outputs, 0)
    builder.PrependUOffsetTRelativeSlot(s.SUBGRAPH_OPERATORS, sub_ops, 0)
    builder.PrependUOffsetTRelativeSlot(s.SUBGRAPH_NAME, name, 0)
    subgraph = builder.EndObject()

    code_offsets = []
    for code in codes:
        builder.StartObject(4)
        builder.PrependInt8Slot(s.OPCODE_DEPRECATED_BUILTIN_CODE, min(code.code, s.PLACEHOLDER_FOR_GREATER_OP_CODES), 0)
        builder.PrependInt32Slot(s.OPCODE_VERSION, code.version, 1)
        builder.PrependInt32Slot(s.OPCODE_BUILTIN_CODE, code.code, 0)
        code_offsets.append(builder.EndObject())
    codes_vec = _vector_of_offsets(builder, code_offsets)
    subgraphs_vec = _vector_of_offsets(builder, [subgraph])
    buffers_vec = _vector_of_offsets(builder, buffer_offsets)
    desc = builder.CreateString(description)
    builder.StartObject(5)
    builder.PrependUint32Slot(s.MODEL_VERSION, s.SCHEMA_VERSION, 0)
    builder.PrependUOffsetTRelativeSlot(s.MODEL_OPERATOR_CODES, codes_vec, 0)
    builder.PrependUOffsetTRelativeSlot(s.MODEL_SUBGRAPHS, subgraphs_vec, 0)
    builder.PrependUOffsetTRelativeSlot(s.MODEL_DESCRIPTION, desc, 0)
    builder.PrependUOffsetTRelativeSlot(s.MODEL_BUFFERS, buffers_vec, 0)
    model = builder.EndObject()
    builder.Finish(model, file_identifier=s.FILE_IDENTIFIER)
    data = bytes(builder.Output())
    if path is not None:
        atomic_write_bytes(Path(path), data)
    return data


def _vector_of_offsets(builder: flatbuffers.Builder, offsets: list[int]) -> int:
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _buffer(builder: flatbuffers.Builder, data: bytes | None) -> int:
    vector = None
    if data:
        # 16-byte alignment, as TFLite's own converter lays buffers out.
        builder.StartVector(1, len(data), 16)
        builder.head -= len(data)
        builder.Bytes[builder.head : builder.head + len(data)] = data
        vector = builder.EndVector()
    builder.StartObject(3)
    if vector is not None:
        builder.PrependUOffsetTRelativeSlot(s.BUFFER_DATA, vector, 0)
    return builder.EndObject()


def _tensor(builder: flatbuffers.Builder, t: _FileTensor, buffer_index: int) -> int:
    if t.dtype not in _TYPE_CODES:
        raise EdgeDeployError(f"tensor '{t.name}' has dtype {t.dtype}, which .tflite export does not support")
    quant = None
    if t.quant is not None:
        scale = builder.CreateNumpyVector(np.asarray(t.quant.scale, dtype=np.float32))
        zero = builder.CreateNumpyVector(np.asarray(t.quant.zero_point, dtype=np.int64))
        builder.StartObject(7)
        builder.PrependUOffsetTRelativeSlot(s.QUANT_SCALE, scale, 0)
        builder.PrependUOffsetTRelativeSlot(s.QUANT_ZERO_POINT, zero, 0)
        builder.PrependInt32Slot(s.QUANT_QUANTIZED_DIMENSION, int(t.quant.axis), 0)
        quant = builder.EndObject()
    name = builder.CreateString(t.name)
    shape = builder.CreateNumpyVector(np.array(t.shape, dtype=np.int32))
    builder.StartObject(8)
    builder.PrependUOffsetTRelativeSlot(s.TENSOR_SHAPE, shape, 0)
    builder.PrependInt8Slot(s.TENSOR_TYPE, _TYPE_CODES[t.dtype], 0)
    builder.PrependUint32Slot(s.TENSOR_BUFFER, buffer_index, 0)
    builder.PrependUOffsetTRelativeSlot(s.TENSOR_NAME, name, 0)
    if quant is not None:
        builder.PrependUOffsetTRelativeSlot(s.TENSOR_QUANTIZATION, quant, 0)
    if t.variable:
        builder.PrependBoolSlot(s.TENSOR_IS_VARIABLE, True, False)
    return builder.EndObject()


def _operator(builder: flatbuffers.Builder, graph: Graph, op: Op, inputs: list[int], outputs: list[int],
              opcode: int, intermediates: list[int]) -> int:
    written = get_op(op).to_tflite(graph, op, _OptionsWriter(builder))
    ins = builder.CreateNumpyVector(np.array(inputs, dtype=np.int32))
    outs = builder.CreateNumpyVector(np.array(outputs, dtype=np.int32))
    mids = builder.CreateNumpyVector(np.array(intermediates, dtype=np.int32)) if intermediates else None
    builder.StartObject(s.OPERATOR_INTERMEDIATES + 1)
    builder.PrependUint32Slot(s.OPERATOR_OPCODE_INDEX, opcode, 0)
    builder.PrependUOffsetTRelativeSlot(s.OPERATOR_INPUTS, ins, 0)
    builder.PrependUOffsetTRelativeSlot(s.OPERATOR_OUTPUTS, outs, 0)
    if written is not None:
        options_type, options = written
        builder.PrependUint8Slot(s.OPERATOR_BUILTIN_OPTIONS_TYPE, options_type, 0)
        builder.PrependUOffsetTRelativeSlot(s.OPERATOR_BUILTIN_OPTIONS, options, 0)
    if mids is not None:
        builder.PrependUOffsetTRelativeSlot(s.OPERATOR_INTERMEDIATES, mids, 0)
    return builder.EndObject()


class _OptionsWriter:
    """What an op module writes its builtin options through
    (:class:`edge_deploy.ops.base.TfliteOptionsWriter`)."""

    def __init__(self, builder: flatbuffers.Builder) -> None:
        self._builder = builder

    def table(self, options_type: int, fields: list, slots: int | None = None) -> tuple[int, int]:
        """Every field is written, even at its default, so the bytes spell out the op fully."""
        b = self._builder
        vectors = {slot: b.CreateNumpyVector(np.array(value, dtype=np.int32))
                   for slot, kind, value in fields if kind == "i32[]"}
        b.StartObject(len(fields) if slots is None else slots)
        for slot, kind, value in fields:
            if kind == "padding":
                kind, value = "i8", s.PADDING_SAME if value == "same" else s.PADDING_VALID
            elif kind == "activation":
                kind, value = "i8", s.ACTIVATION_CODES[value]
            if kind == "i8":
                b.PrependInt8Slot(slot, int(value), 127 if int(value) != 127 else 0)
            elif kind == "i32":
                b.PrependInt32Slot(slot, int(value), int(value) + 1)
            elif kind == "bool":
                b.PrependBoolSlot(slot, bool(value), not bool(value))
            elif kind == "f32":
                b.PrependFloat32Slot(slot, value, math.nan)  # NaN equals nothing: always written
            elif kind == "i32[]":
                b.PrependUOffsetTRelativeSlot(slot, vectors[slot], 0)
            else:
                raise ValueError(f"unknown options field kind {kind!r}")
        return options_type, b.EndObject()
