"""Render the C project for an int8 graph: model sources, Makefile, runtime, kernels, board files.

:func:`plan_model` lowers the graph to layers and plans its arena; :func:`render_model` renders
``model.h`` / ``model.c`` / ``Makefile`` in memory; :func:`write_project` writes the whole tree a
user can build with ``make``:

    src/Makefile             plain make, arm-none-eabi-gcc
    src/model.h, model.c     the generated model (weights, one function per layer, ed_model)
    src/board/               linker.ld and ed_board_config.h for the board, ed_runtime_config.h
                             (the runtime's buffers sized for the model)
    src/runtime/             the edge-deploy runtime (start-up, UART, protocol server)
    src/include/, kernels/   edge-deploy's CMSIS-NN s8 kernels (with --cmsis-nn only when a layer
                             runs one of them: an op the upstream checkout has no function for)
    src/ed_cmsis_nn_fallback.h   with --cmsis-nn, prototypes of those edge-deploy functions that
                             the checkout's header does not declare

The Makefile lists the kernel sources the model calls (:mod:`edge_deploy.codegen.sources`), each
compiled with the rounding of the layers calling it. Output is deterministic: the same graph,
board and options give byte-identical files.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2

from edge_deploy.boards import Board, load_board
from edge_deploy.codegen.context import model_context
from edge_deploy.codegen.layers import Layer, graph_layers, plan_steps, tensor_sizes
from edge_deploy.codegen.sources import KernelSources, interpreter_rounding, kernel_sources
from edge_deploy.errors import EdgeDeployError
from edge_deploy.fsutil import atomic_write_text
from edge_deploy.interp.interpreter import op_rounding
from edge_deploy.ir.graph import Graph
from edge_deploy.kernels import all_kernels
from edge_deploy.kernels.choose import KERNEL_PATHS, KernelPolicy
from edge_deploy.kernels.library import KernelLibrary, own_library, upstream_library
from edge_deploy.ops import get_op
from edge_deploy.paths import resource_dir
from edge_deploy.plan import ArenaPlan, check_plan, plan_arena
from edge_deploy.toolchain import compile_flags, link_flags, render_board_header, render_linker_script, runtime_sources

MODEL_TEMPLATES = {"model.h": "model.h.j2", "model.c": "model.c.j2", "Makefile": "Makefile.j2"}
FALLBACK_HEADER = "ed_cmsis_nn_fallback.h"
RUNTIME_CONFIG_TEMPLATE, RUNTIME_CONFIG_NAME = "ed_runtime_config.h.j2", "ed_runtime_config.h"


@dataclass(frozen=True)
class ModelPlan:
    """A graph ready for code generation: its layers (each with its kernel), the arena plan of
    their tensors, and the kernel policy they were chosen under."""

    graph: Graph
    layers: list[Layer]
    plan: ArenaPlan
    policy: KernelPolicy


@dataclass(frozen=True)
class GeneratedProject:
    """A written project: its folder, the files in it (relative paths, sorted) and the plan."""

    src_dir: Path
    files: list[str]
    model: ModelPlan
    context: dict


def plan_model(graph: Graph, policy: KernelPolicy | None = None, *, sparse: str = "off",
               winograd: str = "off") -> ModelPlan:
    """Choose ``graph``'s kernels and place its activations and scratch in one arena.

    ``policy`` (:class:`~edge_deploy.kernels.choose.KernelPolicy`) says which kernels may run;
    without one, ``sparse`` and ``winograd`` ("off", "auto", "force", ...) build it (the
    generator's default is dense kernels only). Raises EdgeDeployError for a graph the
    generator cannot handle (see :func:`edge_deploy.codegen.layers.graph_layers`) or an unknown
    mode.
    """
    policy = policy or KernelPolicy.from_options(sparse=sparse, winograd=winograd)
    layers = graph_layers(graph, policy)
    plan = plan_arena(plan_steps(layers), tensor_sizes(graph), model_inputs=graph.inputs,
                      model_outputs=graph.outputs)
    check_plan(plan)
    return ModelPlan(graph, layers, plan, policy)


@cache
def template_environment() -> jinja2.Environment:
    """The Jinja environment of every generated C file (strict: an undefined field is an error)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _library(model: ModelPlan, kernels: str, cmsis_nn: str | os.PathLike | None) -> KernelLibrary | None:
    """The upstream checkout the plan was made for (None: edge-deploy's kernels). Raises
    EdgeDeployError for a bad kernel path, a folder that is not a checkout, or a ``cmsis_nn``
    that is not the checkout the layers were chosen for."""
    if kernels not in KERNEL_PATHS:
        raise EdgeDeployError(f"unknown kernel path '{kernels}'", hint=f"use one of: {', '.join(KERNEL_PATHS)}")
    library = model.policy.library
    if cmsis_nn is None:
        return library
    wanted = upstream_library(cmsis_nn)
    if library is None or library.root != wanted.root:
        raise EdgeDeployError(
            f"the model was planned without the CMSIS-NN checkout {cmsis_nn}, so its calls are not rendered for its API",
            hint="plan it with plan_model(graph, KernelPolicy.from_options(cmsis_nn=PATH)) (edge-deploy build "
                 "--cmsis-nn PATH does)")
    return library


def _source_groups(sources: KernelSources, kernels: str) -> list[dict]:
    """The Makefile's description of each group of kernel sources."""
    groups = []
    for group in sources.groups:
        upstream = group.library.is_upstream
        what = "upstream CMSIS-NN" if upstream else "edge-deploy's kernels"
        rounding = ("single rounding (as the TFLite interpreter's kernels; --rounding litert)"
                    if group.rounding == "single" else "double rounding (as TFLM + CMSIS-NN)")
        groups.append({
            "var": group.key.upper(),
            "comment": f"{what}, {rounding}",
            "renamed": bool(group.renames),
            "prefix": "$(CMSIS_NN)/Source/" if upstream else "kernels/",
            "sources": list(group.sources),
            "obj_dir": group.key,
            "flags": (["$(CMSIS_NN_INCLUDES)"] if upstream else ["$(KERNEL_INCLUDES)", "$(KERNEL_PATH_FLAGS)"])
            + group.defines,
        })
    return groups


def _layer_roundings(model: ModelPlan, context: dict, rounding: str) -> list[str | None]:
    """Each run layer's requantization rounding ("double" / "single") under ``--rounding``, None
    for a layer whose op does not requantize; single-rounding layers say so in their comment."""
    policy = interpreter_rounding(rounding)
    out = []
    for layer, ctx in zip([lay for lay in model.layers if not lay.is_view], context["run_layers"]):
        mode = op_rounding(model.graph, layer.op, policy) if get_op(layer.op).rounding_sensitive else None
        ctx["rounding"] = mode
        if mode == "single":
            ctx["comment"].append("requantization: single rounding (--rounding litert, as the TFLite interpreter)")
        out.append(mode)
    return out


def render_model(model: ModelPlan, board: Board | str, *, kernels: str = "simd",
                 cmsis_nn: str | os.PathLike | None = None, source: str = "",
                 rounding: str = "cmsis-nn") -> tuple[dict[str, str], dict]:
    """Render ``model.h``, ``model.c`` and ``Makefile`` for ``model`` on ``board``.

    ``kernels`` ("simd" or "portable") is the Makefile's default kernel path; ``cmsis_nn`` the
    upstream CMSIS-NN folder the model was planned for (:class:`KernelPolicy` ``library``; its
    API shapes the calls and the Makefile compiles the sources the model calls from it);
    ``source`` the model file's name for the comments; ``rounding`` "cmsis-nn" (double rounding,
    as TFLM + CMSIS-NN) or "litert" (each op as the TFLite interpreter's reference kernels).
    Returns ``({file name: text}, template context)``; the context's ``kernel_sources`` says
    which sources are compiled how. Raises EdgeDeployError on a bad option.
    """
    board = load_board(board)
    library = _library(model, kernels, cmsis_nn)
    context = model_context(model.graph, model.layers, model.plan, source=source or model.graph.name,
                            kernels=kernels)
    env = template_environment()
    layer_template = env.get_template("layer.c.j2")
    roundings = _layer_roundings(model, context, rounding)
    run = [layer for layer in model.layers if not layer.is_view]
    sources = kernel_sources([(layer.kernel, layer.library or own_library(), mode, layer_template.render(l=ctx))
                              for layer, mode, ctx in zip(run, roundings, context["run_layers"])], library)
    files = {}
    if sources.fallback_prototypes:
        files[FALLBACK_HEADER] = env.get_template("cmsis_nn_fallback.h.j2").render(
            prototypes=sources.fallback_prototypes, types=sources.fallback_types, cmsis_nn=str(library.root))
        context["headers"] = sorted({*context["headers"], FALLBACK_HEADER})
    context.update(
        board=board,
        cflags=compile_flags(board),
        ldflags=link_flags(board),
        runtime_sources=[p.name for p in runtime_sources(board)],
        cmsis_nn=str(library.root) if library is not None else "",
        cmsis_nn_api=library.api_level(all_kernels()) if library is not None else None,
        rounding=rounding,
        kernel_sources=sources,
        source_groups=_source_groups(sources, kernels),
        own_kernels=bool(sources.library_groups(upstream=False)),
        # edge-deploy's own kernels (Winograd, sparse, skip-zero, MEAN) the model calls.
        ed_only=sorted({layer.kernel for layer in model.layers if layer.spec is not None and layer.spec.upstream is None}),
    )
    for name, template in MODEL_TEMPLATES.items():
        files[name] = env.get_template(template).render(**context)
    return files, context


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def write_project(model: ModelPlan, board: Board | str, src_dir: str | os.PathLike, *, kernels: str = "simd",
                  cmsis_nn: str | os.PathLike | None = None, source: str = "",
                  rounding: str = "cmsis-nn") -> GeneratedProject:
    """Write the buildable project for ``model`` on ``board`` into ``src_dir`` (created; files
    already there are overwritten). Options as for :func:`render_model`. Returns the
    :class:`GeneratedProject`. Raises EdgeDeployError on a bad option."""
    board = load_board(board)
    files, context = render_model(model, board, kernels=kernels, cmsis_nn=cmsis_nn, source=source, rounding=rounding)
    src = Path(src_dir)
    written = []
    for name, text in files.items():
        atomic_write_text(src / name, text)
        written.append(name)
    atomic_write_text(src / "board" / "linker.ld", render_linker_script(board))
    atomic_write_text(src / "board" / "ed_board_config.h", render_board_header(board))
    atomic_write_text(src / "board" / RUNTIME_CONFIG_NAME,
                      template_environment().get_template(RUNTIME_CONFIG_TEMPLATE).render(**context))
    written += ["board/linker.ld", "board/ed_board_config.h", f"board/{RUNTIME_CONFIG_NAME}"]
    runtime = sorted({*runtime_sources(board), *resource_dir("firmware").joinpath("runtime").glob("*.h")})
    for path in runtime:
        _copy(path, src / "runtime" / path.name)
        written.append(f"runtime/{path.name}")
    firmware = resource_dir("firmware")
    if context["own_kernels"] or model.policy.library is None:
        for folder in ("include", "kernels"):
            for path in sorted((firmware / folder).glob("*.[ch]")):
                _copy(path, src / folder / path.name)
                written.append(f"{folder}/{path.name}")
    return GeneratedProject(src_dir=src, files=sorted(written), model=model, context=context)
