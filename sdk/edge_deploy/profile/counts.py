"""Executed-instruction counts as the QEMU plugin writes them, and their parser.

The plugin (``qemu_plugin/insn_count.c``) writes one text file per run: the memory regions and
line sizes it was given, the bytes of every instruction it translated, then per segment (split
at the profiling marks) the execution count of every address and what each address did to
memory. :func:`parse_counts` turns it into an :class:`InsnCounts`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from edge_deploy.errors import EdgeDeployError
from edge_deploy.profile.accesses import Accesses, FetchReuse, LineGeometry, LineReuse, MemoryCounts, merge_memory

FORMAT_HEADER = "edge-deploy-insn-count 2"
OUTSIDE_REGIONS = "-"   # the region name of an access outside every region given


@dataclass(frozen=True)
class Segment:
    """Counts between two marks: ``mark`` is the mark that opened it (None before the first);
    ``memory`` what each address did to memory in that time."""

    index: int
    mark: int | None
    counts: dict[int, int]
    memory: MemoryCounts = field(default_factory=MemoryCounts)

    @property
    def total(self) -> int:
        """Instructions executed in this segment."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class InsnCounts:
    """Exact executed-instruction counts of one run.

    ``code`` maps each instruction address QEMU translated to its bytes (as executed);
    ``segments`` hold the counts in run order, split at marks; ``regions`` the named address
    ranges accesses were sorted into.
    """

    code: dict[int, bytes]
    segments: tuple[Segment, ...]
    regions: tuple[tuple[str, int, int], ...] = ()
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

    @property
    def memory(self) -> MemoryCounts:
        """Memory counts summed over the whole run."""
        return merge_memory(seg.memory for seg in self.segments)


class _SegmentBuilder:
    """Collects one segment's lines while parsing."""

    def __init__(self, index: int, mark: int | None, geometry: LineGeometry | None) -> None:
        self.index, self.mark, self.geometry = index, mark, geometry
        self.counts: dict[int, int] = {}
        self.accesses: dict[int, dict[str, Accesses]] = {}
        self.data: dict[int, LineReuse] = {}
        self.seq: dict[int, LineReuse] = {}
        self.jump: dict[int, LineReuse] = {}

    def add_mem(self, parts: list[str]) -> None:
        addr, region = int(parts[1], 16), parts[2]
        values = [int(v) for v in parts[3:10]]
        if len(values) != 7:
            raise ValueError(f"a mem line has 9 fields, not {len(parts)}")
        self.accesses.setdefault(addr, {})[region] = Accesses(*values)

    def add_reuse(self, parts: list[str]) -> None:
        addr, kind = int(parts[1], 16), parts[2]
        target = {"data": self.data, "seq": self.seq, "jump": self.jump}.get(kind)
        if target is None or len(parts) != 4:
            raise ValueError(f"bad reuse line kind {kind!r}")
        pairs = (item.split(":") for item in parts[3].split(","))
        target[addr] = LineReuse.from_pairs((int(b), int(n)) for b, n in pairs)

    def build(self) -> Segment:
        fetch = {addr: FetchReuse(self.seq.get(addr, LineReuse()), self.jump.get(addr, LineReuse()))
                 for addr in sorted(set(self.seq) | set(self.jump))}
        memory = MemoryCounts(self.accesses, self.data, fetch, self.geometry)
        return Segment(self.index, self.mark, self.counts, memory)


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
    regions: list[tuple[str, int, int]] = []
    geometry: LineGeometry | None = None
    builders: list[_SegmentBuilder] = []
    declared_total = None
    try:
        for line in lines[1:]:
            parts = line.split()
            if not parts:
                continue
            head = parts[0]
            if head == "insn":
                code[int(parts[1], 16)] = bytes.fromhex(parts[3])
            elif head == "region":
                regions.append((parts[1], int(parts[2], 16), int(parts[3], 16)))
            elif head == "lines":
                read, line_bytes, data = (int(v) for v in parts[1:4])
                geometry = LineGeometry(read, line_bytes, data) if read else None
            elif head == "segment":
                mark = int(parts[2])
                builders.append(_SegmentBuilder(int(parts[1]), None if mark < 0 else mark, geometry))
            elif head == "end":
                declared_total = int(parts[1])
                if len(parts) > 2:
                    raise EdgeDeployError(
                        f"{source}: the plugin ran out of memory, counts are incomplete",
                        hint="profile a smaller firmware or free memory on the host",
                    )
            elif not builders:
                raise ValueError(f"unexpected line {line!r}")
            elif head == "mem":
                builders[-1].add_mem(parts)
            elif head == "reuse":
                builders[-1].add_reuse(parts)
            else:
                builders[-1].counts[int(head, 16)] = int(parts[1])
    except (ValueError, IndexError) as exc:
        raise EdgeDeployError(f"{source} is malformed: {exc}", hint="rerun the profile") from exc
    segments = [builder.build() for builder in builders]
    counts = InsnCounts(code=code, segments=tuple(segments), regions=tuple(regions))
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
