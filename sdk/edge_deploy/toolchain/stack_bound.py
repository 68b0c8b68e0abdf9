"""A static upper bound of a firmware's stack, for boards where it cannot be measured.

Every source is compiled with ``-fstack-usage -fcallgraph-info=su``: next to each object GCC
writes a ``.ci`` file, the translation unit's call graph with each function's frame in bytes.
:func:`static_stack_bound` joins them into the program's graph and takes the deepest path from
``Reset_Handler``, plus the deepest exception handler on top of it (an exception stacks its
frame, 104 bytes with the FPU context, on the same main stack). Three kinds of callee are not
in the ``.ci`` files and are handled so that the bound stays an upper bound:

- library functions (newlib, libgcc: ``memcpy``, ``__aeabi_*``): their frames are read from the
  linked ELF's disassembly, every ``push`` / ``vpush`` / ``sub sp`` in the function counted
  once, and their own calls followed the same way;
- exception handlers: a naked handler's branches (``HardFault_Handler`` to the fault report)
  are read from the disassembly too;
- indirect calls (the runtime's ``ed_model->run``, the model's layer table, a kernel's table of
  row functions): the targets are the functions whose address is taken (a relocation other
  than a call refers to them in an object file; the vector table aside): those whose address
  the caller's file takes when it takes any (a kernel dispatching to its own row functions),
  else all of them. An
  indirect call never re-enters a function already on the path (none of the firmware's does);
- a function with a dynamic frame (``alloca``, a variable-length array) or recursion makes the
  bound unknown, and the caller falls back to the board's figure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from edge_deploy.errors import EdgeDeployError

STACK_USAGE_FLAGS = ("-fstack-usage", "-fcallgraph-info=su")
ENTRY = "Reset_Handler"
INDIRECT = "__indirect_call"
# What the core pushes on exception entry with the FPU context (r0-r3, r12, lr, pc, xPSR,
# s0-s15, FPSCR and a reserved word, 8-byte aligned).
EXCEPTION_FRAME_BYTES = 104

_NODE = re.compile(r'^node: \{ title: "([^"]+)" label: "([^"]*)"')
_EDGE = re.compile(r'^edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
_FRAME = re.compile(r"\\n(\d+) bytes \(([a-z,]+)\)")


class UnboundedStack(Exception):
    """The call graph has no finite bound (recursion, a dynamic frame, an unknown function)."""


@dataclass
class StackBound:
    """The deepest stack the program can reach (``bytes``), the call path that reaches it (each
    function with its frame) and the handler path stacked on top of it."""

    bytes: int
    path: list[tuple[str, int]] = field(default_factory=list)
    handler_path: list[tuple[str, int]] = field(default_factory=list)

    def describe(self) -> str:
        chain = " > ".join(name for name, _ in self.path)
        handler = " > ".join(name for name, _ in self.handler_path)
        return f"{chain}" + (f", then {handler} on an exception" if handler else "")


def _plain(title: str) -> str:
    """``runtime/server.c:run_model`` -> ``run_model`` (a static function's title names its file)."""
    return title.rsplit(":", 1)[-1]


_GRAPH = re.compile(r'^graph: \{ title: "([^"]+)"')


def read_call_graph(ci_files) -> tuple[dict[str, int | None], dict[str, set[str]], dict[str, Path]]:
    """The functions defined in the ``.ci`` files with their frame (None: dynamic, unbounded),
    each one's direct callees, keyed by title (``file.c:name`` for a static function), and the
    ``.ci`` file that defines each."""
    frames: dict[str, int | None] = {}
    calls: dict[str, set[str]] = {}
    defined_in: dict[str, Path] = {}
    for path in ci_files:
        for line in Path(path).read_text(errors="replace").splitlines():
            node = _NODE.match(line)
            if node:
                frame = _FRAME.search(node.group(2))
                if frame:
                    frames[node.group(1)] = int(frame.group(1)) if frame.group(2) != "dynamic" else None
                    defined_in[node.group(1)] = Path(path)
                continue
            edge = _EDGE.match(line)
            if edge:
                calls.setdefault(edge.group(1), set()).add(edge.group(2))
    return frames, calls, defined_in


# Thumb call and tail-call relocations: every other reference to a function takes its address.
_CALL_RELOCATIONS = {10, 30}  # R_ARM_THM_CALL, R_ARM_THM_JUMP24
_VECTOR_SECTIONS = (".isr_vector", ".vectors")


def address_taken(obj: Path) -> set[str]:
    """Names of the functions (or undefined symbols) whose address object ``obj`` takes: every
    relocation but a call's, outside the vector table."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.relocation import RelocationSection

    names: set[str] = set()
    if not obj.is_file():
        return names
    with open(obj, "rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        for section in elf.iter_sections():
            if not isinstance(section, RelocationSection) or section.name.endswith(_VECTOR_SECTIONS):
                continue
            for reloc in section.iter_relocations():
                symbol = symtab.get_symbol(reloc["r_info_sym"])
                if reloc["r_info_type"] not in _CALL_RELOCATIONS and symbol.name and \
                        symbol["st_info"]["type"] in ("STT_FUNC", "STT_NOTYPE"):
                    names.add(symbol.name)
    return names


_FUNC_HEADER = re.compile(r"^[0-9a-f]+ <([^>]+)>:$")
_PUSH = re.compile(r"\b(?:push(?:\.w)?|stmdb(?:\.w)?\s+sp!,)\s*\{([^}]*)\}")
_VPUSH = re.compile(r"\b(?:vpush|vstmdb\s+sp!,)\s*\{([^}]*)\}")
_SUB_SP = re.compile(r"\bsub(?:w|\.w|s)?\s+sp,\s*(?:sp,\s*)?#(\d+)")
_SUB_SP_REG = re.compile(r"\bsub(?:\.w|s)?\s+sp,\s*(?:sp,\s*)?r\d+")
_CALL = re.compile(r"\b(?:bl|blx|b|b\.w|b\.n)\s+[0-9a-f]+ <([^>+]+)>")


def _register_bytes(registers: str) -> int:
    """Bytes a push of a register list such as ``r4-r7, lr`` or ``d8-d9`` takes."""
    total = 0
    for part in (p.strip() for p in registers.split(",") if p.strip()):
        size = 8 if part.startswith("d") else 4
        if "-" in part:
            low, high = (int(re.sub(r"\D", "", r)) for r in part.split("-"))
            total += (high - low + 1) * size
        else:
            total += size
    return total


def library_frames(elf: str | os.PathLike, names: set[str]) -> tuple[dict[str, int | None], dict[str, set[str]]]:
    """Frames and callees of the functions ``names`` (and what they call) from the disassembly of
    ``elf``: each function's pushes and ``sub sp, #n`` summed (an upper bound of its frame: an
    early-return path pushes no more), None for a frame sized at run time."""
    objdump = shutil.which("arm-none-eabi-objdump")
    if objdump is None:
        raise EdgeDeployError("arm-none-eabi-objdump is not installed",
                              hint="apt-get install binutils-arm-none-eabi (it comes with gcc-arm-none-eabi)")
    text = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(elf)], capture_output=True, text=True,
                          check=False).stdout
    bodies: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        header = _FUNC_HEADER.match(line)
        if header:
            current = bodies.setdefault(header.group(1), [])
        elif current is not None and line.strip():
            current.append(line)
    frames: dict[str, int | None] = {}
    calls: dict[str, set[str]] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in frames or name not in bodies:
            continue
        size: int | None = 0
        callees: set[str] = set()
        for line in bodies[name]:
            if _SUB_SP_REG.search(line):
                size = None
                break
            for pattern in (_PUSH, _VPUSH):
                found = pattern.search(line)
                if found:
                    size += _register_bytes(found.group(1))
            found = _SUB_SP.search(line)
            if found:
                size += int(found.group(1))
            call = _CALL.search(line)
            if call and call.group(1) != name:
                callees.add(call.group(1))
        frames[name] = size
        calls[name] = callees
        todo.extend(callees - frames.keys())
    return frames, calls


def static_stack_bound(ci_files, elf: str | os.PathLike) -> StackBound:
    """The stack bound of the firmware ``elf`` from its sources' ``.ci`` files. Raises
    UnboundedStack when the program has recursion, a dynamic frame or a callee whose frame is
    known nowhere."""
    frames, calls, defined_in = read_call_graph(ci_files)
    if not frames:
        raise UnboundedStack("no call graph: the sources were not compiled with " + " ".join(STACK_USAGE_FLAGS))
    by_plain: dict[str, str] = {}
    for title in frames:
        by_plain.setdefault(_plain(title), title)
    handlers = sorted(t for t in frames if _plain(t).endswith("_Handler") and _plain(t) != ENTRY)
    linked = _linked(elf)
    # The functions whose address each file takes (a static one by its title, which names its
    # file; one written in assembly, which has no .ci, by its name).
    taken_by_file: dict[Path, set[str]] = {}
    for ci in sorted(set(defined_in.values())):
        source = next((t.rsplit(":", 1)[0] for t, where in defined_in.items() if where == ci and ":" in t), None)
        titles = set()
        for name in address_taken(ci.with_suffix(".o")) & linked:
            titles.add(f"{source}:{name}" if source and f"{source}:{name}" in frames else by_plain.get(name, name))
        taken_by_file[ci] = titles
    every_taken = sorted(set().union(*taken_by_file.values())) if taken_by_file else []
    external = {callee for callees in calls.values() for callee in callees
                if callee not in frames and callee != INDIRECT and callee not in by_plain}
    external |= {name for name in every_taken if name not in frames}
    lib_frames, lib_calls = library_frames(elf, external | {_plain(h) for h in handlers})
    for handler in handlers:  # a naked handler's branches are in its asm, not in the .ci
        calls.setdefault(handler, set()).update(lib_calls.pop(_plain(handler), set()))
        lib_frames.pop(_plain(handler), None)
    frames.update(lib_frames)
    calls.update({k: v for k, v in lib_calls.items() if k not in calls})

    def resolve(callee: str) -> str:
        return callee if callee in frames else by_plain.get(callee, callee)

    def pointer_targets(caller: str) -> list[str]:
        targets = sorted(taken_by_file.get(defined_in.get(caller), ())) or every_taken
        if not targets:  # the call goes somewhere no object file names: no bound, not a bound of 0
            raise UnboundedStack(f"'{_plain(caller)}' calls through a pointer to no function the program takes "
                                 "the address of")
        return targets

    memo: dict[str, tuple[int, list[tuple[str, int]]]] = {}
    active: set[str] = set()

    def deepest(title: str) -> tuple[int, list[tuple[str, int]]]:
        if title in memo:
            return memo[title]
        if title not in frames:
            raise UnboundedStack(f"no frame size for '{title}'")
        if frames[title] is None:
            raise UnboundedStack(f"'{_plain(title)}' has a frame sized at run time")
        if title in active:
            raise UnboundedStack(f"'{_plain(title)}' is recursive")
        active.add(title)
        best: tuple[int, list[tuple[str, int]]] = (0, [])
        for callee in sorted(calls.get(title, ())):
            for target in (pointer_targets(title) if callee == INDIRECT else [resolve(callee)]):
                if callee == INDIRECT and target in active:
                    continue
                found = deepest(target)
                if found[0] > best[0]:
                    best = found
        active.discard(title)
        memo[title] = (frames[title] + best[0], [(_plain(title), frames[title]), *best[1]])
        return memo[title]

    entry = by_plain.get(ENTRY)
    if entry is None:
        raise UnboundedStack(f"no {ENTRY} in the call graph")
    main_bytes, main_path = deepest(entry)
    handler_bytes, handler_path = max((deepest(h) for h in handlers), default=(0, []), key=lambda d: d[0])
    extra = EXCEPTION_FRAME_BYTES + handler_bytes if handlers else 0
    return StackBound(main_bytes + extra, main_path, handler_path)


def _linked(elf: str | os.PathLike) -> set[str]:
    """The names of the functions in the linked ELF (``--gc-sections`` drops the unused ones,
    which no pointer can reach)."""
    from edge_deploy.elf import read_elf_symbols

    return {f.name for f in read_elf_symbols(elf).functions}
