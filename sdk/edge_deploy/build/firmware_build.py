"""``edge-deploy build``: an int8 model -> a generated C project, firmware.elf and report.json.

Steps: plan the arena, check the memory budget (before compiling), write the project
(``edge_deploy.codegen``), compile it for the board (``edge_deploy.toolchain``), write the report,
the plan (JSON and PNG) and the model as ``.tflite`` (the reference ``edge-deploy run --check``
compares with). Everything goes to a temporary folder that replaces ``out_dir`` only when the
whole build succeeded.

    out_dir/src/            the generated project (builds with plain `make`)
    out_dir/firmware.elf    unstripped, for QEMU, flashing and the profiler
    out_dir/firmware.map    the linker map
    out_dir/model.tflite    the int8 model that was built
    out_dir/report.json     board, sizes, arena, MACs, layers
    out_dir/plan.json, plan.png   the arena plan
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_deploy.boards import Board, load_board
from edge_deploy.build.budget import Budget, check_budget, flash_decided_by_linker, model_budget
from edge_deploy.build.model_source import load_model_source
from edge_deploy.codegen import ModelPlan, plan_model, write_project
from edge_deploy.codegen.sources import interpreter_rounding
from edge_deploy.errors import EdgeDeployError
from edge_deploy.fsutil import atomic_output_dir, atomic_write_bytes, atomic_write_json
from edge_deploy.ir.graph import Graph
from edge_deploy.kernels.choose import KernelPolicy
from edge_deploy.kernels.cost import cost_source
from edge_deploy.toolchain.gcc import FirmwareTooLarge

if TYPE_CHECKING:
    from edge_deploy.build.stack import StackSize
    from edge_deploy.codegen.project import GeneratedProject
    from edge_deploy.toolchain.gcc import FirmwareBuild

REPORT_NAME = "report.json"
MODEL_NAME = "model.tflite"


@dataclass(frozen=True)
class BuildResult:
    """A finished build: its folder, the report written there, and the plan and budget."""

    out_dir: Path
    report: dict[str, Any]
    model: ModelPlan
    budget: Budget

    @property
    def elf(self) -> Path:
        """The firmware ELF."""
        return self.out_dir / "firmware.elf"

    @property
    def src_dir(self) -> Path:
        """The generated project."""
        return self.out_dir / "src"


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise EdgeDeployError(f"--out {out_dir} is a file", hint="pass a folder for the build")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / REPORT_NAME).is_file():
        # The build replaces the folder: never wipe one that is not an earlier build.
        raise EdgeDeployError(f"--out {out_dir} is not empty and holds no earlier build",
                              hint="pass a new folder, or an earlier build's folder to replace it")


def layer_records(model: ModelPlan) -> list[dict[str, Any]]:
    """The ``layers`` list of report.json: one entry per op, views (reshape) and ops fused into
    another layer included."""
    records = []
    graph = model.graph
    index_of = {op.name: i for i, op in enumerate(graph.ops)}
    for layer in model.layers:
        records.append({
            "index": layer.index,
            "mark": layer.mark,
            "name": layer.op.name,
            "short_name": layer.short_name,
            "c_function": layer.c_name if not layer.is_view else None,
            "op": layer.op.kind,
            "kernel": layer.kernel or None,
            "macs": layer.macs,
            "input_shapes": [list(s) for s in layer.input_shapes],
            # A layer with a fused op: its own op's output shape (the fused op's record has its own).
            "output_shape": list(graph.tensor(layer.op.outputs[0]).shape),
            "scratch_bytes": layer.scratch_bytes,
            "kernel_choice": layer.choice.to_dict() if layer.choice is not None else None,
            "fused": [op.name for op in layer.fused],
        })
        for op in layer.fused:  # no code of its own; its record says where it went
            records.append({
                "index": index_of[op.name], "mark": -1, "name": op.name, "short_name": op.name, "c_function": None,
                "op": op.kind, "kernel": None, "macs": 0, "input_shapes": [list(graph.tensor(op.inputs[0]).shape)],
                "output_shape": list(graph.tensor(op.outputs[0]).shape), "scratch_bytes": 0,
                "kernel_choice": None, "fused": [], "fused_into": layer.c_name,
            })
    return sorted(records, key=lambda record: record["index"])


def _total_cycles(model: ModelPlan) -> int:
    return sum(layer.choice.cycles for layer in model.layers if layer.choice is not None)


def _movable(model: ModelPlan) -> list:
    """The layers that still run a kernel trading flash for speed and may give it back."""
    return [layer for layer in model.layers
            if layer.spec is not None and layer.spec.family is not None and not model.policy.forced(layer.spec)]


def _moves(items: list, family_of) -> list[list]:
    """The moves of flash for speed over ``items`` (layers, or ``(op, family)`` pairs): each item
    alone, then each family's items together where it has several (one layer alone can cost
    more kernel code than its own data saves, while the family's code goes with its last layer)."""
    moves = [[item] for item in items]
    for family in sorted({family_of(item) for item in items}):
        group = [item for item in items if family_of(item) == family]
        if len(group) > 1:
            moves.append(group)
    return moves


