"""Run a firmware ELF under QEMU with the instruction-count plugin and collect its counts.

The firmware runs to completion and leaves through semihosting (``SYS_EXIT``); the plugin writes
its counts when QEMU exits. ``-icount shift=0`` makes the run deterministic (SysTick and every
timer advance with executed instructions, not with host time), so two runs give identical counts.
QEMU runs under the same process guard as ``edge-deploy run`` (``edge_deploy.emulators.process``):
killed with its process group on an error, Ctrl-C or SIGTERM, and by the kernel if Python dies.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edge_deploy.emulators.process import EmulatorProcess
from edge_deploy.errors import EdgeDeployError
from edge_deploy.fsutil import owned_temp_dir
from edge_deploy.profile.counts import InsnCounts, read_counts
from edge_deploy.elf import MarkerSymbols, read_elf_symbols
from edge_deploy.profile.memory_map import MemoryLayout, machine_board, memory_layout
from edge_deploy.profile.plugin_build import plugin_path

DEFAULT_MACHINE = "mps2-an386"


@dataclass(frozen=True)
class CountedRun:
    """One finished QEMU run: the firmware's exit status, its console output, the counts."""

    exit_code: int
    stdout: str
    stderr: str
    counts: InsnCounts


def qemu_binary() -> str:
    """Return the qemu-system-arm path; raises EdgeDeployError when QEMU is not installed."""
    path = shutil.which("qemu-system-arm")
    if path is None:
        raise EdgeDeployError(
            "qemu-system-arm is not installed, so the firmware cannot be profiled on QEMU",
            hint="apt-get install qemu-system-arm",
        )
    return path


def qemu_command(
    elf: Path, plugin_args: Sequence[str], *, machine: str = DEFAULT_MACHINE, extra_args: Sequence[str] = ()
) -> list[str]:
    """Return the qemu-system-arm command line that runs ``elf`` with the count plugin.

    ``plugin_args`` are the plugin's key=value arguments; ``extra_args`` go after the machine
    options (for example a ``-serial`` redirection).
    """
    plugin = ",".join([str(plugin_path()), *plugin_args])
    return [
        qemu_binary(), "-M", machine, "-nographic", "-monitor", "none",
        "-semihosting-config", "enable=on,target=native", "-icount", "shift=0",
        "-kernel", str(elf), "-plugin", plugin, *extra_args,
    ]


def run_with_counts(
    elf: str | Path,
    *,
    machine: str = DEFAULT_MACHINE,
    markers: MarkerSymbols | None | bool = True,
    timeout_s: float = 60.0,
    extra_args: Sequence[str] = (),
    layout: MemoryLayout | None = None,
) -> CountedRun:
    """Run ``elf`` on QEMU ``machine`` until it exits through semihosting; count instructions
    and the memory accesses each one makes.

    ``markers``: True finds the profiling marker symbols in the ELF (segments split at each
    ``ed_profile_mark`` call when present), False ignores them, or pass :class:`MarkerSymbols`.
    ``layout``: the memory regions (and flash line geometry) to sort accesses by; default: the
    regions of the bundled board QEMU emulates as ``machine``, without line reuse.
    Returns a :class:`CountedRun` (exit code 0 for ``SYS_EXIT`` with ApplicationExit).
    Raises EdgeDeployError when QEMU is missing, the firmware does not exit within
    ``timeout_s`` seconds, or QEMU fails to start.
    """
    elf = Path(elf)
    if markers is True:
        markers = read_elf_symbols(elf).markers()
    elif markers is False:
        markers = None
    tmp = owned_temp_dir("edge-deploy-profile-")
    try:
        out = tmp / "counts.txt"
        layout = layout or memory_layout(machine_board(machine))
        args = [f"out={out}", *(markers.plugin_args() if markers else []), *layout.plugin_args()]
        cmd = qemu_command(elf, args, machine=machine, extra_args=extra_args)
        process = EmulatorProcess(cmd)
        try:
            try:
                exit_code = process.wait(timeout_s)
            except subprocess.TimeoutExpired as exc:
                raise EdgeDeployError(
                    f"{elf.name} did not exit within {timeout_s:g} s on QEMU {machine}",
                    hint="profiled firmware must finish with a semihosting exit (SYS_EXIT); "
                    "raise the timeout for long runs",
                ) from exc
            stdout = process.stdout_path.read_text(errors="replace")
            stderr = process.stderr_path.read_text(errors="replace")
        finally:
            process.stop()
        if not out.is_file():
            raise EdgeDeployError(
                f"QEMU {machine} ended (status {exit_code}) without writing instruction counts:\n"
                + stderr.strip()[-2000:],
                hint="check that the ELF is built for this machine and that QEMU supports -plugin",
            )
        counts = read_counts(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return CountedRun(exit_code=exit_code, stdout=stdout, stderr=stderr, counts=counts)
