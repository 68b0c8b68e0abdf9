"""Profile a build folder: ``DIR/profile.json``, ``profile.md`` and ``profile.png``.

Two sources, one layer list (the build's ``report.json``):

* QEMU (default): ``firmware_profile.elf`` (the build's model, one inference, semihosting exit)
  runs under the instruction-count plugin; exact instructions and memory accesses per layer and
  Cortex-M4 cycles from the cycle model with the memory timing of the build's board, or of
  another board (``timing``: for boards QEMU cannot emulate) (``edge_deploy.profile``; source
  ``qemu-insn-count+cortex-m4-model``).
* Renode (``emulator="renode"``): the same ``firmware_profile.elf``, compiled for the build's own
  board, runs in Renode with block-count hooks (``edge_deploy.profile.renode_counts``); the same
  per-address instruction counts, the same cycle model (source
  ``renode-block-count+cortex-m4-model``). Renode's hooks see no memory accesses, so code and data
  are priced at zero wait states (the board's flash timing needs the QEMU profile). Renode's DWT
  is not used: it counts virtual time, not cycles.
* The firmware's own counter on a board (``port``): the build's ``firmware.elf`` times each
  layer (DWT CYCCNT) and reports it over the serial link (source ``dwt``; ``systick`` on a
  target without a DWT). No instruction counts there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_deploy.check.device_profile import measure_on_device, write_device_profile
from edge_deploy.check.profile_firmware import INPUT_SEED, build_profile_firmware, default_input, run_layers
from edge_deploy.errors import EdgeDeployError

if TYPE_CHECKING:
    from edge_deploy.boards.clocking import FlashTiming
    from edge_deploy.profile.report import BuildPrices


def profile_input(report: dict[str, Any], inputs: str | os.PathLike | None = None) -> tuple[np.ndarray, str]:
    """The sample to profile with (int8, or the type of a float32 / uint8 model interface) and where
    it came from: the first sample of the batch file ``inputs`` (quantized if float for an int8
    input, as ``edge-deploy run`` does), or the fixed pseudo-random input. Raises EdgeDeployError on an unreadable or misshapen batch."""
    if inputs is None:
        return default_input(report), f"pseudo-random {report['input'].get('dtype', 'int8')}, seed {INPUT_SEED}"
    from edge_deploy.build.device_run import load_input_batch

    batch = load_input_batch(inputs, report)
    if len(batch) == 0:
        raise EdgeDeployError(f"{inputs} holds no sample", hint="pass a batch file with at least one sample")
    return batch[0], f"sample 0 of {Path(inputs).name}"


def profile_build(
    build_dir: str | os.PathLike,
    *,
    emulator: str | None = None,
    port: str | None = None,
    inputs: str | os.PathLike | None = None,
    timing: str | os.PathLike | None = None,
    runs: int = 5,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Profile the build in ``build_dir`` and write ``profile.json/md/png`` there.

    ``emulator`` "qemu" (default) or "renode", or ``port`` (pyserial URL or device path) of a
    board running the build's firmware; ``inputs`` a batch file whose first sample is profiled
    (default: a fixed pseudo-random input); ``timing`` a board (name or YAML path) whose memory
    timing and clock the QEMU profile applies (default: the build's board); ``runs`` inferences
    on a device (each layer's minimum is reported). Returns the ``profile.json`` content.
    Raises EdgeDeployError when the folder holds no build, both or an unknown target is given,
    ``timing`` is given for a device, the tool (QEMU, Renode) is missing, or the device runs
    another model.
    """
    from edge_deploy.boards import board_from_report, load_board
    from edge_deploy.build.firmware_build import load_build_report

    report = load_build_report(build_dir)
    if port is not None and emulator is not None:
        raise EdgeDeployError("pass either --emulator or --port, not both",
                              hint="--port talks to a board already running the firmware")
    if emulator not in (None, "qemu", "renode"):
        raise EdgeDeployError(f"unknown emulator '{emulator}'", hint="use qemu or renode")
    if timing is not None and (port is not None or emulator == "renode"):
        raise EdgeDeployError("--timing applies a board's memory timing to the QEMU profile; Renode counts no "
                              "memory accesses and a board is measured with its own counter",
                              hint="drop --timing, or profile on QEMU (the default)")
    timing_board = load_board(timing) if timing is not None else board_from_report(report)
    layers = run_layers(report)
    sample, origin = profile_input(report, inputs)
    if port is not None:
        data = measure_on_device(port, report, layers, sample, target=f"port {port}", runs=runs, timeout=timeout)
        # A board runs at its own flash: its DWT cycles sit beside the prices the build made there.
        ticks = None if data["unit"] == "cycles" else f"the device counts {data['source']} ticks, not cycles"
        data["kernel_prices"] = build_prices(report, layers, timing_board.flash).attach(
            data["layers"], data["cycles"], why_not=ticks)
        return write_device_profile(data, build_dir)
    from edge_deploy.profile import CortexM4Timing, LayerInfo, profile_elf, write_profile
    from edge_deploy.profile.memory_map import memory_layout

    board = board_from_report(report)
    infos = [LayerInfo(layer.get("short_name", layer["name"]), layer["op"], int(layer["macs"])) for layer in layers]
    if emulator == "renode":
        from edge_deploy.emulators.renode import check_renode_board, find_renode
        from edge_deploy.profile.renode_counts import SOURCE_RENODE, run_with_counts_renode

        find_renode()
        check_renode_board(board)   # both before compiling anything
        firmware = build_profile_firmware(build_dir, report, sample=sample, origin=origin, board=board)
        profile = profile_elf(firmware.elf, infos, timing=CortexM4Timing(), machine=board.name, timeout_s=180.0,
                              run_counts=run_with_counts_renode, source=SOURCE_RENODE)
        return write_profile(profile, build_dir, board=board.name, clock_hz=board.clock_hz,
                             prices=build_prices(report, layers, None))
    firmware = build_profile_firmware(build_dir, report, sample=sample, origin=origin)
    model = CortexM4Timing(flash=timing_board.flash)
    profile = profile_elf(firmware.elf, infos, timing=model, machine=firmware.machine, timeout_s=300.0,
                          layout=memory_layout(firmware.board, timing_board.flash), timing_board=timing_board.name)
    return write_profile(profile, build_dir, board=board.name, clock_hz=timing_board.clock_hz,
                         prices=build_prices(report, layers, timing_board.flash))


