"""A generated project's model built for the host and run there, optionally under sanitizers.

The same ``src/model.c`` and ``src/kernels/`` that go into the firmware, compiled with the host
gcc (portable kernel path, or the DSP path with its instructions emulated in C) into a small
executable with ``host_main.c`` standing in for the runtime. Inputs go in on stdin, outputs come
back on stdout, so AddressSanitizer and UndefinedBehaviorSanitizer run in their own process,
without preloading anything into Python.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

from edge_deploy.testing.harness import host_cc, host_objects
from edge_deploy.errors import EdgeDeployError

HOST_MAIN = Path(__file__).resolve().parent / "host_main.c"
HOST_PATHS = ("portable", "dsp")


def host_model_flags(src_dir: str | os.PathLike, *, path: str = "portable", sanitize: bool = True) -> list[str]:
    """The host compiler flags of the project in ``src_dir`` (its folders on the include path)."""
    if path not in HOST_PATHS:
        raise ValueError(f"unknown host kernel path {path!r}; expected one of {HOST_PATHS}")
    src = Path(src_dir)
    flags = ["-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
             f"-I{src}", f"-I{src / 'include'}", f"-I{src / 'kernels'}", f"-I{src / 'runtime'}",
             "-DED_NN_EMULATE_DSP" if path == "dsp" else "-DED_NN_PORTABLE"]
    if sanitize:
        flags += ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
    return flags


def kernel_groups(src_dir: str | os.PathLike) -> list[tuple[list[Path], list[str]]]:
    """The kernel sources of the project in ``src_dir`` by the Makefile's groups, each with its
    ``-D`` flags (a group in single rounding carries CMSIS_NN_USE_SINGLE_ROUNDING), as the
    firmware compiles them: ``KERNELS<suffix>_SOURCES := \\`` and its continued lines, then
    ``KERNELS<suffix>_FLAGS := ...``."""
    src = Path(src_dir)
    makefile = src / "Makefile"
    if not makefile.is_file():
        return []
    lines = makefile.read_text().splitlines()
    sources: dict[str, list[Path]] = {}
    defines: dict[str, list[str]] = {}
    for i, line in enumerate(lines):
        name, _, value = line.partition(" := ")
        if name.startswith("KERNELS") and name.endswith("_SOURCES"):
            files, j = [], i
            while lines[j].rstrip().endswith("\\"):
                j += 1
                files.append(src / lines[j].strip().rstrip("\\").strip())
            sources[name[:-len("_SOURCES")]] = files
        elif name.startswith("KERNELS") and name.endswith("_FLAGS"):
            defines[name[:-len("_FLAGS")]] = [f for f in value.split() if f.startswith("-D")]
    return [(files, defines.get(group, [])) for group, files in sources.items() if files]


def build_host_model(src_dir: str | os.PathLike, exe: str | os.PathLike, *, path: str = "portable",
                     sanitize: bool = True) -> Path:
    """Compile the generated model in ``src_dir`` for the host into ``exe``; returns its path.

    The project's kernels compile into objects kept under a hash of their bytes, the headers and
    the flags (:func:`edge_deploy.testing.harness.host_objects`: projects carry the same copies);
    ``model.c`` and the host main compile each time. Warnings are errors (the generated C must
    compile cleanly). Raises EdgeDeployError when the compiler fails.
    """
    src = Path(src_dir)
    groups = kernel_groups(src)
    if not groups or not (src / "model.c").is_file():
        raise EdgeDeployError(f"{src} is not a generated project with edge-deploy's kernels",
                              hint="build without --cmsis-nn to get src/kernels/")
    flags = host_model_flags(src, path=path, sanitize=sanitize)
    unprefixed = [f for f in flags if not f.startswith("-I")]
    objects = [obj for kernels, defines in groups
               for obj in host_objects(kernels, unprefixed + defines, [src / "include", src / "kernels", src / "runtime"])]
    command = [host_cc(), *flags, str(src / "model.c"), *map(str, objects), str(HOST_MAIN), "-o", str(exe)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise EdgeDeployError(f"host build of {src_dir} failed:\n{result.stderr.strip()[-4000:]}",
                              hint="the generated C or a kernel does not compile cleanly on the host")
    return Path(exe)


def run_host_model(exe: str | os.PathLike, batch: np.ndarray, output_shape: tuple[int, ...],
                   timeout: float = 120.0, *, output_dtype: str = "int8") -> np.ndarray:
    """Run the host executable on ``batch`` (the model's input type: int8, or uint8 / float32 at
    such an interface; any other integer type is taken as int8); returns ``(N, *output_shape)``
    of ``output_dtype``.

    Raises EdgeDeployError when it fails (a sanitizer report, a kernel error) with its stderr.
    """
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    batch = np.asarray(batch)
    dtype = batch.dtype if batch.dtype in (np.float32, np.uint8) else np.int8
    data = np.ascontiguousarray(batch, dtype=dtype).tobytes()
    result = subprocess.run([str(exe)], input=data, capture_output=True, timeout=timeout, env=env)
    if result.returncode != 0:
        raise EdgeDeployError(
            f"host run of {exe} failed (status {result.returncode}):\n"
            f"{result.stderr.decode(errors='replace')[-4000:]}",
            hint="a sanitizer report above names the bad access; a status 2 names the failing layer")
    size = int(np.prod(output_shape))
    out = np.frombuffer(result.stdout, dtype=np.dtype(output_dtype))
    if out.size != size * len(batch):
        raise EdgeDeployError(f"host run of {exe} wrote {out.size} values, expected {size * len(batch)}")
    return out.reshape((len(batch), *output_shape))