class FlashSteps:
    """The plans of ``graph`` under ``policy`` from the fastest down, each giving back one more
    move of flash for speed: a kernel family (Winograd's transformed filters take about 4x the
    int8 bytes) taken away from one layer, the layer whose change costs the fewest modelled
    cycles per byte of flash saved first, or from all its layers at once (the kernel code the
    layers go back to can outweigh what one layer's filters save, while the family's own code
    goes only with its last layer). A family the options force stays. Step 0 is the plan under
    ``policy``; the last gives back everything it can. Steps are planned as far as they are
    asked for; ``self[i]`` is ``(model, budget)`` (IndexError past the last)."""

    def __init__(self, graph: Graph, board: Board, policy: KernelPolicy):
        self.graph, self.board = graph, board
        model = plan_model(graph, policy)
        self._steps = [(policy, model, model_budget(board, model))]
        self._last = False

    def __getitem__(self, i: int) -> tuple[ModelPlan, Budget]:
        while len(self._steps) <= i and not self._last:
            self._next()
        if i >= len(self._steps):
            raise IndexError(i)
        return self._steps[i][1:]

    def _next(self) -> None:
        policy, model, budget = self._steps[-1]
        best = None
        for move in _moves(_movable(model), lambda layer: layer.spec.family):
            trial_policy = policy
            for layer in move:
                trial_policy = trial_policy.excluding(layer.op.name, layer.spec.family)
            trial = plan_model(self.graph, trial_policy)
            trial_budget = model_budget(self.board, trial)
            saved = budget.flash_needed_bytes - trial_budget.flash_needed_bytes
            if saved > 0:
                key = ((_total_cycles(trial) - _total_cycles(model)) / saved, move[0].index)
                if best is None or key < best[0]:
                    best = (key, trial_policy, trial, trial_budget)
        if best is None:
            self._last = True
        else:
            self._steps.append(best[1:])

    def first_within(self, limit: int | None = None) -> int:
        """The first step whose flash estimate fits the board (and ``limit``, when that is
        less), or the last step when none does."""
        i = 0
        while True:
            _, budget = self[i]
            if budget.flash_needed_bytes <= min(budget.flash_bytes, limit or budget.flash_bytes):
                return i
            try:
                self[i + 1]
            except IndexError:
                return i
            i += 1


def fit_flash(graph: Graph, board: Board, policy: KernelPolicy, limit: int | None = None) -> tuple[ModelPlan, Budget]:
    """Plan ``graph`` under ``policy``, giving back flash for speed (:class:`FlashSteps`) until
    the flash estimate fits the board's (or ``limit``, when that is less: a flash budget of the
    user's) or nothing is left to give back."""
    steps = FlashSteps(graph, board, policy)
    return steps[steps.first_within(limit)]


