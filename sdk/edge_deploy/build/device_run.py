"""``edge-deploy run``: a build's firmware on an emulator or a board, fed over the serial link.

:func:`load_input_batch` reads a batch file (``.npy``, N samples stacked on a new first axis,
each shaped like the model input without its batch dimension; int8 as is, float32 quantized
with the input's scale and zero point). :func:`run_batch` starts the firmware (or opens a port),
sends the samples (several per RUN_BATCH request, pipelined) and reads the outputs.
:func:`compare_outputs` compares the outputs with
the reference interpreter on the build's ``model.tflite``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_deploy.build.firmware_build import MODEL_NAME, load_build_report
from edge_deploy.errors import EdgeDeployError


@dataclass(frozen=True)
class BatchRun:
    """Outputs ``(N, *output_shape[1:])`` int8 and the device counter's per-inference counts
    ``(N, n_layers)``: ``counter`` names it ("dwt" or "systick", as the firmware reports) at
    ``counter_hz``, and ``target`` where the firmware ran ("qemu", "renode", "port"). Only DWT
    on a board counts core cycles: see :func:`counter_summary`."""

    outputs: np.ndarray
    layer_cycles: np.ndarray
    total_cycles: np.ndarray
    counter: str = "?"
    counter_hz: int = 0
    target: str = "port"
    stack_peak: int | None = None     # the most stack the firmware used since reset, after the batch
    stack_bytes: int | None = None    # the stack it reserves (None: a runtime that does not say)


def stack_summary(result: BatchRun) -> str:
    """The stack's high-water mark after the batch, against what the firmware reserves."""
    if result.stack_peak is None or result.stack_bytes is None:
        return "stack: not reported by this firmware"
    share = result.stack_peak / result.stack_bytes if result.stack_bytes else 0.0
    return f"stack: {result.stack_peak:,} of {result.stack_bytes:,} B used ({share:.0%}, high-water mark since reset)"


def counter_summary(result: BatchRun) -> str:
    """What the device counter measured, per inference, saying what the number is: core cycles
    (DWT on a board), instructions (SysTick under QEMU's -icount shift=0: one tick per
    1e9 / counter_hz instructions) or ticks of a virtual clock (Renode, a target without DWT)."""
    mean = float(result.total_cycles.mean()) if len(result.total_cycles) else 0.0
    hz = result.counter_hz or 1
    if result.counter == "dwt" and result.target == "port":
        return f"{mean:,.0f} cycles per inference (DWT CYCCNT: {mean / hz * 1e3:.3f} ms at {hz / 1e6:g} MHz)"
    if result.counter == "systick" and result.target == "qemu":
        per_tick = 1e9 / hz
        return (f"about {mean * per_tick:,.0f} instructions per inference (QEMU virtual time: SysTick ticks x "
                f"{per_tick:g}, to within {per_tick:g}; modelled cycles: edge-deploy profile DIR)")
    if result.target == "renode":
        return (f"{mean:,.0f} {result.counter} ticks per inference (Renode virtual time, not core cycles; "
                "modelled cycles: edge-deploy profile DIR)")
    return (f"{mean:,.0f} {result.counter} ticks per inference (the target has no DWT: ticks of its clock, "
            "not cycles)")


def load_input_batch(path: str | os.PathLike | np.ndarray, report: dict[str, Any]) -> np.ndarray:
    """An int8 batch ``(N, *input_shape[1:])`` for the build described by ``report`` (float32 or
    uint8, taken as they are, for a model with that input: it quantizes its own input).

    ``path`` is a ``.npy`` file (or an array). int8 samples are used as they are; float samples are
    quantized with the model input's scale and zero point; either may be in the IR layout or, for
    a Conv model, PyTorch's (``(N, channels, length)``): the batch-file convention every command
    shares (:func:`edge_deploy.quantize.batchfile.load_int8_batch`). Raises EdgeDeployError on an
    unreadable file, another dtype or a shape that does not fit.
    """
    from edge_deploy.quantize.batchfile import load_int8_batch, load_interface_batch

    spec = report["input"]
    dtype = spec.get("dtype", "int8")
    if dtype != "int8":  # a float32 or uint8 interface: the model quantizes its own input
        return load_interface_batch(path, tuple(spec["shape"][1:]), dtype)
    return load_int8_batch(path, tuple(spec["shape"][1:]), spec["scale"], spec["zero_point"], quiet=True)


