"""The accuracy-versus-cost sweep: one slim run per value of a method's knob.

The points run on a runner (in place, worker processes or Ray: :mod:`edge_deploy.slim.runners`)
and come back in the order of the values whatever ran them. Every point's figures go into
``sweep.json`` and the curve; only a point within the budget (``max_accuracy_loss`` validation
points) keeps its checkpoint (``DIR/points/<method>-<value>/model.pt``) and, with a board, is
built and profiled on QEMU. A point that failed is reported in ``sweep.json`` with its error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edge_deploy.fsutil import atomic_output_file, atomic_write_json
from edge_deploy.slim.config import SlimConfigBase
from edge_deploy.slim.dataset import SlimData
from edge_deploy.slim.points import FirmwareMeasure, PointJob
from edge_deploy.slim.registry import get_method
from edge_deploy.slim.runners import SerialRunner
from edge_deploy.slim.steps import activation_plan, input_shape_of, measure
from edge_deploy.train.checkpoint import Checkpoint, save_checkpoint


def plot_sweep(points: Sequence[dict[str, Any]], dense: dict[str, Any], path: Path, cost_key: str) -> None:
    """Plot test accuracy against ``cost_key`` for every point that has it, with the dense
    model as a star."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    shown = [p for p in points if cost_key in p]
    ax.plot([p[cost_key] for p in shown], [p["test_accuracy"] for p in shown], "o-", label="slimmed")
    for p in shown:
        ax.annotate(f"{p['value']:g}" + ("" if p["within_budget"] else " (over budget)"),
                    (p[cost_key], p["test_accuracy"]), textcoords="offset points", xytext=(4, 4))
    if cost_key in dense:
        ax.plot([dense[cost_key]], [dense["test_accuracy"]], "*", ms=12, label="dense")
    ax.set_xlabel(cost_key)
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_output_file(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)


def _row(result: dict[str, Any]) -> dict[str, Any]:
    if "error" in result:
        return {"value": result["value"], "error": result["error"]}
    figures = result["figures"]
    row = {"value": result["value"], "within_budget": result["within_budget"], "val_loss": result["val_loss"],
           **{k: v for k, v in figures.items() if k != "input_density"}}
    row.update(result.get("firmware", {}))
    return row


def run_sweep(checkpoint: Checkpoint, method: str, values: Sequence[float], config: SlimConfigBase, data: SlimData,
              out_dir: str | Path, *, runner=None, firmware: FirmwareMeasure | None = None,
              log: Callable[[str], None] = lambda _line: None) -> dict[str, Any]:
    """Slim ``checkpoint`` with ``method`` at each of ``values`` on ``runner`` (default: in this
    process); with ``firmware`` (:class:`~edge_deploy.slim.points.FirmwareMeasure`), build and
    profile the dense model and every point within the budget. Writes ``sweep.json``, ``sweep.png`` and the kept points' checkpoints into
    ``out_dir``; returns the content of ``sweep.json`` (``dense``, ``points`` in the order of
    ``values``, ``failed``: the values whose run raised). Raises EdgeDeployError for an unknown
    method."""
    spec = get_method(method)
    out = Path(out_dir)
    runner = runner or SerialRunner()
    budget = config.max_accuracy_loss
    base = measure(checkpoint.members, data, input_shape_of(checkpoint), activation_plan(checkpoint))
    dump = config.model_dump(mode="json")
    jobs = [PointJob(checkpoint, method, float(v), dump, base["val_accuracy"], budget, firmware,
                     label=f"{method} {spec.knob}={float(v):g}") for v in values]
    if firmware is not None:
        jobs.insert(0, PointJob(checkpoint, None, None, dump, base["val_accuracy"], budget, firmware, label="dense"))
    log(f"sweeping {method} {spec.knob} over {', '.join(f'{float(v):g}' for v in values)} ({runner.name})")
    results = runner.run(jobs, data, log)
    dense = {k: v for k, v in base.items() if k != "input_density"}
    if firmware is not None:
        dense_result, results = results[0], results[1:]
        dense.update(dense_result.get("firmware", {}))
    points = [_row(r) for r in results]
    for result in results:
        if "checkpoint" in result:
            save_checkpoint(out / "points" / f"{method}-{result['value']:g}" / "model.pt", result["checkpoint"])
    sweep = {"method": method, "knob": spec.knob, "max_accuracy_loss": budget, "dense": dense, "points": points,
             "failed": [p["value"] for p in points if "error" in p]}
    atomic_write_json(out / "sweep.json", sweep)
    cost_key = "instructions" if "instructions" in dense else "macs"
    plot_sweep([p for p in points if "error" not in p], dense, out / "sweep.png", cost_key)
    return sweep