def _tensor_record(graph: Graph, name: str) -> dict[str, Any]:
    t = graph.tensor(name)
    return {"name": name, "shape": list(t.shape), "dtype": t.dtype, "scale": float(t.scale),
            "zero_point": int(t.zero_point)}


def build_graph(graph: Graph, board: Board | str, out_dir: str | os.PathLike, *, tflite: bytes | None = None,
                kernels: str = "simd", cmsis_nn: str | os.PathLike | None = None, source: str = "",
                details: dict[str, Any] | None = None, extra_files: dict[str, bytes] | None = None,
                jobs: int = 2, sparse: str = "auto", winograd: str = "auto",
                rounding: str = "cmsis-nn", stack: str = "auto", flash_limit: int | None = None) -> BuildResult:
    """Build firmware for the int8 ``graph`` on ``board`` into ``out_dir``.

    ``tflite`` is the model file's bytes (exported from ``graph`` when None), ``kernels`` the
    kernel path ("simd" or "portable"), ``cmsis_nn`` an upstream CMSIS-NN folder to link instead
    of edge-deploy's kernels, ``source`` the model file's name for comments and the report,
    ``extra_files`` more files to keep in the build (relative path -> bytes), ``sparse`` ("auto",
    "off", "force") whether conv / fully connected layers may use edge-deploy's sparse kernels
    (auto: per layer, whichever runs fewer modelled instructions; off with ``cmsis_nn`` unless
    forced, which upstream cannot do), ``winograd`` ("auto", "off", "force") whether dense
    convolutions may use edge-deploy's Winograd kernel (auto: per layer, whichever runs fewer
    modelled cycles on the SIMD path; off for the portable path and with ``cmsis_nn`` unless
    forced), ``rounding`` ("cmsis-nn": double rounding everywhere, bit-exact with TFLM +
    CMSIS-NN; "litert": each op as the TFLite interpreter's reference kernels, single rounding
    on FULLY_CONNECTED; ``edge-deploy run --check`` compares with the matching interpreter
    policy), ``stack`` ("auto", "board") the stack to reserve (auto: the high-water mark measured
    on QEMU plus a margin where QEMU runs the board, else the board's ``stack_bytes``;
    :mod:`edge_deploy.build.stack`), ``flash_limit`` a flash budget in bytes below the board's
    (kernels that trade flash for speed, such as Winograd's transformed filters, are given back
    layer by layer until the estimate fits, then more given back while the compiled firmware
    is over the limit, or taken again while it stays within it: :func:`_walk_to_limit`). Returns the
    :class:`BuildResult`. Raises EdgeDeployError when the graph cannot be generated, does not fit
    the board (before compiling where its RAM or its weights alone are over; else once the
    linker has the firmware) or the flash limit (once compiled), or the toolchain fails.
    """
    from edge_deploy.build.act_thresholds import thresholds_file
    from edge_deploy.build.stack import measured_stack, relink_with_stack, runtime_buffer_bytes
    from edge_deploy.plan import write_plan_png
    from edge_deploy.toolchain import make_project

    board = load_board(board)
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    interpreter_rounding(rounding)  # refuse an unknown name before any work
    policy = KernelPolicy.from_options(sparse=sparse, winograd=winograd, kernels=kernels,
                                       cmsis_nn=cmsis_nn if cmsis_nn is not None else False, flash=board.flash)
    if flash_limit is not None and flash_limit <= 0:
        raise EdgeDeployError(f"--flash-limit {flash_limit} is not a positive number of bytes",
                              hint="give the flash budget in bytes, e.g. --flash-limit 131072")
    steps = FlashSteps(graph, board, policy)
    step = steps.first_within(flash_limit)
    model, budget = steps[step]
    linker_decides = flash_decided_by_linker(budget)
    check_budget(budget, graph.name, flash=not linker_decides)
    if tflite is None:
        from edge_deploy.tflite import export_tflite

        tflite = export_tflite(graph)
    with atomic_output_dir(out_dir) as tmp:
        def compile_model(model: ModelPlan) -> _Compiled:
            for child in tmp.iterdir():  # an earlier fit's project and firmware
                shutil.rmtree(child) if child.is_dir() else child.unlink()
            project = write_project(model, board, tmp / "src", kernels=kernels, cmsis_nn=cmsis_nn, source=source,
                                    rounding=rounding)
            try:
                firmware = make_project(board, project.src_dir, tmp, jobs=jobs, clean=False)
                stack_size = measured_stack(board, firmware.elf, stack, project.src_dir / "build")
                if stack_size.bytes != board.stack_bytes:
                    relink_with_stack(project.src_dir, board, stack_size)
                return _Compiled(model, project, make_project(board, project.src_dir, tmp, jobs=jobs), stack_size)
            except FirmwareTooLarge as exc:  # the linker's verdict: the walk may give more back
                return _Compiled(model, project, None, None, exc)

        built = compile_model(model)
        # The flash estimate is conservative: where it gave kernels back, or the linker found the
        # firmware too large, the compiled firmware decides (_walk_to_limit).
        limit = flash_limit if flash_limit is not None else board.memory.flash.size
        if built.firmware is None or built.flash_bytes > limit or model.policy.exclude:
            built, budget = _walk_to_limit(steps, step, built, limit, compile_model)
        if built.firmware is None:
            if linker_decides:
                check_budget(budget, graph.name)  # the estimate's numbers and hints
            raise built.error
        model, project, firmware, stack_size = built.model, built.project, built.firmware, built.stack
        context = project.context
        _check_flash_limit(firmware.flash_bytes, flash_limit, budget, model, graph.name)
        atomic_write_bytes(tmp / MODEL_NAME, tflite)
        for name, data in sorted({**(extra_files or {}), **thresholds_file(graph)}.items()):
            atomic_write_bytes(tmp / name, data)
        atomic_write_json(tmp / "plan.json", model.plan.to_dict())
        write_plan_png(model.plan, tmp / "plan.png", title=f"{graph.name}: arena plan ({model.plan.strategy})")
        report = {
            "format": "edge-deploy/build-report",
            "version": 1,
            "model": graph.name,
            "source": source,
            "details": details or {},
            "board": board.name,
            "board_spec": board.model_dump(mode="json"),
            "kernels": "cmsis-nn" if cmsis_nn is not None else kernels,
            "sparse": model.policy.sparse,
            "winograd": model.policy.winograd,
            "kernel_policy": model.policy.to_dict(),
            # Requantization: "cmsis-nn" (double rounding, as TFLM + CMSIS-NN) or "litert" (as the
            # TFLite interpreter); each layer's own is in layers[].rounding.
            "rounding": rounding,
            "cmsis_nn": _cmsis_nn_record(context),
            "kernel_sources": context["kernel_sources"].to_dict(kernels),
            "cost_model": cost_source(board.flash),
            "flash_bytes": firmware.flash_bytes,
            "ram_bytes": firmware.ram_bytes,
            "sections": firmware.sections,
            **stack_size.to_dict(),
            "runtime_buffer_bytes": runtime_buffer_bytes(firmware.elf),
            "arena_bytes": model.plan.arena_bytes,
            "arena_lower_bound_bytes": model.plan.lower_bound_bytes,
            # With every output the kernels allow written over its input (below the lower bound
            # where no placement reached that sharing's bound and the plan shares less).
            "arena_shared_bound_bytes": model.plan.shared_bound_bytes,
            # The layer at which the live tensors reach the lower bound: what sets the arena's size.
            "arena_peak_layer": next((layer.short_name for layer in model.layers
                                      if layer.c_name == model.plan.peak_step), None),
            "state_bytes": context["state_bytes"],
            "plan_strategy": model.plan.strategy,
            "weights_bytes": context["weights_bytes"],
            # The model's own constants (int8 weights, int32 biases) as the model file holds them:
            # weights_bytes less what the kernels' encodings add (Winograd's filters take 4x).
            "model_weights_bytes": graph.constant_bytes(),
            "flash_limit_bytes": flash_limit,
            "macs": context["macs"],
            "n_layers": context["n_layers"],
            "budget": budget.to_dict(),
            "input": _tensor_record(graph, graph.inputs[0]),
            "output": _tensor_record(graph, graph.outputs[0]),
            "layers": _with_roundings(layer_records(model), context),
        }
        atomic_write_json(tmp / REPORT_NAME, report)
    return BuildResult(out_dir=out_dir, report=report, model=model, budget=budget)


