"""``edge-deploy demo``: the whole job on one pipeline, measured on the emulator.

Stages, each the public function of its package:

1. the pipeline (``edge_deploy.build.pipeline.run_pipeline``): train -> slim -> quantize;
2. the build (``edge_deploy.build.firmware_build.build_graph``): C project, firmware.elf, report;
3. the test split on the target (``edge_deploy.build.device_run``): every window through the
   firmware on QEMU, compared with the reference interpreter (``run --check``'s path; 0
   mismatches required), and the predictions scored against the labels next to the float
   model's;
4. the profile (``edge_deploy.check.profile_build``): instructions and cycles per layer.

Output folder::

    DIR/<pipeline>.yaml     the pipeline that ran, every section inline (rebuilds with edge-deploy build)
    DIR/build/              the build folder (docs/build.md), plus check.json and profile.json/.md/.png
    DIR/test_windows.npy    the int8 test windows that ran on the target (edge-deploy run --inputs)
    DIR/summary.json        the figures the demo prints
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.fsutil import atomic_output_file, atomic_write_json, atomic_write_text

SUMMARY_NAME = "summary.json"
BUILD_NAME = "build"
WINDOWS_NAME = "test_windows.npy"
_PIPELINE_HEADER = "# The pipeline edge-deploy demo ran"


@dataclass(frozen=True)
class DemoResult:
    """A finished demo: its folder and the ``summary.json`` content."""

    out_dir: Path
    summary: dict[str, Any]

    @property
    def passed(self) -> bool:
        """True when the firmware matched the reference interpreter on every window."""
        return bool(self.summary["passed"])


def _is_demo_pipeline(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline().startswith(_PIPELINE_HEADER)
    except (OSError, UnicodeDecodeError):
        return False


def prepare_out_dir(out_dir: str | os.PathLike) -> Path:
    """Make ``out_dir`` ready for a demo: create it, or clear an earlier demo's results from it.

    Raises EdgeDeployError when it is a file or holds anything a demo does not write (it is
    never wiped).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise EdgeDeployError(f"--out {out_dir} is a file", hint="pass a folder for the demo's outputs")
    out_dir.mkdir(parents=True, exist_ok=True)
    ours = {SUMMARY_NAME, BUILD_NAME, WINDOWS_NAME}
    entries = list(out_dir.iterdir())
    foreign = sorted(p.name for p in entries
                     if p.name not in ours and not (p.suffix == ".yaml" and _is_demo_pipeline(p)))
    if foreign:
        raise EdgeDeployError(f"--out {out_dir} holds files an earlier demo did not write ({', '.join(foreign[:5])})",
                              hint="pass a new folder, or an earlier demo's folder to replace its results")
    # A failed run must not leave the last run's figures looking current; build/ is replaced
    # atomically by the build itself.
    for entry in entries:
        if entry.is_file():
            entry.unlink()
    return out_dir


def _final_checkpoint(build_dir: Path, slimmed: bool):
    from edge_deploy.train.checkpoint import load_checkpoint

    return load_checkpoint(build_dir / "pipeline" / ("slim" if slimmed else "train") / "model.pt")


