"""Static arena planning: every activation and kernel scratch buffer at a fixed offset.

The planner sees the model as an ordered list of :class:`PlanStep` (one per layer, in run
order), each naming the tensors it reads and writes and the scratch bytes its kernel needs
(the kernel's ``*_get_buffer_size``). It works out each tensor's lifetime (from the step that
writes it, or the start for model inputs, to the last step that reads it, or the end for model
outputs), merges tensors that share memory (a reshape is a view of its input; an op that may
run in place writes over an input that dies at that step), and packs the resulting buffers
into one arena so that no two buffers alive at the same step overlap.

The figure to compare against is the lower bound: the largest total size of the buffers alive
at any one step. Several placement heuristics run and the smallest valid arena wins; for a
chain of layers one of them (alternating bottom / top) always reaches the bound.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from edge_deploy.errors import EdgeDeployError

DEFAULT_ALIGNMENT = 4  # words: every buffer starts on a 32-bit boundary for the SIMD loads


@dataclass(frozen=True)
class PlanStep:
    """One layer as the planner sees it.

    ``inputs`` / ``outputs`` are tensor names; constants (weights) are not listed. ``scratch``
    is the kernel's scratch size in bytes. ``alias``: the output is a view of ``inputs[0]``
    (reshape). ``in_place``: the kernel may write its output over ``inputs[in_place_input]``
    when that input is not needed afterwards.
    """

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    scratch: int = 0
    alias: bool = False
    in_place: bool = False
    in_place_input: int = 0


@dataclass(frozen=True)
class Buffer:
    """A region of the arena: one or more tensors sharing memory, or one step's scratch.

    ``first`` / ``last`` are step indices (inclusive) during which it must hold its data.
    """

    name: str
    tensors: tuple[str, ...]
    size: int
    first: int
    last: int
    offset: int = -1
    scratch_of: str | None = None

    def overlaps_in_time(self, other: Buffer) -> bool:
        """True when both buffers are alive at some common step."""
        return self.first <= other.last and other.first <= self.last

    def overlaps_in_memory(self, other: Buffer) -> bool:
        """True when the byte ranges of the two placed buffers intersect."""
        return self.offset < other.offset + other.size and other.offset < self.offset + self.size


@dataclass(frozen=True)
class ArenaPlan:
    """The placed arena: buffers with offsets, tensor offsets and the figures to report."""

    buffers: tuple[Buffer, ...]
    tensor_offsets: dict[str, int]
    scratch_offsets: dict[str, int]
    arena_bytes: int
    lower_bound_bytes: int
    steps: tuple[PlanStep, ...]
    strategy: str
    alignment: int = DEFAULT_ALIGNMENT
    tensor_sizes: dict[str, int] = field(default_factory=dict)

    @property
    def peak_step(self) -> str | None:
        """The first step at which the live buffers reach the lower bound: the layer that sets
        the arena's size (None for a plan without steps)."""
        live = live_bytes(self.buffers, len(self.steps))
        return next((step.name for step, total in zip(self.steps, live) if total == self.lower_bound_bytes), None)

    def to_dict(self) -> dict:
        """JSON-ready summary (sorted, deterministic)."""
        return {
            "arena_bytes": self.arena_bytes,
            "lower_bound_bytes": self.lower_bound_bytes,
            "peak_step": self.peak_step,
            "alignment": self.alignment,
            "strategy": self.strategy,
            "buffers": [
                {"name": b.name, "tensors": list(b.tensors), "offset": b.offset, "size": b.size,
                 "first_step": b.first, "last_step": b.last, "scratch_of": b.scratch_of}
                for b in sorted(self.buffers, key=lambda b: (b.offset, b.first, b.name))
            ],
        }


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def _buffers(steps: Sequence[PlanStep], sizes: Mapping[str, int], model_inputs: Sequence[str],
             model_outputs: Sequence[str], alignment: int) -> list[Buffer]:
    """Lifetimes and memory sharing: returns the unplaced buffers."""
    end = len(steps) - 1
    first: dict[str, int] = {name: 0 for name in model_inputs}
    last: dict[str, int] = {}
    for index, step in enumerate(steps):
        for name in step.outputs:
            if name in first:
                raise EdgeDeployError(f"tensor {name!r} is written twice (step {step.name!r})",
                                      hint="each tensor must have one producer; check the graph")
            first[name] = index
        for name in step.inputs:
            if name not in first:
                raise EdgeDeployError(f"step {step.name!r} reads {name!r} before anything writes it",
                                      hint="list the steps in execution order and the model inputs")
            last[name] = index
    for name in model_outputs:
        if name not in first:
            raise EdgeDeployError(f"model output {name!r} is never written", hint="check the graph outputs")
        last[name] = end
    for name in first:
        last.setdefault(name, first[name])  # written but never read: still needs room at its step
        if name not in sizes:
            raise EdgeDeployError(f"no size for tensor {name!r}", hint="give every activation a byte size")

    # Union-find over tensors that share memory.
    parent = {name: name for name in first}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    pinned = set(model_inputs) | set(model_outputs)
    for index, step in enumerate(steps):
        if not step.inputs or len(step.outputs) != 1:
            continue
        source, target = step.inputs[step.in_place_input if step.in_place else 0], step.outputs[0]
        if step.alias:
            parent[root(target)] = root(source)
        elif (step.in_place and last[source] == index and source not in pinned
              and sizes[target] <= sizes[source] and step.inputs.count(source) == 1):
            group = root(source)
            # The source's whole group must end here, or its other tensors would be overwritten.
            if all(last[t] <= index for t in first if root(t) == group):
                parent[root(target)] = group
    groups: dict[str, list[str]] = {}
    for name in first:
        groups.setdefault(root(name), []).append(name)
    buffers = []
    for members in groups.values():
        members.sort(key=lambda t: (first[t], t))
        buffers.append(Buffer(
            name=members[0], tensors=tuple(members),
            size=_align(max(sizes[t] for t in members), alignment),
            first=min(first[t] for t in members), last=max(last[t] for t in members)))
    for index, step in enumerate(steps):
        if step.scratch > 0:
            buffers.append(Buffer(name=f"{step.name}:scratch", tensors=(), size=_align(step.scratch, alignment),
                                  first=index, last=index, scratch_of=step.name))
    return sorted(buffers, key=lambda b: (b.first, b.name))


