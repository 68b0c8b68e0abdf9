"""Flash and RAM use of a linked ELF, from its section headers (what ``arm-none-eabi-size``
reports, attributed to the board's regions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from edge_deploy.boards import Board


@dataclass(frozen=True)
class ElfSizes:
    """Bytes of flash (code, constants, the initial values of data) and of RAM (data, bss,
    stack) used by an ELF, and the size of every allocated section."""

    flash_bytes: int
    ram_bytes: int
    sections: dict[str, int] = field(default_factory=dict)


def _load_address(elf: ELFFile, address: int, size: int) -> int:
    # A section's load address (LMA) comes from the PT_LOAD segment holding its VMA.
    for segment in elf.iter_segments():
        if segment["p_type"] != "PT_LOAD":
            continue
        start = segment["p_vaddr"]
        if start <= address and address + size <= start + segment["p_memsz"]:
            return address - start + segment["p_paddr"]
    return address


def elf_sizes(elf_path: str | Path, board: Board) -> ElfSizes:
    """Measure ``elf_path``: sections loaded into the board's flash count as flash, sections
    living in its RAM as RAM (``.data`` counts in both). Raises OSError if the file is unreadable."""
    flash = ram = 0
    sections: dict[str, int] = {}
    with open(elf_path, "rb") as handle:
        elf = ELFFile(handle)
        for section in elf.iter_sections():
            if not section["sh_flags"] & SH_FLAGS.SHF_ALLOC or section["sh_size"] == 0:
                continue
            size, address = section["sh_size"], section["sh_addr"]
            sections[section.name] = size
            if board.memory.ram.contains(address):
                ram += size
            if section["sh_type"] != "SHT_NOBITS" and board.memory.flash.contains(_load_address(elf, address, size)):
                flash += size
    return ElfSizes(flash_bytes=flash, ram_bytes=ram, sections=dict(sorted(sections.items())))
