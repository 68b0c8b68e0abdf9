"""Memory-side counts of a run, per instruction address: the cycle model's second input.

The cycle model (``cycle_model.estimate_cycles``) takes two plain inputs, whatever produced
them (the QEMU plugin here; any other instruction-accurate source can fill the same
structures):

* executions per instruction address (``{address: count}``), and
* a :class:`MemoryCounts`: per instruction address, its loads and stores by memory region
  (:class:`Accesses`), and for the memory behind a flash accelerator the reuse of the lines
  its data loads and instruction fetches touched (:class:`LineReuse`).

Reuse is an LRU stack distance: the number of other lines touched since the last touch of
the same line. Distances are kept in buckets ``0, 1, 2-3, 4-7, ..., 64-127, far`` (bucket b
holds the distances whose bit length is b; the last bucket also holds first touches), so a
fully associative LRU cache of ``2**k`` lines hits exactly the touches in buckets 0..k.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields

N_BUCKETS = 9          # 0, 1, 2-3, 4-7, 8-15, 16-31, 32-63, 64-127, far / first touch
MAX_CACHED_LINES = 2 ** (N_BUCKETS - 2)   # the largest cache the buckets resolve: 128 lines


@dataclass(frozen=True)
class Accesses:
    """Loads and stores one instruction made to one memory region.

    ``misaligned_half``: halfword accesses at an odd address; ``misaligned_word2``: word
    accesses at an address that is 2 mod 4; ``misaligned_word1``: word accesses at an odd
    address. Counts are of memory operations as the core performs them (an LDM of 4 registers
    is 4 loads).
    """

    loads: int = 0
    stores: int = 0
    load_bytes: int = 0
    store_bytes: int = 0
    misaligned_half: int = 0
    misaligned_word2: int = 0
    misaligned_word1: int = 0

    def __add__(self, other: Accesses) -> Accesses:
        return Accesses(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class LineReuse:
    """How many line touches fell in each reuse-distance bucket (see the module docstring)."""

    buckets: tuple[int, ...] = (0,) * N_BUCKETS

    def __post_init__(self) -> None:
        if len(self.buckets) != N_BUCKETS:
            raise ValueError(f"a LineReuse has {N_BUCKETS} buckets, not {len(self.buckets)}")

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, int]]) -> LineReuse:
        """Build from (bucket, count) pairs; raises ValueError on a bucket out of range."""
        buckets = [0] * N_BUCKETS
        for bucket, count in pairs:
            if not 0 <= bucket < N_BUCKETS:
                raise ValueError(f"reuse bucket {bucket} is not in 0..{N_BUCKETS - 1}")
            buckets[bucket] += count
        return cls(tuple(buckets))

    @property
    def total(self) -> int:
        """Every touch counted."""
        return sum(self.buckets)

    def hits(self, lines: int) -> int:
        """Touches a fully associative LRU cache of ``lines`` lines (a power of two up to 128, or
        0 for none) would have held. Raises ValueError for other sizes."""
        if lines == 0:
            return 0
        if lines & (lines - 1) or lines > MAX_CACHED_LINES:
            raise ValueError(f"a cache of {lines} lines: the reuse buckets resolve powers of two up to "
                             f"{MAX_CACHED_LINES}")
        return sum(self.buckets[: lines.bit_length()])

    def __add__(self, other: LineReuse) -> LineReuse:
        return LineReuse(tuple(a + b for a, b in zip(self.buckets, other.buckets)))


@dataclass(frozen=True)
class FetchReuse:
    """The times execution entered a new flash read line at one instruction: ``seq`` from the
    read line just before it (the prefetched one), ``jump`` from anywhere else; each with the
    reuse of the instruction-cache line entered."""

    seq: LineReuse = LineReuse()
    jump: LineReuse = LineReuse()

    def __add__(self, other: FetchReuse) -> FetchReuse:
        return FetchReuse(self.seq + other.seq, self.jump + other.jump)


@dataclass(frozen=True)
class LineGeometry:
    """The line sizes the reuse was measured at: a fetch read line, an instruction-cache line,
    a data-cache line (bytes), and the region behind the accelerator (``cached``)."""

    fetch_read_bytes: int
    fetch_line_bytes: int
    data_line_bytes: int
    cached: str = "flash"


@dataclass(frozen=True)
class MemoryCounts:
    """Per instruction address: accesses by region, data-load reuse and fetch-line reuse in the
    cached region. ``geometry`` is None when reuse was not measured (then both reuse maps are
    empty)."""

    accesses: dict[int, dict[str, Accesses]] = field(default_factory=dict)
    data_reuse: dict[int, LineReuse] = field(default_factory=dict)
    fetch_reuse: dict[int, FetchReuse] = field(default_factory=dict)
    geometry: LineGeometry | None = None

    def by_region(self, addresses: Iterable[int] | None = None) -> dict[str, Accesses]:
        """Accesses summed per region over ``addresses`` (default: all), regions sorted."""
        out: dict[str, Accesses] = {}
        keys = self.accesses if addresses is None else (a for a in addresses if a in self.accesses)
        for addr in keys:
            for region, acc in self.accesses[addr].items():
                out[region] = out.get(region, Accesses()) + acc
        return dict(sorted(out.items()))


def merge_memory(parts: Iterable[MemoryCounts]) -> MemoryCounts:
    """Sum several :class:`MemoryCounts` (segments of one run, same geometry)."""
    accesses: dict[int, dict[str, Accesses]] = {}
    data: dict[int, LineReuse] = {}
    fetch: dict[int, FetchReuse] = {}
    geometry = None
    for part in parts:
        geometry = geometry or part.geometry
        for addr, regions in part.accesses.items():
            slot = accesses.setdefault(addr, {})
            for region, acc in regions.items():
                slot[region] = slot.get(region, Accesses()) + acc
        _add_into(data, part.data_reuse, LineReuse())
        _add_into(fetch, part.fetch_reuse, FetchReuse())
    return MemoryCounts(accesses, data, fetch, geometry)


def _add_into(target: dict, source: Mapping, zero) -> None:
    for key, value in source.items():
        target[key] = target.get(key, zero) + value
