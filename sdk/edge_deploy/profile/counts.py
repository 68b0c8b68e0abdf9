"""Executed-instruction counts as the QEMU plugin writes them, and their parser.

The plugin (``qemu_plugin/insn_count.c``) writes one text file per run: the bytes of every
instruction it translated, then the per-address execution counts split into segments at the
profiling marks. :func:`parse_counts` turns it into an :class:`InsnCounts`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from edge_deploy.errors import EdgeDeployError

FORMAT_HEADER = "edge-deploy-insn-count 1"


@dataclass(frozen=True)
class Segment:
    """Counts between two marks: ``mark`` is the mark that opened it (None before the first)."""

    index: int
    mark: int | None
    counts: dict[int, int]

    @property
    def total(self) -> int:
        """Instructions executed in this segment."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class InsnCounts:
    """Exact executed-instruction counts of one run.

    ``code`` maps each instruction address QEMU translated to its bytes (as executed);
    ``segments`` hold the counts in run order, split at marks.
    """

    code: dict[int, bytes]
    segments: tuple[Segment, ...]
    _total: dict[int, int] = field(default_factory=dict, repr=False, compare=False)

    @property
    def per_address(self) -> dict[int, int]:
        """Executions per instruction address over the whole run."""
        if not self._total:
            summed: Counter[int] = Counter()
            for seg in self.segments:
                summed.update(seg.counts)
            self._total.update(sorted(summed.items()))
        return self._total

    @property
    def total(self) -> int:
        """Instructions executed over the whole run."""
        return sum(seg.total for seg in self.segments)

    def marks_seen(self) -> list[int]:
        """The marks in the order the firmware made them."""
        return [seg.mark for seg in self.segments if seg.mark is not None]

    def per_mark(self) -> dict[int | None, dict[int, int]]:
        """Counts per address summed over every segment opened by the same mark.

        Key None holds what ran before the first mark. Repeated inferences add up.
        """
        out: dict[int | None, Counter[int]] = {}
        for seg in self.segments:
            out.setdefault(seg.mark, Counter()).update(seg.counts)
        return {mark: dict(sorted(c.items())) for mark, c in out.items()}


def parse_counts(text: str, *, source: str = "plugin output") -> InsnCounts:
    """Parse the plugin's output text.

    Takes the file's text (``source`` names it in errors). Returns :class:`InsnCounts`.
    Raises EdgeDeployError on a malformed or truncated file.
    """
    lines = text.splitlines()
    if not lines or lines[0].strip() != FORMAT_HEADER:
        raise EdgeDeployError(
            f"{source} is not an insn_count file (first line {lines[0][:40]!r} if any)" if lines
            else f"{source} is empty",
            hint="the QEMU run ended before the plugin wrote its counts; rerun the profile",
        )
    code: dict[int, bytes] = {}
    segments: list[Segment] = []
    current: dict[int, int] | None = None
    declared_total = None
    try:
        for line in lines[1:]:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "insn":
                code[int(parts[1], 16)] = bytes.fromhex(parts[3])
            elif parts[0] == "segment":
                mark = int(parts[2])
                current = {}
                segments.append(Segment(int(parts[1]), None if mark < 0 else mark, current))
            elif parts[0] == "end":
                declared_total = int(parts[1])
                if len(parts) > 2:
                    raise EdgeDeployError(
                        f"{source}: the plugin ran out of memory, counts are incomplete",
                        hint="profile a smaller firmware or free memory on the host",
                    )
            elif current is not None:
                current[int(parts[0], 16)] = int(parts[1])
            else:
                raise ValueError(f"unexpected line {line!r}")
    except (ValueError, IndexError) as exc:
        raise EdgeDeployError(f"{source} is malformed: {exc}", hint="rerun the profile") from exc
    counts = InsnCounts(code=code, segments=tuple(segments))
    if declared_total is None or declared_total != counts.total:
        raise EdgeDeployError(
            f"{source} is truncated (no matching 'end' line)",
            hint="the QEMU run was killed before it exited; rerun the profile",
        )
    return counts


def read_counts(path: str | Path) -> InsnCounts:
    """Read and parse a plugin output file; raises EdgeDeployError if missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise EdgeDeployError(f"no instruction counts at {path}", hint="the QEMU run did not exit normally")
    return parse_counts(path.read_text(), source=str(path))
