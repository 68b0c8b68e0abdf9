"""Static arena planning: every activation and kernel scratch buffer at a fixed offset.

The planner sees the model as an ordered list of :class:`PlanStep` (one per layer, in run
order), each naming the tensors it reads and writes and the scratch bytes its kernel needs
(the kernel's ``*_get_buffer_size``). It works out each tensor's lifetime (from the step that
writes it, or the start for model inputs, to the last step that reads it, or the end for model
outputs), lets tensors share memory (a reshape is a view of its input; a kernel that may run in
place writes over an input that dies at that step: at the same place, or, for a kernel that
streams over its input and writes a larger output, starting that many bytes before it, so the
input lies at the output's end), and packs the resulting buffers into one arena so that no two
buffers alive at the same step overlap, except an input and the output written over it.

Buffers that share memory form a group, placed as one unit with each buffer at its own place in
it. The figure to compare against is the lower bound: the largest total of bytes in use at any
one step (per group, the bytes its live buffers cover). Several placement heuristics run and the smallest valid arena wins; for a
chain of layers one of them (alternating bottom / top) always reaches the bound.

A group only moves down the arena along a chain of outputs written over their inputs, so a long
chain can need more room than its busiest step; the plan is then also made with less sharing,
globally (:data:`SHARINGS`) and by taking single steps' sharing off (:func:`_unshare_steps`), and
the smallest arena wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from edge_deploy.errors import EdgeDeployError

DEFAULT_ALIGNMENT = 4  # words: every buffer starts on a 32-bit boundary for the SIMD loads


@dataclass(frozen=True)
class PlanStep:
    """One layer as the planner sees it.

    ``inputs`` / ``outputs`` are tensor names; constants (weights) are not listed. ``scratch``
    is the kernel's scratch size in bytes. ``alias``: the output is a view of ``inputs[0]``
    (reshape). ``in_place``: the kernel may write its output over ``inputs[in_place_input]``
    when that input is not needed afterwards; the output must be no larger unless ``grows``:
    the kernel streams over the input (each part read before the output reaches it), so a larger
    output may start the difference before the input.
    """

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    scratch: int = 0
    alias: bool = False
    in_place: bool = False
    in_place_input: int = 0
    grows: bool = False


@dataclass(frozen=True)
class Buffer:
    """A region of the arena: one or more tensors with the same place (a tensor and its views),
    or one step's scratch.

    ``first`` / ``last`` are step indices (inclusive) during which it must hold its data.
    ``group`` names the buffers that share memory with it (a kernel's output written over its
    input), placed together, this one ``rel`` bytes from the group's start.
    """

    name: str
    tensors: tuple[str, ...]
    size: int
    first: int
    last: int
    offset: int = -1
    scratch_of: str | None = None
    group: str = ""
    rel: int = 0

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
    # The lower bound with every output the steps allow written over its input: below
    # lower_bound_bytes where the plan uses less sharing (no placement found reached it).
    shared_bound_bytes: int = 0

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
            "shared_bound_bytes": self.shared_bound_bytes,
            "buffers": [
                {"name": b.name, "tensors": list(b.tensors), "offset": b.offset, "size": b.size,
                 "first_step": b.first, "last_step": b.last, "scratch_of": b.scratch_of, "group": b.group}
                for b in sorted(self.buffers, key=lambda b: (b.offset, b.first, b.name))
            ],
        }


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


# Which outputs the plan writes over their inputs, from most to least sharing: every one the
# steps allow; not the smaller ones; not one whose input was itself written over another
# (chains of two); only larger ones streaming over their inputs.
SHARINGS = ("all", "no-smaller", "pairs", "streams")


def _buffers(steps: Sequence[PlanStep], sizes: Mapping[str, int], model_inputs: Sequence[str],
             model_outputs: Sequence[str], alignment: int, sharing: str = "all",
             unshared: frozenset[int] = frozenset()) -> list[Buffer]:
    """Lifetimes and memory sharing (``sharing``: one of :data:`SHARINGS`; the steps whose
    indices are in ``unshared`` keep their output apart from their input): returns the unplaced
    buffers."""
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

    # Views share their source's buffer (union-find); a kernel's output written over its input
    # gets a buffer of its own in the input's group, at its place there.
    parent = {name: name for name in first}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    written_over: set[str] = set()  # outputs written over their inputs
    group = {name: name for name in first}  # buffer root -> group name
    rel = {name: 0 for name in first}  # buffer root -> its place in the group
    pinned = set(model_inputs) | set(model_outputs)
    for index, step in enumerate(steps):
        if not step.inputs or len(step.outputs) != 1:
            continue
        source, target = step.inputs[step.in_place_input if step.in_place else 0], step.outputs[0]
        if step.alias:
            parent[root(target)] = root(source)
            continue
        if not (step.in_place and index not in unshared and last[source] == index and source not in pinned
                and (step.grows or sizes[target] <= sizes[source]) and step.inputs.count(source) == 1
                and (sharing != "no-smaller" or sizes[target] >= sizes[source])
                and (sharing != "pairs" or source not in written_over)
                and (sharing != "streams" or sizes[target] > sizes[source])):
            continue
        members = [t for t in first if group[root(t)] == group[root(source)]]
        # The source's whole group must end here, or its other tensors would be overwritten.
        if any(last[t] > index for t in members):
            continue
        grow = _align(max(0, sizes[target] - sizes[source]), alignment)
        place = rel[root(source)] - grow
        if place < 0:  # the output starts before the group: move the group up
            for r in {root(t) for t in members}:
                rel[r] -= place
            place = 0
        group[root(target)], rel[root(target)] = group[root(source)], place
        written_over.add(target)
    parts: dict[str, list[str]] = {}
    for name in first:
        parts.setdefault(root(name), []).append(name)
    buffers = []
    for r, members in parts.items():
        members.sort(key=lambda t: (first[t], t))
        buffers.append(Buffer(
            name=members[0], tensors=tuple(members),
            size=_align(max(sizes[t] for t in members), alignment),
            first=min(first[t] for t in members), last=max(last[t] for t in members),
            group=group[r], rel=rel[r]))
    # Each group named after its first buffer.
    first_of = {}
    for b in sorted(buffers, key=lambda b: (b.first, b.name)):
        first_of.setdefault(b.group, b.name)
    buffers = [replace(b, group=first_of[b.group]) for b in buffers]
    for index, step in enumerate(steps):
        if step.scratch > 0:
            name = f"{step.name}:scratch"
            buffers.append(Buffer(name=name, tensors=(), size=_align(step.scratch, alignment),
                                  first=index, last=index, scratch_of=step.name, group=name))
    return sorted(buffers, key=lambda b: (b.first, b.name))


def _groups(buffers: Sequence[Buffer]) -> dict[str, list[Buffer]]:
    out: dict[str, list[Buffer]] = {}
    for b in buffers:
        out.setdefault(b.group, []).append(b)
    return out


def _covered(spans: list[tuple[int, int]]) -> int:
    """Bytes the union of the [lo, hi) spans covers."""
    total, reach = 0, None
    for lo, hi in sorted(spans):
        if reach is None or lo >= reach:
            total, reach = total + hi - lo, hi
        elif hi > reach:
            total, reach = total + hi - reach, hi
    return total


def live_bytes(buffers: Sequence[Buffer], n_steps: int) -> list[int]:
    """The bytes in use at each step: per group, what its buffers alive then cover."""
    groups = list(_groups(buffers).values())
    return [sum(_covered([(b.rel, b.rel + b.size) for b in members if b.first <= i <= b.last]) for members in groups)
            for i in range(max(n_steps, 1))]


def lower_bound(buffers: Sequence[Buffer], n_steps: int) -> int:
    """The largest total size of buffers alive at any one step."""
    return max(live_bytes(buffers, n_steps), default=0)


def _fits(members: Sequence[Buffer], base: int, placed: Sequence[Buffer]) -> bool:
    """True when the group ``members`` at ``base`` shares no byte with a placed buffer alive at
    the same step."""
    return not any(b.overlaps_in_time(p) and base + b.rel < p.offset + p.size and p.offset < base + b.rel + b.size
                   for b in members for p in placed)


def _first_fit(members: Sequence[Buffer], placed: Sequence[Buffer], from_top: bool, ceiling: int) -> int:
    """Lowest (or, from_top, highest ending at or below ceiling) base where the group fits beside
    the placed buffers."""
    busy = [(b, p) for b in members for p in placed if b.overlaps_in_time(p)]
    extent = max(b.rel + b.size for b in members)
    if from_top:
        bases = sorted({ceiling - extent} | {p.offset - b.rel - b.size for b, p in busy}, reverse=True)
        for base in bases:
            if 0 <= base <= ceiling - extent and _fits(members, base, placed):
                return base
    bases = sorted({0} | {p.offset + p.size - b.rel for b, p in busy})
    return next(base for base in bases if base >= 0 and _fits(members, base, placed))


def _place(groups: Sequence[list[Buffer]], order: Sequence[int], sides: Sequence[bool], ceiling: int) -> list[Buffer]:
    placed: list[Buffer] = []
    for index, from_top in zip(order, sides):
        members = groups[index]
        base = _first_fit(members, placed, from_top, ceiling)
        placed += [replace(b, offset=base + b.rel) for b in members]
    return placed


def _conflicts(buffers: Sequence[Buffer]) -> list[str]:
    """What is wrong with the placed buffers: two of different groups alive at the same step that
    share bytes, or two of one group that share bytes while both hold data for more than the
    one step at which an output is written over its input."""
    out = []
    for i, a in enumerate(buffers):
        for b in buffers[i + 1:]:
            if not (a.overlaps_in_time(b) and a.overlaps_in_memory(b)):
                continue
            if a.group != b.group or min(a.last, b.last) > max(a.first, b.first):
                out.append(f"{a.name} [{a.offset}, {a.offset + a.size}) steps {a.first}-{a.last} overlaps "
                           f"{b.name} [{b.offset}, {b.offset + b.size}) steps {b.first}-{b.last}")
    return out


def plan_arena(steps: Sequence[PlanStep], sizes: Mapping[str, int], *, model_inputs: Sequence[str],
               model_outputs: Sequence[str], alignment: int = DEFAULT_ALIGNMENT) -> ArenaPlan:
    """Place every activation and scratch buffer of ``steps`` in one arena.

    ``sizes`` gives each activation tensor's bytes. Returns the :class:`ArenaPlan` with the
    smallest arena among the heuristics tried (ties: the first). Raises EdgeDeployError when
    the steps are inconsistent (a tensor read before it is written, written twice, or sizeless).
    """
    steps = tuple(steps)
    # Tensors written over their inputs form groups that only ever move down the arena (a larger
    # output starts below its input, a smaller one where its input starts); a long chain of them
    # can need more room than its busiest step. So the plan is made with less sharing too, and
    # the smallest arena wins (ties: the more sharing); its lower bound is that sharing's. Where
    # none reaches the bound of all the sharing, all of it but a few steps' is tried (one output
    # placed apart from its input can end the drift: _unshare_steps).
    best: tuple[int, str, list[Buffer], int] | None = None
    shared_bound = None
    for sharing in SHARINGS:
        buffers = _buffers(steps, sizes, model_inputs, model_outputs, alignment, sharing)
        bound = lower_bound(buffers, len(steps))
        shared_bound = bound if shared_bound is None else shared_bound
        size, strategy, placed = _placed(steps, buffers, model_inputs, bound)
        if best is None or size < best[0]:
            best = (size, strategy if sharing == "all" else f"{strategy}, sharing {sharing}", placed, bound)
    if best[0] > shared_bound:
        best = min(best, _unshare_steps(steps, sizes, model_inputs, model_outputs, alignment, best[0]),
                   key=lambda b: b[0])
    size, strategy, placed, bound = best
    placed.sort(key=lambda b: (b.first, b.name))
    tensor_offsets = {t: b.offset for b in placed for t in b.tensors}
    scratch_offsets = {b.scratch_of: b.offset for b in placed if b.scratch_of is not None}
    return ArenaPlan(buffers=tuple(placed), tensor_offsets=dict(sorted(tensor_offsets.items())),
                     scratch_offsets=dict(sorted(scratch_offsets.items())), arena_bytes=size,
                     lower_bound_bytes=bound, steps=steps, strategy=strategy, alignment=alignment,
                     tensor_sizes={t: int(sizes[t]) for t in sorted(tensor_offsets)},
                     shared_bound_bytes=shared_bound)


# How many outputs _unshare_steps may take off their inputs, one at a time, and how many
# placements it may try in all (each is a whole plan: the budget bounds the time on long chains).
UNSHARE_ROUNDS = 4
UNSHARE_TRIALS = 32


def _unshare_steps(steps: tuple[PlanStep, ...], sizes: Mapping[str, int], model_inputs: Sequence[str],
                   model_outputs: Sequence[str], alignment: int,
                   ceiling: int) -> tuple[int, str, list[Buffer], int]:
    """Every sharing the steps allow except at a few steps: a chain of outputs written over their
    inputs drifts down the arena, and placing one output of it apart from its input (where that
    step is not the busiest) can end the drift at no cost to the bound. Greedy: each round takes
    off the one step whose output apart gives the smallest arena, while that beats the previous
    round's and ``ceiling`` (the best arena found otherwise). Only steps that stay under the bound
    with their output apart are tried, those with the most room first, at most
    :data:`UNSHARE_TRIALS` placements in all. Returns (arena bytes, strategy, placed buffers,
    bound), the arena ``ceiling`` + 1 when no step helped."""
    shared = _buffers(steps, sizes, model_inputs, model_outputs, alignment, "all")
    live = live_bytes(shared, len(steps))
    bound = max(live, default=0)
    group_of = {t: b.group for b in shared for t in b.tensors}
    room = {}  # step written over its input -> bytes left under the bound with its output apart
    for i, step in enumerate(steps):
        if step.in_place and not step.alias and step.inputs and len(step.outputs) == 1:
            source, target = step.inputs[step.in_place_input], step.outputs[0]
            if group_of[source] == group_of[target]:
                room[i] = bound - live[i] - _align(min(sizes[source], sizes[target]), alignment)
    candidates = sorted((i for i in room if room[i] >= 0), key=lambda i: (-room[i], i))
    best: tuple[int, str, list[Buffer], int] = (ceiling + 1, "", [], 0)
    unshared: frozenset[int] = frozenset()
    trials = 0
    for _ in range(UNSHARE_ROUNDS):
        found = None
        for index in candidates:
            if index in unshared or trials >= UNSHARE_TRIALS:
                continue
            trials += 1
            trial = unshared | {index}
            buffers = _buffers(steps, sizes, model_inputs, model_outputs, alignment, "all", trial)
            trial_bound = lower_bound(buffers, len(steps))
            size, strategy, placed = _placed(steps, buffers, model_inputs, trial_bound)
            if size < best[0] and (found is None or size < found[0][0]):
                names = ", ".join(steps[i].name for i in sorted(trial))
                found = ((size, f"{strategy}, sharing all but {names}", placed, trial_bound), trial)
        if found is None:
            break
        best, unshared = found
        if best[0] == best[3]:  # at its bound: no placement can do better
            break
    return best


def _placed(steps: tuple[PlanStep, ...], buffers: list[Buffer], model_inputs: Sequence[str],
            bound: int) -> tuple[int, str, list[Buffer]]:
    """The smallest valid placement of ``buffers`` among the heuristics: (arena bytes, strategy,
    placed buffers)."""
    groups = list(_groups(buffers).values())
    n = len(groups)
    start = [min(b.first for b in g) for g in groups]
    extent = [max(b.rel + b.size for b in g) for g in groups]
    # By start step; at equal start, tensors before scratch (scratch fills the gap they leave).
    by_start = sorted(range(n), key=lambda i: (start[i], groups[i][0].scratch_of is not None, -extent[i],
                                               groups[i][0].group))
    by_size = sorted(range(n), key=lambda i: (-extent[i], start[i], groups[i][0].group))
    # Alternating ends: a layer's output goes to the other end of the arena from its input,
    # scratch between them (optimal for a chain: at every step one tensor is low, one high). A
    # group goes where its first tensor should be, from the other end when that tensor lies at
    # the group's top (an input a larger output starts below).
    high = {t: False for t in model_inputs}
    for step in steps:
        for t in step.outputs:
            high.setdefault(t, not high.get(step.inputs[0], True) if step.inputs else False)

    def sides(input_high: bool) -> list[bool]:
        out = []
        for i in by_start:
            first_part = min(groups[i], key=lambda b: (b.first, b.name))
            if first_part.scratch_of is not None:
                out.append(False)
            else:
                out.append((high.get(first_part.tensors[0], False) != input_high) != (first_part.rel > 0))
        return out

    candidates = {
        "greedy-by-size": (by_size, [False] * n),
        "greedy-by-start": (by_start, [False] * n),
        "alternating-ends": (by_start, sides(False)),
        "alternating-ends-input-at-top": (by_start, sides(True)),
    }
    best: tuple[int, str, list[Buffer]] | None = None
    for strategy, (order, side) in candidates.items():
        placed = _place(groups, order, side, bound)
        size = max((b.offset + b.size for b in placed), default=0)
        if not _conflicts(placed) and (best is None or size < best[0]):
            best = (size, strategy, placed)
    if best is None:  # cannot happen: bottom-up first fit never overlaps; kept as a guard
        raise RuntimeError("no valid arena placement found")
    return best


def check_plan(plan: ArenaPlan) -> None:
    """Raise AssertionError naming two buffers alive at the same step that share bytes, or a
    buffer outside the arena. For tests and as a last check before code generation."""
    for b in plan.buffers:
        assert 0 <= b.offset and b.offset + b.size <= plan.arena_bytes, f"{b.name} lies outside the arena"
        assert b.offset % plan.alignment == 0, f"{b.name} is not {plan.alignment}-byte aligned"
    conflicts = _conflicts(plan.buffers)
    assert not conflicts, conflicts[0]
