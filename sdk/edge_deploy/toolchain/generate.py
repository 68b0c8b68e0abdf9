"""Files generated from a board for every firmware build: the linker script and the runtime's
board header. Both come from Jinja templates in ``templates/`` and are deterministic."""

from __future__ import annotations

from pathlib import Path

import jinja2

from edge_deploy.boards import Board
from edge_deploy.fsutil import atomic_write_text
from edge_deploy.paths import resource_dir

LINKER_TEMPLATE = "linker.ld.j2"
BOARD_HEADER_TEMPLATE = "ed_board_config.h.j2"
BOARD_HEADER_NAME = "ed_board_config.h"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_linker_script(board: Board, stack_bytes: int | None = None, stack_note: str | None = None) -> str:
    """Return the GNU ld script for ``board``'s memory map (FLASH and RAM regions, the stack).

    ``stack_bytes`` is the stack to reserve (default: the board's ``stack_bytes``, its upper
    bound), ``stack_note`` says in a comment where the figure comes from."""
    if stack_bytes is None:
        stack_bytes = board.stack_bytes
        stack_note = stack_note or f"{stack_bytes} bytes, the board's stack_bytes"
    return _environment().get_template(LINKER_TEMPLATE).render(
        board=board, stack_bytes=int(stack_bytes), stack_note=stack_note or f"{stack_bytes} bytes")


def render_board_header(board: Board) -> str:
    """Return ``ed_board_config.h``: the board name, clock, console UART and reset-time writes."""
    return _environment().get_template(BOARD_HEADER_TEMPLATE).render(board=board)


def write_board_files(board: Board, linker_script: Path, header_dir: Path) -> tuple[Path, Path]:
    """Write the linker script to ``linker_script`` and ``ed_board_config.h`` into ``header_dir``.

    Returns (linker script path, header path). Files are written atomically.
    """
    script = atomic_write_text(linker_script, render_linker_script(board))
    header = atomic_write_text(Path(header_dir) / BOARD_HEADER_NAME, render_board_header(board))
    return script, header