@dataclass(frozen=True)
class _Compiled:
    """One compiled fit of the model: its plan, generated project, firmware and stack; or, where
    the linker found it larger than the board, no firmware and that error."""

    model: ModelPlan
    project: GeneratedProject
    firmware: FirmwareBuild | None
    stack: StackSize | None
    error: EdgeDeployError | None = None

    @property
    def flash_bytes(self) -> float:
        """The firmware's flash, infinite where it did not link."""
        return self.firmware.flash_bytes if self.firmware is not None else float("inf")


# Builds after the first that may be taken to fit the compiled firmware to the flash limit.
_REFITS = 4
# How far over the limit a layer taken back may be on the estimate, corrected by the current
# build's own error, and still be compiled to see: the kernels' code_bytes are measured, so the
# correction leaves an error of some hundred bytes.
_ESTIMATE_SLACK = 1024




def _take_backs(steps: FlashSteps, built: _Compiled, budget: Budget, limit: int,
                tried: set) -> list[tuple[ModelPlan, Budget]]:
    """The plans that take a kernel family back from one layer of ``built`` that gave it back to
    fit the flash, or from all its layers at once (as :class:`FlashSteps` gives back: one layer
    alone can cost more code than it saves), faster and, on the estimate corrected by ``built``'s
    own error, within ``limit`` (and the board): the most modelled cycles saved per byte of flash
    added first. Exclusion sets in ``tried`` are left out."""
    error = budget.flash_needed_bytes - built.flash_bytes
    cycles = _total_cycles(built.model)
    exclude = built.model.policy.exclude
    found = []
    for i, move in enumerate(_moves(sorted(exclude), lambda pair: pair[1])):
        policy = replace(built.model.policy, exclude=exclude - set(move))
        if policy.exclude in tried:
            continue
        model = plan_model(steps.graph, policy)
        trial = model_budget(steps.board, model)
        saved, added = cycles - _total_cycles(model), trial.flash_needed_bytes - budget.flash_needed_bytes
        if (saved > 0 and trial.ram_needed_bytes <= trial.ram_bytes
                and trial.flash_needed_bytes - error <= min(limit, trial.flash_bytes) + _ESTIMATE_SLACK):
            found.append((-saved / max(added, 1), i, model, trial))
    return [(model, trial) for _, _, model, trial in sorted(found, key=lambda item: item[:2])]


