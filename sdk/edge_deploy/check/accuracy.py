"""Accuracy of a build's int8 firmware on the test split of real data, run on the target.

Windows come from ``edge_deploy.data.load_windows(data, "test")`` (the bundled excerpt when
``data`` is None), normalized as the models expect; ``edge-deploy run``'s batch path quantizes
them with the model input's scale and zero point and feeds them to the firmware over the serial
link (QEMU by default). The predicted class is the argmax of the int8 output.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_deploy.errors import EdgeDeployError


@dataclass(frozen=True)
class FirmwareAccuracy:
    """How the firmware classified ``n`` test windows: ``correct`` of them right."""

    n: int
    correct: int
    classes: list[str]
    where: str

    @property
    def accuracy(self) -> float:
        """Fraction of windows classified right (0..1)."""
        return self.correct / self.n if self.n else 0.0


def pick_windows(n_total: int, max_windows: int | None) -> np.ndarray:
    """Indices of at most ``max_windows`` windows spread evenly over ``n_total`` (all if None):
    deterministic, and every class is represented because windows are grouped by record."""
    if max_windows is None or max_windows >= n_total:
        return np.arange(n_total)
    if max_windows < 1:
        raise EdgeDeployError("--max-windows must be at least 1", hint="pass a positive number of windows")
    return np.unique(np.linspace(0, n_total - 1, max_windows).round().astype(np.int64))


def _window_length(report: dict[str, Any]) -> int:
    # TICNN-style Conv1D models: IR input (1, 1, length, channels).
    shape = report["input"]["shape"]
    if len(shape) != 4 or shape[1] != 1:
        raise EdgeDeployError(
            f"model input {tuple(shape)} is not a 1-D signal window (1, 1, length, channels)",
            hint="--min-accuracy measures models of vibration windows; check the other budgets without it",
        )
    return int(shape[2])


def firmware_accuracy(
    build_dir: str | os.PathLike,
    report: dict[str, Any],
    *,
    data: str | os.PathLike | None = None,
    load_hp: tuple[int, ...] = (0,),
    max_windows: int | None = None,
    emulator: str | None = None,
    port: str | None = None,
) -> FirmwareAccuracy:
    """Run the test windows of ``data`` (None: the bundled excerpt) at motor loads ``load_hp``
    through the build's firmware on ``emulator`` (default: the board's) or the board at ``port``;
    return how many it classified right. ``max_windows`` caps the windows, spread evenly.
    Raises EdgeDeployError on unusable data, a model whose outputs do not match the data's
    classes, or a target that cannot run.
    """
    from edge_deploy.build.device_run import load_input_batch, run_batch
    from edge_deploy.data import load_windows

    x, y, classes = load_windows(data, "test", load_hp=load_hp, window=_window_length(report))
    n_outputs = int(np.prod(report["output"]["shape"]))
    if n_outputs != len(classes):
        raise EdgeDeployError(
            f"the model has {n_outputs} outputs but the data has {len(classes)} classes ({', '.join(classes)})",
            hint="measure accuracy on the data the model was trained for (--data)",
        )
    picks = pick_windows(len(x), max_windows)
    batch = load_input_batch(x[picks], report)
    result = run_batch(build_dir, batch, emulator=emulator, port=port)
    predicted = result.outputs.reshape(len(picks), -1).argmax(axis=1)
    if port is None:
        from edge_deploy.boards import board_from_report
        from edge_deploy.emulators import default_emulator

        where = emulator or default_emulator(board_from_report(report))
    else:
        where = f"port {port}"
    return FirmwareAccuracy(n=len(picks), correct=int((predicted == y[picks]).sum()), classes=list(classes),
                            where=where)
