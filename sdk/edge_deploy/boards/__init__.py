"""Board definitions: one YAML file a board under ``boards/``, validated into :class:`Board`.

Adding a board means adding a file; no Python changes. See ``docs/boards.md`` for the fields.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from edge_deploy.boards.model import (
    UART_KINDS,
    Board,
    Console,
    Emulation,
    Flashing,
    Memory,
    MemoryRegion,
    RegisterWrite,
)
from edge_deploy.errors import EdgeDeployError
from edge_deploy.paths import resource_dir

__all__ = [
    "UART_KINDS",
    "Board",
    "Console",
    "Emulation",
    "Flashing",
    "Memory",
    "MemoryRegion",
    "RegisterWrite",
    "board_from_report",
    "board_names",
    "boards_dir",
    "list_boards",
    "load_board",
]

DEFAULT_BOARD = "mps2-an386"


def boards_dir() -> Path:
    """The directory of the bundled board files."""
    return resource_dir("boards")


def board_names() -> list[str]:
    """Names of the bundled boards, sorted."""
    return sorted(path.stem for path in boards_dir().glob("*.yaml"))


def _format_validation_error(path: Path, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "(top level)"
        message = err["msg"].removeprefix("Value error, ")
        problems.append(f"field '{field}': {message}")
    return f"board file {path}: " + "; ".join(problems)


def _load_board_file(path: Path) -> Board:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EdgeDeployError(f"cannot read board file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise EdgeDeployError(
            f"board file {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})",
            hint="save the board file as UTF-8 (plain ASCII is fine)",
        ) from exc
    except yaml.YAMLError as exc:
        raise EdgeDeployError(
            f"board file {path} is not valid YAML: {exc}", hint="fix the YAML syntax at the position shown"
        ) from exc
    if not isinstance(raw, dict):
        raise EdgeDeployError(
            f"board file {path}: expected a mapping of fields at the top level, got {type(raw).__name__}",
            hint="see docs/boards.md for the board file format",
        )
    try:
        board = Board.model_validate({**raw, "source": path})
    except ValidationError as exc:
        raise EdgeDeployError(
            _format_validation_error(path, exc), hint="see docs/boards.md for the board file format"
        ) from exc
    if board.name != path.stem:
        raise EdgeDeployError(
            f"board file {path}: field 'name' is '{board.name}' but the file is named '{path.name}'",
            hint=f"name the file {board.name}.yaml or set name: {path.stem}",
        )
    return board


def load_board(name_or_path: str | os.PathLike | Board) -> Board:
    """Load and validate a board by bundled name (``"mps2-an386"``) or by path to a YAML file.

    A ``Board`` passed in is returned unchanged. Raises EdgeDeployError naming the file and the
    field when the file is malformed, or listing the known boards when the name is unknown.
    """
    if isinstance(name_or_path, Board):
        return name_or_path
    text = os.fspath(name_or_path)
    candidate = Path(text)
    if candidate.suffix in (".yaml", ".yml") or os.sep in text:
        if not candidate.is_file():
            raise EdgeDeployError(f"board file {candidate} does not exist")
        return _load_board_file(candidate)
    path = boards_dir() / f"{text}.yaml"
    if not path.is_file():
        raise EdgeDeployError(
            f"unknown board '{text}'",
            hint="known boards: " + ", ".join(board_names()) + " (or pass the path of a board YAML file)",
        )
    return _load_board_file(path)


def board_from_report(report: dict) -> Board:
    """The board a build was made for, from its report.json: the full description the build
    recorded (so a build for a board file outside ``boards/`` runs and profiles anywhere), or,
    for reports without one, the bundled board of that name."""
    spec = report.get("board_spec")
    if spec is None:
        return load_board(report["board"])
    try:
        return Board.model_validate(spec)
    except ValidationError as exc:
        raise EdgeDeployError(
            _format_validation_error(Path("report.json (board_spec)"), exc),
            hint="rebuild the folder with edge-deploy build",
        ) from None


def list_boards() -> list[Board]:
    """All bundled boards, validated, sorted by name. Raises EdgeDeployError on a malformed file."""
    return [load_board(name) for name in board_names()]