def _float_predictions(checkpoint, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return checkpoint.members[0](torch.from_numpy(x)).argmax(dim=1).numpy()


def _save_batch(path: Path, batch: np.ndarray) -> None:
    with atomic_output_file(path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, batch)


def run_on_target(build_dir: Path, report: dict[str, Any], checkpoint, *, max_windows: int | None,
                  windows_path: Path) -> dict[str, Any]:
    """Run the test split of ``checkpoint``'s data (at most ``max_windows`` windows, spread
    evenly) through the build's firmware on its emulator and the reference interpreter; write
    ``build_dir/check.json`` (as ``run --check``) and the int8 batch to ``windows_path``.

    Returns ``{"check": ..., "accuracy": ...}``: the comparison and the float, int8 reference
    and on-target accuracies (fractions) on the same windows. Raises EdgeDeployError when the
    emulator cannot run the firmware or the link fails.
    """
    from edge_deploy.build.device_run import compare_outputs, load_input_batch, reference_outputs, run_batch
    from edge_deploy.check.accuracy import pick_windows
    from edge_deploy.boards import board_from_report
    from edge_deploy.emulators import default_emulator
    from edge_deploy.quantize.pipeline import load_split

    x_split, y_split = load_split(checkpoint, None, "test")
    picks = pick_windows(len(x_split), max_windows)
    x, y = x_split[picks], y_split[picks]
    batch = load_input_batch(x, report)
    _save_batch(windows_path, batch)
    run = run_batch(build_dir, batch)
    expected = reference_outputs(build_dir, batch)
    check = compare_outputs(run.outputs, expected)
    check.update(board=report["board"], kernels=report["kernels"], rounding=report.get("rounding", "cmsis-nn"),
                 inputs=windows_path.name)
    atomic_write_json(build_dir / "check.json", check)
    n = len(y)
    data = checkpoint.data.get("data")
    accuracy = {
        "split": "test", "data": str(data) if data else "bundled excerpt",
        "load_hp": [int(v) for v in checkpoint.data.get("load_hp", [0])],
        "windows": int(n), "windows_in_split": int(len(y_split)),
        "target": default_emulator(board_from_report(report)),
        "float": float(np.mean(_float_predictions(checkpoint, x) == y)),
        "int8_reference": float(np.mean(expected.reshape(n, -1).argmax(axis=1) == y)),
        "on_target": float(np.mean(run.outputs.reshape(n, -1).argmax(axis=1) == y)),
    }
    return {"check": check, "accuracy": accuracy}


def run_demo(
    out_dir: str | os.PathLike,
    pipeline: str | os.PathLike | None = None,
    *,
    board: str = "mps2-an386",
    epochs: int | None = None,
    max_windows: int | None = None,
    kernels: str = "simd",
    train_progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run ``pipeline`` (default: the bundled ``examples/pipeline_ticnn.yaml``) end to end into
    ``out_dir``: train, slim, quantize, build for ``board`` with ``kernels``, run the test split
    (at most ``max_windows`` windows) on the emulator against the reference interpreter, profile,
    and write ``summary.json``.

    ``epochs`` overrides the training epochs and caps each slimming fine-tuning phase;
    ``train_progress`` shows the trainer's progress; ``log`` receives one line per stage.
    Returns the :class:`DemoResult` (``passed`` is False when the firmware disagreed with the
    reference). Raises EdgeDeployError when a stage fails.
    """
    from edge_deploy.boards import load_board
    from edge_deploy.build.firmware_build import build_graph
    from edge_deploy.build.pipeline import run_pipeline
    from edge_deploy.check import profile_build
    from edge_deploy.demo.pipeline import default_pipeline_path, demo_pipeline, pipeline_yaml
    from edge_deploy.demo.summary import demo_summary

    log = log or (lambda line: None)
    started = time.monotonic()
    board_spec = load_board(board)
    source_path = Path(pipeline) if pipeline is not None else default_pipeline_path()
    raw = demo_pipeline(source_path, epochs=epochs)
    out_dir = prepare_out_dir(out_dir)
    pipeline_file = atomic_write_text(out_dir / f"{source_path.stem}.yaml",
                                      pipeline_yaml(raw, source=source_path.name, epochs=epochs))
    methods = raw.get("slim", {}).get("methods", [])
    seconds: dict[str, float] = {}

    log(f"[1/4] train -> {''.join(m + ' -> ' for m in methods)}quantize ({source_path.name}"
        f"{f', --epochs {epochs}' if epochs else ''})")
    clock = time.monotonic()
    model = run_pipeline(pipeline_file, progress=train_progress)
    seconds["pipeline"] = time.monotonic() - clock

    log(f"[2/4] build for {board_spec.name} ({kernels} kernels)")
    clock = time.monotonic()
    build = build_graph(model.graph, board_spec, out_dir / BUILD_NAME, tflite=model.tflite, kernels=kernels,
                        source=model.path.name, details={"kind": model.kind, **model.details},
                        extra_files=model.extra_files)
    seconds["build"] = time.monotonic() - clock

    checkpoint = _final_checkpoint(build.out_dir, slimmed=bool(methods))
    log("[3/4] test windows on the target, checked against the reference interpreter")
    clock = time.monotonic()
    target = run_on_target(build.out_dir, build.report, checkpoint, max_windows=max_windows,
                           windows_path=out_dir / WINDOWS_NAME)
    seconds["target"] = time.monotonic() - clock

    log("[4/4] profile on QEMU (exact instructions, Cortex-M4 cycle model)")
    clock = time.monotonic()
    profile = profile_build(build.out_dir)
    seconds["profile"] = time.monotonic() - clock
    seconds["total"] = time.monotonic() - started

    summary = demo_summary(out_dir=out_dir, pipeline_file=pipeline_file, board=board_spec, report=build.report,
                           profile=profile, target=target, seconds=seconds)
    atomic_write_json(out_dir / SUMMARY_NAME, summary)
    return DemoResult(out_dir=out_dir, summary=summary)
