"""Flash through pyOCD's Python API: find the probe, open a session for the board's target, program
the ELF, reset so the firmware runs.

pyOCD speaks CMSIS-DAP (DAPLink), ST-LINK and J-Link probes over USB. It is imported only here and
only when used, so the rest of edge-deploy works without it.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from edge_deploy.boards import Board
from edge_deploy.errors import EdgeDeployError
from edge_deploy.flash.firmware import FirmwareImage
from edge_deploy.flash.hints import NO_PROBE_HINT


@dataclass(frozen=True)
class Probe:
    """A debug probe pyOCD can open: ``unique_id`` (what --probe matches) and a description."""

    unique_id: str
    description: str


@dataclass(frozen=True)
class ProbeScan:
    """What a probe search found, and what pyOCD warned about while searching (e.g. a probe it
    saw on USB but was not allowed to open)."""

    probes: tuple[Probe, ...]
    warnings: tuple[str, ...]

    def describe(self) -> str:
        """One line for an error message: the probes found (or 'none') and pyOCD's warnings."""
        found = ", ".join(f"{probe.unique_id} ({probe.description})" for probe in self.probes) or "none"
        text = f"found: {found}"
        if self.warnings:
            text += "; pyOCD said: " + " / ".join(self.warnings)
        return text


def pyocd_installed() -> bool:
    """True if the ``pyocd`` package can be imported."""
    return importlib.util.find_spec("pyocd") is not None


def _require_pyocd() -> None:
    if not pyocd_installed():
        raise EdgeDeployError("pyOCD is not installed", hint="pip install pyocd (or flash with --tool openocd)")


@contextmanager
def _pyocd_warnings() -> Iterator[list[str]]:
    """Collect pyOCD's log warnings so they end up in our error message instead of on stderr."""
    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger("pyocd")
    handler = _Collect(level=logging.WARNING)
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def scan_probes(unique_id: str | None = None) -> ProbeScan:
    """Ask pyOCD for the connected debug probes, without waiting for one to appear.

    ``unique_id`` keeps only probes whose unique ID contains it (pyOCD's own matching). Returns a
    ProbeScan. Raises EdgeDeployError when pyOCD is missing or USB enumeration fails.
    """
    _require_pyocd()
    from pyocd.core.exceptions import Error as PyocdError
    from pyocd.core.helpers import ConnectHelper

    with _pyocd_warnings() as warnings:
        try:
            found = ConnectHelper.get_all_connected_probes(blocking=False, unique_id=unique_id)
        except PyocdError as exc:
            raise EdgeDeployError(f"pyOCD could not list debug probes: {exc}", hint=NO_PROBE_HINT) from exc
    probes = tuple(Probe(unique_id=probe.unique_id, description=probe.description) for probe in found)
    return ProbeScan(probes=probes, warnings=tuple(warnings))


def pyocd_target_known(target: str) -> bool:
    """True if pyOCD can drive ``target``: a built-in target or one from an installed CMSIS pack."""
    _require_pyocd()
    from pyocd.target import TARGET, normalise_target_type_name
    from pyocd.target.pack.pack_target import ManagedPacks

    name = normalise_target_type_name(target)
    if name in TARGET:
        return True
    return any(normalise_target_type_name(device.part_number) == name for device in ManagedPacks.get_installed_targets())


def unknown_target_error(board: Board) -> EdgeDeployError:
    """The error for a board whose ``flashing.pyocd_target`` pyOCD does not know."""
    target = board.flashing.pyocd_target
    return EdgeDeployError(
        f"pyOCD does not know target '{target}' (flashing.pyocd_target of board '{board.name}')",
        hint=(
            f"install its CMSIS pack with `pyocd pack install {target}`; `pyocd pack find {target}` shows the exact"
            " part name, set flashing.pyocd_target to it if it differs; or flash with --tool openocd"
        ),
    )


def choose_probe(board: Board, probe_id: str | None = None) -> Probe:
    """The one probe to flash ``board`` through: the only one attached, or the one ``probe_id`` names.

    Raises EdgeDeployError listing what was found when no probe (or no matching probe) is attached,
    or when several match.
    """
    scan = scan_probes(probe_id)
    if len(scan.probes) == 1:
        return scan.probes[0]
    if len(scan.probes) > 1:
        raise EdgeDeployError(
            f"{len(scan.probes)} debug probes match, cannot tell which one is board '{board.name}'; {scan.describe()}",
            hint="pass --probe with (part of) the unique ID of the board's probe",
        )
    if probe_id is not None:
        everything = scan_probes(None)
        raise EdgeDeployError(
            f"no debug probe matches --probe {probe_id}; {everything.describe()}",
            hint="pass a unique ID from `pyocd list` (any part of it), or leave --probe out when one probe is attached",
        )
    raise EdgeDeployError(f"no debug probe found to flash board '{board.name}'; {scan.describe()}", hint=NO_PROBE_HINT)


def flash_with_pyocd(image: FirmwareImage, board: Board, probe_id: str | None = None) -> Probe:
    """Program ``image`` into ``board`` through pyOCD, then reset the board so the firmware runs.

    Takes a checked FirmwareImage, a Board with ``flashing.pyocd_target`` and an optional probe
    unique ID (or part of it). Returns the Probe used. Raises EdgeDeployError when pyOCD is missing,
    does not know the target, finds no probe, or the probe or flash operation fails.
    """
    target = board.flashing.pyocd_target
    if target is None:
        raise EdgeDeployError(f"board '{board.name}' names no pyOCD target", hint="use --tool openocd or set flashing.pyocd_target")
    if not pyocd_target_known(target):
        raise unknown_target_error(board)
    probe = choose_probe(board, probe_id)

    from pyocd.core.exceptions import Error as PyocdError
    from pyocd.core.helpers import ConnectHelper
    from pyocd.flash.file_programmer import FileProgrammer

    with _pyocd_warnings() as warnings:
        session = ConnectHelper.session_with_chosen_probe(
            blocking=False,
            return_first=True,
            unique_id=probe.unique_id,
            target_override=target,
            hide_programming_progress=True,
        )
        if session is None:
            raise EdgeDeployError(f"debug probe {probe.unique_id} went away before it could be opened", hint=NO_PROBE_HINT)
        try:
            with session:
                # Halt first so the running firmware cannot fight the flash algorithm.
                session.target.reset_and_halt()
                FileProgrammer(session).program(str(image.path), file_format="elf")
                session.target.reset()
        except PyocdError as exc:
            said = f" (pyOCD said: {' / '.join(warnings)})" if warnings else ""
            raise EdgeDeployError(
                f"pyOCD could not flash board '{board.name}' through probe {probe.unique_id}: {exc}{said}",
                hint="check that the board is powered and the probe is wired to it (SWD), then retry;"
                " if the chip is read-protected, erase it first (pyocd erase --chip -t " + target + ")",
            ) from exc
    return probe
