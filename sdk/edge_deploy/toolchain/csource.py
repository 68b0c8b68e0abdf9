"""Read C the way a linker and a compiler see it, without a compiler: the function prototypes and
structs a header declares, the functions a source file defines and the names it uses, and the
source files a set of calls needs.

A generated project compiles only the kernel sources its model calls (and everything they call):
:class:`SourceIndex` indexes a library's ``.c`` files and :meth:`SourceIndex.closure` follows the
calls from the names the generated code uses. The reading is lexical (comments and string
literals removed, preprocessor conditionals not evaluated), so it may list a file more than the
compiler would strictly need, never fewer: every ``#if`` branch counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

_IDENTIFIER = re.compile(r"\b[A-Za-z_]\w*\b")
_COMMENTS_AND_STRINGS = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.DOTALL)
# A declaration ending in ';': return type and qualifiers, name, a parameter list without braces.
_PROTOTYPE = re.compile(r"(?:^|[;}])\s*((?:[A-Za-z_][\w]*[\s*]+)+?)([A-Za-z_]\w*)\s*\(([^;{}()]*)\)\s*;", re.MULTILINE)
_STRUCT = re.compile(r"typedef\s+struct\s*\w*\s*\{([^{}]*)\}\s*(\w+)\s*;")
_KEYWORDS = frozenset({"if", "for", "while", "switch", "return", "sizeof", "do", "else", "case", "typedef"})


def strip_comments(text: str) -> str:
    """``text`` with comments removed and string / character literals emptied; backslash-newline
    continuations joined, so a macro is one line."""
    def blank(match: re.Match) -> str:
        token = match.group(0)
        if token.startswith('"'):
            return '""'
        if token.startswith("'"):
            return "' '"
        return " " + "\n" * token.count("\n")

    return _COMMENTS_AND_STRINGS.sub(blank, text.replace("\\\n", " "))


def _without_preprocessor(text: str) -> str:
    return "\n".join("" if line.lstrip().startswith("#") else line for line in text.split("\n"))


def identifiers(text: str) -> set[str]:
    """Every identifier in the C ``text`` (comments and literals excluded, macros included)."""
    return set(_IDENTIFIER.findall(strip_comments(text)))


@dataclass(frozen=True)
class Param:
    """One parameter of a prototype: its type as written (``const cmsis_nn_dims *``) and name."""

    ctype: str
    name: str


@dataclass(frozen=True)
class Prototype:
    """A function declaration: return type, name and parameters."""

    return_type: str
    name: str
    params: tuple[Param, ...]

    @property
    def param_names(self) -> tuple[str, ...]:
        """The parameters' names, in order."""
        return tuple(p.name for p in self.params)

    def c_text(self) -> str:
        """The declaration as one line of C."""
        params = ", ".join(f"{p.ctype}{'' if p.ctype.endswith('*') else ' '}{p.name}" for p in self.params)
        return f"{self.return_type} {self.name}({params or 'void'});"


def _param(text: str) -> Param:
    text = " ".join(text.split())
    match = re.match(r"(.*?)([A-Za-z_]\w*)\s*(\[[^\]]*\])?$", text)
    if match is None or not match.group(1).strip():
        return Param(text, "")  # an unnamed parameter
    ctype = match.group(1).strip()
    ctype = re.sub(r"\s*\*\s*", " *", ctype).strip()
    return Param(ctype, match.group(2))


