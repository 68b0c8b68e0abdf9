"""QEMU (qemu-system-arm) runner: the board's machine, the firmware's link on the host.

Two links (docs/protocol.md, "Links"): the console UART on a loopback TCP port, which QEMU's UART
models feed one byte per main-loop turn, or semihosting's stdin/stdout joined to a socket pair,
which moves whole buffers per call (docs/benchmarks.md, "Link throughput"). The runtime takes the
semihosting link when the semihosting command line asks for it (``SEMIHOST_LINK_ARG``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from edge_deploy.boards import Board, load_board
from edge_deploy.emulators.process import EmulatorProcess, free_loopback_port, port_accepts
from edge_deploy.emulators.target import LINKS, EmulatedTarget
from edge_deploy.errors import EdgeDeployError

QEMU = "qemu-system-arm"
_INSTALL_HINT = "install QEMU: apt-get install qemu-system-arm"
_PORT_ATTEMPTS = 5
# The semihosting argument that makes the runtime talk on semihosting's stdin/stdout (link.c).
SEMIHOST_LINK_ARG = "edge-deploy-link=semihost"
# The semihosting argument that makes the runtime run without interrupts (SysTick polled), so that
# the stack it uses depends on its code alone: for a stack measurement (main.c, link.c).
NO_INTERRUPTS_ARG = "edge-deploy-interrupts=off"


def find_qemu() -> str:
    """Path of qemu-system-arm. Raises EdgeDeployError if it is not installed."""
    path = shutil.which(QEMU)
    if path is None:
        raise EdgeDeployError(f"{QEMU} is not installed (not found on PATH)", hint=_INSTALL_HINT)
    return path


def qemu_command(
    board: Board,
    elf: str | os.PathLike,
    port: int | None,
    *,
    extra_args: Sequence[str] = (),
    icount_shift: int | None = 0,
    qemu: str = QEMU,
    semihost_args: Sequence[str] = (),
) -> list[str]:
    """The qemu-system-arm command line for ``board`` running ``elf`` with its console UART
    served on 127.0.0.1:``port``, or with ``port`` None the semihosting link (the runtime talks on
    semihosting's stdin/stdout, the UART is unused). ``-icount shift=0`` makes time (SysTick) a
    fixed function of the instructions executed; semihosting lets the firmware exit with a
    status; ``semihost_args`` are more words on the firmware's semihosting command line (e.g.
    NO_INTERRUPTS_ARG). Raises EdgeDeployError if the board has no QEMU machine."""
    if not board.emulation.qemu_machine:
        raise EdgeDeployError(
            f"board '{board.name}' cannot run in QEMU (its board file has no emulation.qemu_machine)",
            hint="use a board QEMU emulates (mps2-an386, netduinoplus2) or --emulator renode / --port",
        )
    words = ([] if port is not None else [SEMIHOST_LINK_ARG]) + list(semihost_args)
    command = [
        qemu,
        "-M", board.emulation.qemu_machine,
        "-nographic",
        "-monitor", "none",
        "-semihosting-config", "enable=on,target=native" + "".join(f",arg={word}" for word in words),
        "-serial", f"tcp:127.0.0.1:{port},server=on,wait=off" if port is not None else "null",
        "-kernel", str(Path(elf).resolve()),
    ]
    if icount_shift is not None:
        command[3:3] = ["-icount", f"shift={icount_shift}"]
    return command + list(extra_args)


@contextlib.contextmanager
def start_qemu(
    board: Board | str,
    elf: str | os.PathLike,
    *,
    extra_args: Sequence[str] = (),
    start_timeout: float = 10.0,
    icount_shift: int | None = 0,
    link: str = "uart",
    semihost_args: Sequence[str] = (),
) -> Iterator[EmulatedTarget]:
    """Start ``elf`` on ``board`` in QEMU; yield an :class:`EmulatedTarget`. QEMU is killed when
    the block exits, however it exits.

    ``link`` "uart": the console UART on a loopback port, yielded once it accepts connections
    (``DeviceClient(target.url)`` or ``target.connect()``); "semihost": the semihosting link,
    yielded at once (``target.connect()``, which waits for the firmware's BOOT frame).
    ``extra_args`` go at the end of the command line (e.g. ``["-plugin", "lib.so,arg=1"]``),
    ``semihost_args`` on the firmware's semihosting command line (:func:`qemu_command`). Raises EdgeDeployError if QEMU is missing, exits at start, or is not listening within
    ``start_timeout`` seconds.
    """
    board = load_board(board)
    qemu = find_qemu()
    if not Path(elf).is_file():
        raise EdgeDeployError(f"firmware {elf} does not exist", hint="build it first")
    if link not in LINKS:
        raise EdgeDeployError(f"unknown link '{link}'", hint="use one of: " + ", ".join(LINKS))
    if link == "semihost":
        with _start_semihost(board, elf, qemu, extra_args, icount_shift, semihost_args) as target:
            yield target
        return
    target = None
    try:
        for _ in range(_PORT_ATTEMPTS):
            port = free_loopback_port()
            command = qemu_command(board, elf, port, extra_args=extra_args, icount_shift=icount_shift, qemu=qemu,
                                   semihost_args=semihost_args)
            process = EmulatorProcess(command)
            target = EmulatedTarget("qemu", board, Path(elf), port, process)
            if _wait_listening(target, start_timeout):
                break
            output = process.output()
            process.stop()
            if "in use" not in output:
                raise EdgeDeployError(
                    f"QEMU ({board.emulation.qemu_machine}) did not start for {elf}:\n{output or '(no output)'}",
                    hint="check the firmware was built for this board; run the command by hand: "
                    + " ".join(command),
                )
            target = None  # the port was taken between choosing and binding: try another
        if target is None:
            raise EdgeDeployError("QEMU found no free loopback port after several attempts")
        yield target
    finally:
        if target is not None:
            target.stop()


@contextlib.contextmanager
def _start_semihost(board: Board, elf: str | os.PathLike, qemu: str, extra_args: Sequence[str],
                    icount_shift: int | None, semihost_args: Sequence[str] = ()) -> Iterator[EmulatedTarget]:
    """QEMU with its stdin/stdout on one end of a socket pair, ours the other. QEMU's end is
    non-blocking, so the firmware's semihosting reads return at once when nothing is waiting."""
    command = qemu_command(board, elf, None, extra_args=extra_args, icount_shift=icount_shift, qemu=qemu,
                           semihost_args=semihost_args)
    ours, theirs = socket.socketpair()
    target = None
    try:
        theirs.setblocking(False)
        process = EmulatorProcess(command, stdio=theirs)
        theirs.close()
        target = EmulatedTarget("qemu", board, Path(elf), None, process, link="semihost", host_socket=ours)
        yield target
    finally:
        theirs.close()
        if target is not None:
            target.stop()
        else:
            ours.close()


def _wait_listening(target: EmulatedTarget, start_timeout: float) -> bool:
    """True once QEMU accepts connections on the UART port; False if it exited first.
    Raises EdgeDeployError (after killing it) if it is still silent after the timeout."""
    deadline = time.monotonic() + start_timeout
    while time.monotonic() < deadline:
        if not target.running():
            return False
        # QEMU accepts this probe as its client and goes back to listening when it closes; the
        # guest's output meanwhile is dropped (wait=off), which the protocol tolerates.
        if port_accepts(target.port):
            return True
        time.sleep(0.02)
    target.stop()
    raise EdgeDeployError(
        f"QEMU did not open its UART port within {start_timeout:g} s",
        hint="the machine is overloaded or QEMU hangs; raise the start timeout or run the command by hand",
    )
