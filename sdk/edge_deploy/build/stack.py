"""The firmware's stack, sized from a measurement instead of the board's upper bound.

The runtime paints its stack at reset and reports in INFO the deepest word since overwritten
(``stack_peak``, firmware/runtime/stack.c). :func:`measure_stack_peak` runs a linked firmware on
QEMU with interrupts off (so the figure depends on the code alone, not on where a tick lands),
sends every request the runtime serves, a whole inference among them, and reads the mark back;
:func:`sized_stack` adds the margin the build reserves on top. A build first links with the
board's ``stack_bytes``, measures, then relinks with the sized stack (docs/build.md, "Stack").

:func:`runtime_buffer_bytes` reads from the ELF how much RAM the runtime's link buffers and
counters take (the ``.bss.ed_buffers`` range the linker script brackets).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

from edge_deploy.boards import Board
from edge_deploy.errors import EdgeDeployError
from edge_deploy.toolchain.stack_bound import StackBound

# On top of the measured peak: an exception frame with the FPU context (104 bytes) and a
# handler's own frame, plus a quarter of the peak for paths the measurement did not take (an
# error reply, a fault report).
STACK_MARGIN_BYTES = 256
STACK_MARGIN_FRACTION = 0.25
STACK_ALIGN = 8
STACK_CHOICES = ("auto", "board")


@dataclass(frozen=True)
class StackSize:
    """The stack a build reserves (``bytes``), the measured high-water mark it comes from
    (``peak``, None when not measured), where the figure comes from (``source``) and the static
    bound of the call graph (``static_bound``, None when there is none)."""

    bytes: int
    peak: int | None
    source: str
    static_bound: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {"stack_bytes": self.bytes, "stack_peak_bytes": self.peak, "stack_source": self.source,
                "stack_static_bound_bytes": self.static_bound}


def sized_stack(peak: int) -> int:
    """The stack to reserve for a measured peak of ``peak`` bytes: the peak plus the margin,
    rounded up to STACK_ALIGN."""
    want = peak + STACK_MARGIN_BYTES + int(peak * STACK_MARGIN_FRACTION)
    return -(-want // STACK_ALIGN) * STACK_ALIGN


def can_measure(board: Board) -> bool:
    """True where a stack measurement can run here: QEMU emulates the board and is installed."""
    from edge_deploy.emulators.qemu import find_qemu

    if not board.emulation.qemu_machine:
        return False
    try:
        find_qemu()
    except EdgeDeployError:
        return False
    return True


def measure_stack_peak(board: Board, elf: str | os.PathLike, *, timeout: float = 60.0) -> int:
    """Run ``elf`` on QEMU without interrupts, exercise every request (INFO, MODEL_INFO, ECHO, SPIN,
    LOAD_INPUT, RUN, READ_OUTPUT, RUN_BATCH, READ_PROFILE) and return the stack's high-water mark
    in bytes. Raises EdgeDeployError when the firmware does not answer, runs out of its stack,
    or does not report the mark."""
    from edge_deploy.emulators.qemu import NO_INTERRUPTS_ARG, start_qemu

    with start_qemu(board, elf, link="semihost", semihost_args=[NO_INTERRUPTS_ARG]) as target, \
            target.connect() as device:
        info = device.info()
        if info.stack_peak is None or info.stack_bytes is None:
            raise EdgeDeployError(f"the firmware {elf} does not report its stack (INFO has no stack_peak)",
                                  hint="rebuild it with this edge-deploy's runtime")
        device.echo(bytes(range(256)))
        device.spin(100)
        if info.model is not None:
            model = device.model_info()
            data = random.Random(0).randbytes(model.input_bytes)
            device.load_input(data)
            device.run(timeout=timeout)
            device.read_output()
            list(device.run_inputs([data], timeout=timeout))
            device.read_profile()
        info = device.info()
    peak, reserved = info.stack_peak, info.stack_bytes
    if peak >= reserved:
        raise EdgeDeployError(
            f"the firmware used all of its {reserved:,}-byte stack on QEMU (it may have overrun it)",
            hint="raise stack_bytes in the board file")
    return peak


def static_bound(object_dir: str | os.PathLike, elf: str | os.PathLike) -> StackBound | str:
    """The static stack bound of ``elf`` from the call graphs GCC wrote under ``object_dir``, or
    why there is none."""
    from edge_deploy.toolchain.stack_bound import UnboundedStack, static_stack_bound

    try:
        return static_stack_bound(sorted(Path(object_dir).rglob("*.ci")), elf)
    except UnboundedStack as exc:
        return str(exc)


def measured_stack(board: Board, elf: str | os.PathLike, mode: str,
                   object_dir: str | os.PathLike | None = None) -> StackSize:
    """The stack for a firmware linked with the board's ``stack_bytes``: with ``mode`` "auto"
    measured on QEMU where it can run, else the static bound of its call graph (the ``.ci``
    files under ``object_dir``, :mod:`edge_deploy.toolchain.stack_bound`) plus
    STACK_MARGIN_BYTES, else the board's figure; with "board" the board's. The static bound is
    recorded beside a measurement too (``static_bound``), as a check on both."""
    if mode not in STACK_CHOICES:
        raise EdgeDeployError(f"unknown stack mode '{mode}'", hint="use one of: " + ", ".join(STACK_CHOICES))
    bound = static_bound(object_dir, elf) if object_dir is not None else "no object folder"
    bound_bytes = bound.bytes if isinstance(bound, StackBound) else None
    if mode == "board":
        return StackSize(board.stack_bytes, None, "board stack_bytes (chosen)", bound_bytes)
    if can_measure(board):
        peak = measure_stack_peak(board, elf)
        size = min(sized_stack(peak), board.stack_bytes)
        return StackSize(size, peak, f"measured on QEMU {board.emulation.qemu_machine}: peak {peak} B "
                                     f"+ {STACK_MARGIN_BYTES} B + {STACK_MARGIN_FRACTION:.0%}", bound_bytes)
    if bound_bytes is None:
        return StackSize(board.stack_bytes, None, f"board stack_bytes (QEMU cannot run this board here, and "
                                                  f"there is no static bound: {bound})", None)
    want = -(-(bound_bytes + STACK_MARGIN_BYTES) // STACK_ALIGN) * STACK_ALIGN
    if want > board.stack_bytes:
        return StackSize(board.stack_bytes, None, f"board stack_bytes (the static bound, {bound_bytes} B through "
                                                  f"{bound.describe()}, exceeds it: raise stack_bytes)", bound_bytes)
    return StackSize(want, None, f"static bound of the call graph: {bound_bytes} B + {STACK_MARGIN_BYTES} B "
                                 f"(QEMU cannot run this board here; deepest path {bound.describe()})", bound_bytes)


def runtime_buffer_bytes(elf: str | os.PathLike) -> int | None:
    """Bytes of RAM the runtime's link buffers and counters take (``_eed_buffers -
    _sed_buffers``), None for an ELF without the symbols."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        if not isinstance(symtab, SymbolTableSection):
            return None
        start, end = symtab.get_symbol_by_name("_sed_buffers"), symtab.get_symbol_by_name("_eed_buffers")
        if not start or not end:
            return None
        return int(end[0]["st_value"]) - int(start[0]["st_value"])


def relink_with_stack(src_dir: Path, board: Board, stack: StackSize) -> None:
    """Rewrite ``src_dir/board/linker.ld`` for ``stack`` (the generated Makefile relinks when it
    changes; the objects stay)."""
    from edge_deploy.fsutil import atomic_write_text
    from edge_deploy.toolchain import render_linker_script

    atomic_write_text(Path(src_dir) / "board" / "linker.ld",
                      render_linker_script(board, stack.bytes, f"{stack.bytes} bytes, {stack.source}"))