def parse_prototypes(text: str) -> dict[str, Prototype]:
    """The function prototypes declared in the C header ``text``, by name (a name declared twice
    keeps its first declaration; static inline definitions are not declarations)."""
    clean = _without_preprocessor(strip_comments(text))
    # extern "C" { ... } wraps C++-compatible headers: its braces would hide the declarations.
    clean = re.sub(r'extern\s+""\s*\{', " ", clean)
    found: dict[str, Prototype] = {}
    for match in _PROTOTYPE.finditer(clean):
        head, name, params = match.group(1), match.group(2), match.group(3)
        head_words = head.split()
        if name in _KEYWORDS or not head_words or head_words[0] in ("return", "typedef", "else"):
            continue
        return_type = " ".join(w for w in head_words if w not in ("extern",))
        plist = [p for p in (s.strip() for s in params.split(",")) if p and p != "void"]
        found.setdefault(name, Prototype(return_type, name, tuple(_param(p) for p in plist)))
    return found


def parse_structs(text: str) -> dict[str, tuple[str, ...]]:
    """The ``typedef struct {...} name;`` definitions of the C ``text``: name -> its member
    declarations, whitespace-normalised (for comparing two headers' layouts)."""
    clean = strip_comments(text)
    return {m.group(2): tuple(" ".join(d.split()) for d in m.group(1).split(";") if d.strip())
            for m in _STRUCT.finditer(clean)}


def defined_functions(text: str) -> set[str]:
    """The functions the C source ``text`` defines with external linkage (not ``static``), at file
    scope, in any ``#if`` branch."""
    clean = _without_preprocessor(strip_comments(text))
    found = set()
    depth, head_start = 0, 0
    for i, char in enumerate(clean):
        if char == "{":
            if depth == 0:
                head = clean[head_start:i]
                match = re.search(r"([A-Za-z_]\w*)\s*\(([^;{}]*)\)\s*$", head)
                words = head.replace("*", " ").split()
                if match and match.group(1) not in _KEYWORDS and "static" not in words and "=" not in head \
                        and "typedef" not in words and "struct" != (words[0] if words else ""):
                    found.add(match.group(1))
            depth += 1
        elif char == "}":
            depth = max(0, depth - 1)
            if depth == 0:
                head_start = i + 1
        elif char == ";" and depth == 0:
            head_start = i + 1
    return found


@dataclass
class SourceIndex:
    """The ``.c`` files under a library folder: which functions each defines and which names it
    uses. ``files`` are paths relative to ``root``, sorted."""

    root: Path
    defines: dict[str, set[str]] = field(default_factory=dict)  # file -> functions it defines
    uses: dict[str, set[str]] = field(default_factory=dict)  # file -> identifiers in it
    definers: dict[str, list[str]] = field(default_factory=dict)  # function -> files defining it

    @classmethod
    def scan(cls, root: str | Path, pattern: str = "**/*.c", exclude: Iterable[str] = ()) -> SourceIndex:
        """Index every file under ``root`` matching ``pattern``, except those whose relative path
        matches a glob of ``exclude``."""
        root = Path(root)
        index = cls(root)
        for path in sorted(root.glob(pattern)):
            rel = path.relative_to(root).as_posix()
            if any(Path(rel).match(glob) for glob in exclude):
                continue
            text = path.read_text(errors="replace")
            index.defines[rel] = defined_functions(text)
            index.uses[rel] = identifiers(text)
            for name in index.defines[rel]:
                index.definers.setdefault(name, []).append(rel)
        return index

    @property
    def files(self) -> list[str]:
        """Every indexed file, sorted."""
        return sorted(self.defines)

    def functions(self) -> set[str]:
        """Every function some file defines."""
        return set(self.definers)

    def closure(self, names: Iterable[str]) -> list[str]:
        """The files that define ``names`` and, transitively, every function those files use.

        A name no file defines (a static inline helper from a header, a libc function) adds
        nothing. Returns the files, sorted."""
        wanted = [n for n in names if n in self.definers]
        files: set[str] = set()
        seen: set[str] = set()
        while wanted:
            name = wanted.pop()
            if name in seen:
                continue
            seen.add(name)
            for rel in self.definers[name]:
                if rel not in files:
                    files.add(rel)
                    wanted.extend(n for n in self.uses[rel] if n in self.definers and n not in seen)
        return sorted(files)