def _walk_to_limit(steps: FlashSteps, step: int, built: _Compiled, limit: int,
                   compile_model) -> tuple[_Compiled, Budget]:
    """Fit the kernels to ``limit`` on the compiled firmware's size, not only on the estimate.

    ``built`` is step ``step`` of ``steps``, the first whose flash estimate fits; the estimate is
    conservative, and the firmware's own size is what must fit. Over the limit: build the next
    steps (more given back) until one fits or none is left. Within it, with layers given back:
    take them back a layer or a family at a time (:func:`_take_backs`), keeping each take-back
    whose firmware still fits; the last build that fits is built again when a later trial did
    not. At most ``_REFITS`` more builds before that; returns the build kept and its budget."""
    budget = steps[step][1]
    builds = 0
    while built.flash_bytes > limit and builds < _REFITS:
        try:
            model, budget_next = steps[step + 1]
        except IndexError:
            return built, budget
        built, budget, step, builds = compile_model(model), budget_next, step + 1, builds + 1
    if built.flash_bytes > limit:
        return built, budget
    tried: set = set()
    last = built
    while builds < _REFITS:
        candidates = _take_backs(steps, built, budget, limit, tried)
        if not candidates:
            break
        model, trial_budget = candidates[0]
        tried.add(model.policy.exclude)
        last, builds = compile_model(model), builds + 1
        if last.flash_bytes <= limit:
            built, budget = last, trial_budget
    if last is not built:  # the folder holds a trial that did not fit
        built = compile_model(built.model)
    return built, budget


