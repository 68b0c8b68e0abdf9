"""The slice of the TFLite flatbuffer schema (``schema.fbs``) that edge-deploy reads and writes:
the model, subgraph, tensor, quantization, operator and buffer tables and the shared enums.

Field numbers are the schema's field ids (vtable slots); enum values are the schema's. Each op's
builtin code and options table live in its op module (:mod:`edge_deploy.ops`).
"""

from __future__ import annotations

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3

# table fields (slot ids)
MODEL_VERSION, MODEL_OPERATOR_CODES, MODEL_SUBGRAPHS, MODEL_DESCRIPTION, MODEL_BUFFERS = 0, 1, 2, 3, 4
SUBGRAPH_TENSORS, SUBGRAPH_INPUTS, SUBGRAPH_OUTPUTS, SUBGRAPH_OPERATORS, SUBGRAPH_NAME = 0, 1, 2, 3, 4
TENSOR_SHAPE, TENSOR_TYPE, TENSOR_BUFFER, TENSOR_NAME, TENSOR_QUANTIZATION = 0, 1, 2, 3, 4
TENSOR_IS_VARIABLE, TENSOR_SPARSITY, TENSOR_SHAPE_SIGNATURE = 5, 6, 7
QUANT_MIN, QUANT_MAX, QUANT_SCALE, QUANT_ZERO_POINT, QUANT_DETAILS_TYPE = 0, 1, 2, 3, 4
QUANT_QUANTIZED_DIMENSION = 6
OPERATOR_OPCODE_INDEX, OPERATOR_INPUTS, OPERATOR_OUTPUTS = 0, 1, 2
OPERATOR_BUILTIN_OPTIONS_TYPE, OPERATOR_BUILTIN_OPTIONS = 3, 4
OPERATOR_INTERMEDIATES = 8
OPCODE_DEPRECATED_BUILTIN_CODE, OPCODE_CUSTOM_CODE, OPCODE_VERSION, OPCODE_BUILTIN_CODE = 0, 1, 2, 3
BUFFER_DATA, BUFFER_OFFSET, BUFFER_SIZE = 0, 1, 2

# TensorType
FLOAT32, INT32, UINT8, INT64, INT16, INT8 = 0, 2, 3, 4, 7, 9
TENSOR_TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool",
                     7: "int16", 8: "complex64", 9: "int8", 10: "float64", 17: "int4"}

# BuiltinOperator: names for messages about operators edge-deploy does not read (the ops it
# reads name their own codes).
PLACEHOLDER_FOR_GREATER_OP_CODES = 127
OPERATOR_NAMES = {
    0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 6: "DEQUANTIZE",
    9: "FULLY_CONNECTED", 14: "LOGISTIC", 16: "LSTM", 17: "MAX_POOL_2D", 18: "MUL", 19: "RELU", 21: "RELU6",
    22: "RESHAPE", 23: "RESIZE_BILINEAR", 25: "SOFTMAX", 27: "SVDF", 28: "TANH", 32: "CUSTOM", 34: "PAD",
    36: "GATHER", 39: "TRANSPOSE", 40: "MEAN", 41: "SUB", 42: "DIV", 43: "SQUEEZE",
    44: "UNIDIRECTIONAL_SEQUENCE_LSTM", 45: "STRIDED_SLICE", 47: "EXP", 49: "SPLIT", 50: "LOG_SOFTMAX",
    53: "CAST", 54: "PRELU", 55: "MAXIMUM", 56: "ARG_MAX", 57: "MINIMUM", 60: "PADV2", 65: "SLICE",
    67: "TRANSPOSE_CONV", 70: "EXPAND_DIMS", 74: "SUM", 76: "RSQRT", 82: "REDUCE_MAX", 83: "PACK",
    88: "UNPACK", 97: "RESIZE_NEAREST_NEIGHBOR", 98: "LEAKY_RELU", 99: "SQUARED_DIFFERENCE", 102: "SPLIT_V",
    114: "QUANTIZE", 117: "HARD_SWISH", 126: "BATCH_MATMUL", 132: "CONV_3D",
}

# Padding / ActivationFunctionType
PADDING_SAME, PADDING_VALID = 0, 1
ACTIVATION_CODES = {"none": 0, "relu": 1, "relu6": 3}
ACTIVATION_NAMES = {0: "none", 1: "relu", 2: "relu_n1_to_1", 3: "relu6", 4: "tanh", 5: "sign_bit", 6: "sigmoid"}
