"""arm-none-eabi-gcc: compile C sources for a board into an ELF, with the board's linker script.

Each source is compiled to its own object (in parallel), then linked with newlib-nano and
``--gc-sections``. Output is deterministic: no absolute paths go into the objects
(``-ffile-prefix-map``), object names come from the source names, and the command lines are
fixed for fixed inputs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from edge_deploy.boards import Board, load_board
from edge_deploy.errors import EdgeDeployError
from edge_deploy.paths import resource_dir
from edge_deploy.toolchain.elfsize import elf_sizes
from edge_deploy.toolchain.stack_bound import STACK_USAGE_FLAGS
from edge_deploy.toolchain.generate import write_board_files

GCC = "arm-none-eabi-gcc"
_INSTALL_HINT = "install the Arm toolchain: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"
_UART_DRIVERS = {
    "cmsdk-uart": "uart_cmsdk.c",
    "stm32-usart": "uart_stm32_usart.c",
    "stm32-lpuart": "uart_stm32_lpuart.c",
    "nrf-uarte": "uart_nrf_uarte.c",
}

Defines = Mapping[str, "str | int | None"] | Iterable[str]


@dataclass(frozen=True)
class FirmwareBuild:
    """A linked firmware: the ELF, its map file, the linker script and what it occupies."""

    board: Board
    elf: Path
    map_file: Path
    linker_script: Path
    flash_bytes: int
    ram_bytes: int
    sections: dict[str, int] = field(default_factory=dict)

    @property
    def flash_fraction(self) -> float:
        """Share of the board's flash used (0..1)."""
        return self.flash_bytes / self.board.memory.flash.size

    @property
    def ram_fraction(self) -> float:
        """Share of the board's RAM used, stack included (0..1)."""
        return self.ram_bytes / self.board.memory.ram.size


def find_gcc() -> str:
    """Return the path of arm-none-eabi-gcc. Raises EdgeDeployError if it is not installed."""
    path = shutil.which(GCC)
    if path is None:
        raise EdgeDeployError(f"{GCC} is not installed (not found on PATH)", hint=_INSTALL_HINT)
    return path


def runtime_dir() -> Path:
    """The directory of the C runtime (``firmware/runtime``)."""
    return resource_dir("firmware") / "runtime"


def runtime_include_dirs() -> list[Path]:
    """Include directories a source needs to use the runtime headers (``ed_model.h``, ...)."""
    return [runtime_dir()]


def runtime_sources(board: Board | str) -> list[Path]:
    """The runtime's C sources for ``board``: start-up, protocol server, cycle counter, fault
    handler, semihosting and the board's UART driver, sorted. A generated model project compiles
    them alongside its own sources."""
    board = load_board(board)
    drivers = set(_UART_DRIVERS.values())
    common = [path for path in runtime_dir().glob("*.c") if path.name not in drivers]
    return sorted(common + [runtime_dir() / _UART_DRIVERS[board.console.kind]])


def compile_flags(board: Board) -> list[str]:
    """Every firmware's compiler flags for ``board`` (the generated Makefile prints these too):
    the target, -O2, debug info, warnings, one section per function for --gc-sections,
    newlib-nano; and each object's frame sizes and call graph beside it (``.su``, ``.ci``: the
    static stack bound of :mod:`edge_deploy.toolchain.stack_bound`; they change no code)."""
    return [*arch_flags(board), "-O2", "-g", "-std=gnu11", "-Wall", "-Wextra", "-ffunction-sections",
            "-fdata-sections", "-fno-common", "--specs=nano.specs", *STACK_USAGE_FLAGS]


def link_flags(board: Board) -> list[str]:
    """Every firmware's linker flags for ``board`` (the generated Makefile prints these too);
    the linker script and map file are added per build."""
    return [*arch_flags(board), "--specs=nano.specs", "--specs=nosys.specs", "-nostartfiles", "-Wl,--gc-sections",
            "-Wl,--no-warn-rwx-segments"]


def arch_flags(board: Board) -> list[str]:
    """Target flags: ``-mcpu=cortex-m4 -mthumb`` and hard float where the board has an FPU."""
    flags = [f"-mcpu={board.cpu}", "-mthumb"]
    if board.has_fpu:
        flags += ["-mfloat-abi=hard", f"-mfpu={board.fpu}"]
    else:
        flags += ["-mfloat-abi=soft"]
    return flags


