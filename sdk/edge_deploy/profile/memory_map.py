"""Which memory an address belongs to, as the count plugin is told: the regions of the board the
firmware was linked for (``flash``, ``ram``, ``periph``), and the line sizes at which to measure
reuse of the flash (the geometry of the flash timing being modelled)."""

from __future__ import annotations

from dataclasses import dataclass

from edge_deploy.boards import Board, list_boards
from edge_deploy.boards.clocking import FlashTiming
from edge_deploy.errors import EdgeDeployError
from edge_deploy.profile.accesses import LineGeometry
from edge_deploy.profile.flash_model import CACHED_REGION, line_geometry

# Cortex-M peripheral space and the system region (NVIC, SysTick, DWT) (ARMv7-M memory map).
PERIPHERAL_RANGES = ((0x4000_0000, 0x6000_0000), (0xE000_0000, 0x1_0000_0000))


@dataclass(frozen=True)
class MemoryLayout:
    """Named address ranges for the count plugin, and the line geometry at which it measures
    reuse in the ``flash`` range (None: accesses only)."""

    regions: tuple[tuple[str, int, int], ...]
    geometry: LineGeometry | None = None

    def plugin_args(self) -> list[str]:
        """The insn_count plugin arguments for this layout."""
        args = [f"region={name}:{lo:#x}:{hi:#x}" for name, lo, hi in self.regions]
        if self.geometry is not None:
            cached = [(lo, hi) for name, lo, hi in self.regions if name == self.geometry.cached]
            lo, hi = cached[0]
            g = self.geometry
            args += [f"cached={lo:#x}:{hi:#x}", f"fetch_lines={g.fetch_read_bytes}:{g.fetch_line_bytes}",
                     f"data_lines={g.data_line_bytes}"]
        return args


def memory_layout(board: Board, flash: FlashTiming | None = None) -> MemoryLayout:
    """The layout of firmware linked for ``board``; with ``flash`` (the timing to model), reuse
    of the board's flash region is measured at that timing's line sizes."""
    regions = (
        (CACHED_REGION, board.memory.flash.origin, board.memory.flash.end),
        ("ram", board.memory.ram.origin, board.memory.ram.end),
        *(("periph", lo, hi) for lo, hi in PERIPHERAL_RANGES),
    )
    geometry = line_geometry(flash) if flash is not None and flash.wait_states else None
    return MemoryLayout(regions, geometry)


def machine_board(machine: str) -> Board:
    """The bundled board QEMU emulates as ``machine``. Raises EdgeDeployError if none does."""
    for board in list_boards():
        if board.emulation.qemu_machine == machine:
            return board
    raise EdgeDeployError(f"no bundled board is emulated by QEMU machine '{machine}'",
                          hint="pass the layout of the board the firmware was linked for")
