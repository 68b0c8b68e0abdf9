"""Renode runner: a generated ``.resc`` script, Renode headless, the UART on a server socket.

Written against Renode 1.15.3 (the last release that builds with Mono; docs/renode.md says how
to build it locally) and exercised where ``renode`` is on PATH; elsewhere starting it raises a
clear EdgeDeployError. The generated script is tested everywhere.

How a run ends: Renode serves only the console calls of Arm semihosting (SYS_WRITEC, SYS_WRITE0,
SYS_READC) and ignores SYS_EXIT, so the firmware's semihosting exit would leave it spinning.
Instead the script puts a CPU hook (a breakpoint that runs Python inside Renode) on the
firmware's exit routine ``ed_semihost_exit``: it reads the status from r0, writes it to a file,
and halts the core. :meth:`RenodeTarget.wait` waits for that file, so ``target.wait()`` returns
the firmware's exit status as it does on QEMU.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from edge_deploy.boards import Board, load_board
from edge_deploy.emulators.process import EmulatorProcess, free_loopback_port, port_accepts
from edge_deploy.emulators.target import EmulatedTarget
from edge_deploy.errors import EdgeDeployError
from edge_deploy.fsutil import atomic_write_text, owned_temp_dir

RENODE = "renode"
_INSTALL_HINT = (
    "build Renode 1.15.3 locally (docs/renode.md) and put 'renode' on PATH, "
    "or run on QEMU (--emulator qemu) or a real board (--port)"
)
DWT_ADDRESS = 0xE0001000
EXIT_ROUTINE = "ed_semihost_exit"
# Renode's STM32_UART model arms an idle-line timer (one character time at its baud rate) for
# every byte it receives; the timers of a whole frame pile up in the machine's clock source,
# which then walks all of them at every step, so receiving n bytes costs O(n^2) (the selftest's
# echo check took 9.9 s, or failed). Its baud rate (and so the timer) only drives the IDLE flag,
# which the runtime does not use: giving the model no input clock turns the timer off, and its
# log level hides the warning it then prints per byte. See docs/renode.md, "Link speed", and
# benchmarks/renode_link.py. Keyed by the board's console kind (boards/*.yaml).
@dataclass(frozen=True)
class _ConsoleModel:
    settings: tuple[str, ...]      # platform description lines for the console UART peripheral
    log_level: int | None = None   # Renode's logLevel for it (3: errors only)


_CONSOLE_MODELS = {
    "stm32-usart": _ConsoleModel(settings=("frequency: 0",), log_level=3),
}


def find_renode() -> str:
    """Path of the renode command. Raises EdgeDeployError saying it is missing."""
    path = shutil.which(RENODE)
    if path is None:
        raise EdgeDeployError("renode is not installed (the 'renode' command is not on PATH)", hint=_INSTALL_HINT)
    return path


def dwt_description(board: Board) -> str:
    """The platform line that adds a DWT at its architectural address, counting at the board's
    core clock (``dwt: Miscellaneous.DWT @ sysbus 0xe0001000 { frequency: N }``). Renode's
    Cortex-M platforms have none, so without it CYCCNT reads 0."""
    return f"dwt: Miscellaneous.DWT @ sysbus {DWT_ADDRESS:#x} {{ frequency: {board.clock_hz} }}"


def exit_routine_address(elf: str | os.PathLike) -> int | None:
    """Address of the firmware's exit routine (``ed_semihost_exit``), or None without one."""
    from edge_deploy.elf import read_elf_symbols

    symbol = read_elf_symbols(elf).get(EXIT_ROUTINE)
    return symbol.addr if symbol is not None else None


def exit_watch_script(exit_pc: int, status_path: str | os.PathLike) -> str:
    """IronPython (2.7, run inside Renode by ``include``) that hooks the exit routine at
    ``exit_pc``: it runs every callable in ``edge_deploy_at_exit`` with the status (r0), writes
    the status to ``status_path`` (whole, by a rename) and halts the core. Other scripts
    included after it append to ``edge_deploy_at_exit`` (the profiler writes its counts there)."""
    return f'''# edge-deploy: end the run at the firmware's exit routine (generated; IronPython inside Renode).
import System
from System.IO import File

edge_deploy_at_exit = []
edge_deploy_cpu = list(monitor.Machine.SystemBus.GetCPUs())[0]
_ed_exit = dict(done=False)


def _ed_on_exit(cpu, pc):
    if _ed_exit['done']:
        return
    _ed_exit['done'] = True
    status = int(cpu.GetRegisterUnsafe(0).RawValue)
    for callback in edge_deploy_at_exit:
        callback(status)
    path = r'{Path(status_path)}'
    File.WriteAllText(path + '.part', str(status))
    File.Move(path + '.part', path)
    cpu.IsHalted = True


edge_deploy_cpu.AddHook({exit_pc:#x}, _ed_on_exit)
'''


def check_renode_board(board: Board) -> None:
    """Raise EdgeDeployError unless ``board`` names a Renode platform and console UART."""
    emulation = board.emulation
    if not emulation.renode_platform or not emulation.renode_uart:
        raise EdgeDeployError(
            f"board '{board.name}' cannot run in Renode (its board file has no emulation.renode_platform)",
            hint="use a board Renode emulates (stm32f4-discovery, nrf52840-dk) or --emulator qemu",
        )