def _run_on_device(device, batch: np.ndarray, report: dict[str, Any], target: str) -> BatchRun:
    """Every sample of ``batch`` through the firmware behind ``device`` (a DeviceClient);
    ``target`` says where it runs ("qemu", "renode", "port")."""
    out_shape = tuple(report["output"]["shape"][1:])
    out_dtype = np.dtype(report["output"].get("dtype", "int8"))
    counter = device.info()
    info = device.model_info()
    expected = tuple(int(np.prod(report[end]["shape"])) * np.dtype(report[end].get("dtype", "int8")).itemsize
                     for end in ("input", "output"))
    if (info.input_bytes, info.output_bytes) != expected:
        raise EdgeDeployError(
            f"the device at {device.url} runs model '{info.name}' ({info.input_bytes} B in, {info.output_bytes} B out), "
            f"not this build's '{report['model']}' ({expected[0]} B in, {expected[1]} B out)",
            hint="flash this build's firmware.elf first (edge-deploy flash)",
        )
    if report.get("state_bytes"):
        # A model with state (SVDF, LSTM) runs the batch as one sequence from its start-up state,
        # as the interpreter does, whatever a board ran before.
        device.reset_state()
    results = list(device.run_inputs([np.ascontiguousarray(sample).tobytes() for sample in batch]))
    outputs = [np.frombuffer(output, dtype=out_dtype).reshape(out_shape) for _, output in results]
    cycles = [cycles for cycles, _ in results]
    after = device.info()
    return BatchRun(outputs=np.stack(outputs) if outputs else np.zeros((0, *out_shape), out_dtype),
                    layer_cycles=np.asarray([c.layer_cycles for c in cycles], dtype=np.int64).reshape(len(batch), -1),
                    total_cycles=np.asarray([c.total_cycles for c in cycles], dtype=np.int64),
                    counter=counter.cycle_source, counter_hz=counter.cycle_hz, target=target,
                    stack_peak=after.stack_peak, stack_bytes=after.stack_bytes)


def run_batch(build_dir: str | os.PathLike, batch: np.ndarray, *, emulator: str | None = None,
              port: str | None = None, timeout: float = 10.0) -> BatchRun:
    """Run every sample of the int8 ``batch`` on the build's firmware and return the outputs.

    With ``port`` (a pyserial URL or device path) the firmware must already run on that device
    (one request in flight: a board's polled UART drops bytes that arrive while it computes);
    otherwise it is started in ``emulator`` ("qemu", "renode"; default: the board's) on the
    fastest link the emulator offers, with requests pipelined. ``timeout`` bounds the wait for
    each reply (an inference may take up to a minute). Raises EdgeDeployError when the batch
    is empty, the emulator or port is unavailable, the firmware does not start, the device runs
    another model, or the link fails (naming the emulator's exit status when it exited).
    """
    from edge_deploy.quantize.batchfile import check_samples

    check_samples(np.asarray(batch))
    report = load_build_report(build_dir)
    if port is not None and emulator is not None:
        raise EdgeDeployError("pass either --emulator or --port, not both",
                              hint="--port talks to a board already running the firmware")
    if port is not None:
        from edge_deploy.link import DeviceClient

        with DeviceClient(port, timeout=timeout) as device:
            return _run_on_device(device, batch, report, "port")
    from edge_deploy.boards import board_from_report
    from edge_deploy.emulators import start_emulator

    elf = Path(build_dir) / "firmware.elf"
    with start_emulator(board_from_report(report), elf, emulator=emulator, link="fastest") as target:
        with target.connect(timeout=timeout) as device:
            return _run_on_device(device, batch, report, target.emulator)


def reference_outputs(build_dir: str | os.PathLike, batch: np.ndarray) -> np.ndarray:
    """What the reference interpreter computes for ``batch`` on the build's ``model.tflite``,
    with the rounding the firmware was built for (report.json ``rounding``: "cmsis-nn", double
    rounding as TFLM + CMSIS-NN, also for builds that predate the field; or "litert", as the
    TFLite interpreter)."""
    from edge_deploy.codegen.sources import interpreter_rounding
    from edge_deploy.interp.interpreter import run
    from edge_deploy.tflite import load_tflite

    path = Path(build_dir) / MODEL_NAME
    if not path.is_file():
        raise EdgeDeployError(f"{build_dir} has no {MODEL_NAME} to check against",
                              hint="rebuild the folder with edge-deploy build")
    from edge_deploy.build.act_thresholds import load_thresholds

    graph = load_thresholds(build_dir, load_tflite(path))
    rounding = load_build_report(build_dir).get("rounding", "cmsis-nn")
    return run(graph, batch, rounding=interpreter_rounding(rounding))


def compare_outputs(outputs: np.ndarray, expected: np.ndarray) -> dict[str, Any]:
    """``{"n", "mismatches", "mismatched_elements", "max_abs_diff", "first_mismatches"}``: a
    sample counts as a mismatch when any of its elements differs (float32 outputs, of a model
    with a float interface, bit for bit; ``max_abs_diff`` then in float units)."""
    outputs, expected = np.asarray(outputs), np.asarray(expected)
    if np.issubdtype(expected.dtype, np.floating):
        bits = np.asarray(outputs, dtype=np.float32).reshape(len(expected), -1).view(np.int32)
        differs = bits != np.asarray(expected, dtype=np.float32).reshape(len(expected), -1).view(np.int32)
        gap = np.abs(outputs.astype(np.float64) - expected.astype(np.float64)).reshape(len(expected), -1)
        bad = np.flatnonzero(differs.any(axis=1))
        return {"n": int(len(expected)), "mismatches": int(bad.size), "mismatched_elements": int(differs.sum()),
                "max_abs_diff": float(gap.max()) if gap.size else 0.0,
                "first_mismatches": [int(i) for i in bad[:10]]}
    outputs = outputs.reshape(len(expected), -1).astype(np.int64)
    expected = expected.reshape(len(expected), -1).astype(np.int64)
    differs = outputs != expected
    bad = np.flatnonzero(differs.any(axis=1))
    return {
        "n": int(len(expected)),
        "mismatches": int(bad.size),
        "mismatched_elements": int(differs.sum()),
        "max_abs_diff": int(np.abs(outputs - expected).max()) if outputs.size else 0,
        "first_mismatches": [int(i) for i in bad[:10]],
    }
