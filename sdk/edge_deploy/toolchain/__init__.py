"""The Arm toolchain: compile a firmware for a board, with a linker script from its memory map.

``compile_firmware(board, sources, out_dir, include_dirs=..., defines=...)`` returns a
:class:`FirmwareBuild` (ELF, map, flash/RAM bytes). ``runtime_sources(board)`` and
``runtime_include_dirs()`` let a generated model project compile the C runtime alongside its own
sources; ``compile_runtime(board, out_dir)`` builds the runtime alone (the selftest firmware).
"""

from edge_deploy.toolchain.elfsize import ElfSizes, elf_sizes
from edge_deploy.toolchain.gcc import (
    GCC,
    FirmwareBuild,
    arch_flags,
    compile_firmware,
    compile_flags,
    compile_runtime,
    find_gcc,
    link_flags,
    make_project,
    runtime_dir,
    runtime_include_dirs,
    runtime_sources,
)
from edge_deploy.toolchain.generate import render_board_header, render_linker_script, write_board_files

__all__ = [
    "GCC",
    "ElfSizes",
    "FirmwareBuild",
    "arch_flags",
    "compile_firmware",
    "compile_flags",
    "compile_runtime",
    "elf_sizes",
    "find_gcc",
    "link_flags",
    "make_project",
    "render_board_header",
    "render_linker_script",
    "runtime_dir",
    "runtime_include_dirs",
    "runtime_sources",
    "write_board_files",
]
