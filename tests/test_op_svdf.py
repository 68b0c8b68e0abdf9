"""SVDF (int8, int16 state) and the variable tensors it needs: the reference against
ai-edge-litert's reference kernel over sequences (the state carried across invocations), the
.tflite round trip of ``is_variable``, the graph checks, the interpreter's state across calls,
and the C kernel (``arm_svdf_state_s16_s8``) on the host, both paths, from random states."""

from __future__ import annotations

import numpy as np
import pytest

from edge_deploy.errors import EdgeDeployError
from edge_deploy.interp.interpreter import initial_state, run_graph
from edge_deploy.ir import Tensor
from edge_deploy.ops import GraphBuilder, validate
from edge_deploy.tflite import export_tflite, import_tflite
from kernel_runner import HostKernels
from op_checks import int8_batch, mismatches_with_litert, q


def svdf_graph(rng, *, inputs=12, filters=8, memory=5, rank=2, bias=True, stacked=False):
    """One SVDF (or two stacked) on frames of ``inputs`` int8 values, random weights."""
    b = GraphBuilder("svdf_case", "int8")
    name = b.input("x", (1, inputs), q(0.05, 3))
    layers = [(inputs, filters, memory, rank)] + ([(filters // rank, 6, 3, 1)] if stacked else [])
    for i, (fan_in, f, m, r) in enumerate(layers):
        wf = b.constant(f"wf{i}", rng.integers(-127, 128, (f, fan_in)), "int8", q(0.01, 0))
        wt = b.constant(f"wt{i}", rng.integers(-32767, 32768, (f, m)), "int16", q(2e-5, 0))
        bb = b.constant(f"b{i}", rng.integers(-3000, 3000, (f // r,)), "int32", q(1e-6, 0)) if bias else None
        state = b.variable(f"state{i}", (1, f * m), "int16", q(0.004, 0))
        name = b.svdf(name, f"svdf{i}", wf, wt, state, bb, rank=r, activation="relu", quant=q(0.05, -7))
    return b.finish([name])


@pytest.mark.parametrize("shape", [dict(), dict(rank=1, filters=6, memory=1), dict(bias=False, inputs=7, memory=9),
                                   dict(stacked=True)], ids=["rank2", "memory1", "nobias", "stacked"])
def test_svdf_matches_litert_over_a_sequence(shape):
    rng = np.random.default_rng(1)
    graph = svdf_graph(rng, **shape)
    batch = int8_batch(rng, graph, 24)  # one sequence: every sample sees the state the last left
    assert mismatches_with_litert(graph, batch) == {n: 0 for n in graph.activations()}
    # The state matters: the same frames one at a time from a zero state give other outputs
    # (with memory 1 the state holds only the current frame's value, so they are equal).
    alone = np.concatenate([run_graph(graph, batch[i:i + 1])[graph.outputs[0]] for i in range(len(batch))])
    differs = int(np.sum(alone != run_graph(graph, batch)[graph.outputs[0]]))
    assert differs == 0 if shape.get("memory") == 1 else differs > 0


def test_variable_tensors_survive_the_tflite_round_trip():
    graph = svdf_graph(np.random.default_rng(2), stacked=True)
    back = import_tflite(export_tflite(graph))
    assert back.variables() == ["state0", "state1"] == graph.variables()
    state = back.tensor("state0")
    assert state.variable and state.data is None and state.dtype == "int16" and not state.is_constant
    assert back.tensor("wt0").dtype == "int16" and back.ops[0].inputs == graph.ops[0].inputs
    batch = int8_batch(np.random.default_rng(3), graph, 10)
    assert np.array_equal(run_graph(graph, batch)[graph.outputs[0]], run_graph(back, batch)[back.outputs[0]])


def test_a_variable_with_a_stored_nonzero_start_is_refused():
    graph = svdf_graph(np.random.default_rng(4))
    graph.tensors["state0"].data = np.ones((1, 40), dtype=np.int16)  # written as stored data
    data = export_tflite(graph, check=False)
    with pytest.raises(EdgeDeployError, match="variable tensor 'state0' stores an initial value"):
        import_tflite(data)
    graph.tensors["state0"].data = np.zeros((1, 40), dtype=np.int16)  # zeros: the start anyway
    assert import_tflite(export_tflite(graph, check=False)).tensor("state0").data is None


def test_variable_tensors_only_where_an_op_keeps_state():
    graph = svdf_graph(np.random.default_rng(5))
    wrong = graph.copy()
    wrong.tensors["wt0"].variable, wrong.tensors["wt0"].data = True, None
    with pytest.raises(EdgeDeployError, match="variable .*'wt0' as input 2, which is not a state input"):
        validate(wrong)
    plain = graph.copy()
    plain.tensors["state0"].variable = False
    plain.tensors["state0"].data = np.zeros((1, 40), dtype=np.int16)
    with pytest.raises(EdgeDeployError, match="input 3 .*'state0'.* must be a variable tensor"):
        validate(plain)
    written = svdf_graph(np.random.default_rng(5), stacked=True)
    written.tensors["svdf0"].variable = True  # an intermediate activation
    with pytest.raises(EdgeDeployError, match="writes the variable .*'svdf0' as its output"):
        validate(written)
    exposed = graph.copy()
    exposed.outputs = ["state0"]
    with pytest.raises(EdgeDeployError, match="graph output 'state0' is a variable"):
        validate(exposed)
    bad = graph.copy()
    bad.tensors["state0"].quant = q(0.004, 3)
    with pytest.raises(EdgeDeployError, match="state 'state0' must be int16 with one scale and zero point 0"):
        validate(bad)
    for scale, problem in ((0.0, "a scale must be a finite, normal"), (3.4e38, "multiplier inf is negative or not finite")):
        corrupt = graph.copy()
        corrupt.tensors["state0" if scale == 0.0 else "wf0"].quant = q(scale, 0)
        with pytest.raises(EdgeDeployError, match=problem):
            import_tflite(export_tflite(corrupt, check=False))


def test_the_interpreter_carries_state_across_calls_until_reset():
    graph = svdf_graph(np.random.default_rng(6))
    batch = int8_batch(np.random.default_rng(7), graph, 12)
    whole = run_graph(graph, batch)[graph.outputs[0]]
    state = initial_state(graph)
    assert list(state) == ["state0"] and not state["state0"].any()
    first = run_graph(graph, batch[:5], state=state)[graph.outputs[0]]
    assert state["state0"].any()  # updated in place
    rest = run_graph(graph, batch[5:], state=state)[graph.outputs[0]]
    assert np.array_equal(np.concatenate([first, rest]), whole)
    again = run_graph(graph, batch[5:], state=initial_state(graph))[graph.outputs[0]]  # reset
    assert not np.array_equal(again, rest)
    with pytest.raises(EdgeDeployError, match="no state given for variable tensor"):
        run_graph(graph, batch, state={})


@pytest.mark.parametrize("path", ["portable", "dsp"])
def test_the_c_kernel_equals_the_reference_from_random_states(path):
    """Each case starts from a random state (the output depends on all of it), odd sizes and
    memory 1 included; exactly the planned scratch."""
    from edge_deploy.kernels import get_kernel
    from edge_deploy.kernels.arm_svdf_state_s16_s8 import _layer
    from edge_deploy.testing.random_layers import random_case

    spec = get_kernel("arm_svdf_state_s16_s8")
    rng = np.random.default_rng(8)
    layers = list(spec.calibration) + [_layer(5, 3, 1, 3), _layer(7, 9, 3, 1), _layer(1, 4, 7, 2)]
    cases = [random_case(rng, spec.name, layer, name=f"svdf{i}") for i, layer in enumerate(layers)]
    run = HostKernels(path).run(cases)
    assert run.statuses == [0] * len(cases)
    assert [bool(np.array_equal(out, case.expected)) for out, case in zip(run.outputs, cases)] == [True] * len(cases)
    assert len({case.expected.tobytes() for case in cases}) == len(cases)


def test_state_is_kept_out_of_the_arena_and_counted_in_ram():
    from edge_deploy.build.budget import model_budget
    from edge_deploy.boards import load_board
    from edge_deploy.codegen.project import plan_model, render_model

    graph = svdf_graph(np.random.default_rng(9), stacked=True)
    model = plan_model(graph)
    planned = {t for b in model.plan.buffers for t in b.tensors}
    assert not planned & {"state0", "state1"}
    files, context = render_model(model, "mps2-an386")
    assert context["state_bytes"] == (8 * 5 + 6 * 3) * 2
    assert "static int16_t ed_state_0[40]" in files["model.c"] and "ed_model_reset_state" in files["model.h"]
    assert model_budget(load_board("mps2-an386"), model).state_bytes == context["state_bytes"]
    assert isinstance(graph.tensor("state0"), Tensor)


@pytest.mark.qemu
def test_the_firmware_keeps_state_across_requests_until_reset_state(qemu_arm, tmp_path):
    """Over one link: the same sequence twice continues the state (other outputs); after the
    request RESET_STATE it gives the first outputs again, which are the interpreter's."""
    from edge_deploy.boards import load_board
    from edge_deploy.build.firmware_build import build_graph
    from edge_deploy.emulators import start_emulator

    graph = svdf_graph(np.random.default_rng(12), stacked=True)
    result = build_graph(graph, "mps2-an386", tmp_path / "build")
    assert result.report["state_bytes"] == (8 * 5 + 6 * 3) * 2
    batch = int8_batch(np.random.default_rng(13), graph, 6)
    samples = [sample.tobytes() for sample in batch]
    with start_emulator(load_board("mps2-an386"), tmp_path / "build" / "firmware.elf", link="fastest") as target:
        with target.connect(timeout=10.0) as device:
            assert device.info().reset_state
            first = [output for _, output in device.run_inputs(samples)]
            carried_on = [output for _, output in device.run_inputs(samples)]
            device.reset_state()
            again = [output for _, output in device.run_inputs(samples)]
    expected = run_graph(graph, batch)[graph.outputs[0]]
    assert np.array_equal(np.frombuffer(b"".join(first), np.int8).reshape(expected.shape), expected)
    assert again == first and carried_on != first