def live_bytes(buffers: Sequence[Buffer], n_steps: int) -> list[int]:
    """The total size of the buffers alive at each step."""
    return [sum(b.size for b in buffers if b.first <= i <= b.last) for i in range(max(n_steps, 1))]


def lower_bound(buffers: Sequence[Buffer], n_steps: int) -> int:
    """The largest total size of buffers alive at any one step."""
    return max(live_bytes(buffers, n_steps), default=0)


def _first_fit(buffer: Buffer, placed: Sequence[Buffer], from_top: bool, ceiling: int) -> int:
    """Lowest (or, from_top, highest below ceiling) offset where buffer fits beside placed ones."""
    busy = sorted((p.offset, p.offset + p.size) for p in placed if p.overlaps_in_time(buffer))
    if not from_top:
        offset = 0
        for lo, hi in busy:
            if offset + buffer.size <= lo:
                break
            offset = max(offset, hi)
        return offset
    top = ceiling
    for lo, hi in sorted(busy, key=lambda span: -span[1]):
        if hi <= top - buffer.size:
            break
        top = min(top, lo)
    return top - buffer.size if top - buffer.size >= 0 else _first_fit(buffer, placed, False, ceiling)


def _place(buffers: Sequence[Buffer], order: Sequence[int], sides: Sequence[bool], ceiling: int) -> list[Buffer]:
    placed: list[Buffer] = []
    for index, from_top in zip(order, sides):
        b = buffers[index]
        offset = _first_fit(b, placed, from_top, ceiling)
        placed.append(Buffer(b.name, b.tensors, b.size, b.first, b.last, offset, b.scratch_of))
    return placed


