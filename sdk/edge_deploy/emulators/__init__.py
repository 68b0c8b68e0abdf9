"""Emulators behind one interface: start a board's ELF, talk to its firmware.

    with start_emulator("mps2-an386", "firmware.elf", link="fastest") as target:
        with target.connect() as device:
            ...

QEMU (``-icount shift=0``, semihosting; the link is the UART on a loopback TCP port or, fastest,
semihosting's stdin/stdout on a socket pair) and Renode (generated ``.resc``, headless, UART on a
server socket terminal). The emulator process is killed when the block exits, on an error, on
Ctrl-C and SIGTERM, and dies with the Python process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Sequence

from edge_deploy.boards import Board, load_board
from edge_deploy.emulators.qemu import QEMU, find_qemu, qemu_command, start_qemu
from edge_deploy.emulators.renode import RENODE, find_renode, render_resc, renode_command, start_renode
from edge_deploy.emulators.target import LINKS, EmulatedTarget
from edge_deploy.errors import EdgeDeployError

EMULATORS = ("qemu", "renode")
# The fastest link each emulator offers the runtime: QEMU's UART models take one byte per
# main-loop turn, its semihosting stdin/stdout whole buffers; Renode's UART is all it offers here.
FASTEST_LINK = {"qemu": "semihost", "renode": "uart"}

__all__ = [
    "EMULATORS",
    "FASTEST_LINK",
    "LINKS",
    "EmulatedTarget",
    "available_emulators",
    "default_emulator",
    "find_qemu",
    "find_renode",
    "qemu_command",
    "render_resc",
    "renode_command",
    "start_emulator",
    "start_qemu",
    "start_renode",
]


def available_emulators() -> list[str]:
    """Emulators installed on this machine, of ``("qemu", "renode")``."""
    return [name for name, command in (("qemu", QEMU), ("renode", RENODE)) if shutil.which(command)]


def default_emulator(board: Board | str) -> str:
    """The emulator to use for ``board``: the first the board supports that is installed, else
    the first it supports. Raises EdgeDeployError if the board cannot be emulated at all."""
    board = load_board(board)
    if not board.emulators:
        raise EdgeDeployError(
            f"board '{board.name}' has no emulator (hardware only)",
            hint="connect the board and pass its serial port (--port /dev/ttyACM0)",
        )
    installed = available_emulators()
    for name in board.emulators:
        if name in installed:
            return name
    return board.emulators[0]


@contextlib.contextmanager
def start_emulator(
    board: Board | str,
    elf: str | os.PathLike,
    *,
    emulator: str | None = None,
    extra_args: Sequence[str] = (),
    start_timeout: float | None = None,
    link: str = "uart",
) -> Iterator[EmulatedTarget]:
    """Run ``elf`` on ``board`` in ``emulator`` (default: :func:`default_emulator`); yield the
    running :class:`EmulatedTarget` (``target.connect()`` opens the link; ``target.url`` is the
    UART). ``link``: "uart", "semihost" (QEMU only) or "fastest" (:data:`FASTEST_LINK`).
    ``extra_args`` are passed to the emulator (QEMU: e.g. ``-plugin``). Raises EdgeDeployError
    if the emulator is missing, cannot run this board or link, or does not start within
    ``start_timeout`` seconds."""
    board = load_board(board)
    name = emulator or default_emulator(board)
    options = {} if start_timeout is None else {"start_timeout": start_timeout}
    link = FASTEST_LINK.get(name, "uart") if link == "fastest" else link
    if link not in LINKS or (name == "renode" and link != "uart"):
        raise EdgeDeployError(f"{name} offers no '{link}' link", hint="use link 'uart' or 'fastest'")
    if name == "qemu":
        runner = start_qemu(board, elf, extra_args=extra_args, link=link, **options)
    elif name == "renode":
        runner = start_renode(board, elf, extra_args=extra_args, **options)
    else:
        raise EdgeDeployError(f"unknown emulator '{name}'", hint="use one of: " + ", ".join(EMULATORS))
    with runner as target:
        yield target
