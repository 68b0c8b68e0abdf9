"""The op coverage table of ``docs/ops.md``, generated from the op and kernel registries, so it
cannot go stale (``tests/test_ops_coverage.py`` compares the file with this module's output).

    python -m edge_deploy.kernels.coverage            # print the table
    python -m edge_deploy.kernels.coverage --write    # rewrite it in docs/ops.md

One row per TFLite builtin operator edge-deploy reads: the IR op it becomes, the int8 reference
the interpreter runs, the C kernels the firmware may call for it, which of those are upstream
CMSIS-NN functions (and the first release with that API), and the operator version written.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from edge_deploy.kernels import kernels_for
from edge_deploy.ops import all_ops

BEGIN = "<!-- coverage table: python -m edge_deploy.kernels.coverage --write -->"
END = "<!-- end of coverage table -->"


@dataclass(frozen=True)
class CoverageRow:
    """One TFLite operator: its IR op, reference, kernels (upstream ones with their release)."""

    operator: str
    code: int
    version: int
    kind: str
    reference: str
    kernels: tuple[str, ...]
    upstream: tuple[str, ...]
    view: bool


def coverage_rows() -> list[CoverageRow]:
    """Every builtin operator the registries read, sorted by name."""
    rows = []
    for definition in all_ops():
        kernels = [k for k in kernels_for(definition.kind)]
        reference = definition.reference.__name__ if definition.reference is not None else "-"
        for code in definition.tflite_codes:
            rows.append(CoverageRow(code.name, code.code, code.version, definition.kind, reference,
                                    tuple(k.name for k in kernels),
                                    tuple(f"{k.name} ({k.upstream})" for k in kernels if k.upstream),
                                    definition.view))
    return sorted(rows, key=lambda r: r.operator)


def coverage_markdown() -> str:
    """The table as Markdown."""
    lines = ["| TFLite operator (code, version written) | IR op | interpreter (int8 reference) | firmware kernels "
             "| upstream CMSIS-NN API (first release) |",
             "|---|---|---|---|---|"]
    for row in coverage_rows():
        kernels = "view (no code: same bytes)" if row.view else ", ".join(f"`{k}`" for k in row.kernels)
        upstream = ", ".join(f"`{u.split(' ')[0]}` {u.split(' ')[1]}" for u in row.upstream) or "-"
        lines.append(f"| {row.operator} ({row.code}, v{row.version}) | `{row.kind}` | `{row.reference}` "
                     f"| {kernels} | {upstream} |")
    return "\n".join(lines) + "\n"


def rewrite(doc: Path) -> bool:
    """Put the current table between the markers of ``doc``; True when the file changed."""
    text = doc.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    if not rest:
        raise SystemExit(f"{doc} has no coverage markers ({BEGIN} ... {END})")
    new = f"{head}{BEGIN}\n{coverage_markdown()}{END}{tail}"
    if new != text:
        doc.write_text(new)
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", metavar="DOC", nargs="?", const="docs/ops.md",
                        help="rewrite the table in DOC (default docs/ops.md)")
    args = parser.parse_args(argv)
    if args.write:
        changed = rewrite(Path(args.write))
        print(f"{args.write}: {'rewritten' if changed else 'already current'}")
    else:
        sys.stdout.write(coverage_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
