"""Memory budgets, checked before anything is compiled.

Flash: the model's constant data (weights, biases, requantization arrays) plus an estimate of the
code (runtime + kernels + one function per layer). RAM: the arena plus the board's stack plus the
runtime's own buffers (protocol frames, counters). The estimates were measured with this
toolchain at -O2 (runtime and kernels 12.6-14.1 KB of code, 7.7 KB of RAM on mps2-an386) and are
rounded up, so a model refused here would not have linked; the linker remains the final check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from edge_deploy.boards import Board
from edge_deploy.errors import EdgeDeployError

# Runtime + the kernels a model typically links; the runtime's link layer (UART or QEMU
# semihosting), RUN_BATCH and the re-scan of damaged frames added 1.25 KB (issue 17).
CODE_BASE_BYTES = 12 * 1024 + 1280
CODE_PER_LAYER_BYTES = 400  # a layer function, its constants and table entries
# Kernels beyond the typical set, by the name of the function a layer calls: their code (SIMD
# build, -O2; edge-deploy's Winograd kernel with its pooled variant measured at 6.2 KB with arm-none-eabi-nm).
EXTRA_KERNEL_CODE_BYTES = {"ed_convolve_1d_winograd_s8": 7 * 1024, "ed_convolve_1d_winograd_maxpool2_s8": 7 * 1024}
RUNTIME_RAM_BYTES = 8 * 1024  # server frames, profile counters, UART state


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

    @property
    def fits(self) -> bool:
        """True when both flash and RAM estimates fit the board."""
        return self.flash_needed_bytes <= self.flash_bytes and self.ram_needed_bytes <= self.ram_bytes

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return asdict(self)


def estimate_budget(board: Board, *, weights_bytes: int, arena_bytes: int, n_layers: int,
                    kernels: set[str] | frozenset[str] = frozenset()) -> Budget:
    """Estimate flash and RAM for a model with these figures on ``board``; ``kernels`` are the
    kernel functions its layers call (those in EXTRA_KERNEL_CODE_BYTES add their code, the
    Winograd pair once)."""
    extra = {EXTRA_KERNEL_CODE_BYTES[k] for k in kernels if k in EXTRA_KERNEL_CODE_BYTES}
    code = CODE_BASE_BYTES + CODE_PER_LAYER_BYTES * n_layers + max(extra, default=0)
    return Budget(
        board=board.name,
        weights_bytes=int(weights_bytes),
        code_estimate_bytes=code,
        flash_needed_bytes=int(weights_bytes) + code,
        flash_bytes=board.memory.flash.size,
        arena_bytes=int(arena_bytes),
        stack_bytes=board.stack_bytes,
        runtime_ram_bytes=RUNTIME_RAM_BYTES,
        ram_needed_bytes=int(arena_bytes) + board.stack_bytes + RUNTIME_RAM_BYTES,
        ram_bytes=board.memory.ram.size,
    )


def _kib(n: int) -> str:
    return f"{n:,} bytes ({n / 1024:.1f} KiB)"


def check_budget(budget: Budget, model_name: str) -> None:
    """Raise EdgeDeployError naming the numbers and what to try when ``budget`` does not fit."""
    problems, hints = [], []
    if budget.flash_needed_bytes > budget.flash_bytes:
        problems.append(
            f"flash: needs about {_kib(budget.flash_needed_bytes)} (weights {_kib(budget.weights_bytes)} + code "
            f"estimate {_kib(budget.code_estimate_bytes)}), the board has {_kib(budget.flash_bytes)}")
        hints.append("shrink the weights (edge-deploy slim: Network Slimming removes channels; a smaller fc layer)")
    if budget.ram_needed_bytes > budget.ram_bytes:
        problems.append(
            f"RAM: needs about {_kib(budget.ram_needed_bytes)} (arena {_kib(budget.arena_bytes)} + stack "
            f"{_kib(budget.stack_bytes)} + runtime {_kib(budget.runtime_ram_bytes)}), the board has "
            f"{_kib(budget.ram_bytes)}")
        hints.append("shrink the largest activations (fewer channels, an earlier stride or pooling)")
    if problems:
        hints.append("or pick a board with more memory (edge-deploy boards)")
        raise EdgeDeployError(f"model '{model_name}' does not fit board '{budget.board}':\n  " + "\n  ".join(problems),
                              hint="; ".join(hints))
