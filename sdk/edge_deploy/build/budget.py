"""Memory budgets, checked before anything is compiled.

Flash: the model's constant data (weights, biases, requantization arrays) plus an estimate of the
code (runtime + kernels + one function per layer). RAM: the arena plus the board's stack (the
first link reserves it; the build then measures the stack and relinks smaller) plus the runtime's
own buffers (a 256-byte request buffer, 20 bytes of cycle counters per layer: 556 B for KWS's 12
layers on mps2-an386). The estimates were measured with this toolchain at -O2 and are rounded up, so a model refused here would not have linked; the linker remains the final check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from edge_deploy.boards import Board
from edge_deploy.errors import EdgeDeployError

# Runtime + the kernels a model typically links; the runtime's link layer (UART or QEMU
# semihosting), RUN_BATCH and the re-scan of damaged frames added 1.25 KB (issue 17).
CODE_BASE_BYTES = 12 * 1024 + 1280
CODE_PER_LAYER_BYTES = 400  # a layer function, its constants and table entries
RUNTIME_RAM_BASE_BYTES = 1024  # request frame, link and UART state
RUNTIME_RAM_PER_LAYER_BYTES = 20  # last, min, max (u32) and sum (u64) cycle counters


@dataclass(frozen=True)
class Budget:
    """The pre-compilation estimate for one model on one board (bytes)."""

    board: str
    weights_bytes: int
    code_estimate_bytes: int
    flash_needed_bytes: int
    flash_bytes: int
    arena_bytes: int
    stack_bytes: int
    runtime_ram_bytes: int
    ram_needed_bytes: int
    ram_bytes: int
    state_bytes: int = 0  # variable tensors (a recurrent op's state), in storage of their own

    @property
    def fits(self) -> bool:
        """True when both flash and RAM estimates fit the board."""
        return self.flash_needed_bytes <= self.flash_bytes and self.ram_needed_bytes <= self.ram_bytes

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return asdict(self)


def model_budget(board: Board, model) -> Budget:
    """The budget of a planned model (:class:`edge_deploy.codegen.ModelPlan`) on ``board``: its
    layers' flash arrays in their kernels' encodings, its arena, and the code of its kernels
    (each kernel spec's ``code_bytes``, once per ``code_group``), computed without rendering."""
    layers = [layer for layer in model.layers if layer.spec is not None]
    extra = {layer.spec.code_group or layer.spec.name: layer.spec.code_bytes for layer in layers}
    state = sum(model.graph.tensor(name).nbytes for name in model.graph.variables())
    return estimate_budget(board, weights_bytes=sum(layer.spec.weight_bytes(layer.call) for layer in layers),
                           arena_bytes=model.plan.arena_bytes, n_layers=len(layers),
                           kernel_code_bytes=sum(extra.values()), state_bytes=state)


def estimate_budget(board: Board, *, weights_bytes: int, arena_bytes: int, n_layers: int,
                    kernel_code_bytes: int = 0, state_bytes: int = 0) -> Budget:
    """Estimate flash and RAM for a model with these figures on ``board``; ``kernel_code_bytes``
    is the code of kernels beyond the typical set, ``state_bytes`` the model's variable tensors
    (kept beside the arena)."""
    code = CODE_BASE_BYTES + CODE_PER_LAYER_BYTES * n_layers + kernel_code_bytes
    runtime_ram = RUNTIME_RAM_BASE_BYTES + RUNTIME_RAM_PER_LAYER_BYTES * (n_layers + 1)
    return Budget(
        board=board.name,
        weights_bytes=int(weights_bytes),
        code_estimate_bytes=code,
        flash_needed_bytes=int(weights_bytes) + code,
        flash_bytes=board.memory.flash.size,
        arena_bytes=int(arena_bytes),
        stack_bytes=board.stack_bytes,
        runtime_ram_bytes=runtime_ram,
        ram_needed_bytes=int(arena_bytes) + int(state_bytes) + board.stack_bytes + runtime_ram,
        ram_bytes=board.memory.ram.size,
        state_bytes=int(state_bytes),
    )


def _kib(n: int) -> str:
    return f"{n:,} bytes ({n / 1024:.1f} KiB)"


def flash_decided_by_linker(budget: Budget) -> bool:
    """True when the flash estimate is over the board only by its code estimate: the weights (as
    the kernels store them, exact) fit, and the code estimate is conservative (the firmware of
    TICNN is about 5 KB under it), so the compiled firmware decides, not the estimate."""
    return budget.weights_bytes <= budget.flash_bytes < budget.flash_needed_bytes


def check_budget(budget: Budget, model_name: str, *, flash: bool = True) -> None:
    """Raise EdgeDeployError naming the numbers and what to try when ``budget`` does not fit
    (``flash`` False: RAM only, where the compiled firmware decides the flash)."""
    problems, hints = [], []
    if flash and budget.flash_needed_bytes > budget.flash_bytes:
        problems.append(
            f"flash: needs about {_kib(budget.flash_needed_bytes)} (weights {_kib(budget.weights_bytes)} + code "
            f"estimate {_kib(budget.code_estimate_bytes)}), the board has {_kib(budget.flash_bytes)}")
        hints.append("shrink the weights (edge-deploy slim: Network Slimming removes channels; a smaller fc layer)")
    if budget.ram_needed_bytes > budget.ram_bytes:
        problems.append(
            f"RAM: needs about {_kib(budget.ram_needed_bytes)} (arena {_kib(budget.arena_bytes)} + "
            + (f"state {_kib(budget.state_bytes)} + " if budget.state_bytes else "") + "stack "
            f"{_kib(budget.stack_bytes)} + runtime {_kib(budget.runtime_ram_bytes)}), the board has "
            f"{_kib(budget.ram_bytes)}")
        hints.append("shrink the largest activations (fewer channels, an earlier stride or pooling)")
    if problems:
        hints.append("or pick a board with more memory (edge-deploy boards)")
        raise EdgeDeployError(f"model '{model_name}' does not fit board '{budget.board}':\n  " + "\n  ".join(problems),
                              hint="; ".join(hints))
