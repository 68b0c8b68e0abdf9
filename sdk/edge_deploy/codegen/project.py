"""Render the C project for an int8 graph: model sources, Makefile, runtime, kernels, board files.

:func:`plan_model` lowers the graph to layers and plans its arena; :func:`render_model` renders
``model.h`` / ``model.c`` / ``Makefile`` in memory; :func:`write_project` writes the whole tree a
user can build with ``make``:

    src/Makefile             plain make, arm-none-eabi-gcc
    src/model.h, model.c     the generated model (weights, one function per layer, ed_model)
    src/board/               linker.ld and ed_board_config.h for the board, ed_runtime_config.h
                             (the runtime's buffers sized for the model)
    src/runtime/             the edge-deploy runtime (start-up, UART, protocol server)
    src/include/, kernels/   edge-deploy's CMSIS-NN s8 kernels (not copied with --cmsis-nn)

Output is deterministic: the same graph, board and options give byte-identical files.
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
from edge_deploy.errors import EdgeDeployError
from edge_deploy.fsutil import atomic_write_text
from edge_deploy.ir.graph import Graph
from edge_deploy.kernels.choose import KERNEL_PATHS, KernelPolicy
from edge_deploy.paths import resource_dir
from edge_deploy.plan import ArenaPlan, check_plan, plan_arena
from edge_deploy.toolchain import compile_flags, link_flags, render_board_header, render_linker_script, runtime_sources

MODEL_TEMPLATES = {"model.h": "model.h.j2", "model.c": "model.c.j2", "Makefile": "Makefile.j2"}
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


def _check_options(kernels: str, cmsis_nn: str | os.PathLike | None) -> None:
    if kernels not in KERNEL_PATHS:
        raise EdgeDeployError(f"unknown kernel path '{kernels}'", hint=f"use one of: {', '.join(KERNEL_PATHS)}")
    if cmsis_nn is not None:
        root = Path(cmsis_nn)
        if not (root / "Include" / "arm_nnfunctions.h").is_file() or not (root / "Source").is_dir():
            raise EdgeDeployError(
                f"--cmsis-nn {cmsis_nn} is not a CMSIS-NN checkout (no Include/arm_nnfunctions.h and Source/)",
                hint="pass the root of a CMSIS-NN clone (https://github.com/ARM-software/CMSIS-NN)",
            )


def render_model(model: ModelPlan, board: Board | str, *, kernels: str = "simd",
                 cmsis_nn: str | os.PathLike | None = None, source: str = "") -> tuple[dict[str, str], dict]:
    """Render ``model.h``, ``model.c`` and ``Makefile`` for ``model`` on ``board``.

    ``kernels`` ("simd" or "portable") is the Makefile's default kernel path; ``cmsis_nn`` an
    upstream CMSIS-NN folder the Makefile uses instead of the bundled kernels; ``source`` the
    model file's name for the comments. Returns ``({file name: text}, template context)``.
    Raises EdgeDeployError on a bad option.
    """
    board = load_board(board)
    _check_options(kernels, cmsis_nn)
    context = model_context(model.graph, model.layers, model.plan, source=source or model.graph.name,
                            kernels=kernels)
    context.update(
        board=board,
        cflags=compile_flags(board),
        ldflags=link_flags(board),
        runtime_sources=[p.name for p in runtime_sources(board)],
        cmsis_nn=str(Path(cmsis_nn).resolve()) if cmsis_nn is not None else "",
        # edge-deploy's own kernels (Winograd, sparse, skip-zero, MEAN) the model calls: upstream
        # CMSIS-NN has none of them, so the Makefile refuses CMSIS_NN=PATH for such a model.
        ed_kernels=sorted({layer.kernel for layer in model.layers if layer.spec is not None
                           and layer.spec.upstream is None}),
    )
    if cmsis_nn is not None and context["ed_kernels"]:
        needs = [f"{layer.short_name} ({layer.kernel})" for layer in model.layers if layer.kernel in context["ed_kernels"]]
        raise EdgeDeployError(
            f"with --cmsis-nn every layer must call an upstream arm_*_s8 function, but {', '.join(needs)} "
            "needs edge-deploy's own kernel (CMSIS-NN has no such op)",
            hint="build without --cmsis-nn (the bundled kernels), or change the model to avoid the op",
        )
    env = template_environment()
    files = {name: env.get_template(template).render(**context) for name, template in MODEL_TEMPLATES.items()}
    return files, context


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def write_project(model: ModelPlan, board: Board | str, src_dir: str | os.PathLike, *, kernels: str = "simd",
                  cmsis_nn: str | os.PathLike | None = None, source: str = "") -> GeneratedProject:
    """Write the buildable project for ``model`` on ``board`` into ``src_dir`` (created; files
    already there are overwritten). Options as for :func:`render_model`. Returns the
    :class:`GeneratedProject`. Raises EdgeDeployError on a bad option."""
    board = load_board(board)
    files, context = render_model(model, board, kernels=kernels, cmsis_nn=cmsis_nn, source=source)
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
    if cmsis_nn is None:
        for folder in ("include", "kernels"):
            for path in sorted((firmware / folder).glob("*.[ch]")):
                _copy(path, src / folder / path.name)
                written.append(f"{folder}/{path.name}")
    return GeneratedProject(src_dir=src, files=sorted(written), model=model, context=context)