def platform_description(board: Board) -> str:
    """The platform Renode loads for ``board``: its ``renode_platform`` (by ``using``), a DWT
    (:func:`dwt_description`) and the console UART model's settings (see ``_CONSOLE_MODELS``),
    as one platform description."""
    check_renode_board(board)
    lines = [f'using "{board.emulation.renode_platform}"', "", dwt_description(board)]
    model = _CONSOLE_MODELS.get(board.console.kind)
    if model is not None and model.settings:
        lines += ["", f"{board.emulation.renode_uart.removeprefix('sysbus.')}:",
                  *(f"    {setting}" for setting in model.settings)]
    return "\n".join(lines)


def render_resc(board: Board, elf: str | os.PathLike, port: int, *, scripts: Sequence[str | os.PathLike] = ()) -> str:
    """The Renode script that runs ``elf`` on ``board`` with its console UART on a server socket
    terminal at 127.0.0.1:``port``: the platform of :func:`platform_description` (with a DWT,
    which Renode's Cortex-M platforms lack), the ELF, then ``scripts`` (Python files with hooks,
    included before the start). Raises EdgeDeployError if the board has no Renode platform."""
    description = platform_description(board)
    uart = board.emulation.renode_uart
    model = _CONSOLE_MODELS.get(board.console.kind)
    log_level = model.log_level if model is not None else None
    elf_path = Path(elf).resolve()
    lines = [
        f":name: edge-deploy {board.name}",
        f":description: generated by edge-deploy from boards/{board.name}.yaml",
        "",
        "using sysbus",
        f'mach create "{board.name}"',
        "# The board's platform, a DWT (CYCCNT counts Renode's virtual time at the board clock) and the",
        "# console UART's settings (docs/renode.md).",
        'machine LoadPlatformDescriptionFromString """',
        description,
        '"""',
        *([f"logLevel {log_level} {uart}"] if log_level is not None else []),
        "# The console UART on a TCP server socket (no telnet negotiation).",
        f'emulation CreateServerSocketTerminal {port} "console" false',
        f"connector Connect {uart} console",
        f"sysbus LoadELF @{elf_path}",
        *(f"include @{Path(script).resolve()}" for script in scripts),
        "start",
        "",
    ]
    return "\n".join(lines)


def renode_command(script: str | os.PathLike, monitor_port: int, renode: str = RENODE) -> list[str]:
    """The headless Renode command line: no GUI, the monitor on a loopback port, the script."""
    return [renode, "--disable-xwt", "--plain", "--port", str(monitor_port), str(script)]


@dataclass
class RenodeTarget(EmulatedTarget):
    """An :class:`EmulatedTarget` in Renode; :meth:`wait` ends at the firmware's exit routine."""

    status_path: Path | None = None

    def wait(self, timeout: float | None = None) -> int:
        """Wait until the firmware reaches its exit routine (see the module notes); return the
        status it passed, and stop Renode. Raises EdgeDeployError if the firmware has no exit
        routine or Renode exits first, subprocess.TimeoutExpired after ``timeout`` seconds."""
        if self.status_path is None:
            raise EdgeDeployError(f"{self.elf.name} has no {EXIT_ROUTINE}, so its end cannot be seen in Renode",
                                  hint="link the runtime's semihost.c")
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.status_path.is_file():
            if not self.running():
                raise EdgeDeployError(
                    f"Renode exited (status {self.process.popen.returncode}) before the firmware ended:\n"
                    f"{self.output() or '(no output)'}",
                    hint="run the generated .resc by hand to see why")
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.process.command, timeout)
            time.sleep(0.02)
        status = int(self.status_path.read_text().strip())
        self.stop()
        return status


@contextlib.contextmanager
def start_renode(
    board: Board | str,
    elf: str | os.PathLike,
    *,
    extra_args: Sequence[str] = (),
    start_timeout: float = 60.0,
    scripts: Sequence[str | os.PathLike] = (),
    work_dir: str | os.PathLike | None = None,
) -> Iterator[RenodeTarget]:
    """Start ``elf`` on ``board`` in Renode; yield a :class:`RenodeTarget` once the UART socket
    accepts connections. Renode is killed when the block exits, however it exits.

    ``scripts``: more Python files for Renode to include before the start (after the exit
    watch, so they may append to ``edge_deploy_at_exit``). ``work_dir``: where the script and
    the exit status go (default: a temporary folder removed afterwards).
    Raises EdgeDeployError if renode is missing, the board has no Renode platform, or Renode is
    not listening within ``start_timeout`` seconds (it is slow to start).
    """
    board = load_board(board)
    renode = find_renode()
    if not Path(elf).is_file():
        raise EdgeDeployError(f"firmware {elf} does not exist", hint="build it first")
    if work_dir is not None:
        work = Path(work_dir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = owned_temp_dir("edge-deploy-renode-")
    port = free_loopback_port()
    exit_pc = exit_routine_address(elf)
    status_path = work / "exit_status" if exit_pc is not None else None
    included = list(scripts)
    if status_path is not None:
        watch = atomic_write_text(work / "exit_watch.py", exit_watch_script(exit_pc, status_path))
        included.insert(0, watch)
    script = atomic_write_text(work / f"{board.name}.resc", render_resc(board, elf, port, scripts=included))
    command = renode_command(script, free_loopback_port(), renode) + list(extra_args)
    target = RenodeTarget("renode", board, Path(elf), port, EmulatorProcess(command, cwd=work), status_path=status_path)
    try:
        deadline = time.monotonic() + start_timeout
        while not port_accepts(port):
            if not target.running() or time.monotonic() > deadline:
                output = target.output()
                raise EdgeDeployError(
                    f"Renode did not open the UART socket for board '{board.name}' within {start_timeout:g} s:\n"
                    f"{output or '(no output)'}",
                    hint=f"run it by hand to see why: {' '.join(command)}",
                )
            time.sleep(0.1)
        yield target
    finally:
        target.stop()
        if work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
