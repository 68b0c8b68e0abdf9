"""Find the firmware to flash and check it was linked for the board it is about to be written to.

Flashing an ELF linked for another board either fails deep inside the flash algorithm or, worse,
writes somewhere harmless-looking and the board never starts. Checking the load addresses against
the board's flash region first turns both into one clear error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from edge_deploy.boards import Board
from edge_deploy.errors import EdgeDeployError

# What `edge-deploy build DIR` writes (docs/architecture.md, edge_deploy.build).
FIRMWARE_ELF_NAME = "firmware.elf"

_EM_ARM = "EM_ARM"


@dataclass(frozen=True)
class FirmwareImage:
    """An ELF ready to flash: its path and the bytes it puts in flash (``[start, end)``)."""

    path: Path
    flash_start: int
    flash_end: int

    @property
    def flash_bytes(self) -> int:
        """Bytes of flash the image spans, gaps between segments included."""
        return self.flash_end - self.flash_start


def resolve_elf(target: str | os.PathLike) -> Path:
    """The ELF to flash for ``target``: a build directory (its ``firmware.elf``) or an ELF path.

    Raises EdgeDeployError when the directory holds no ``firmware.elf`` or the path does not exist.
    """
    path = Path(target)
    if path.is_dir():
        elf = path / FIRMWARE_ELF_NAME
        if not elf.is_file():
            raise EdgeDeployError(
                f"no {FIRMWARE_ELF_NAME} in {path}",
                hint=f"run `edge-deploy build` with {path} as its output directory first, or pass the path of an .elf file",
            )
        return elf
    if not path.exists():
        raise EdgeDeployError(
            f"{path} does not exist",
            hint="pass the build directory that `edge-deploy build` wrote, or the path of an .elf file",
        )
    return path


def inspect_firmware(elf: str | os.PathLike, board: Board) -> FirmwareImage:
    """Read ``elf``'s load segments and check they all land in ``board``'s flash region.

    Takes an ELF path and a Board; returns the FirmwareImage. Raises EdgeDeployError when the file
    is not a 32-bit Arm ELF, loads nothing, or was linked for another memory map.
    """
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    path = Path(elf)
    try:
        with path.open("rb") as handle:
            elf_file = ELFFile(handle)
            machine, elf_class = elf_file["e_machine"], elf_file.elfclass
            # p_paddr is the load (flash) address; .data is stored in flash and copied at start-up.
            loads = [
                (segment["p_paddr"], segment["p_filesz"])
                for segment in elf_file.iter_segments()
                if segment["p_type"] == "PT_LOAD" and segment["p_filesz"] > 0
            ]
    except OSError as exc:
        raise EdgeDeployError(f"cannot read {path}: {exc.strerror}") from exc
    except ELFError as exc:
        raise EdgeDeployError(
            f"{path} is not an ELF file ({exc})", hint="pass the firmware.elf that `edge-deploy build` wrote"
        ) from exc
    if machine != _EM_ARM or elf_class != 32:
        raise EdgeDeployError(
            f"{path} is a {elf_class}-bit {machine} ELF, not 32-bit Arm firmware",
            hint="pass the firmware.elf that `edge-deploy build` wrote for this board",
        )
    if not loads:
        raise EdgeDeployError(f"{path} has no loadable segments: nothing to flash", hint="rebuild the firmware")
    flash = board.memory.flash
    for address, size in loads:
        if not (flash.contains(address) and address + size <= flash.end):
            raise EdgeDeployError(
                f"{path} loads {size} bytes at {address:#010x}, outside the flash of board '{board.name}'"
                f" ({flash.origin:#010x}..{flash.end:#010x})",
                hint=f"the firmware was built for another board; rebuild it with --board {board.name}",
            )
    start = min(address for address, _ in loads)
    end = max(address + size for address, size in loads)
    return FirmwareImage(path=path, flash_start=start, flash_end=end)