def _valid(placed: Sequence[Buffer]) -> bool:
    return all(not (a.overlaps_in_time(b) and a.overlaps_in_memory(b))
               for i, a in enumerate(placed) for b in placed[i + 1:])


def plan_arena(steps: Sequence[PlanStep], sizes: Mapping[str, int], *, model_inputs: Sequence[str],
               model_outputs: Sequence[str], alignment: int = DEFAULT_ALIGNMENT) -> ArenaPlan:
    """Place every activation and scratch buffer of ``steps`` in one arena.

    ``sizes`` gives each activation tensor's bytes. Returns the :class:`ArenaPlan` with the
    smallest arena among the heuristics tried (ties: the first). Raises EdgeDeployError when
    the steps are inconsistent (a tensor read before it is written, written twice, or sizeless).
    """
    steps = tuple(steps)
    buffers = _buffers(steps, sizes, model_inputs, model_outputs, alignment)
    bound = lower_bound(buffers, len(steps))
    n = len(buffers)
    # By start step; at equal start, tensors before scratch (scratch fills the gap they leave).
    by_start = sorted(range(n), key=lambda i: (buffers[i].first, buffers[i].scratch_of is not None,
                                               -buffers[i].size, buffers[i].name))
    by_size = sorted(range(n), key=lambda i: (-buffers[i].size, buffers[i].first, buffers[i].name))
    # Alternating ends: a layer's output goes to the other end of the arena from its input,
    # scratch between them (optimal for a chain: at every step one tensor is low, one high).
    owner = {t: i for i, b in enumerate(buffers) for t in b.tensors}
    top = {owner[t]: False for t in model_inputs if t in owner}
    for step in steps:
        for t in step.outputs:
            if owner[t] not in top:
                top[owner[t]] = not top.get(owner[step.inputs[0]], True) if step.inputs else False
    sides = [top.get(i, False) if buffers[i].scratch_of is None else False for i in by_start]
    candidates = {
        "greedy-by-size": (by_size, [False] * n),
        "greedy-by-start": (by_start, [False] * n),
        "alternating-ends": (by_start, sides),
    }
    best: tuple[int, str, list[Buffer]] | None = None
    for strategy, (order, side) in candidates.items():
        placed = _place(buffers, order, side, bound)
        size = max((b.offset + b.size for b in placed), default=0)
        if _valid(placed) and (best is None or size < best[0]):
            best = (size, strategy, placed)
    if best is None:  # cannot happen: bottom-up first fit never overlaps; kept as a guard
        raise RuntimeError("no valid arena placement found")
    size, strategy, placed = best
    placed.sort(key=lambda b: (b.first, b.name))
    tensor_offsets = {t: b.offset for b in placed for t in b.tensors}
    scratch_offsets = {b.scratch_of: b.offset for b in placed if b.scratch_of is not None}
    return ArenaPlan(buffers=tuple(placed), tensor_offsets=dict(sorted(tensor_offsets.items())),
                     scratch_offsets=dict(sorted(scratch_offsets.items())), arena_bytes=size,
                     lower_bound_bytes=bound, steps=steps, strategy=strategy, alignment=alignment,
                     tensor_sizes={t: int(sizes[t]) for t in sorted(tensor_offsets)})


def check_plan(plan: ArenaPlan) -> None:
    """Raise AssertionError naming two buffers alive at the same step that share bytes, or a
    buffer outside the arena. For tests and as a last check before code generation."""
    for b in plan.buffers:
        assert 0 <= b.offset and b.offset + b.size <= plan.arena_bytes, f"{b.name} lies outside the arena"
        assert b.offset % plan.alignment == 0, f"{b.name} is not {plan.alignment}-byte aligned"
    for i, a in enumerate(plan.buffers):
        for b in plan.buffers[i + 1:]:
            assert not (a.overlaps_in_time(b) and a.overlaps_in_memory(b)), (
                f"{a.name} [{a.offset}, {a.offset + a.size}) steps {a.first}-{a.last} overlaps "
                f"{b.name} [{b.offset}, {b.offset + b.size}) steps {b.first}-{b.last}")
