"""Run kernel cases (:mod:`edge_deploy.testing.cases`) on QEMU mps2-an386 or on the host.

Every case's layer is rendered by ``templates/layer.c.j2`` and its kernel's partial, the same
templates as a generated model, so the call a test checks is the call a model makes; each case
has its own exactly sized input, output and scratch arrays (so AddressSanitizer sees any access
past them). ``templates/kernel_cases.c.j2`` adds a ``main`` that runs every case between two
profiling marks and prints ``case <i> <status> <hex output>`` lines (semihosting on QEMU, stdout
on the host).

* :func:`build_qemu` / :func:`run_qemu`: the Cortex-M4 firmware (SIMD or portable kernel path),
  run with exact instruction counts and modelled cycles per case;
* :func:`build_host` / :func:`run_host`: the host executable (portable path, or the DSP path with
  its instructions emulated in C), optionally under AddressSanitizer and UndefinedBehaviorSanitizer.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_deploy.boards.clocking import FlashTiming
from edge_deploy.codegen.context import layer_context
from edge_deploy.codegen.project import template_environment
from edge_deploy.errors import EdgeDeployError
from edge_deploy.fsutil import atomic_output_file
from edge_deploy.paths import resource_dir
from edge_deploy.testing.cases import KernelCase

QEMU_PATHS = ("dsp", "portable")
HOST_PATHS = ("portable", "dsp")
QEMU_BOARD = "mps2-an386"


def _c_array(name: str, ctype: str, values, *, const: bool) -> str:
    flat = np.asarray(values).reshape(-1)
    body = ", ".join(str(int(v)) for v in flat)
    qualifier = "const " if const else ""
    return f"static {qualifier}{ctype} {name}[{max(flat.size, 1)}] __attribute__((aligned(4))) = {{{body}}};\n"


def cases_source(cases: Sequence[KernelCase], *, target: str) -> str:
    """The C source running ``cases`` on ``target`` ("qemu" or "host"); deterministic."""
    if len(cases) > 255:
        raise ValueError("at most 255 kernel cases fit the profiling marks")
    env = template_environment()
    layer_template = env.get_template("layer.c.j2")
    blocks = []
    for i, case in enumerate(cases):
        pointers = {name: f"case{i}_{name}" for name in case.inputs}
        pointers[case.call.final_output.name] = f"case{i}_out"
        # Every array as its bytes (int8_t): a float32 or uint8 boundary tensor as well as int8.
        data = [_c_array(f"case{i}_{name}", "int8_t", _as_bytes(x), const=True) for name, x in case.inputs.items()]
        # A state the kernel updates in place: a writable array of its type, at its initial value.
        for name, x in case.states.items():
            pointers[name] = f"case{i}_{name}"
            data.append(_c_array(pointers[name], f"{np.dtype(x.dtype).name}_t", x, const=False))
        data.append(f"static int8_t case{i}_out[{_out_bytes(case)}] __attribute__((aligned(4)));\n")
        if case.scratch_bytes:
            data.append(f"static int8_t case{i}_scratch[{case.scratch_bytes}] __attribute__((aligned(4)));\n")
        ctx = layer_context(case.call.graph, case.layer(i), pointers, 0, scratch_pointer=f"case{i}_scratch")
        blocks.append(f"\n/* case {i}: {case.name} ({case.kernel.name}) */\n" + "".join(data)
                      + layer_template.render(l=ctx))
    headers = sorted({case.kernel.header for case in cases} - {"arm_nnfunctions.h"})
    return env.get_template("kernel_cases.c.j2").render(
        target=target, headers=headers, cases="".join(blocks),
        table=[(f"case{i}", _out_bytes(case)) for i, case in enumerate(cases)])


def _as_bytes(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x).reshape(-1).view(np.int8)


def _out_bytes(case: KernelCase) -> int:
    return int(np.prod(case.out_shape)) * np.dtype(case.call.final_output.dtype).itemsize


@dataclass(frozen=True)
class KernelRun:
    """Outputs (by case index), kernel statuses, and on QEMU the executed instructions and
    modelled Cortex-M4 cycles of each case."""

    outputs: list[np.ndarray]
    statuses: list[int]
    instructions: list[int] = field(default_factory=list)
    cycles: list[int] = field(default_factory=list)


def _parse_outputs(text: str, cases: Sequence[KernelCase], where: str) -> tuple[list[np.ndarray], list[int]]:
    lines = {}
    for chunk in text.replace("\r", "").split("case ")[1:]:
        head, _, rest = chunk.partition(" ")
        status, _, hexdata = rest.partition(" ")
        if head.isdigit():
            lines[int(head)] = (status, "".join(hexdata.split()))
    outputs, statuses = [], []
    for i, case in enumerate(cases):
        if i not in lines:
            raise EdgeDeployError(f"the kernel cases printed no output for case {i} ({case.name})",
                                  hint=f"{where} said: {text[-800:]}")
        status, hexdata = lines[i]
        statuses.append(0 if status == "0" else -1)
        data = np.frombuffer(bytes.fromhex(hexdata), dtype=np.dtype(case.call.final_output.dtype))
        outputs.append(data.reshape(case.out_shape) if data.size == np.prod(case.out_shape) else data)
    return outputs, statuses


def _raise_on_fault(text: str, cases: Sequence[KernelCase], elf: str | os.PathLike) -> None:
    """Raises EdgeDeployError naming the case, the function and the registers when the image
    printed a fault line (``fault <case> <pc> <lr> <cfsr>``, templates/kernel_cases.c.j2)."""
    from edge_deploy.elf import read_elf_symbols

    match = re.search(r"fault ([0-9a-f]{8}) ([0-9a-f]{8}) ([0-9a-f]{8}) ([0-9a-f]{8})", text)
    if match is None:
        return
    index, pc, lr, cfsr = (int(v, 16) for v in match.groups())
    symbols = read_elf_symbols(elf)
    where = [f"{name} {value:#010x}" + (f" in {func.name}" if (func := symbols.function_at(value)) else "")
             for name, value in (("pc", pc), ("lr", lr))]
    case = f"case {index} ({cases[index].name}, {cases[index].kernel.name})" if index < len(cases) else "start-up"
    raise EdgeDeployError(f"{case} faulted on QEMU: {', '.join(where)}, CFSR {cfsr:#010x}",
                          hint="the kernel read or wrote outside its buffers or ran an invalid instruction; "
                          "the CFSR bits name the fault (Armv7-M Architecture Reference Manual, B3.2.15)")


def _firmware_dirs() -> tuple[Path, Path, Path]:
    firmware = resource_dir("firmware")
    return firmware / "include", firmware / "kernels", firmware / "runtime"


def build_qemu(cases: Sequence[KernelCase], out_dir: str | os.PathLike, *, path: str = "dsp",
               rounding: str = "double") -> Path:
    """Compile the cases with the kernels' ``path`` ("dsp" or "portable") for mps2-an386 with the
    runtime's start-up and the board's linker script; single rounding with ``rounding="single"``
    (the cases' expected outputs must be made with the same rounding); returns the ELF. Raises
    EdgeDeployError when the toolchain fails."""
    from edge_deploy.toolchain import compile_firmware, runtime_sources

    if path not in QEMU_PATHS:
        raise ValueError(f"unknown kernel path {path!r}; expected one of {QEMU_PATHS}")
    if rounding not in ("double", "single"):
        raise ValueError(f"unknown rounding {rounding!r}; expected 'double' or 'single'")
    defines: dict[str, str | None] = {"ED_NN_PORTABLE": None} if path == "portable" else {}
    if rounding == "single":
        defines["CMSIS_NN_USE_SINGLE_ROUNDING"] = None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cases.c").write_text(cases_source(cases, target="qemu"))
    include, kernels, runtime = _firmware_dirs()
    sources = [out / "cases.c", *(p for p in runtime_sources(QEMU_BOARD) if p.name != "main.c"),
               *sorted(kernels.glob("*.c"))]
    build = compile_firmware(QEMU_BOARD, sources, out / f"build-{path}-{rounding}",
                             include_dirs=[include, kernels, runtime], defines=defines or None,
                             name=f"kernels-{path}-{rounding}")
    return build.elf


def run_qemu(elf: str | os.PathLike, cases: Sequence[KernelCase], *, timeout_s: float = 120.0,
             flash: FlashTiming | None = None) -> KernelRun:
    """Run the cases' firmware on QEMU with instruction counting: outputs, statuses, executed
    instructions and modelled cycles per case, at 0 wait states or, with ``flash``, with the
    firmware's flash (its code and constant weights) read at that timing. Raises EdgeDeployError
    when QEMU fails or the output is incomplete."""
    from edge_deploy.boards import load_board
    from edge_deploy.profile.attribution import per_mark, segment_cycles
    from edge_deploy.profile.cycle_model import CortexM4Timing
    from edge_deploy.profile.decode import decode_code
    from edge_deploy.profile.memory_map import memory_layout
    from edge_deploy.profile.qemu_run import run_with_counts

    layout = memory_layout(load_board(QEMU_BOARD), flash) if flash is not None else None
    run = run_with_counts(elf, timeout_s=timeout_s, layout=layout)
    # QEMU sends semihosting console output to stderr or stdout depending on its version.
    _raise_on_fault(run.stdout + run.stderr, cases, elf)
    outputs, statuses = _parse_outputs(run.stdout + run.stderr, cases, "QEMU")
    tallies = per_mark(segment_cycles(run.counts, decode_code(run.counts.code), CortexM4Timing(flash=flash)))
    return KernelRun(outputs, statuses, [tallies[i].instructions if i in tallies else 0 for i in range(len(cases))],
                     [tallies[i].cycles if i in tallies else 0 for i in range(len(cases))])


def host_cc() -> str:
    """The host C compiler (``$CC`` or gcc). Raises EdgeDeployError when there is none."""
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise EdgeDeployError("no host C compiler found (gcc or $CC)", hint="apt-get install gcc")
    return cc


def host_flags(path: str = "portable", *, sanitize: bool = False, rounding: str = "double") -> list[str]:
    """Flags of a host build of the kernels: the portable path, or the DSP path with its
    instructions emulated in C; single rounding with ``rounding="single"``."""
    if path not in HOST_PATHS:
        raise ValueError(f"unknown host kernel path {path!r}; expected one of {HOST_PATHS}")
    if rounding not in ("double", "single"):
        raise ValueError(f"unknown rounding {rounding!r}; expected 'double' or 'single'")
    flags = ["-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
             "-DED_NN_EMULATE_DSP" if path == "dsp" else "-DED_NN_PORTABLE"]
    if rounding == "single":
        flags.append("-DCMSIS_NN_USE_SINGLE_ROUNDING")
    if sanitize:
        flags += ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
    return flags


def _compile(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise EdgeDeployError(f"host build of {what} failed:\n{result.stderr.strip()[-4000:]}",
                              hint="fix the kernel or the case named in the compiler message")


def _headers_digest(include_dirs: Sequence[str | os.PathLike]) -> bytes:
    """The names and bytes of every header in ``include_dirs``, hashed."""
    digest = hashlib.sha256()
    for folder in include_dirs:
        for header in sorted(Path(folder).glob("*.h")):
            digest.update(header.name.encode() + b"\0" + header.read_bytes())
    return digest.digest()


def host_objects(sources: Sequence[str | os.PathLike], flags: list[str],
                 include_dirs: Sequence[str | os.PathLike], *, jobs: int = 2) -> list[Path]:
    """``sources`` compiled for the host with ``flags`` into objects, two compilers at a time,
    each kept in the system temp folder under a hash of the compiler, flags, the headers of
    ``include_dirs`` and its own bytes, so a kernel is compiled once per variant however many
    projects and case sets carry a copy of it."""
    headers = _headers_digest(include_dirs)
    includes = [f"-I{Path(d).resolve()}" for d in include_dirs]
    cache = Path(tempfile.gettempdir()) / "edge-deploy-host-objects"
    cache.mkdir(parents=True, exist_ok=True)
    objects, missing = [], []
    for source in map(Path, sources):
        digest = hashlib.sha256(headers)
        for item in [host_cc(), *flags]:
            digest.update(item.encode() + b"\0")
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
        obj = cache / f"{source.stem}-{digest.hexdigest()[:16]}.o"
        objects.append(obj)
        if not obj.is_file():
            missing.append((source, obj))

    def compile_one(item: tuple[Path, Path]) -> None:
        source, obj = item
        with atomic_output_file(obj) as partial:
            _compile([host_cc(), *flags, *includes, "-c", str(source), "-o", str(partial)], source.name)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(compile_one, missing))
    return objects


def host_kernel_library(flags: list[str]) -> Path:
    """The kernels compiled for the host with ``flags`` into a static library, kept in the system
    temp folder under a hash of the compiler, flags and sources (built once per variant)."""
    from edge_deploy.kernels.cost import kernel_sources

    include, kernels, runtime = _firmware_dirs()
    digest = hashlib.sha256()
    for item in [host_cc(), *flags]:
        digest.update(item.encode() + b"\0")
    for source in kernel_sources():
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    library = Path(tempfile.gettempdir()) / "edge-deploy-host-kernels" / f"kernels-{digest.hexdigest()[:16]}.a"
    if library.is_file():
        return library
    objects = host_objects(sorted(kernels.glob("*.c")), flags, [include, kernels, runtime])
    with atomic_output_file(library) as partial:
        partial.unlink()  # ar makes the archive itself
        _compile(["ar", "rcs", str(partial), *map(str, objects)], "the kernel library")
    return library


def build_host(cases: Sequence[KernelCase], out_dir: str | os.PathLike, *, path: str = "portable",
               sanitize: bool = False, rounding: str = "double") -> Path:
    """Compile the cases for the host and link them with the kernels; returns the executable.
    Warnings are errors. Raises EdgeDeployError when the compiler fails."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    source = out / "cases.c"
    source.write_text(cases_source(cases, target="host"))
    include, kernels, runtime = _firmware_dirs()
    flags = host_flags(path, sanitize=sanitize, rounding=rounding)
    library = host_kernel_library(flags)
    exe = out / f"cases-{path}-{rounding}{'-san' if sanitize else ''}"
    _compile([host_cc(), *flags, f"-I{include}", f"-I{kernels}", f"-I{runtime}", str(source), str(library), "-o",
              str(exe)], "the kernel cases")
    return exe


def run_host(exe: str | os.PathLike, cases: Sequence[KernelCase], *, timeout_s: float = 120.0) -> KernelRun:
    """Run the host executable; outputs and statuses per case. Raises EdgeDeployError when it
    fails (a sanitizer report, with its text)."""
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    result = subprocess.run([str(exe)], capture_output=True, text=True, timeout=timeout_s, env=env)
    if result.returncode != 0:
        raise EdgeDeployError(f"the kernel cases failed on the host (status {result.returncode}):\n"
                              f"{result.stderr[-4000:]}", hint="a sanitizer report above names the bad access")
    outputs, statuses = _parse_outputs(result.stdout, cases, "the host run")
    return KernelRun(outputs, statuses)
