"""Export a quantized IR graph to an int8 ``.tflite`` flatbuffer (one subgraph, builtin ops)."""

from __future__ import annotations

import os
from pathlib import Path

import flatbuffers
import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.fsutil import atomic_write_bytes
from edge_deploy.ir.graph import Graph, Op, Tensor
from edge_deploy.ir.shapes import validate
from edge_deploy.tflite import schema as s

_TYPE_CODES = {"int8": s.INT8, "int32": s.INT32, "float32": s.FLOAT32}
_OPCODES = {
    "conv2d": s.CONV_2D, "depthwise_conv2d": s.DEPTHWISE_CONV_2D, "fully_connected": s.FULLY_CONNECTED,
    "max_pool2d": s.MAX_POOL_2D, "avg_pool2d": s.AVERAGE_POOL_2D, "add": s.ADD, "reshape": s.RESHAPE,
    "softmax": s.SOFTMAX, "pad": s.PAD, "mean": s.MEAN,
}


class _FileTensor:
    """A tensor as it will be written: IR tensors plus the constants TFLite wants as inputs."""

    def __init__(self, name, shape, dtype, quant=None, data=None):
        self.name, self.shape, self.dtype, self.quant, self.data = name, tuple(shape), dtype, quant, data


def export_tflite(graph: Graph, path: str | os.PathLike | None = None, *, description: str = "edge-deploy") -> bytes:
    """Serialize ``graph`` (int8, validated) to ``.tflite`` bytes; also write them to ``path`` if given.

    RESHAPE, PAD and MEAN get their shape / paddings / axis as int32 constant inputs, as TFLite
    expects. The output is deterministic for a given graph. Raises EdgeDeployError for a graph
    that does not validate.
    """
    validate(graph)
    tensors: list[_FileTensor] = [_FileTensor(t.name, t.shape, t.dtype, t.quant, t.data) for t in graph.tensors.values()]
    index = {t.name: i for i, t in enumerate(tensors)}
    op_io: list[tuple[Op, list[int], list[int]]] = []
    for op in graph.ops:
        inputs = [index[n] if n else -1 for n in op.inputs]
        for suffix, data in _extra_inputs(graph, op):
            name = f"{op.name}/{suffix}"
            index[name] = len(tensors)
            tensors.append(_FileTensor(name, data.shape, "int8" if data.dtype == np.int8 else "int32",
                                       graph.tensor(op.outputs[0]).quant if data.dtype == np.int8 else None, data))
            inputs.append(index[name])
        op_io.append((op, inputs, [index[n] for n in op.outputs]))

    kinds = sorted({op.kind for op in graph.ops} | ({"pad_v2"} if _uses_padv2(graph) else set()),
                   key=lambda k: (_code(k), k))
    builder = flatbuffers.Builder(1024)

    buffer_offsets = [_buffer(builder, None)]
    tensor_offsets = []
    for t in tensors:
        buffer_index = 0
        if t.data is not None:
            buffer_index = len(buffer_offsets)
            buffer_offsets.append(_buffer(builder, np.ascontiguousarray(t.data).astype(t.data.dtype.newbyteorder("<")).tobytes()))
        tensor_offsets.append(_tensor(builder, t, buffer_index))

    opcode_index = {k: i for i, k in enumerate(kinds)}
    operator_offsets = [_operator(builder, op, ins, outs, opcode_index[_kind_key(graph, op)]) for op, ins, outs in op_io]
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

    codes = []
    for kind in kinds:
        code = _code(kind)
        builder.StartObject(4)
        builder.PrependInt8Slot(s.OPCODE_DEPRECATED_BUILTIN_CODE, min(code, s.PLACEHOLDER_FOR_GREATER_OP_CODES), 0)
        builder.PrependInt32Slot(s.OPCODE_VERSION, _op_version(kind), 1)
        builder.PrependInt32Slot(s.OPCODE_BUILTIN_CODE, code, 0)
        codes.append(builder.EndObject())
    codes_vec = _vector_of_offsets(builder, codes)
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


def _uses_padv2(graph: Graph) -> bool:
    return any(op.kind == "pad" and op.attrs.get("pad_value") is not None for op in graph.ops)


def _kind_key(graph: Graph, op: Op) -> str:
    return "pad_v2" if op.kind == "pad" and op.attrs.get("pad_value") is not None else op.kind


def _code(kind: str) -> int:
    return s.PADV2 if kind == "pad_v2" else _OPCODES[kind]


def _op_version(kind: str) -> int:
    # int8 kernels are registered from these versions on (TFLite's op versioning).
    return {"conv2d": 3, "depthwise_conv2d": 3, "fully_connected": 4, "max_pool2d": 2, "avg_pool2d": 2,
            "add": 2, "reshape": 1, "softmax": 2, "pad": 2, "pad_v2": 2, "mean": 2}[kind]


def _extra_inputs(graph: Graph, op: Op) -> list[tuple[str, np.ndarray]]:
    if op.kind == "reshape":
        return [("shape", np.array(graph.tensor(op.outputs[0]).shape, dtype=np.int32))]
    if op.kind == "pad":
        extra = [("paddings", np.array(op.attrs["paddings"], dtype=np.int32).reshape(-1, 2))]
        if op.attrs.get("pad_value") is not None:
            extra.append(("pad_value", np.array([op.attrs["pad_value"]], dtype=np.int8).reshape(())))
        return extra
    if op.kind == "mean":
        return [("axis", np.array(op.attrs["axis"], dtype=np.int32))]
    return []


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
    return builder.EndObject()