def _define_flags(defines: Defines | None) -> list[str]:
    if defines is None:
        return []
    if isinstance(defines, Mapping):
        return [f"-D{key}" if value is None else f"-D{key}={value}" for key, value in sorted(defines.items())]
    return [f"-D{item}" for item in defines]


def _object_names(sources: Sequence[Path]) -> list[str]:
    # Names from the sources, so the map file is the same whatever the build directory.
    names, seen = [], {}
    for source in sources:
        stem = source.stem
        count = seen.get(stem, 0)
        seen[stem] = count + 1
        names.append(f"{stem}.o" if count == 0 else f"{stem}_{count}.o")
    return names


def _prefix_maps(sources: Sequence[Path], out_dir: Path) -> list[str]:
    maps = {runtime_dir().parent.parent: ".", out_dir: "."}
    others = [s.parent for s in sources if runtime_dir().parent.parent not in s.parents]
    if others:
        maps[Path(os.path.commonpath(others))] = "."
    # Longest prefix first, so the most specific mapping wins.
    ordered = sorted(maps.items(), key=lambda item: len(str(item[0])), reverse=True)
    return [f"-ffile-prefix-map={path}={replacement}" for path, replacement in ordered]


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip().splitlines()
        shown = "\n".join(output[:40])
        raise EdgeDeployError(f"{what} failed:\n{shown}", hint="fix the error shown above")


class FirmwareTooLarge(EdgeDeployError):
    """The linker found the firmware larger than the board's flash or RAM."""


def _check_fits(stderr_text: str, board: Board) -> None:
    if "will not fit in region" in stderr_text or "overflowed by" in stderr_text:
        raise FirmwareTooLarge(
            f"the firmware does not fit in board '{board.name}' "
            f"(flash {board.memory.flash.size} bytes, RAM {board.memory.ram.size} bytes including a "
            f"{board.stack_bytes}-byte stack):\n{stderr_text.strip()}",
            hint="make the model smaller, or pick a board with more memory",
        )


def compile_firmware(
    board: Board | str,
    sources: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    include_dirs: Sequence[str | os.PathLike] = (),
    defines: Defines | None = None,
    name: str = "firmware",
    opt_level: str = "-O2",
    extra_cflags: Sequence[str] = (),
    extra_ldflags: Sequence[str] = (),
    jobs: int = 2,
    source_flags: Sequence[Sequence[str]] | None = None,
) -> FirmwareBuild:
    """Compile ``sources`` for ``board`` and link ``<out_dir>/<name>.elf`` (and ``<name>.map``).

    The board's linker script (``<name>.ld``) and ``generated/ed_board_config.h`` are written
    into ``out_dir`` and the latter's directory is on the include path. Pass
    ``runtime_sources(board)`` among ``sources`` and ``runtime_include_dirs()`` among
    ``include_dirs`` to link the runtime. ``defines`` is a mapping (``{"N": 4}``) or ``"N=4"``
    strings. ``source_flags``, one list per source, adds flags to that source's compile only
    (include folders and defines of one group of kernel sources; a source may be listed twice
    with different flags). Raises EdgeDeployError if the compiler is missing, a source does not
    compile, or the program does not fit the board's memory.
    """
    board = load_board(board)
    gcc = find_gcc()
    out_dir = Path(out_dir).resolve()
    sources = [Path(s).resolve() for s in sources]
    if not sources:
        raise EdgeDeployError("compile_firmware was given no C sources")
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        raise EdgeDeployError("C source not found: " + ", ".join(missing))
    obj_dir = out_dir / "obj"
    obj_dir.mkdir(parents=True, exist_ok=True)
    generated_dir = out_dir / "generated"
    linker_script, _ = write_board_files(board, out_dir / f"{name}.ld", generated_dir)

    base = compile_flags(board)
    cflags = [
        *(opt_level if flag == "-O2" else flag for flag in base),
        *_prefix_maps(sources, out_dir),
        *_define_flags(defines),
        f"-I{generated_dir}",
        *(f"-I{Path(d).resolve()}" for d in include_dirs),
        *extra_cflags,
    ]
    objects = [obj_dir / obj for obj in _object_names(sources)]
    per_source = [list(flags) for flags in source_flags] if source_flags is not None else [[] for _ in sources]

    def compile_one(item: tuple[Path, Path, list[str]]) -> None:
        source, obj, flags = item
        _run([gcc, *cflags, *flags, "-c", str(source), "-o", str(obj)], f"compiling {source.name}")

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(compile_one, zip(sources, objects, per_source)))

    elf = out_dir / f"{name}.elf"
    map_file = out_dir / f"{name}.map"
    tmp_elf, tmp_map = elf.with_suffix(".elf.tmp"), map_file.with_suffix(".map.tmp")
    link = [
        gcc,
        *link_flags(board),
        f"-Wl,-Map={tmp_map}",
        f"-T{linker_script}",
        # Objects by relative name (run in out_dir) so the map file names no build directory.
        *(str(obj.relative_to(out_dir)) for obj in objects),
        *extra_ldflags,
        "-o",
        str(tmp_elf.relative_to(out_dir)),
    ]
    result = subprocess.run(link, capture_output=True, text=True, check=False, cwd=out_dir)
    if result.returncode != 0:
        _check_fits(result.stderr, board)
        shown = "\n".join(result.stderr.strip().splitlines()[:40])
        raise EdgeDeployError(f"linking {name}.elf for board '{board.name}' failed:\n{shown}",
                              hint="fix the error shown above")
    os.replace(tmp_elf, elf)
    os.replace(tmp_map, map_file)
    sizes = elf_sizes(elf, board)
    return FirmwareBuild(
        board=board,
        elf=elf,
        map_file=map_file,
        linker_script=linker_script,
        flash_bytes=sizes.flash_bytes,
        ram_bytes=sizes.ram_bytes,
        sections=sizes.sections,
    )


