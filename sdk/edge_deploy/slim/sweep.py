"""The accuracy-versus-cost sweep: one slim run per value of a method's main knob.

Each point's checkpoint is kept (``DIR/points/<method>-<value>/model.pt``) so it can be built and
measured on the target; ``measure_point`` is the hook for that (given the checkpoint path, it
returns extra figures such as ``{"instructions": ...}``). Without it the curve is accuracy against
MACs. The sweep stops with an error at the first point losing more than ``max_accuracy_loss``
validation points, after writing the points so far.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edge_deploy.errors import EdgeDeployError
from edge_deploy.fsutil import atomic_output_file, atomic_write_json
from edge_deploy.slim.config import SlimConfig
from edge_deploy.slim.pipeline import SlimData, run_slim
from edge_deploy.train.checkpoint import Checkpoint, save_checkpoint

# method -> (config section, the knob the sweep varies)
KNOBS = {"slimming": ("slimming", "ratio"), "scalpel": ("scalpel", "sparsity"), "activation": ("activation", "budget")}


def measure_on_emulator(board: str = "mps2-an386") -> Callable[[Path], dict[str, Any]]:
    """Return a ``measure_point`` hook that builds a checkpoint for ``board`` with ``edge-deploy
    build`` (beside it, in ``build/``) and profiles one inference on QEMU: executed instructions
    (exact) and Cortex-M4 cycles (the profiler's model)."""

    def measure(path: Path) -> dict[str, Any]:
        from edge_deploy.build.firmware_build import build_model
        from edge_deploy.check import profile_build

        build_dir = Path(path).parent / "build"
        build_model(path, board, build_dir)
        profile = profile_build(build_dir, emulator="qemu")
        return {"instructions_after": int(profile["instructions"]), "cycles_after": int(profile["cycles"])}

    return measure


def configure(config: SlimConfig, method: str, value: float) -> SlimConfig:
    """Return a copy of ``config`` with ``method``'s sweep knob set to ``value``."""
    section, knob = KNOBS[method]
    new = config.model_copy(deep=True)
    setattr(getattr(new, section), knob, float(value))
    return new


def plot_sweep(points: Sequence[dict[str, Any]], path: Path, cost_key: str) -> None:
    """Plot test accuracy against ``cost_key`` for every point, with the dense model as a star."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [p[cost_key] for p in points]
    ax.plot(xs, [p["accuracy_after"] for p in points], "o-", label="slimmed")
    for p in points:
        ax.annotate(f"{p['value']:g}", (p[cost_key], p["accuracy_after"]), textcoords="offset points", xytext=(4, 4))
    if points:
        ax.plot([points[0][cost_key.replace("after", "before")]], [points[0]["accuracy_before"]], "*", ms=12, label="dense")
    ax.set_xlabel(cost_key.replace("_after", "").replace("_", " "))
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_output_file(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)


def run_sweep(checkpoint: Checkpoint, method: str, values: Sequence[float], config: SlimConfig, data: SlimData,
              out_dir: str | Path, max_accuracy_loss: float | None = None,
              measure_point: Callable[[Path], dict[str, Any]] | None = None,
              log: Callable[[str], None] = lambda _line: None) -> list[dict[str, Any]]:
    """Slim ``checkpoint`` with ``method`` at each of ``values``; write ``sweep.json`` and
    ``sweep.png`` into ``out_dir`` and return the points. Raises EdgeDeployError at the first
    point losing more than ``max_accuracy_loss`` validation points (the points so far are kept)."""
    out = Path(out_dir)
    points: list[dict[str, Any]] = []
    cost_key = "macs_after"

    def write() -> None:
        atomic_write_json(out / "sweep.json", {"method": method, "knob": KNOBS[method][1], "points": points})
        plot_sweep(points, out / "sweep.png", cost_key)

    dense: dict[str, Any] = {}
    if measure_point is not None:
        measured = measure_point(save_checkpoint(out / "points" / "dense" / "model.pt", checkpoint))
        dense = {key.replace("_after", "_before"): value for key, value in measured.items()}
    for value in values:
        point_config = configure(config, method, value)
        point_config.max_accuracy_loss = None  # the sweep applies its own limit, after saving the point
        slimmed, report = run_slim(checkpoint, [method], point_config, data)
        path = save_checkpoint(out / "points" / f"{method}-{value:g}" / "model.pt", slimmed)
        point = {"value": float(value), **{k: v for k, v in report.items() if k not in ("steps", "input_density_after")}}
        if measure_point is not None:
            point.update(dense, **measure_point(path))
            cost_key = "instructions_after" if "instructions_after" in point else cost_key
        points.append(point)
        measured = (f", instructions {point['instructions_after']:,} (dense {point['instructions_before']:,})"
                    if "instructions_after" in point else "")
        log(f"{method} {KNOBS[method][1]}={value:g}: MACs {point['macs_after']:,} "
            f"(dense {point['macs_before']:,}){measured}, test accuracy {point['accuracy_after']:.2f} % "
            f"(dense {point['accuracy_before']:.2f} %)")
        loss = point["val_accuracy_before"] - point["val_accuracy_after"]
        if max_accuracy_loss is not None and loss > max_accuracy_loss:
            write()
            raise EdgeDeployError(
                f"sweep stopped at {method} {KNOBS[method][1]}={value:g}: it loses {loss:.2f} validation "
                f"accuracy points, more than the allowed {max_accuracy_loss} (points so far in {out / 'sweep.json'})",
                hint="sweep gentler values, or raise --max-loss",
            )
    write()
    return points
