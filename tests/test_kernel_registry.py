"""The op and kernel registries hold together: every kernel has its template partial, its cost
coefficients (measured on the kernel sources in the tree) and calibration layers; every op kind
runs on some kernel; the cost model is what the build records."""

from __future__ import annotations

import numpy as np
import pytest

from edge_deploy.kernels import all_kernels, kernels_for
from edge_deploy.boards import list_boards, load_board
from edge_deploy.kernels.cost import (cost_source, cost_table, estimate_cycles, flash_stalls, flash_timing_key,
                                      kernel_sources_digest)
from edge_deploy.ops import all_ops, get_op, op_kinds
from edge_deploy.paths import resource_dir
from edge_deploy.testing.random_layers import random_case


def test_cost_table_was_measured_on_these_kernel_sources():
    """A kernel source changed without a new calibration fails here: run
    `python -m edge_deploy.testing.calibrate --write`."""
    assert cost_table()["kernel_sources"] == kernel_sources_digest()
    assert cost_source()["kernel_sources"] == kernel_sources_digest()


@pytest.mark.parametrize("kernel", [k.name for k in all_kernels()])
def test_every_kernel_is_complete(kernel):
    spec = next(k for k in all_kernels() if k.name == kernel)
    assert (resource_dir("templates") / spec.template).is_file()
    assert set(cost_table()["coefficients"][kernel]) == set(spec.cost_terms)
    assert len(spec.calibration) > len(spec.cost_terms) - 1, "calibrate on more layers than cost terms"
    assert spec.op in op_kinds()
    if spec.epilogue is not None:
        assert spec.base is not None and next(k for k in all_kernels() if k.name == spec.base).op == spec.op
    # The cost model prices the kernel's own calibration layers within its recorded fit error.
    case = random_case(np.random.default_rng(0), kernel, spec.calibration[0])
    assert estimate_cycles(spec, case.call) > 0
    # Every bundled board's flash has its stall fit for the kernel, and a flash with wait states
    # never makes a layer cheaper.
    for flash in {board.flash for board in list_boards() if board.flash is not None and board.flash.wait_states}:
        assert set(flash_stalls(flash)["coefficients"][kernel]) == set(spec.cost_terms)
        assert estimate_cycles(spec, case.call, flash) >= estimate_cycles(spec, case.call)


def test_the_stall_fits_are_those_of_the_bundled_boards_flash_timings():
    """costs.json holds one stall fit per distinct flash timing of the bundled boards (a board
    added with a new flash needs a calibration), each naming the boards it was measured for."""
    wanted = {}
    for board in list_boards():
        key = flash_timing_key(board.flash)
        if key is not None:
            wanted.setdefault(key, []).append(board.name)
    assert {key: entry["boards"] for key, entry in cost_table()["flash_stalls"].items()} == wanted
    assert len(wanted) >= 2  # the STM32F4s' 16-byte reads and the L4R5's 8-byte ones


def test_a_flash_timing_without_a_calibration_is_priced_at_0_wait_states_and_says_so():
    """A custom board's flash that no bundled board has is priced at 0 wait states, and the
    report's priced_at says which timings are calibrated; the L4R5's is priced at its flash."""
    l4r5 = load_board("nucleo-l4r5zi").flash
    custom = l4r5.model_copy(update={"wait_states": 3})
    spec = next(k for k in all_kernels() if k.name == "ed_fully_connected_s8")
    case = random_case(np.random.default_rng(0), spec.name, spec.calibration[0])
    assert flash_stalls(custom) is None
    assert estimate_cycles(spec, case.call, custom) == estimate_cycles(spec, case.call)
    said = cost_source(custom)["priced_at"]
    assert said.startswith("0 wait states: the cost model has no calibration at this board's flash (3 wait states")
    assert flash_timing_key(l4r5) in said
    assert cost_source(l4r5)["priced_at"] == f"the board's flash ({flash_timing_key(l4r5)})"
    assert cost_source()["priced_at"] == "0 wait states"
    assert cost_source(l4r5)["flash_timing"] == flash_timing_key(l4r5) in cost_table()["flash_stalls"]
    assert cost_source(custom)["flash_timing"] is None and cost_source()["flash_timing"] is None
    assert estimate_cycles(spec, case.call, l4r5) > estimate_cycles(spec, case.call)


COST_ERROR_LIMIT = 0.3


def test_every_cost_model_is_within_30_percent_of_its_calibration_layers():
    """A kernel whose cost model is off by a third of its cycles on a calibration layer lacks a
    term for some work of its own (the group-sparse convolution's element-by-element 2-D patches
    were 66 % under before their terms, arm_convolve_s8's edge blocks 46 %, arm_max_pool_s8's
    general windows 45 %), and the chooser would trust it over a faster kernel."""
    errors = cost_table()["max_relative_error"]
    assert set(errors) == {k.name for k in all_kernels()}
    assert {name: e for name, e in errors.items() if e >= COST_ERROR_LIMIT} == {}


def test_every_op_kind_runs_somewhere():
    for definition in all_ops():
        assert definition.view or kernels_for(definition.kind), f"{definition.kind} has no kernel"
        assert definition.view or definition.reference is not None


def test_registries_are_what_the_modules_define():
    assert get_op("conv2d").kind == "conv2d"
    names = [k.name for k in all_kernels()]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert set(op_kinds()) >= {"conv2d", "depthwise_conv2d", "fully_connected", "add", "softmax", "mean"}
