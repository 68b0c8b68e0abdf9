"""A mutation fuzzer for the ``.tflite`` reader and everything after it.

Every mutant of a seed model is pushed through what a user's commands do with a file: load it
(``inspect``), run the int8 interpreter on a batch (``infer``), plan its kernels and memory and
render its C (``build`` up to the compiler); a sample is also compiled. The contract under test:
a mutant is either refused with an :class:`~edge_deploy.errors.EdgeDeployError` or goes through
every stage, and its C compiles. Any other exception is a failure, reported with its traceback.

Two kinds of mutants, both from a seeded :class:`numpy.random.Generator` (same seed, same mutants):

* bytes: flipped bits, overwritten 32-bit words (0, -1, INT32_MAX, small numbers, float specials),
  truncation, a repeated slice, applied to the seed's file;
* meaning: the seed read into a :class:`~edge_deploy.ir.Graph`, one fact changed (a scale, a zero
  point, an attribute, a shape, an input swapped for a constant, the outputs, the op order, the
  model name), written back with :func:`~edge_deploy.tflite.writer.export_tflite` unchecked, so the
  file is well formed but says something inconsistent.

``tests/test_tflite_fuzz.py`` runs a few hundred mutants; ``benchmarks/fuzz_tflite.py`` thousands.
"""

from __future__ import annotations

import copy
import math
import struct
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir import Graph, QuantParams

FUZZ_BOARD = "mps2-an386"

_WORDS = (0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 1, 2, 3, 7, 0xFF, 0x100, 0xFFFF,
          *struct.unpack("<4I", struct.pack("<4f", math.nan, math.inf, 1e-45, 1e30)))
_SCALES = (0.0, -0.5, 1e-45, 2.3e-43, 1e-38, 1e-30, 1e-12, 1e12, 1e30, 3.4e38, math.inf, math.nan)
_ZERO_POINTS = (-129, 128, 1000, -1 << 40, 127, -128)
_VALUES = (0, -1, 1, 2, 3, 1 << 20, -(1 << 31), 0.0, -1.0, 1e30, math.nan, math.inf, "same", "bogus",
           None, (0, 0), (1, 1), (2, 3), (1 << 16, 1), (-1, 2), (1, 2, 3), "relu6", "tanh")
_NAMES = ("my\nmodel", 'quote"s and \\', "*/ close /* open", "tri??=graph", "ünïcödé ☃", "", " " * 3,
          "a" * 300, "\x00nul", "$(shell rm -rf /)", "#define X")


@dataclass
class Mutant:
    """One fuzz case: the file's bytes and how it was made."""

    label: str
    data: bytes


@dataclass
class Outcome:
    """What happened to one mutant: ``stage`` it reached ("refused at load", "rendered",
    "compiled" ...), ``failure`` the traceback of an exception that is not an EdgeDeployError."""

    label: str
    stage: str
    seconds: float
    failure: str | None = None


@dataclass
class Summary:
    """Counts of :class:`Outcome` over a fuzz run."""

    mutants: int = 0
    stages: dict[str, int] = field(default_factory=dict)
    failures: list[Outcome] = field(default_factory=list)
    slowest: Outcome | None = None

    def add(self, outcome: Outcome) -> None:
        self.mutants += 1
        self.stages[outcome.stage] = self.stages.get(outcome.stage, 0) + 1
        if outcome.failure is not None:
            self.failures.append(outcome)
        if self.slowest is None or outcome.seconds > self.slowest.seconds:
            self.slowest = outcome


# ---- making mutants ---------------------------------------------------------------------------

