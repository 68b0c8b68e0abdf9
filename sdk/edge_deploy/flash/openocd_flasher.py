"""Flash through openocd: ``openocd -f <board config> -c "program ELF verify reset exit"``.

Used where a board file names ``flashing.openocd_config``. A ``board/...`` config selects the
debug adapter itself; a ``target/...`` config describes only the chip, so the adapter config comes
from ``--interface`` (openocd, given a chip and no adapter, exits 0 without flashing anything).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from edge_deploy.boards import Board
from edge_deploy.errors import EdgeDeployError
from edge_deploy.flash.firmware import FirmwareImage
from edge_deploy.flash.hints import NO_PROBE_HINT, OPENOCD_INSTALL_HINT, OPENOCD_INTERFACES

# openocd prints this only when every byte was written and read back equal.
VERIFIED_MARKER = "** Verified OK **"
DEFAULT_TIMEOUT_S = 300.0

# Adapter drivers' "no probe" messages (openocd 0.11-0.12: hla/stlink, cmsis-dap, jlink, ftdi).
_NO_PROBE_PATTERNS = (
    "open failed",
    "unable to find a matching cmsis-dap device",
    "no j-link device found",
    "unable to open ftdi device",
    "no device found",
    "can't find a device",
)
_NO_ACCESS_PATTERNS = ("libusb_error_access", "permission denied")
_NO_ADAPTER_PATTERNS = ("debug adapter has to be specified", "debug adapter does not support any transports")


def needs_interface(config: str) -> bool:
    """True if an openocd config describes only the chip (``target/...``), not the debug adapter."""
    return config.replace("\\", "/").startswith("target/")


def _tcl_braced(text: str, what: str) -> str:
    # Braces quote a Tcl word literally (spaces, backslashes); a brace inside would end the word.
    if "{" in text or "}" in text:
        raise EdgeDeployError(f"{what} {text!r} contains a brace, which openocd's Tcl cannot quote", hint="rename or move it")
    return "{" + text + "}"


def openocd_command(
    elf: str | Path,
    board: Board,
    *,
    probe_id: str | None = None,
    interface: str | None = None,
    executable: str = "openocd",
) -> list[str]:
    """The openocd command line that programs ``elf`` into ``board``, verifies it and resets.

    ``interface`` is an adapter config (``interface/stlink.cfg``), needed exactly when the board's
    openocd config is a ``target/`` one; ``probe_id`` selects the adapter by USB serial number.
    Returns the argument list. Raises EdgeDeployError when the board names no openocd config, or
    ``interface`` is missing where needed or given where the board config already picks an adapter.
    """
    config = board.flashing.openocd_config
    if config is None:
        raise EdgeDeployError(
            f"board '{board.name}' names no openocd config",
            hint="set flashing.openocd_config in the board file (docs/boards.md), or use --tool pyocd",
        )
    command = [executable]
    if needs_interface(config):
        if interface is None:
            raise EdgeDeployError(
                f"board '{board.name}': openocd config {config} describes only the chip, not the debug probe",
                hint="pass --interface with the probe's openocd config: " + ", ".join(OPENOCD_INTERFACES),
            )
        command += ["-f", interface]
        # ST-LINK runs through openocd's hla driver, which picks its own SWD transport; the others
        # (J-Link, CMSIS-DAP) would default to JTAG, which the nRF52 does not have.
        if "stlink" not in Path(interface).name:
            command += ["-c", "transport select swd"]
    elif interface is not None:
        raise EdgeDeployError(
            f"board '{board.name}': openocd config {config} already selects the debug probe; --interface {interface} would conflict",
            hint="leave out --interface",
        )
    command += ["-f", config]
    if probe_id is not None:
        command += ["-c", f"adapter serial {_tcl_braced(probe_id, '--probe')}"]
    command += ["-c", f"program {_tcl_braced(str(elf), 'firmware path')} verify reset exit"]
    return command


def openocd_failure(output: str, returncode: int, board: Board, probes_seen: str | None = None) -> EdgeDeployError:
    """Turn a failed openocd run (its combined log and exit code) into an error naming the fix.

    ``probes_seen`` (e.g. pyOCD's list of probes) is added to the message when no probe was found.
    """
    lowered = output.lower()
    config = board.flashing.openocd_config
    errors = [line.strip() for line in output.splitlines() if line.lstrip().startswith("Error")]
    detail = "; ".join(errors[-4:]) or (output.strip().splitlines() or ["no output"])[-1]
    missing = re.search(r"Can't find (\S+)", output)
    if missing:
        return EdgeDeployError(
            f"openocd has no config {missing.group(1)} (board '{board.name}')",
            hint=f"check flashing.openocd_config ({config}) against `ls /usr/share/openocd/scripts/{{board,target}}`"
            " and --interface; a newer openocd may have it",
        )
    if any(pattern in lowered for pattern in _NO_ACCESS_PATTERNS):
        return EdgeDeployError(
            f"openocd found a debug probe for board '{board.name}' but may not open it (USB permission denied)",
            hint="install udev rules for the probe and replug it (docs/boards-hardware.md)",
        )
    if any(pattern in lowered for pattern in _NO_PROBE_PATTERNS):
        seen = f"; {probes_seen}" if probes_seen else ""
        return EdgeDeployError(
            f"openocd found no debug probe to flash board '{board.name}' (openocd said: {detail}){seen}", hint=NO_PROBE_HINT
        )
    if any(pattern in lowered for pattern in _NO_ADAPTER_PATTERNS):
        return EdgeDeployError(
            f"openocd was given no debug probe config for board '{board.name}'",
            hint="pass --interface with the probe's openocd config: " + ", ".join(OPENOCD_INTERFACES),
        )
    if returncode == 0:
        return EdgeDeployError(
            f"openocd exited without verifying the flash of board '{board.name}' ({detail})",
            hint="run the command with --verbose to see openocd's log",
        )
    return EdgeDeployError(
        f"openocd failed to flash board '{board.name}' (exit {returncode}): {detail}",
        hint="check that the board is powered and the probe is wired to it, then retry",
    )


def flash_with_openocd(
    image: FirmwareImage,
    board: Board,
    *,
    probe_id: str | None = None,
    interface: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> str:
    """Program, verify and reset ``board`` with openocd. Returns openocd's log.

    Raises EdgeDeployError when openocd is not installed, the command line cannot be built
    (see :func:`openocd_command`), openocd times out, or it fails (see :func:`openocd_failure`).
    """
    executable = shutil.which("openocd")
    if executable is None:
        raise EdgeDeployError("openocd is not installed (not found on PATH)", hint=OPENOCD_INSTALL_HINT)
    command = openocd_command(image.path, board, probe_id=probe_id, interface=interface, executable=executable)
    try:
        finished = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise EdgeDeployError(
            f"openocd did not finish flashing board '{board.name}' within {timeout_s:.0f} s",
            hint="check the probe's connection and retry",
        ) from exc
    # openocd logs to stderr; stdout carries the output of Tcl commands.
    output = finished.stderr + finished.stdout
    if finished.returncode == 0 and VERIFIED_MARKER in output:
        return output
    raise openocd_failure(output, finished.returncode, board, probes_seen=_probes_seen_by_pyocd())


def _probes_seen_by_pyocd() -> str | None:
    # A second opinion for the error message: which probes pyOCD can see, when it is installed.
    from edge_deploy.flash.pyocd_flasher import pyocd_installed, scan_probes

    if not pyocd_installed():
        return None
    try:
        return "pyOCD " + scan_probes().describe()
    except EdgeDeployError:
        return None