def _operator(builder: flatbuffers.Builder, op: Op, inputs: list[int], outputs: list[int], opcode: int) -> int:
    options_type, options = _options(builder, op)
    ins = builder.CreateNumpyVector(np.array(inputs, dtype=np.int32))
    outs = builder.CreateNumpyVector(np.array(outputs, dtype=np.int32))
    builder.StartObject(5)
    builder.PrependUint32Slot(s.OPERATOR_OPCODE_INDEX, opcode, 0)
    builder.PrependUOffsetTRelativeSlot(s.OPERATOR_INPUTS, ins, 0)
    builder.PrependUOffsetTRelativeSlot(s.OPERATOR_OUTPUTS, outs, 0)
    if options is not None:
        builder.PrependUint8Slot(s.OPERATOR_BUILTIN_OPTIONS_TYPE, options_type, 0)
        builder.PrependUOffsetTRelativeSlot(s.OPERATOR_BUILTIN_OPTIONS, options, 0)
    return builder.EndObject()


def _options(builder: flatbuffers.Builder, op: Op) -> tuple[int, int | None]:
    a = op.attrs
    act = s.ACTIVATION_CODES[a.get("activation", "none")]
    padding = s.PADDING_SAME if a.get("padding") == "same" else s.PADDING_VALID
    # Every field is written, even at its default, so the bytes spell out the op fully.
    if op.kind == "conv2d":
        builder.StartObject(6)
        fields = [(s.CONV_PADDING, "i8", padding), (s.CONV_STRIDE_W, "i32", a["stride"][1]),
                  (s.CONV_STRIDE_H, "i32", a["stride"][0]), (s.CONV_ACTIVATION, "i8", act),
                  (s.CONV_DILATION_W, "i32", a["dilation"][1]), (s.CONV_DILATION_H, "i32", a["dilation"][0])]
        return s.CONV2D_OPTIONS, _end(builder, fields)
    if op.kind == "depthwise_conv2d":
        builder.StartObject(7)
        fields = [(s.DW_PADDING, "i8", padding), (s.DW_STRIDE_W, "i32", a["stride"][1]),
                  (s.DW_STRIDE_H, "i32", a["stride"][0]), (s.DW_DEPTH_MULTIPLIER, "i32", a.get("depth_multiplier", 1)),
                  (s.DW_ACTIVATION, "i8", act), (s.DW_DILATION_W, "i32", a["dilation"][1]),
                  (s.DW_DILATION_H, "i32", a["dilation"][0])]
        return s.DEPTHWISE_CONV2D_OPTIONS, _end(builder, fields)
    if op.kind == "fully_connected":
        builder.StartObject(3)
        return s.FULLY_CONNECTED_OPTIONS, _end(builder, [(s.FC_ACTIVATION, "i8", act)])
    if op.kind in ("max_pool2d", "avg_pool2d"):
        builder.StartObject(6)
        fields = [(s.POOL_PADDING, "i8", padding), (s.POOL_STRIDE_W, "i32", a["stride"][1]),
                  (s.POOL_STRIDE_H, "i32", a["stride"][0]), (s.POOL_FILTER_W, "i32", a["filter"][1]),
                  (s.POOL_FILTER_H, "i32", a["filter"][0]), (s.POOL_ACTIVATION, "i8", act)]
        return s.POOL2D_OPTIONS, _end(builder, fields)
    if op.kind == "add":
        builder.StartObject(2)
        return s.ADD_OPTIONS, _end(builder, [(s.ADD_ACTIVATION, "i8", act)])
    if op.kind == "softmax":
        builder.StartObject(1)
        return s.SOFTMAX_OPTIONS, _end(builder, [(s.SOFTMAX_BETA, "f32", float(a.get("beta", 1.0)))])
    if op.kind == "mean":
        builder.StartObject(1)
        return s.REDUCER_OPTIONS, _end(builder, [(s.REDUCER_KEEP_DIMS, "bool", bool(a.get("keep_dims", False)))])
    if op.kind == "pad":
        builder.StartObject(0)
        return (s.PADV2_OPTIONS if a.get("pad_value") is not None else s.PAD_OPTIONS), builder.EndObject()
    if op.kind == "reshape":
        shape = builder.CreateNumpyVector(np.array(a["shape"], dtype=np.int32))
        builder.StartObject(1)
        builder.PrependUOffsetTRelativeSlot(s.RESHAPE_NEW_SHAPE, shape, 0)
        return s.RESHAPE_OPTIONS, builder.EndObject()
    return 0, None


def _end(builder: flatbuffers.Builder, fields) -> int:
    for slot, kind, value in fields:
        if kind == "i8":
            builder.PrependInt8Slot(slot, int(value), 127 if int(value) != 127 else 0)
        elif kind == "i32":
            builder.PrependInt32Slot(slot, int(value), int(value) + 1)
        elif kind == "bool":
            builder.PrependBoolSlot(slot, bool(value), not bool(value))
        else:
            builder.PrependFloat32Slot(slot, value, value + 1.0)
    return builder.EndObject()