def byte_mutant(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One byte-level mutation of ``data``."""
    buf = bytearray(data)
    kind = int(rng.integers(5))
    if kind == 0:
        positions = rng.integers(len(buf), size=int(rng.integers(1, 9)))
        for p in positions:
            buf[int(p)] ^= 1 << int(rng.integers(8))
        return f"flip {len(positions)} bits", bytes(buf)
    if kind == 1:
        count = int(rng.integers(1, 4))
        for _ in range(count):
            p = int(rng.integers(max(1, len(buf) - 4))) & ~3
            buf[p:p + 4] = struct.pack("<I", _WORDS[int(rng.integers(len(_WORDS)))])
        return f"overwrite {count} words", bytes(buf)
    if kind == 2:
        cut = int(rng.integers(len(buf)))
        return f"truncate to {cut} bytes", bytes(buf[:cut])
    if kind == 3:
        a = int(rng.integers(len(buf)))
        b = min(len(buf), a + int(rng.integers(1, 64)))
        return f"repeat bytes {a}..{b}", bytes(buf[:b] + buf[a:b] + buf[b:])
    p = int(rng.integers(len(buf)))
    buf[p] = int(rng.integers(256))
    return f"set byte {p}", bytes(buf)


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def _mutate_quant(graph: Graph, rng: np.random.Generator) -> str:
    name = _pick(rng, sorted(n for n, t in graph.tensors.items() if t.quant is not None))
    t = graph.tensors[name]
    scale, zero = t.quant.scale.copy(), t.quant.zero_point.copy()
    if rng.integers(2):
        scale[int(rng.integers(scale.size))] = _pick(rng, _SCALES)
        what = f"scale {scale.tolist()[:2]}"
    else:
        zero[int(rng.integers(zero.size))] = _pick(rng, _ZERO_POINTS)
        what = f"zero point {zero.tolist()[:2]}"
    t.quant = QuantParams(scale.astype(np.float32), zero.astype(np.int64), t.quant.axis)
    return f"tensor {name!r} {what}"


def _mutate_attr(graph: Graph, rng: np.random.Generator) -> str:
    op = _pick(rng, graph.ops)
    names = sorted(op.attrs) or ["activation"]
    name = _pick(rng, names)
    op.attrs[name] = _pick(rng, _VALUES)
    return f"op {op.name!r} {name}={op.attrs[name]!r}"


def _mutate_shape(graph: Graph, rng: np.random.Generator) -> str:
    name = _pick(rng, sorted(graph.tensors))
    t = graph.tensors[name]
    shape = list(t.shape) or [1]
    shape[int(rng.integers(len(shape)))] = int(_pick(rng, (0, 1, 2, 3, 7, 64, 1 << 14, -1)))
    # A constant keeps its data (the file then disagrees with itself) unless the size matches.
    t.shape = tuple(shape)
    if t.data is not None and int(np.prod(shape)) == t.data.size and min(shape) > 0:
        t.data = t.data.reshape(shape)
    return f"tensor {name!r} shape {tuple(shape)}"


def _mutate_wiring(graph: Graph, rng: np.random.Generator) -> str:
    kind = int(rng.integers(6))
    constants = sorted(n for n, t in graph.tensors.items() if t.is_constant)
    if kind == 0 and constants:
        op = _pick(rng, graph.ops)
        op.inputs[0] = _pick(rng, constants)
        return f"op {op.name!r} reads constant {op.inputs[0]!r}"
    if kind == 1 and constants:
        graph.outputs = [_pick(rng, constants)]
        return f"output is constant {graph.outputs[0]!r}"
    if kind == 2 and len(graph.ops) > 1:
        i, j = rng.choice(len(graph.ops), 2, replace=False)
        graph.ops[i], graph.ops[j] = graph.ops[j], graph.ops[i]
        return f"ops {i} and {j} swapped"
    if kind == 3:
        del graph.ops[int(rng.integers(len(graph.ops)))]
        return "an op removed"
    if kind == 4:
        op = _pick(rng, graph.ops)
        op.inputs.reverse()
        return f"op {op.name!r} inputs reversed"
    graph.ops, graph.inputs, graph.outputs = [], [], []
    return "empty graph"


def _mutate_name(graph: Graph, rng: np.random.Generator) -> str:
    if rng.integers(2):
        graph.name = _pick(rng, _NAMES)
        return f"model name {graph.name!r}"
    old = _pick(rng, sorted(graph.tensors))
    new = _pick(rng, _NAMES) or "x"
    if new in graph.tensors:
        return "tensor name unchanged"
    t = graph.tensors.pop(old)
    t.name = new
    graph.tensors[new] = t
    for op in graph.ops:
        op.inputs = [new if n == old else n for n in op.inputs]
        op.outputs = [new if n == old else n for n in op.outputs]
        op.name = new if op.name == old else op.name
    graph.inputs = [new if n == old else n for n in graph.inputs]
    graph.outputs = [new if n == old else n for n in graph.outputs]
    return f"tensor {old!r} renamed {new!r}"


_MEANING: tuple[Callable[[Graph, np.random.Generator], str], ...] = (
    _mutate_quant, _mutate_quant, _mutate_attr, _mutate_attr, _mutate_shape, _mutate_wiring, _mutate_name)


def meaning_mutant(graph: Graph, rng: np.random.Generator) -> tuple[str, bytes] | None:
    """One semantic mutation of ``graph`` written as a ``.tflite`` file, or None when the mutated
    graph is too broken for the writer itself (no file to read: not a reader case)."""
    from edge_deploy.tflite.writer import export_tflite

    mutated = copy.deepcopy(graph)
    label = _pick(rng, _MEANING)(mutated, rng)
    try:
        return label, export_tflite(mutated, check=False)
    except Exception:  # noqa: BLE001  the writer need not serialize nonsense; such a mutant is skipped
        return None


def mutants(seeds: dict[str, bytes], count: int, seed: int = 0) -> Iterator[Mutant]:
    """``count`` mutants of the ``seeds`` files (name -> bytes), half byte-level, half semantic."""
    from edge_deploy.tflite import import_tflite

    rng = np.random.default_rng(seed)
    names = sorted(seeds)
    graphs = {name: import_tflite(seeds[name], name=name) for name in names}
    made = 0
    while made < count:
        name = _pick(rng, names)
        made_one = byte_mutant(seeds[name], rng) if rng.integers(2) else meaning_mutant(graphs[name], rng)
        if made_one is not None:
            made += 1
            yield Mutant(f"{name}: {made_one[0]}", made_one[1])


# ---- exercising one -----------------------------------------------------------------------------

def exercise(mutant: Mutant, *, compile_dir: Path | None = None) -> Outcome:
    """Push ``mutant`` through load, inspect, infer, plan and render (and a build into
    ``compile_dir`` when given); returns the :class:`Outcome`."""
    start = time.perf_counter()
    try:
        stage = _exercise(mutant, compile_dir)
    except _Reached as reached:
        stage = reached.stage
    except Exception:  # noqa: BLE001  what the fuzzer exists to catch
        return Outcome(mutant.label, "crashed", time.perf_counter() - start, traceback.format_exc())
    return Outcome(mutant.label, stage, time.perf_counter() - start)


class _Reached(Exception):
    def __init__(self, stage: str) -> None:
        self.stage = stage


def _exercise(mutant: Mutant, compile_dir: Path | None) -> str:
    from edge_deploy.build.firmware_build import build_graph
    from edge_deploy.cli.inspect_cmd import layer_table
    from edge_deploy.codegen.project import plan_model, render_model
    from edge_deploy.interp.interpreter import run
    from edge_deploy.tflite import import_tflite

    def refused(stage: str, call: Callable):
        try:
            return call()
        except EdgeDeployError:
            raise _Reached(f"refused at {stage}") from None

    graph = refused("load", lambda: import_tflite(mutant.data, name="fuzz"))
    refused("inspect", lambda: layer_table(graph))
    x = graph.tensor(graph.inputs[0])
    batch = np.random.default_rng(0).integers(-128, 128, size=(2, *x.shape[1:]), dtype=np.int64).astype(np.int8)
    refused("infer", lambda: run(graph, batch))
    model = refused("plan", lambda: plan_model(graph))
    refused("render", lambda: render_model(model, FUZZ_BOARD))
    if compile_dir is None:
        return "rendered"
    with tempfile.TemporaryDirectory(dir=compile_dir) as out:
        # Compiled, not run: the board's stack, no measurement on QEMU.
        refused("build", lambda: build_graph(graph, FUZZ_BOARD, Path(out) / "build", jobs=1, stack="board"))
    return "compiled"


def fuzz(seeds: dict[str, bytes], count: int, *, seed: int = 0, compile_every: int = 0,
         compile_dir: Path | None = None, progress: Callable[[int, Outcome], None] | None = None) -> Summary:
    """Run ``count`` mutants; every ``compile_every``-th one that renders is also built (0: none)."""
    summary = Summary()
    rendered = 0
    for index, mutant in enumerate(mutants(seeds, count, seed)):
        outcome = exercise(mutant)
        if outcome.stage == "rendered" and compile_every and compile_dir is not None:
            rendered += 1
            if rendered % compile_every == 0:
                outcome = exercise(mutant, compile_dir=compile_dir)
        summary.add(outcome)
        if progress is not None:
            progress(index, outcome)
    return summary
