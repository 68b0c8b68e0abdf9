"""UNIDIRECTIONAL_SEQUENCE_LSTM (TFLite's full-integer 8x8->16 LSTM): gemmlowp's int16 sigmoid
and tanh, and the op's reference with the numbers its kernel_params derive, bit-exact with
ai-edge-litert's kernel on the converted fixture over a sequence of invocations (the output and
cell states carried from one to the next, as TFLite's variable tensors are)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_deploy.ir.graph import Graph, Op, QuantParams, Tensor
from edge_deploy.numerics.fixedpoint16 import logistic_q015, tanh_q015
from edge_deploy.ops.unidirectional_sequence_lstm import CELL_STATE, OP, OUTPUT_STATE

FIXTURE = Path(__file__).parent / "data" / "tflite" / "lstm.tflite"
ALL_INT16 = np.arange(-32768, 32768, dtype=np.int64)


def test_gemmlowp_sigmoid_and_tanh_follow_the_functions():
    x = ALL_INT16 / 4096.0  # Q3.12; gemmlowp's int16 approximations are within 16 steps of 2**-15
    assert np.abs(logistic_q015(ALL_INT16, 3) - 32768 / (1 + np.exp(-x))).max() < 16
    assert np.abs(tanh_q015(ALL_INT16, 3) - 32768 * np.tanh(x)).max() < 16
    for bits in (0, 1, 5):  # the cell state's tanh: 15 + log2(cell scale) integer bits
        assert np.abs(tanh_q015(ALL_INT16, bits) - 32768 * np.tanh(ALL_INT16 / 2.0 ** (15 - bits))).max() < 16
    # gemmlowp's exact points: 0 maps to one half and to 0, the range ends saturate.
    assert logistic_q015(np.array([0, 32767, -32768]), 3).tolist()[0] == 16384
    assert tanh_q015(np.array([0]), 3).tolist() == [0]
    assert logistic_q015(np.array([32767]), 3)[0] == 32767 - logistic_q015(np.array([-32767]), 3)[0]


def fixture_op():
    """The fixture's LSTM as an IR op, its tensors as ai-edge-litert reads them, and the interpreter."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_path=str(FIXTURE), experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                         experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    detail = interp._get_ops_details()[0]
    assert detail["op_name"] == "UNIDIRECTIONAL_SEQUENCE_LSTM"
    tensors, names = {}, []
    for index in detail["inputs"].tolist() + detail["outputs"].tolist():
        if index < 0:
            names.append("")
            continue
        t = interp._get_tensor_details(index, 0)
        q = t["quantization_parameters"]
        quant = QuantParams(q["scales"], q["zero_points"]) if len(q["scales"]) else None
        data = interp.get_tensor(index) if t["name"].startswith(("arith", "tfl.pseudo")) and \
            index not in detail["inputs"][[OUTPUT_STATE, CELL_STATE]] else None
        name = f"t{index}"
        variable = index in detail["inputs"][[OUTPUT_STATE, CELL_STATE]]
        tensors[name] = Tensor(name, tuple(int(d) for d in t["shape"]), np.dtype(t["dtype"]).name, quant, data,
                               variable=bool(variable))
        names.append(name)
    op = Op(OP.kind, "lstm", names[:24], names[24:], {"time_major": False, "cell_clip": 10.0, "proj_clip": 0.0})
    graph = Graph("lstm", tensors, [op], [names[0]], names[24:])
    return interp, detail, graph, op


def test_the_reference_is_bit_exact_with_litert_over_a_sequence():
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    interp, detail, graph, op = fixture_op()
    assert OP.output_shape(graph, op) == (1, 8, 12)
    OP.check_quantized(graph, op)
    params = OP.kernel_params(graph, op)
    assert params["cell_power"] == -14 and params["cell_clip"] == 32767  # 10.0 / 2**-14, truncated to int16
    constants = [graph.tensor(n).data if n else None for n in op.inputs[1:9] + op.inputs[12:16]]
    rng = np.random.default_rng(12)
    h = c = None
    for step in range(4):
        x = rng.integers(-128, 128, (1, 8, 6)).astype(np.int8)
        interp.set_tensor(detail["inputs"][0], x)
        interp.invoke()
        want = interp.get_tensor(detail["outputs"][0])
        fresh = OP.reference(x, *constants, None, None, **params, rounding=OP.litert_rounding)
        got, h, c = OP.reference(x, *constants, h, c, **params, rounding=OP.litert_rounding, return_state=True)
        assert np.array_equal(got, want), f"invocation {step}: {int(np.sum(got != want))} outputs differ"
        assert np.array_equal(h, interp.get_tensor(detail["inputs"][OUTPUT_STATE]))
        assert np.array_equal(c, interp.get_tensor(detail["inputs"][CELL_STATE]))
        if step:  # the state matters: from a zero state the outputs differ
            assert not np.array_equal(fresh, want)


def test_run_int8_chains_the_samples_and_updates_the_state_in_place():
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    _, _, graph, op = fixture_op()
    params = OP.kernel_params(graph, op)
    x = np.random.default_rng(3).integers(-128, 128, (3, 8, 6)).astype(np.int8)
    h, c = np.zeros((1, 12), np.int8), np.zeros((1, 12), np.int16)
    args = [x] + [graph.tensor(n).data if n else None for n in op.inputs[1:]]
    args[OUTPUT_STATE], args[CELL_STATE] = h, c
    out = OP.run_int8(args, params)
    assert out.shape == (3, 1, 8, 12) and out.dtype == np.int8
    constants = args[1:9] + args[12:16]
    first, h0, c0 = OP.reference(x[0:1], *constants, None, None, **params, return_state=True)
    second, h1, c1 = OP.reference(x[1:2], *constants, h0, c0, **params, return_state=True)
    assert np.array_equal(out[0], first) and np.array_equal(out[1], second)
    third, h2, c2 = OP.reference(x[2:3], *constants, h1, c1, **params, return_state=True)
    assert np.array_equal(h, h2) and np.array_equal(c, c2)  # the variable tensors' values, updated in place


def test_unsupported_lstm_variants_are_refused():
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    from edge_deploy.errors import EdgeDeployError

    _, _, graph, op = fixture_op()
    peephole = Op(op.kind, "lstm", [*op.inputs[:9], op.inputs[1], *op.inputs[10:]], op.outputs, op.attrs)
    with pytest.raises(EdgeDeployError, match="peephole"):
        OP.output_shape(graph, peephole)
    cifg = Op(op.kind, "lstm", [op.inputs[0], "", *op.inputs[2:]], op.outputs, op.attrs)
    with pytest.raises(EdgeDeployError, match="CIFG"):
        OP.output_shape(graph, cifg)


def test_the_exported_lstm_runs_in_litert_as_converted():
    """edge-deploy's .tflite writer gives the LSTM its five intermediates (TFLite's kernel reads
    the hidden scale there): ai-edge-litert runs the export as it runs the converted file."""
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    from edge_deploy.tflite import export_tflite, load_tflite
    from edge_deploy.tflite.oracle import run_litert

    graph = load_tflite(FIXTURE)
    x = np.random.default_rng(2).integers(-128, 128, (4, 8, 6)).astype(np.int8)
    exported = run_litert(export_tflite(graph), x, graph.outputs)[graph.outputs[0]]
    assert np.array_equal(exported, run_litert(FIXTURE.read_bytes(), x, graph.outputs)[graph.outputs[0]])