def _check_flash_limit(flash_bytes: int, limit: int | None, budget: Budget, model: ModelPlan,
                       model_name: str) -> None:
    """Raise EdgeDeployError when the firmware is over ``limit``: the kernels were fitted to it on
    the estimate before compiling (``budget``), and this is the firmware's own size."""
    if limit is None or flash_bytes <= limit:
        return
    left = len(_movable(model))
    given = len(model.policy.exclude)
    raise EdgeDeployError(
        f"model '{model_name}' takes {flash_bytes:,} bytes of flash, over --flash-limit {limit:,} (the kernels were "
        f"fitted to an estimate of {budget.flash_needed_bytes:,} bytes, {given} layer kernel(s) given back, "
        f"{left} that trade flash for speed left)",
        hint=("lower --flash-limit by the difference to give more back, or " if left else "")
        + "shrink the weights (edge-deploy slim)")


def _cmsis_nn_record(context: dict[str, Any]) -> dict[str, Any] | None:
    """report.json's ``cmsis_nn``: the upstream checkout, the release its API matches, and the
    layers edge-deploy's kernels run because upstream has no function for them."""
    if not context["cmsis_nn"]:
        return None
    sources = context["kernel_sources"]
    return {"path": context["cmsis_nn"], "api_level": context["cmsis_nn_api"],
            "fallback_layers": [ctx["c_name"] for ctx in context["run_layers"] if not ctx["api"].is_upstream],
            "fallback_prototypes": list(sources.fallback_prototypes)}


def _with_roundings(records: list[dict[str, Any]], context: dict[str, Any]) -> list[dict[str, Any]]:
    """Each record of a layer that runs code gets its requantization rounding."""
    by_function = {ctx["c_name"]: ctx["rounding"] for ctx in context["run_layers"]}
    for record in records:
        record["rounding"] = by_function.get(record["c_function"])
    return records


def build_model(model_path: str | os.PathLike, board: Board | str, out_dir: str | os.PathLike, *,
                kernels: str = "simd", cmsis_nn: str | os.PathLike | None = None,
                calib: str | os.PathLike | None = None, jobs: int = 2, sparse: str = "auto",
                winograd: str = "auto", rounding: str = "cmsis-nn", stack: str = "auto",
                flash_limit: int | None = None) -> BuildResult:
    """``edge-deploy build``: read MODEL (``.tflite``, ``.pt`` or pipeline ``.yaml``), then
    :func:`build_graph`.

    ``calib`` overrides a checkpoint's calibration data; ``sparse``, ``winograd``, ``rounding``,
    ``stack`` and ``flash_limit`` as for :func:`build_graph`. Raises EdgeDeployError as
    :func:`edge_deploy.build.model_source.load_model_source` and :func:`build_graph` do.
    """
    source = load_model_source(model_path, calib=calib)
    return build_graph(source.graph, board, out_dir, tflite=source.tflite, kernels=kernels, cmsis_nn=cmsis_nn,
                       source=source.path.name, details={"kind": source.kind, **source.details},
                       extra_files=source.extra_files, jobs=jobs, sparse=sparse, winograd=winograd,
                       rounding=rounding, stack=stack, flash_limit=flash_limit)


def load_build_report(build_dir: str | os.PathLike) -> dict[str, Any]:
    """Read ``build_dir/report.json``. Raises EdgeDeployError when the folder holds no build."""
    import json

    path = Path(build_dir) / REPORT_NAME
    if not path.is_file():
        raise EdgeDeployError(f"{build_dir} holds no build (no {REPORT_NAME})",
                              hint="build one first: edge-deploy build MODEL --board BOARD --out DIR")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EdgeDeployError(f"{path} is unreadable: {exc}", hint="rebuild the folder with edge-deploy build") from None
