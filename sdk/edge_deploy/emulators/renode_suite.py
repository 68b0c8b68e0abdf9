"""Robot Framework suites for ``renode-test``: a build's firmware in Renode, checked over its UART.

:func:`render_robot_suite` writes a suite that users run in their own CI (``renode-test
suite.robot``) with no edge-deploy installed. It loads the board's Renode platform, adds the DWT
(so the runtime's cycle counter counts), loads the ELF and checks that the firmware

1. boots and announces its board, a counting DWT and its model (the BOOT frame's text lines);
2. answers an INFO request;
3. describes its model: input/output sizes and every layer name (MODEL_INFO);
4. runs one inference and still answers afterwards (RUN, then INFO).

The protocol is binary (docs/protocol.md), but the replies to INFO and MODEL_INFO carry
``key=value`` text lines, which the Renode terminal tester can wait for (``Wait For Line On
Uart`` matches a line that contains the text). Requests are written byte by byte with the
UART's ``WriteChar`` while the emulation is paused, so the firmware sees a whole frame at once
rather than a frame with gaps it would drop as truncated.

Two parsers read every argument, so literal text is written for both:

* Robot Framework: backslashes, ``${``/``@{``/``&{``/``%{``, ``=``, a leading ``#``, runs of spaces and
  empty cells are syntax; :func:`robot_literal` escapes them.
* Renode's keyword server: Robot passes arguments to its Remote library as plain strings, and
  Renode reads any string that starts with ``word=`` as the named argument ``word`` (so
  ``model=ticnn`` was taken for an argument called ``model`` and no keyword matched). Every
  text argument is therefore given by its parameter name (``content=model=ticnn``), which
  Renode splits at the first ``=``: :func:`renode_argument`.

Written from Renode 1.15's keyword sources (``UartKeywords.cs``, ``RenodeKeywords.cs``,
``renode-keywords.robot``) and run with its ``renode-test`` where Renode is installed; elsewhere
the tests parse every generated suite with Robot Framework and dry-run it against a stub of
those keywords.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from edge_deploy.boards import Board, load_board
from edge_deploy.emulators.renode import dwt_description
from edge_deploy.errors import EdgeDeployError
from edge_deploy.fsutil import atomic_write_text
from edge_deploy.link import frame as fr

DEFAULT_TIMEOUT_S = 60
# Robot Framework separates cells with two or more spaces; four keeps the columns readable.
_SEP = "    "


@dataclass(frozen=True)
class SuiteModel:
    """What the suite checks about the model: its name, tensor sizes and layer names (in the
    order MODEL_INFO lists them)."""

    name: str
    input_bytes: int
    output_bytes: int
    layer_names: tuple[str, ...]


def request_bytes(frame_type: int, seq: int) -> list[str]:
    """The bytes of a request frame with no payload, as ``0xNN`` cells for the suite."""
    return [f"0x{byte:02X}" for byte in fr.encode_frame(frame_type, seq)]


def _row(*cells: object) -> str:
    return _SEP.join(str(cell) for cell in cells).rstrip()


_VARIABLE_START = re.compile(r"([$@&%])\{")
_SPACES = re.compile(r" {2,}")
# Renode's keyword server reads an argument "name=value" as the named argument `name`
# (src/Renode/RobotFrameworkEngine/Keyword.cs, Renode 1.15).
RENODE_NAMED_ARGUMENT = re.compile(r"^([a-zA-Z0-9_]+)=(.+)", re.DOTALL)


def _escape_syntax(text: str) -> str:
    # Everything but spaces: spaces are only syntax at the level of a whole cell.
    out = text.replace("\\", "\\\\")
    out = _VARIABLE_START.sub(r"\\\1{", out)
    return out.replace("=", "\\=").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _escape_spaces(cell: str) -> str:
    out = _SPACES.sub(lambda m: " " + "${SPACE}" * (len(m.group()) - 1), cell)
    if out.startswith(" "):
        out = "${SPACE}" + out[1:]
    if out.endswith(" "):
        out = out[:-1] + "${SPACE}"
    if out.startswith("#"):
        out = "\\" + out
    return out


def robot_literal(value: object) -> str:
    """``value`` as one Robot Framework cell that Robot reads back as exactly ``str(value)``:
    backslashes, variable syntax, ``=``, a leading ``#``, runs of spaces, leading or trailing
    spaces, tabs and newlines are escaped, and an empty value is ``${EMPTY}``."""
    return _cell(str(value))


class _Var(str):
    """A reference to a suite variable, written as it is into a cell (``_Var("MODEL")``)."""

    def __new__(cls, name: str) -> _Var:
        return super().__new__(cls, "${" + name + "}")


def _cell(*parts: str) -> str:
    """One cell from ``parts``: :class:`_Var` parts are variable references kept as they are,
    every other part is literal text, escaped."""
    cell = "".join(part if isinstance(part, _Var) else _escape_syntax(part) for part in parts)
    return _escape_spaces(cell) if cell else "${EMPTY}"


def renode_argument(parameter: str, cell: str) -> str:
    """An argument cell for a Renode keyword, given by its parameter name so that Renode's own
    ``name=value`` parsing binds it to ``parameter`` whatever the text holds (``cell`` is
    already Robot syntax, e.g. built with :func:`robot_literal`)."""
    return f"{parameter}={cell}"


def _wait_line(*parts: str) -> str:
    """The argument of ``Wait For Line On Uart``: a line that contains ``parts`` joined."""
    return renode_argument("content", _cell(*parts))


def _command(*parts: str) -> str:
    """The argument of ``Execute Command``: a monitor command from ``parts`` joined."""
    return _cell(*parts)


def _comment(text: str) -> str:
    return " ".join(text.split())


def _check_board(board: Board) -> None:
    emulation = board.emulation
    if not emulation.renode_platform or not emulation.renode_uart:
        raise EdgeDeployError(
            f"board '{board.name}' has no Renode platform (its board file has no emulation.renode_platform), "
            "so no Renode suite can be generated for it",
            hint="build for a board Renode emulates (stm32f4-discovery, nrf52840-dk); "
            "mps2-an386 and netduinoplus2 run on QEMU (edge-deploy run / check)",
        )


def render_robot_suite(
    board: Board | str,
    elf: str | os.PathLike,
    model: SuiteModel,
    *,
    timeout_s: int = DEFAULT_TIMEOUT_S,
    source: str = "",
) -> str:
    """Return the text of a Robot Framework suite that runs ``elf`` on ``board`` in Renode.

    ``elf`` is written as given; pass it relative to the suite's folder to have it resolved
    through ``${CURDIR}`` (the suite then moves with its build), or absolute. ``model`` holds what
    MODEL_INFO must report; ``timeout_s`` bounds each wait on the UART (virtual time runs slower
    than a real board's on a loaded CI machine); ``source`` names where the facts came from, for
    the suite's documentation. Raises EdgeDeployError if the board has no Renode platform.
    """
    board = load_board(board)
    _check_board(board)
    elf = Path(elf)
    elf_cell = _cell(elf.as_posix()) if elf.is_absolute() else _cell(_Var("CURDIR"), "/" + elf.as_posix())
    requests = {
        "INFO_REQUEST": request_bytes(fr.INFO, 1),
        "MODEL_INFO_REQUEST": request_bytes(fr.MODEL_INFO, 2),
        "RUN_REQUEST": request_bytes(fr.RUN, 3),
        "INFO_AFTER_RUN_REQUEST": request_bytes(fr.INFO, 4),
    }
    about = f" ({source})" if source else ""
    wait = "Wait For Line On Uart"
    lines = [
        "# Generated by edge-deploy renode-suite: run it with `renode-test <this file>`.",
        _comment(f"# Firmware for model '{model.name}' on board '{board.name}'{about}."),
        "",
        "*** Settings ***",
        _row("Documentation", f"Firmware of model {robot_literal(model.name)} on {robot_literal(board.name)} in Renode: "
             "it boots,"),
        _row("...", "answers the edge-deploy serial protocol, describes its model and runs an inference."),
        _row("Suite Setup", "Setup"),
        _row("Suite Teardown", "Teardown"),
        _row("Test Setup", "Reset Emulation"),
        _row("Test Teardown", "Test Teardown"),
        _row("Resource", "${RENODEKEYWORDS}"),
        "",
        "*** Variables ***",
        _row("${BOARD}", robot_literal(board.name)),
        _row("${PLATFORM}", robot_literal("@" + board.emulation.renode_platform)),
        _row("${ELF}", elf_cell),
        _row("${UART}", robot_literal(board.emulation.renode_uart)),
        _row("${DWT}", robot_literal(dwt_description(board))),
        _row("${CLOCK_HZ}", board.clock_hz),
        "# The runtime reports dwt once it has seen CYCCNT count (the DWT added above).",
        _row("${CYCLE_SOURCE}", "dwt"),
        _row("${MODEL}", robot_literal(model.name)),
        _row("${TIMEOUT}", timeout_s),
        "# Request frames (docs/protocol.md): sync, type, seq, length, header CRC-8, CRC-32.",
        *(_row(f"@{{{name}}}", *cells) for name, cells in requests.items()),
        "",
        "*** Keywords ***",
        "Create Machine",
        _row("", "[Documentation]", "The board's platform plus a DWT (so CYCCNT counts), the firmware, a UART tester."),
        _row("", "Execute Command", _command('mach create "', _Var("BOARD"), '"')),
        _row("", "Execute Command", _command("machine LoadPlatformDescription ", _Var("PLATFORM"))),
        _row("", "Execute Command", _command('machine LoadPlatformDescriptionFromString "', _Var("DWT"), '"')),
        _row("", "Execute Command", _command("sysbus LoadELF @", _Var("ELF"))),
        _row("", "Create Terminal Tester", "${UART}", renode_argument("timeout", "${TIMEOUT}")),
        "",
        "Boot Firmware",
        _row("", "[Documentation]", "Start the firmware and wait until its BOOT announcement is complete."),
        _row("", "Create Machine"),
        _row("", "Start Emulation"),
        _row("", wait, _wait_line("model=", _Var("MODEL"))),
        "",
        "Send Request",
        _row("", "[Documentation]", "Write one frame into the UART while the emulation is paused, so the firmware"),
        _row("", "...", "receives it without the gaps it would drop as a truncated frame."),
        _row("", "[Arguments]", "@{frame}"),
        _row("", "Execute Command", _command("pause")),
        _row("", "FOR", "${byte}", "IN", "@{frame}"),
        _row("", "", "Execute Command", _command(_Var("UART"), " WriteChar ", _Var("byte"))),
        _row("", "END"),
        _row("", "Execute Command", _command("start")),
        "",
        "*** Test Cases ***",
        "Should Boot And Announce The Model",
        _row("", "Create Machine"),
        _row("", "Start Emulation"),
        _row("", wait, _wait_line("board=", _Var("BOARD"))),
        _row("", wait, _wait_line("cycle_source=", _Var("CYCLE_SOURCE"))),
        _row("", wait, _wait_line("model=", _Var("MODEL"))),
        "",
        "Should Answer INFO",
        _row("", "Boot Firmware"),
        _row("", "Send Request", "@{INFO_REQUEST}"),
        _row("", wait, _wait_line("board=", _Var("BOARD"))),
        _row("", wait, _wait_line("clock_hz=", _Var("CLOCK_HZ"))),
        _row("", wait, _wait_line("model=", _Var("MODEL"))),
        "",
        "Should Describe The Model",
        _row("", "Boot Firmware"),
        _row("", "Send Request", "@{MODEL_INFO_REQUEST}"),
        _row("", wait, _wait_line("name=", _Var("MODEL"))),
        _row("", wait, _wait_line(f"input_bytes={model.input_bytes}")),
        _row("", wait, _wait_line(f"output_bytes={model.output_bytes}")),
        _row("", wait, _wait_line(f"n_layers={len(model.layer_names)}")),
        *(_row("", wait, _wait_line(f"layer.{i}={name}")) for i, name in enumerate(model.layer_names)),
        "",
        "Should Run An Inference And Keep Answering",
        _row("", "Boot Firmware"),
        _row("", "Send Request", "@{RUN_REQUEST}"),
        _row("", "# The RUN reply is binary; an INFO answered after it shows the inference finished."),
        _row("", "Send Request", "@{INFO_AFTER_RUN_REQUEST}"),
        _row("", wait, _wait_line("board=", _Var("BOARD"))),
        "",
    ]
    return "\n".join(lines)


def suite_model_from_report(report: dict) -> SuiteModel:
    """The :class:`SuiteModel` of a build, from its ``report.json`` content: the layers that run
    (``mark`` >= 0, in mark order; views such as a reshape have no code and are not listed)."""
    import numpy as np

    run_layers = sorted((layer for layer in report["layers"] if layer.get("mark", layer["index"]) >= 0),
                        key=lambda layer: layer.get("mark", layer["index"]))
    return SuiteModel(
        name=report["model"],
        input_bytes=int(np.prod(report["input"]["shape"])),
        output_bytes=int(np.prod(report["output"]["shape"])),
        layer_names=tuple(layer.get("short_name", layer["name"]) for layer in run_layers),
    )


def write_robot_suite(
    build_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    report: dict,
    board: str | None = None,
    timeout_s: int = DEFAULT_TIMEOUT_S,
) -> Path:
    """Write the Robot suite for the build in ``build_dir`` (its ``firmware.elf``, with
    ``report`` its loaded ``report.json``) to ``out``; the ELF is referenced relative to the
    suite's folder.

    ``board`` must be the board the build is for (default: that board). Returns ``out``.
    Raises EdgeDeployError when ``board`` differs from the build's,
    or the board has no Renode platform.
    """
    built_for = report["board"]
    if board is not None and load_board(board).name != built_for:
        raise EdgeDeployError(
            f"{build_dir} was built for board '{built_for}', not '{board}'",
            hint=f"rebuild for it: edge-deploy build MODEL --board {board} --out DIR",
        )
    elf = Path(build_dir) / "firmware.elf"
    if not elf.is_file():
        raise EdgeDeployError(f"{build_dir} has no firmware.elf", hint="rebuild the folder with edge-deploy build")
    out = Path(out)
    if out.is_dir():
        raise EdgeDeployError(f"--out {out} is a folder", hint="pass the suite's file name, e.g. suite.robot")
    relative = Path(os.path.relpath(elf.resolve(), out.resolve().parent))
    text = render_robot_suite(built_for, relative, suite_model_from_report(report), timeout_s=timeout_s,
                              source=f"{Path(build_dir).name}/report.json")
    return atomic_write_text(out, text)


__all__ = [
    "RENODE_NAMED_ARGUMENT", "SuiteModel", "render_robot_suite", "renode_argument", "request_bytes", "robot_literal",
    "suite_model_from_report", "write_robot_suite",
]
