"""The kernel choice, in one place: the build options as a :class:`KernelPolicy` (filters and
forced families), then per layer the registered kernels for its op, those the policy allows and
that apply, the cheapest by the one cost model. Each layer gets a :class:`KernelChoice` (the
kernel, why, its modelled cycles, and every alternative with its cost or the reason it was out),
which ``report.json`` and the generated C's comments carry.

A kernel whose spec names an ``epilogue`` (a max pool or an ADD fused into a convolution) covers two ops;
it competes with the best kernel for the op plus the best for the epilogue op on their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from edge_deploy.boards.clocking import FlashTiming
from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir.graph import Graph, Op
from edge_deploy.kernels import get_kernel, kernels_for
from edge_deploy.kernels.base import KernelSpec, LayerCall
from edge_deploy.kernels.cost import calibration_error, estimate_prices, flash_stalls, priced_at
from edge_deploy.kernels.library import KernelLibrary, own_library, upstream_library
from edge_deploy.ops import get_op, kernel_params

SPARSE_MODES = ("auto", "off", "force", "force-group4", "force-csr")
WINOGRAD_MODES = ("auto", "off", "force")
KERNEL_PATHS = ("simd", "portable")
UPSTREAM_REFUSAL = "--cmsis-nn: upstream CMSIS-NN has no such function"
# A fused kernel never stores the op's own output (the memory of a whole activation tensor); it is
# chosen over the op's and the epilogue's kernels on their own when it costs at most as many more
# modelled cycles as the two estimates can be off (fused_tolerance): within that the model cannot
# tell them apart, and the memory decides. These are the least and the most such shares (a kernel
# whose cost model is far off does not buy a fused kernel that much slower).
FUSED_TOLERANCE = 0.01
FUSED_TOLERANCE_MAX = 0.05
# Priced at a board's flash, a kernel displaces the 0-wait-state choice only when it is cheaper by
# more than this share: the flash part of a price is fitted to a few percent (costs.json), so a
# smaller difference is noise, and following it would change code size and memory plans for
# nothing (a 48 x 48 pointwise layer 8 -> 16, VWW's activation_2: ed_pointwise_conv_s8 priced
# 0.2 % under ed_convolve_s8 at the L4R5's flash, measured 2.1 % over it by
# benchmarks/flash_pricing.py; in VWW it would have added 1.9 KB of code).
FLASH_RESOLUTION = 0.01


def fused_tolerance(fused: str, op_kernel: str, tail_kernel: str | None, flash: FlashTiming | None = None) -> float:
    """The share of modelled cycles a fused kernel may cost over the op's and the epilogue's
    kernels and still be chosen: its largest calibration error plus the larger of theirs (the
    pair's estimate is off by at most that; at ``flash``, the errors there too), within
    [FUSED_TOLERANCE, FUSED_TOLERANCE_MAX]."""
    error = calibration_error(fused, flash) + max(calibration_error(op_kernel, flash),
                                                  calibration_error(tail_kernel, flash))
    return min(FUSED_TOLERANCE_MAX, max(FUSED_TOLERANCE, error))


@dataclass(frozen=True)
class KernelPolicy:
    """Which kernels a build may use. ``upstream_only``: ``--cmsis-nn`` (only functions upstream
    CMSIS-NN has, and of those only the ones ``library``, the checkout, declares; edge-deploy's
    own kernel only for a layer no upstream function can run); ``sparse`` / ``winograd``: the
    modes of those families; ``portable``: the portable C path (the Winograd cost model is the
    SIMD path's, so auto leaves it out); ``exclude``: ``(op name, family)`` pairs the flash
    fallback took back; ``fallback``: set while choosing edge-deploy's kernel for such a layer;
    ``flash``: the board's flash timing, which the kernels are priced at where the cost model is
    calibrated for it (:func:`edge_deploy.kernels.cost.estimate_cycles`)."""

    upstream_only: bool = False
    sparse: str = "auto"
    winograd: str = "auto"
    portable: bool = False
    exclude: frozenset[tuple[str, str]] = frozenset()
    library: KernelLibrary | None = None
    fallback: bool = False
    flash: FlashTiming | None = None

    @classmethod
    def from_options(cls, *, sparse: str = "auto", winograd: str = "auto", kernels: str = "simd",
                     cmsis_nn: bool | str | os.PathLike | KernelLibrary = False,
                     flash: FlashTiming | None = None) -> KernelPolicy:
        """The policy of ``edge-deploy build``'s options; ``cmsis_nn`` is the upstream checkout
        (a path or a :class:`KernelLibrary`; True: upstream without a checkout to read);
        ``flash`` the board's flash timing (None: 0 wait states). Raises
        EdgeDeployError for an unknown mode, a forced family that upstream CMSIS-NN does not
        have, or a folder that is not a CMSIS-NN checkout."""
        if sparse not in SPARSE_MODES:
            raise EdgeDeployError(f"unknown --sparse mode '{sparse}'", hint=f"use one of: {', '.join(SPARSE_MODES)}")
        if winograd not in WINOGRAD_MODES:
            raise EdgeDeployError(f"unknown --winograd mode '{winograd}'",
                                  hint=f"use one of: {', '.join(WINOGRAD_MODES)}")
        if kernels not in KERNEL_PATHS:
            raise EdgeDeployError(f"unknown kernel path '{kernels}'", hint=f"use one of: {', '.join(KERNEL_PATHS)}")
        if cmsis_nn and sparse.startswith("force"):
            raise EdgeDeployError("--sparse force needs edge-deploy's kernels; upstream CMSIS-NN has no sparse kernels",
                                  hint="drop --cmsis-nn, or build with --sparse off")
        if cmsis_nn and winograd == "force":
            raise EdgeDeployError("--winograd force needs edge-deploy's kernels; upstream CMSIS-NN has no Winograd kernel",
                                  hint="drop --cmsis-nn, or build with --winograd off")
        # Auto means off where the family cannot run: upstream CMSIS-NN has neither family, and
        # the Winograd cost model is the SIMD path's.
        if cmsis_nn and sparse == "auto":
            sparse = "off"
        if winograd == "auto" and (cmsis_nn or kernels == "portable"):
            winograd = "off"
        library = None
        if isinstance(cmsis_nn, KernelLibrary):
            library = cmsis_nn
        elif cmsis_nn is not False and cmsis_nn is not True and cmsis_nn is not None:
            library = upstream_library(cmsis_nn)
        return cls(upstream_only=bool(cmsis_nn), sparse=sparse, winograd=winograd, portable=kernels == "portable",
                   library=library, flash=flash)

    def excluding(self, op_name: str, family: str) -> KernelPolicy:
        """The same policy with ``family`` kernels taken away from op ``op_name``."""
        return replace(self, exclude=self.exclude | {(op_name, family)})

    def refusal(self, kernel: KernelSpec, op: Op) -> str | None:
        """Why the options rule ``kernel`` out for ``op``, or None."""
        if self.upstream_only and not self.fallback:
            if kernel.upstream is None:
                return UPSTREAM_REFUSAL
            if self.library is not None and not self.library.declares(kernel.name):
                return (f"--cmsis-nn: this checkout does not declare {kernel.name} (upstream has it since "
                        f"v{kernel.upstream})")
        if kernel.family is not None and (op.name, kernel.family) in self.exclude:
            return f"its {kernel.family} data would not fit the flash"
        if kernel.family == "sparse":
            if self.sparse == "off":
                return "--sparse off"
            fmt = getattr(kernel, "sparse_format", None)
            if self.sparse.startswith("force-") and fmt != self.sparse.split("-", 1)[1]:
                return f"--sparse {self.sparse}"
        if kernel.family == "winograd" and self.winograd == "off":
            return "--winograd off (the default with --kernels portable: the Winograd cost model is the SIMD path's)" \
                if self.portable else "--winograd off"
        return None

    def forced(self, kernel: KernelSpec) -> bool:
        """True when the options force ``kernel`` wherever it applies."""
        if kernel.family == "winograd":
            return self.winograd == "force"
        if kernel.family == "sparse" and getattr(kernel, "sparse_format", None) is not None:
            return self.sparse.startswith("force")
        return False

    def provider(self, kernel: KernelSpec) -> KernelLibrary:
        """The library whose ``kernel`` function a build links: the upstream checkout when it
        declares it, else edge-deploy's own."""
        if self.library is not None and kernel.upstream is not None and self.library.declares(kernel.name):
            return self.library
        return own_library()

    def scratch_bytes(self, kernel: KernelSpec, call: LayerCall) -> int:
        """The scratch the plan reserves for ``kernel`` on ``call``: what the library that provides
        it asks for (:meth:`KernelSpec.upstream_scratch_bytes` for an upstream checkout)."""
        library = self.provider(kernel)
        return kernel.upstream_scratch_bytes(call, library) if library.is_upstream else kernel.scratch_bytes(call)

    def fallback_policy(self) -> KernelPolicy | None:
        """The policy for a layer no upstream function can run: edge-deploy's kernels allowed
        (compiled against edge-deploy's headers beside upstream), or None when the checkout's
        structs differ from edge-deploy's so the two cannot be mixed."""
        if self.library is not None and self.library.struct_mismatches(own_library()):
            return None
        return replace(self, fallback=True)

    def to_dict(self) -> dict[str, Any]:
        """The policy for report.json."""
        return {"upstream_only": self.upstream_only, "sparse": self.sparse, "winograd": self.winograd,
                "portable": self.portable, "priced_at": priced_at(self.flash),
                "flash_fallback": [f"{name}: no {family}" for name, family in sorted(self.exclude)]}


@dataclass(frozen=True)
class Candidate:
    """One kernel considered for a layer: its modelled cycles (for the ops the choice covers; at
    the board's flash where the policy prices there, with ``zero_wait`` its cycles at 0 wait
    states), or why it was out."""

    kernel: str
    cycles: int | None = None
    out: str | None = None
    zero_wait: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """For report.json."""
        if self.out is not None:
            return {"kernel": self.kernel, "out": self.out}
        return {"kernel": self.kernel, "cycles": self.cycles,
                **({"cycles_zero_wait": self.zero_wait} if self.zero_wait is not None else {})}

    def plus(self, other: Candidate) -> Candidate:
        """This kernel's price with ``other``'s added (an op and its epilogue's own kernel)."""
        zero_wait = None if self.zero_wait is None else self.zero_wait + other.zero_wait
        return Candidate(self.kernel, self.cycles + other.cycles, zero_wait=zero_wait)


@dataclass(frozen=True)
class KernelChoice:
    """The kernel chosen for one layer, why, its modelled cycles, the ops fused after it, and
    the alternatives."""

    kernel: str
    reason: str
    cycles: int
    fused: tuple[str, ...] = ()
    alternatives: tuple[Candidate, ...] = field(default_factory=tuple)
    facts: dict[str, Any] = field(default_factory=dict)  # the kernel's facts about the layer

    def to_dict(self) -> dict[str, Any]:
        """The ``layers[].kernel_choice`` record of report.json."""
        return {"kernel": self.kernel, "reason": self.reason, "modelled_cycles": self.cycles,
                "fused": list(self.fused), "alternatives": [c.to_dict() for c in self.alternatives],
                "facts": dict(self.facts)}

    def comment(self) -> str:
        """One line for the generated C."""
        others = [f"{c.kernel} {c.cycles:,}" for c in self.alternatives if c.out is None]
        tail = f"; others {', '.join(others)}" if others else ""
        return f"kernel {self.kernel}: {self.reason}{tail}"


@dataclass(frozen=True)
class ChosenLayer:
    """An op (with the ops fused into it) and its kernel; ``kernel`` and ``choice`` are None for
    a view (reshape), which runs no code."""

    index: int
    call: LayerCall
    kernel: KernelSpec | None
    choice: KernelChoice | None


def _evaluate(kernels: list[KernelSpec], call: LayerCall, policy: KernelPolicy) -> list[Candidate]:
    out = []
    for kernel in kernels:
        why = policy.refusal(kernel, call.op) or kernel.applies(call)
        if not why and not policy.forced(kernel):
            why = kernel.worthwhile(call)
        if why:
            out.append(Candidate(kernel.name, out=why))
            continue
        cycles, zero_wait = estimate_prices(kernel, call, policy.flash)
        out.append(Candidate(kernel.name, cycles, zero_wait=zero_wait if flash_stalls(policy.flash) else None))
    return out


def _pick(candidates: list[Candidate], policy: KernelPolicy, extra: int = 0) -> tuple[Candidate, str] | None:
    """The cheapest usable candidate (a forced one first) and the reason, or None."""
    usable = [c for c in candidates if c.out is None]
    if not usable:
        return None
    forced = [c for c in usable if policy.forced(get_kernel(c.kernel))]
    pool = forced or usable
    best = min(pool, key=lambda c: (c.cycles, c.kernel))
    if forced:
        return best, "forced by the build options (--sparse / --winograd force)"
    if len(usable) == 1:
        return best, f"the only kernel that applies ({best.cycles + extra:,} modelled cycles)"
    if best.zero_wait is not None:
        settled = min(pool, key=lambda c: (c.zero_wait, c.kernel))
        if settled is not best and settled.cycles <= best.cycles * (1 + FLASH_RESOLUTION):
            return settled, (f"fewest modelled cycles at 0 wait states ({settled.zero_wait + extra:,}); at the "
                             f"board's flash {settled.cycles + extra:,}, within {FLASH_RESOLUTION:.0%} of "
                             f"{best.kernel}'s {best.cycles + extra:,}, which the cost model does not resolve")
        return best, f"fewest modelled cycles at the board's flash ({best.cycles + extra:,})"
    return best, f"fewest modelled cycles ({best.cycles + extra:,})"


def _no_kernel(op: Op, candidates: list[Candidate]) -> EdgeDeployError:
    if candidates and all(c.out == UPSTREAM_REFUSAL for c in candidates):
        return EdgeDeployError(
            f"with --cmsis-nn every layer must call an upstream CMSIS-NN function, but op '{op.name}' ({op.kind}) "
            f"needs edge-deploy's own kernel ({', '.join(c.kernel for c in candidates)})",
            hint="build without --cmsis-nn (the bundled kernels), or change the model to avoid the op")
    reasons = "; ".join(f"{c.kernel}: {c.out}" for c in candidates) or "no kernel serves this op"
    return EdgeDeployError(f"op '{op.name}' ({op.kind}): no kernel can run it ({reasons})",
                           hint="change the model to avoid it, or build without the option that rules the kernels out")


def _fallback(call: LayerCall, policy: KernelPolicy,
              upstream: list[Candidate]) -> tuple[tuple[Candidate, str] | None, list[Candidate]]:
    """With --cmsis-nn, a layer no upstream function can run takes edge-deploy's kernel (as
    TFLM takes its reference kernel for an op CMSIS-NN lacks). Returns the pick and the
    candidates (upstream's reasons kept for the report)."""
    fallback = policy.fallback_policy()
    if fallback is None:
        return None, upstream
    candidates = _evaluate(kernels_for(call.kind), call, fallback)
    pick = _pick(candidates, fallback)
    if pick is None:
        return None, upstream
    winner, reason = pick
    why = "; ".join(f"{c.kernel}: {c.out}" for c in upstream) or "it has no function for this op"
    reason = f"upstream CMSIS-NN cannot run this layer ({why}), so edge-deploy's kernel runs it: {reason}"
    return (winner, reason), [c if c.kernel == winner.kernel else next((u for u in upstream if u.kernel == c.kernel), c)
                              for c in candidates]


def _epilogue_of(graph: Graph, index: int, consumers: dict[str, list[int]]) -> int | None:
    """The op that alone reads op ``index``'s output (not a model output; as its input 0, or any
    input of an op with other operands, an ADD), when some kernel fuses that op kind after this
    one (the fused kernel's ``applies`` says whether it can)."""
    op = graph.ops[index]
    users = consumers.get(op.outputs[0], [])
    if op.outputs[0] in graph.outputs or len(users) != 1:
        return None
    follower = graph.ops[users[0]]
    if op.outputs[0] not in follower.inputs or not kernels_for(op.kind, follower.kind):
        return None
    return users[0]


def choose_kernels(graph: Graph, policy: KernelPolicy) -> list[ChosenLayer]:
    """The kernel of every op of the int8 ``graph`` under ``policy``, in run order (ops fused into
    the layer before them have no entry). Raises EdgeDeployError naming the first op no kernel
    can run, with each kernel's reason."""
    consumers = graph.consumers()
    covered: set[int] = set()
    chosen: list[ChosenLayer] = []
    for index, op in enumerate(graph.ops):
        if index in covered:
            continue
        call = LayerCall(graph, op, kernel_params(graph, op))
        if get_op(op).is_view(graph, op):
            chosen.append(ChosenLayer(index, call, None, None))
            continue
        singles = _evaluate(kernels_for(op.kind), call, policy)
        single = _pick(singles, policy)
        follower = _epilogue_of(graph, index, consumers)
        if follower is not None and single is not None:
            tail_op = graph.ops[follower]
            tail = _pick(_evaluate(kernels_for(tail_op.kind), LayerCall(graph, tail_op, kernel_params(graph, tail_op)),
                                   policy), policy)
            fused_call = LayerCall(graph, op, call.params, epilogue=tail_op)
            fused = {c.kernel: c for c in _evaluate(kernels_for(op.kind, tail_op.kind), fused_call, policy)}
            # Each kernel for the op covers both ops: its variant with the epilogue fused where one
            # applies (the same arithmetic without storing the intermediate), and itself plus the
            # epilogue's own kernel. The cheapest covering wins, a fused one within fused_tolerance.
            covering = []
            for c in singles:
                if c.out is not None:
                    continue
                variant = next((f for f in fused.values() if get_kernel(f.kernel).base == c.kernel and f.out is None),
                               None)
                if variant is not None:
                    covering.append(variant)
                if tail is not None:
                    covering.append(c.plus(tail[0]))
            best = _pick(covering, policy)
            tail_kernel = tail[0].kernel if tail is not None else None
            tolerances = {c.kernel: fused_tolerance(c.kernel, best[0].kernel, tail_kernel, policy.flash)
                          for c in covering if best is not None and get_kernel(c.kernel).epilogue is not None}
            close = [c for c in covering if c.kernel in tolerances
                     and c.cycles <= best[0].cycles * (1 + tolerances[c.kernel])]
            if (best is not None and get_kernel(best[0].kernel).epilogue is None and close
                    and not best[1].startswith("forced")):
                fused_best = min(close, key=lambda c: (c.cycles, c.kernel))
                tolerance = tolerances[fused_best.kernel]
                best = (fused_best, f"within {tolerance:.1%} of the fewest modelled cycles "
                                    f"({fused_best.cycles:,} against {best[0].cycles:,} unfused; the cost "
                                    f"model's calibration errors) with the {tail_op.kind} fused, so the "
                                    f"{op.kind}'s output is never stored")
            elif best is not None and get_kernel(best[0].kernel).epilogue is not None:
                winner, reason = best
                if not reason.startswith("forced"):
                    best = (winner, f"fewest modelled cycles ({winner.cycles:,} with the {tail_op.kind} fused)")
            if best is not None and get_kernel(best[0].kernel).epilogue is not None:
                winner, reason = best
                alternatives = tuple(sorted([c for c in covering if c.kernel != winner.kernel]
                                            + [c for c in list(fused.values()) + singles if c.out is not None],
                                            key=lambda c: c.kernel))
                choice = KernelChoice(winner.kernel, reason, winner.cycles, (tail_op.name,), alternatives,
                                      get_kernel(winner.kernel).facts(fused_call))
                chosen.append(ChosenLayer(index, fused_call, get_kernel(winner.kernel), choice))
                covered.add(follower)
                continue
        if single is None and policy.upstream_only:
            single, singles = _fallback(call, policy, singles)
        if single is None:
            raise _no_kernel(op, singles)
        winner, reason = single
        alternatives = tuple(c for c in singles if c.kernel != winner.kernel)
        kernel = get_kernel(winner.kernel)
        chosen.append(ChosenLayer(index, call, kernel, KernelChoice(winner.kernel, reason, winner.cycles, (),
                                                                    alternatives, kernel.facts(call))))
    return chosen
