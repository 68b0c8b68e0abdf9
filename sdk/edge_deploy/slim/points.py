"""One point of a search or a sweep: a method at one knob value, scored against the budget and,
when asked, built and profiled on the emulator.

:func:`run_point` is what every runner executes (in place, in a worker process or as a Ray
task): it takes plain, picklable inputs, runs with one torch thread and fixed seeds, and returns
plain data (the slimmed checkpoint only when it stays within the budget), so a point's result
does not depend on where it ran.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from edge_deploy.slim.dataset import SlimData
from edge_deploy.slim.steps import activation_plan, apply_method, input_shape_of, measure
from edge_deploy.train.checkpoint import Checkpoint, save_checkpoint


@dataclass
class PointJob:
    """One point: ``method`` (None = the input as it is, the reference) at knob ``value`` with
    the slim config ``config`` (a plain dict), scored against ``base_val_accuracy`` and
    ``max_loss``; with ``firmware``, built and profiled when within the budget."""

    checkpoint: Checkpoint
    method: str | None
    value: Any
    config: dict[str, Any]
    base_val_accuracy: float
    max_loss: float
    firmware: FirmwareMeasure | None = None
    label: str = ""


@dataclass(frozen=True)
class FirmwareMeasure:
    """How a point within the budget is measured on a target: ``run(checkpoint_path, board,
    build_dir)`` builds and profiles it and returns ``instructions`` and ``cycles``. ``run`` is a
    module-level function, so it crosses process boundaries; the CLI's ``--measure-on`` passes
    :func:`edge_deploy.check.firmware_figures` (slimming itself knows nothing of builds)."""

    board: str
    run: Callable[[Path, str, Path], dict[str, int]]


def _point(job: PointJob, data: SlimData) -> dict[str, Any]:
    from edge_deploy.slim.config import parse_slim_config
    from edge_deploy.slim.registry import get_method

    config = parse_slim_config(job.config, "slim point")
    result: dict[str, Any] = {"label": job.label, "value": job.value}
    if job.method is None:
        checkpoint, step = job.checkpoint, None
        figures = measure(checkpoint.members, data, input_shape_of(checkpoint), activation_plan(checkpoint))
    else:
        method = get_method(job.method)
        section = method.with_knob(config.section(job.method), job.value)
        augmentation = config.augmentation(job.checkpoint.config)
        checkpoint, step, figures = apply_method(job.checkpoint, job.method, section, data, augmentation)
    loss = job.base_val_accuracy - figures["val_accuracy"]
    result.update({"figures": figures, "step": step, "val_loss": loss, "within_budget": loss <= job.max_loss})
    if not result["within_budget"]:
        return result  # nothing that breaks the budget leaves the point
    result["checkpoint"] = checkpoint
    if job.firmware is not None:
        with tempfile.TemporaryDirectory(prefix="edge-deploy-slim-point-") as tmp:
            path = save_checkpoint(Path(tmp) / "model.pt", checkpoint)
            result["firmware"] = job.firmware.run(path, job.firmware.board, Path(tmp) / "build")
    return result


def failed_point(job: PointJob, exc: BaseException) -> dict[str, Any]:
    """The result of a point that raised ``exc``: its label, value and the error message."""
    from edge_deploy.errors import EdgeDeployError

    message = exc.message if isinstance(exc, EdgeDeployError) else f"{type(exc).__name__}: {exc}"
    return {"label": job.label, "value": job.value, "error": message}


def run_point(job: PointJob, data: SlimData) -> dict[str, Any]:
    """Run one point with one torch thread and seed 0 (as in every runner); return its result:
    ``label``, ``value``, ``figures`` (:func:`measure`), ``step`` (the step record), ``val_loss``,
    ``within_budget``, and when within the budget ``checkpoint`` and, with ``firmware``, ``firmware``
    (instructions and cycles); or, when the point raised, :func:`failed_point` (plain data, so
    it crosses any process boundary)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    try:
        return _point(job, data)
    except Exception as exc:  # reported with the point; the other points still run
        return failed_point(job, exc)
    finally:
        torch.set_num_threads(threads)
