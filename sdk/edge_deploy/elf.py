"""Read the symbols of a firmware ELF: which function owns an address, where the marks live.

Thumb function symbols carry bit 0 set (the interworking bit); addresses here are always the
real, even addresses of the code.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

from edge_deploy.errors import EdgeDeployError

MARK_FUNCTION = "ed_profile_mark"
MARK_PADS = "ed_profile_mark_pads"
MARK_PAD_BYTES = 2   # one 16-bit "bx lr" per mark (firmware/runtime/ed_profile.h)


@dataclass(frozen=True)
class Symbol:
    """One ELF symbol: ``name``, even start ``addr``, ``size`` in bytes, ``kind`` func/object/label."""

    name: str
    addr: int
    size: int
    kind: str

    @property
    def end(self) -> int:
        """First address past the symbol."""
        return self.addr + self.size


@dataclass(frozen=True)
class MarkerSymbols:
    """Where the profiling marker's pads live in an ELF (see firmware/runtime/ed_profile.h)."""

    pads: Symbol   # run of 2-byte instructions; pad i is jumped to by ed_profile_mark(i)

    @property
    def end_mark(self) -> int:
        """The mark that closes the last layer (the last pad)."""
        return self.pads.size // MARK_PAD_BYTES - 1

    def plugin_args(self) -> list[str]:
        """The insn_count plugin arguments that turn mark recording on."""
        return [f"mark_pads=0x{self.pads.addr:x}:0x{self.pads.end:x}"]


class ElfSymbols:
    """The function and object symbols of one ELF, searchable by name and by address."""

    def __init__(self, symbols: list[Symbol]) -> None:
        self.symbols = symbols
        self._by_name = {s.name: s for s in symbols}
        # Functions sorted by address; zero-size symbols (assembly labels) keep their start only.
        self.functions = sorted((s for s in symbols if s.kind == "func"), key=lambda s: (s.addr, s.name))
        self._starts = [f.addr for f in self.functions]

    def get(self, name: str) -> Symbol | None:
        """Return the symbol called ``name``, or None."""
        return self._by_name.get(name)

    def function_at(self, addr: int) -> Symbol | None:
        """Return the function whose [addr, addr+size) holds ``addr``; None outside all of them.

        A zero-size function symbol (a label in hand-written assembly) owns everything up to the
        next function symbol.
        """
        i = bisect.bisect_right(self._starts, addr) - 1
        # Look back over the few symbols that start at or before addr (aliases share a start).
        for j in range(i, max(i - 8, -1), -1):
            func = self.functions[j]
            if func.size:
                if addr < func.end:
                    return func
                continue
            k = bisect.bisect_right(self._starts, func.addr)
            if k == len(self._starts) or addr < self._starts[k]:
                return func
        return None

    def markers(self) -> MarkerSymbols | None:
        """Return the profiling marker symbols when the firmware links them, else None."""
        pads = self.get(MARK_PADS)
        if pads is None or pads.size < 2 * MARK_PAD_BYTES:
            return None
        return MarkerSymbols(pads=pads)


def read_elf_symbols(elf_path: str | Path) -> ElfSymbols:
    """Read the FUNC, OBJECT and untyped (assembly label) symbols of ``elf_path``.

    Returns an :class:`ElfSymbols`. Raises EdgeDeployError when the file is missing, is not an
    ELF, or has no symbol table (a stripped binary).
    """
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    path = Path(elf_path)
    if not path.is_file():
        raise EdgeDeployError(f"firmware ELF not found: {path}", hint="build the firmware first")
    symbols: dict[tuple[str, int], Symbol] = {}
    try:
        with path.open("rb") as handle:
            elf = ELFFile(handle)
            tables = [s for s in elf.iter_sections() if isinstance(s, SymbolTableSection)]
            if not tables:
                raise EdgeDeployError(
                    f"{path} has no symbol table, so counts cannot be mapped to functions",
                    hint="profile the unstripped firmware.elf that the build writes",
                )
            for table in tables:
                for sym in table.iter_symbols():
                    kind = {"STT_FUNC": "func", "STT_OBJECT": "object", "STT_NOTYPE": "label"}.get(
                        sym["st_info"]["type"]
                    )
                    # Skip undefined symbols and the $t/$d/$a mapping symbols of Arm objects.
                    if kind is None or not sym.name or sym.name.startswith("$") or sym["st_shndx"] in (
                        "SHN_UNDEF", "SHN_ABS"
                    ):
                        continue
                    addr = sym["st_value"] & ~1 if kind == "func" else sym["st_value"]
                    symbols[(sym.name, addr)] = Symbol(sym.name, addr, sym["st_size"], kind)
    except ELFError as exc:
        raise EdgeDeployError(f"{path} is not a valid ELF file: {exc}", hint="pass the firmware.elf") from exc
    return ElfSymbols(sorted(symbols.values(), key=lambda s: (s.addr, s.name)))