def build_prices(report: dict[str, Any], layers: list[dict[str, Any]], applied: FlashTiming | None) -> BuildPrices:
    """The build's modelled cycles of the profiled ``layers`` (report.json's kernel choices),
    comparable with a profile that applied the flash timing ``applied`` (None: 0 wait states, as
    on Renode) when the build priced its kernels at that timing (0 wait states both, or the same
    calibrated flash: report.json's ``cost_model.flash_timing``)."""
    from edge_deploy.kernels.cost import flash_timing_key
    from edge_deploy.profile.report import BuildPrices

    cost_model = report.get("cost_model", {})
    cycles = [(layer.get("kernel_choice") or {}).get("modelled_cycles") for layer in layers]
    return BuildPrices(cycles, cost_model.get("priced_at", "0 wait states"),
                       cost_model.get("flash_timing") == flash_timing_key(applied))


def firmware_figures(checkpoint_path: str | os.PathLike, board: str, build_dir: str | os.PathLike) -> dict[str, int]:
    """Build the checkpoint at ``checkpoint_path`` for ``board`` into ``build_dir`` (what
    ``edge-deploy build`` does) and profile one inference on QEMU: ``instructions`` (exact) and
    ``cycles`` (the Cortex-M4 model). What ``slim --measure-on`` measures each point with."""
    from edge_deploy.build.firmware_build import build_model

    build_model(checkpoint_path, board, build_dir)
    profile = profile_build(build_dir, emulator="qemu")
    return {"instructions": int(profile["instructions"]), "cycles": int(profile["cycles"])}
