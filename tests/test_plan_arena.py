"""The static arena planner: no two live buffers overlap (property test on random graphs),
chains reach the lower bound, aliases and in-place ops share memory, errors name the tensor."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_deploy.errors import EdgeDeployError
from edge_deploy.plan import PlanStep, check_plan, plan_arena, write_plan_png


@st.composite
def random_graphs(draw):
    """A random DAG in execution order: each step reads 1-3 earlier tensors."""
    n_steps = draw(st.integers(1, 12))
    tensors = ["in"]
    sizes = {"in": draw(st.integers(1, 5000))}
    steps = []
    for i in range(n_steps):
        k = draw(st.integers(1, min(3, len(tensors))))
        inputs = tuple(draw(st.lists(st.sampled_from(tensors), min_size=k, max_size=k, unique=True)))
        out = f"t{i}"
        sizes[out] = draw(st.integers(1, 5000))
        steps.append(PlanStep(f"s{i}", inputs, (out,), scratch=draw(st.integers(0, 3000)),
                              alias=draw(st.booleans()) and len(inputs) == 1,
                              in_place=draw(st.booleans()), in_place_input=draw(st.integers(0, len(inputs) - 1)),
                              grows=draw(st.booleans())))
        tensors.append(out)
    outputs = [tensors[-1]] + draw(st.lists(st.sampled_from(tensors[1:]), max_size=2, unique=True))
    return steps, sizes, sorted(set(outputs))


@settings(max_examples=300, deadline=None)
@given(random_graphs())
def test_no_two_live_buffers_overlap(graph):
    steps, sizes, outputs = graph
    plan = plan_arena(steps, sizes, model_inputs=["in"], model_outputs=outputs)
    check_plan(plan)
    assert plan.arena_bytes >= plan.lower_bound_bytes >= plan.shared_bound_bytes
    # Every tensor has an offset and room for its bytes.
    for name, size in sizes.items():
        if name in plan.tensor_offsets:
            assert plan.tensor_offsets[name] + size <= plan.arena_bytes


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 9000), st.integers(0, 4000)), min_size=1, max_size=15),
       st.integers(1, 9000))
def test_chain_reaches_the_lower_bound(layers, input_size):
    sizes = {"x0": input_size}
    steps = []
    for i, (size, scratch) in enumerate(layers):
        sizes[f"x{i + 1}"] = size
        steps.append(PlanStep(f"layer{i}", (f"x{i}",), (f"x{i + 1}",), scratch=scratch))
    plan = plan_arena(steps, sizes, model_inputs=["x0"], model_outputs=[f"x{len(layers)}"])
    check_plan(plan)
    assert plan.arena_bytes == plan.lower_bound_bytes


def test_lower_bound_is_the_busiest_step():
    steps = [PlanStep("conv", ("x",), ("a",), scratch=100), PlanStep("pool", ("a",), ("b",)),
             PlanStep("fc", ("b",), ("y",))]
    sizes = {"x": 400, "a": 1000, "b": 500, "y": 12}
    plan = plan_arena(steps, sizes, model_inputs=["x"], model_outputs=["y"])
    assert plan.lower_bound_bytes == 400 + 1000 + 100  # conv: input, output and scratch
    assert plan.arena_bytes == plan.lower_bound_bytes
    assert plan.peak_step == "conv" and plan.to_dict()["peak_step"] == "conv"
    sizes["b"] = 1200  # now pool (a + b) is the busiest step
    assert plan_arena(steps, sizes, model_inputs=["x"], model_outputs=["y"]).peak_step == "pool"


def test_reshape_is_a_view_and_relu_runs_in_place():
    steps = [PlanStep("conv", ("x",), ("a",)), PlanStep("flatten", ("a",), ("f",), alias=True),
             PlanStep("relu", ("f",), ("r",), in_place=True), PlanStep("fc", ("r",), ("y",))]
    sizes = {"x": 64, "a": 256, "f": 256, "r": 256, "y": 8}
    plan = plan_arena(steps, sizes, model_inputs=["x"], model_outputs=["y"])
    check_plan(plan)
    assert plan.tensor_offsets["a"] == plan.tensor_offsets["f"] == plan.tensor_offsets["r"]
    assert plan.arena_bytes == 64 + 256


def test_in_place_refused_when_input_is_still_needed():
    # "a" feeds both the relu and the add: the relu must not overwrite it.
    steps = [PlanStep("conv", ("x",), ("a",)), PlanStep("relu", ("a",), ("r",), in_place=True),
             PlanStep("add", ("a", "r"), ("y",))]
    plan = plan_arena(steps, {"x": 16, "a": 32, "r": 32, "y": 32}, model_inputs=["x"], model_outputs=["y"])
    check_plan(plan)
    assert plan.tensor_offsets["a"] != plan.tensor_offsets["r"]


def test_offsets_are_aligned_and_deterministic():
    steps = [PlanStep("a", ("x",), ("y",), scratch=5), PlanStep("b", ("y",), ("z",), scratch=7)]
    sizes = {"x": 3, "y": 5, "z": 7}
    first = plan_arena(steps, sizes, model_inputs=["x"], model_outputs=["z"])
    second = plan_arena(steps, sizes, model_inputs=["x"], model_outputs=["z"])
    assert first.to_dict() == second.to_dict()
    assert all(offset % 4 == 0 for offset in first.tensor_offsets.values())


def test_read_before_write_names_the_tensor():
    with pytest.raises(EdgeDeployError, match="'ghost'"):
        plan_arena([PlanStep("s", ("ghost",), ("y",))], {"y": 1, "ghost": 1}, model_inputs=[], model_outputs=["y"])


def test_plan_picture_is_a_png_and_deterministic(tmp_path):
    steps = [PlanStep("conv", ("x",), ("a",), scratch=100), PlanStep("pool", ("a",), ("b",))]
    plan = plan_arena(steps, {"x": 400, "a": 1000, "b": 500}, model_inputs=["x"], model_outputs=["b"])
    one = write_plan_png(plan, tmp_path / "one.png").read_bytes()
    two = write_plan_png(plan, tmp_path / "two.png").read_bytes()
    assert one[:8] == b"\x89PNG\r\n\x1a\n" and len(one) > 2000
    assert one == two


def test_a_streaming_output_larger_than_its_input_starts_below_it():
    # A 1x1 convolution doubling the channels streams over its input: the input lies at the end
    # of the output, so the step needs the output's bytes only, and the lower bound counts them so.
    steps = [PlanStep("conv", ("x",), ("a",), scratch=40), PlanStep("pw", ("a",), ("b",), in_place=True, grows=True),
             PlanStep("fc", ("b",), ("y",))]
    sizes = {"x": 300, "a": 250, "b": 500, "y": 10}
    plan = plan_arena(steps, sizes, model_inputs=["x"], model_outputs=["y"])
    check_plan(plan)
    assert plan.tensor_offsets["a"] == plan.tensor_offsets["b"] + 252  # 500 - 250, aligned up to 252
    assert plan.lower_bound_bytes == 300 + 252 + 40  # conv: x, a and scratch; pw: b alone (500)
    assert plan.arena_bytes == plan.lower_bound_bytes
    # without ``grows`` a larger output never overwrites its input
    steps[1] = PlanStep("pw", ("a",), ("b",), in_place=True)
    plan = plan_arena(steps, sizes, model_inputs=["x"], model_outputs=["y"])
    assert plan.lower_bound_bytes == 252 + 500


def test_in_place_over_a_later_input():
    # A fused ADD writes the sum over its second input, the skip, when that dies at the step.
    steps = [PlanStep("c0", ("x",), ("skip",)), PlanStep("c1", ("skip",), ("h",)),
             PlanStep("c2_add", ("h", "skip"), ("sum",), in_place=True, in_place_input=1),
             PlanStep("fc", ("sum",), ("y",))]
    sizes = {"x": 64, "skip": 128, "h": 128, "sum": 128, "y": 4}
    plan = plan_arena(steps, sizes, model_inputs=["x"], model_outputs=["y"])
    check_plan(plan)
    assert plan.tensor_offsets["sum"] == plan.tensor_offsets["skip"] != plan.tensor_offsets["h"]


def test_one_output_placed_apart_ends_a_chains_drift(monkeypatch):
    """Written over their inputs, a larger output ends where its input ends and a smaller one
    starts where its input starts, so after the model's input (never written over) 200 -> 100 ->
    400 -> 200 drifts down over 500 bytes although no step uses more than 400. No global sharing
    reaches 400; placing one output apart from its input (l1's: its step then holds 300) does,
    the rest still shared."""
    sizes = {"x0": 100, "x1": 200, "x2": 100, "x3": 400, "x4": 200}
    steps = [PlanStep(f"l{i}", (f"x{i}",), (f"x{i + 1}",), in_place=True, grows=True) for i in range(4)]
    plan = plan_arena(steps, sizes, model_inputs=["x0"], model_outputs=["x4"])
    check_plan(plan)
    assert plan.arena_bytes == plan.lower_bound_bytes == plan.shared_bound_bytes == 400
    assert plan.strategy.endswith("sharing all but l1")
    at = plan.tensor_offsets
    assert at["x4"] == at["x3"] and at["x3"] + 400 == at["x2"] + 100
    assert not (at["x2"] < at["x1"] + 200 and at["x1"] < at["x2"] + 100)  # l1's output apart
    monkeypatch.setattr("edge_deploy.plan.arena.UNSHARE_ROUNDS", 0)  # the global sharings alone
    assert plan_arena(steps, sizes, model_inputs=["x0"], model_outputs=["x4"]).arena_bytes == 500


def test_taking_sharing_off_is_bounded_on_a_long_chain(monkeypatch):
    """Each step tried apart costs a whole placement, so a long chain whose sharing drifts gets at
    most UNSHARE_TRIALS of them besides the global sharings' (a 120-step chain here), and the plan
    is still valid."""
    import edge_deploy.plan.arena as arena

    sizes = {"x0": 1000}
    steps = []
    for i in range(120):
        sizes[f"x{i + 1}"] = (500, 1000, 2000, 4000)[(7 * i) % 4 if i % 3 else (i // 3) % 4]
        steps.append(PlanStep(f"l{i}", (f"x{i}",), (f"x{i + 1}",), in_place=True, grows=True, scratch=64 * (i % 3)))
    placements = []
    placed = arena._placed
    monkeypatch.setattr(arena, "_placed", lambda *args: placements.append(1) or placed(*args))
    plan = plan_arena(steps, sizes, model_inputs=["x0"], model_outputs=["x120"])
    check_plan(plan)
    assert plan.arena_bytes > plan.shared_bound_bytes  # it drifts: the step-by-step search ran
    assert len(arena.SHARINGS) < len(placements) <= len(arena.SHARINGS) + arena.UNSHARE_TRIALS
