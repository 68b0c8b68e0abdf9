"""Flash firmware to a real board through a debug probe: pyOCD first, openocd as the fallback.

```python
from edge_deploy.flash import flash_firmware
result = flash_firmware("build", "nucleo-f446re")          # build/firmware.elf, or a path to an .elf
print(result.tool, result.probe, result.serial_ports)      # "pyocd", "0671FF...", ["/dev/ttyACM0"]
```

Which tools can flash a board is board data (``flashing.pyocd_target``, ``flashing.openocd_config``
in ``boards/<name>.yaml``); see ``docs/boards-hardware.md`` for the whole board workflow.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from edge_deploy.boards import Board, load_board
from edge_deploy.errors import EdgeDeployError
from edge_deploy.flash.firmware import FIRMWARE_ELF_NAME, FirmwareImage, inspect_firmware, resolve_elf
from edge_deploy.flash.hints import OPENOCD_INSTALL_HINT
from edge_deploy.flash.openocd_flasher import flash_with_openocd, openocd_command
from edge_deploy.flash.pyocd_flasher import (
    Probe,
    ProbeScan,
    flash_with_pyocd,
    pyocd_installed,
    pyocd_target_known,
    scan_probes,
    unknown_target_error,
)
from edge_deploy.flash.serial_ports import ports_for_probe, usb_serial_ports

__all__ = [
    "FIRMWARE_ELF_NAME",
    "TOOLS",
    "FirmwareImage",
    "FlashResult",
    "Probe",
    "ProbeScan",
    "choose_tool",
    "flash_firmware",
    "inspect_firmware",
    "openocd_command",
    "resolve_elf",
    "scan_probes",
]

# In the order tried when no tool is asked for.
TOOLS = ("pyocd", "openocd")


@dataclass(frozen=True)
class FlashResult:
    """What was flashed where: board and tool names, the ELF, the bytes of flash it spans, the
    probe's unique ID (None when openocd chose the probe), how long it took, and the USB serial
    ports to pass to ``--port`` next (the probe's own first when it could be matched)."""

    board: str
    tool: str
    elf: Path
    flash_bytes: int
    probe: str | None
    seconds: float
    serial_ports: tuple[str, ...]


def _tool_problem(tool: str, board: Board) -> EdgeDeployError | None:
    """Why ``tool`` cannot flash ``board`` on this machine, or None if it can."""
    if tool == "pyocd":
        if board.flashing.pyocd_target is None:
            return EdgeDeployError(f"board '{board.name}' names no pyOCD target (flashing.pyocd_target)")
        if not pyocd_installed():
            return EdgeDeployError("pyOCD is not installed", hint="pip install pyocd")
        if not pyocd_target_known(board.flashing.pyocd_target):
            return unknown_target_error(board)
        return None
    if board.flashing.openocd_config is None:
        return EdgeDeployError(f"board '{board.name}' names no openocd config (flashing.openocd_config)")
    if shutil.which("openocd") is None:
        return EdgeDeployError("openocd is not installed (not found on PATH)", hint=OPENOCD_INSTALL_HINT)
    return None


def choose_tool(board: Board, tool: str | None = None) -> str:
    """The flashing tool to use for ``board``: ``tool`` if given, else the first usable of :data:`TOOLS`
    that the board names.

    Raises EdgeDeployError when the board has no flashing method, when the requested tool is not
    named by the board or not usable here, or when no named tool is usable (saying why for each).
    """
    if not board.flashers:
        emulators = ", ".join(board.emulators)
        runs_on = f"it runs on an emulator ({emulators}): use `edge-deploy run --emulator`; " if emulators else ""
        raise EdgeDeployError(
            f"board '{board.name}' has no flashing method (its board file names neither a pyOCD target nor an openocd config)",
            hint=runs_on + "to flash a real board, set flashing.pyocd_target or flashing.openocd_config in its board file",
        )
    if tool is not None:
        if tool not in TOOLS:
            raise EdgeDeployError(f"unknown flashing tool '{tool}'", hint="use one of: " + ", ".join(TOOLS))
        problem = _tool_problem(tool, board)
        if problem is not None:
            others = [name for name in board.flashers if name != tool]
            hint = problem.hint or (f"use --tool {others[0]}" if others else "set it in the board file (docs/boards.md)")
            raise EdgeDeployError(problem.message, hint=hint)
        return tool
    problems = []
    for name in board.flashers:
        problem = _tool_problem(name, board)
        if problem is None:
            return name
        problems.append(problem)
    if len(problems) == 1:
        raise problems[0]
    raise EdgeDeployError(
        f"cannot flash board '{board.name}': " + "; ".join(problem.message for problem in problems),
        hint="; or ".join(problem.hint for problem in problems if problem.hint),
    )


def flash_firmware(
    target: str | os.PathLike,
    board: str | os.PathLike | Board,
    *,
    probe: str | None = None,
    tool: str | None = None,
    interface: str | None = None,
) -> FlashResult:
    """Write the firmware in ``target`` (a build directory holding ``firmware.elf``, or an ELF path)
    to ``board`` (a name, board file or Board) and reset it so the firmware runs.

    ``probe`` selects the debug probe by (part of) its unique ID; ``tool`` is ``"pyocd"``,
    ``"openocd"`` or None (the first usable one the board names); ``interface`` is openocd's probe
    config for boards whose openocd config names only the chip. Returns a FlashResult. Raises
    EdgeDeployError when the ELF is missing or built for another board, the board has no
    flashing method, the tool is missing, or no probe is attached.
    """
    if interface is not None:
        # --interface only means something to openocd: asking for it picks openocd.
        if tool == "pyocd":
            raise EdgeDeployError("--interface is an openocd option; pyOCD finds the probe itself", hint="leave out --interface")
        tool = "openocd"
    elf = resolve_elf(target)
    board = load_board(board)
    chosen = choose_tool(board, tool)
    image = inspect_firmware(elf, board)
    started = time.monotonic()
    if chosen == "pyocd":
        probe_id: str | None = flash_with_pyocd(image, board, probe).unique_id
    else:
        flash_with_openocd(image, board, probe_id=probe, interface=interface)
        probe_id = probe
    seconds = time.monotonic() - started
    ports = ports_for_probe(usb_serial_ports(), probe_id)
    return FlashResult(
        board=board.name,
        tool=chosen,
        elf=image.path,
        flash_bytes=image.flash_bytes,
        probe=probe_id,
        seconds=seconds,
        serial_ports=tuple(ports),
    )
