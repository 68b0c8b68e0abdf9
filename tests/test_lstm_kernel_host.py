"""ed_lstm_unidirectional_s8 (edge-deploy's LSTM on CMSIS-NN's LSTM API types) on the host, both
paths, bit-exact with the UNIDIRECTIONAL_SEQUENCE_LSTM reference: the fixture's layer with its
converted weights, and random layers with edge shapes (one unit, one step, batch 3, time-major,
a cell clip, the cell scales 2**-10, 2**-11 and 2**-15, a single feature), each continuing from a random state. With
ED_KERNELS_SANITIZE=1 (or the sanitizer test) under ASan + UBSan."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from edge_deploy.kernels import get_kernel
from edge_deploy.testing.random_layers import random_case
from kernel_runner import SANITIZE

LAYERS = [{"lstm": (1, 8, 6, 12)},  # the fixture's shape
          {"lstm": (1, 1, 5, 1)}, {"lstm": (3, 4, 7, 5)}, {"lstm": (2, 3, 1, 9), "time_major": True},
          {"lstm": (1, 6, 4, 8), "cell_clip": 1.5}, {"lstm": (2, 5, 6, 3), "cell_power": -11},
          {"lstm": (1, 2, 33, 17), "time_major": True}, {"lstm": (1, 5, 3, 6), "cell_power": -10},
          {"lstm": (1, 5, 3, 6), "cell_power": -15}]


def test_lstm_kernel_matches_the_reference_on_edge_shapes(kernels):
    rng = np.random.default_rng(120)
    cases = [random_case(rng, "ed_lstm_unidirectional_s8", layer, name=f"lstm{i}") for i, layer in enumerate(LAYERS)]
    # The state matters: from a zero state the reference differs.
    assert any(not np.array_equal(c.expected, _from_zero(c)) for c in cases)
    run = kernels.run(cases)
    assert run.statuses == [0] * len(cases)
    for case, out in zip(cases, run.outputs):
        np.testing.assert_array_equal(out, case.expected, err_msg=f"{kernels.path}: {case.name}")


def test_lstm_kernel_runs_the_fixture_layer(kernels):
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    from edge_deploy.kernels.base import LayerCall
    from edge_deploy.ops import kernel_params
    from edge_deploy.testing.cases import KernelCase
    from test_op_lstm import fixture_op

    interp, detail, graph, op = fixture_op()
    x = np.random.default_rng(4).integers(-128, 128, (1, 8, 6)).astype(np.int8)
    interp.set_tensor(detail["inputs"][0], x)
    interp.invoke()  # litert from its zero state: what the kernel computes from zero state tensors
    states = {op.inputs[18]: np.zeros((1, 12), np.int8), op.inputs[19]: np.zeros((1, 12), np.int16)}
    call = LayerCall(graph, op, kernel_params(graph, op))
    case = KernelCase("fixture", get_kernel("ed_lstm_unidirectional_s8"), call, {op.inputs[0]: x},
                      interp.get_tensor(detail["outputs"][0]), states=states)
    assert np.array_equal(kernels.one(case), case.expected)


def _from_zero(case):
    from edge_deploy.ops import get_op

    op = case.call.op
    args = [case.inputs.get(n, case.states.get(n, case.call.graph.tensor(n).data)) if n else None for n in op.inputs]
    args[18] = args[19] = None
    return get_op(op).run_int8(args, case.call.params).reshape(case.expected.shape)


def test_scratch_is_what_the_template_uses():
    rng = np.random.default_rng(1)
    case = random_case(rng, "ed_lstm_unidirectional_s8", {"lstm": (3, 2, 4, 5)})
    assert case.kernel.scratch_bytes(case.call) == 2 * 2 * 15  # two int16 gate buffers


@pytest.mark.slow
@pytest.mark.skipif(SANITIZE, reason="already running under the sanitizers")
def test_lstm_kernel_under_sanitizers():
    """This file again, with ASan + UBSan builds of both paths, in a child process."""
    env = dict(os.environ, ED_KERNELS_SANITIZE="1")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__],
                            env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