def compile_runtime(
    board: Board | str,
    out_dir: str | os.PathLike,
    *,
    extra_sources: Sequence[str | os.PathLike] = (),
    **options,
) -> FirmwareBuild:
    """Build the runtime firmware for ``board`` (the selftest firmware, no model), plus
    ``extra_sources`` (a model, a test fixture). Options as for :func:`compile_firmware`."""
    board = load_board(board)
    include_dirs = [*runtime_include_dirs(), *options.pop("include_dirs", ())]
    return compile_firmware(
        board,
        [*runtime_sources(board), *extra_sources],
        out_dir,
        include_dirs=include_dirs,
        **options,
    )


def make_project(board: Board | str, src_dir: str | os.PathLike, out_dir: str | os.PathLike, *,
                 variables: Mapping[str, str] | None = None, jobs: int = 2, clean: bool = True) -> FirmwareBuild:
    """Build a generated project with its own Makefile (``make -C src_dir``, the same command a
    user runs), then move ``firmware.elf`` and ``firmware.map`` to ``out_dir`` and remove the
    object folder (kept with ``clean`` False, so that a second call only relinks). ``variables``
    are make variables (``KERNELS``, ``CMSIS_NN``). Raises
    EdgeDeployError when make or the compiler is missing, a source does not compile, or the
    firmware does not fit the board."""
    board = load_board(board)
    find_gcc()
    make = shutil.which("make")
    if make is None:
        raise EdgeDeployError("make is not installed (not found on PATH)", hint="apt-get install make")
    src = Path(src_dir)
    command = [make, "-C", str(src), f"-j{max(1, jobs)}", "--no-print-directory",
               *(f"{key}={value}" for key, value in sorted((variables or {}).items()))]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        _check_fits(result.stderr, board)
        shown = "\n".join((result.stderr or result.stdout).strip().splitlines()[:40])
        raise EdgeDeployError(f"building the generated project in {src} for board '{board.name}' failed:\n{shown}",
                              hint="fix the error shown above")
    out = Path(out_dir)
    elf, map_file = out / "firmware.elf", out / "firmware.map"
    os.replace(src / "firmware.elf", elf)
    os.replace(src / "firmware.map", map_file)
    if clean:
        shutil.rmtree(src / "build", ignore_errors=True)
    sizes = elf_sizes(elf, board)
    return FirmwareBuild(board=board, elf=elf, map_file=map_file, linker_script=src / "board" / "linker.ld",
                         flash_bytes=sizes.flash_bytes, ram_bytes=sizes.ram_bytes, sections=sizes.sections)
