"""The board schema's clock and flash-timing fields: how the runtime clocks the core and what
the flash costs at that clock (``clock:`` and ``flash:`` in ``boards/<name>.yaml``).

* ``clock``: the PLL setup the runtime applies at start-up (firmware/runtime/clock_*.c). The
  board's ``clock_hz`` is then either the PLL's output (full clock) or ``clock.reset_hz`` (the
  runtime leaves the clock as reset left it). A board without ``clock`` runs at reset clock.
* ``flash``: wait states at ``clock_hz`` and the flash accelerator (STM32 ART: prefetch,
  instruction and data cache lines). The runtime programs them (FLASH_ACR) and the cycle model
  (docs/cycle-model.md) charges them, so a board's DWT cycles and the model describe one
  configuration. A board without ``flash`` is modelled with zero-wait code and data memory.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CLOCK_DRIVERS = ("stm32f4", "stm32l4plus")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


class Pll(_Strict):
    """PLL factors as the reference manual names them: input divider ``m``, multiplier ``n``,
    and the divider to the system clock: ``p`` on STM32F4 (RM0090 6.3.2), ``r`` on STM32L4+
    (RM0432 6.4.4). ``q`` (the 48 MHz domain) is written as given, or left at its reset value."""

    m: int = Field(ge=1, le=63)
    n: int = Field(ge=8, le=432)
    p: Literal[2, 4, 6, 8] | None = None
    q: int | None = Field(default=None, ge=2, le=15)
    r: Literal[2, 4, 6, 8] | None = None


class ClockSetup(_Strict):
    """The clock the runtime sets up at reset, from the internal oscillator (no crystal needed):
    ``driver`` names the runtime code (firmware/runtime/clock_<driver>.c)."""

    driver: Literal["stm32f4", "stm32l4plus"]
    reset_hz: int = Field(gt=0, description="core clock after reset (HSI 16 MHz on STM32F4, MSI 4 MHz on L4+)")
    source_hz: int = Field(gt=0, description="PLL input: the HSI16 oscillator")
    pll: Pll
    ahb_divider: Literal[1, 2, 4, 8, 16, 64, 128, 256, 512] = 1
    apb1_divider: Literal[1, 2, 4, 8, 16] = 1
    apb2_divider: Literal[1, 2, 4, 8, 16] = 1
    overdrive: bool = Field(default=False, description="STM32F42x/F446 over-drive mode, needed above 168 MHz")

    @model_validator(mode="after")
    def _divider_for_driver(self) -> ClockSetup:
        wanted = "p" if self.driver == "stm32f4" else "r"
        if getattr(self.pll, wanted) is None:
            raise ValueError(f"clock.pll.{wanted} is the system clock divider of a {self.driver} PLL: set it")
        return self

    @property
    def pll_hz(self) -> int:
        """The PLL's system clock output: source / m * n / (p or r)."""
        divider = self.pll.p if self.driver == "stm32f4" else self.pll.r
        return self.source_hz // self.pll.m * self.pll.n // int(divider)

    @property
    def full_hz(self) -> int:
        """The core clock (HCLK) with the PLL running: the PLL output over the AHB divider."""
        return self.pll_hz // self.ahb_divider

    @property
    def hpre_code(self) -> int:
        """RCC_CFGR.HPRE for ``ahb_divider`` (0: /1, 8: /2 ... 15: /512; RM0090 and RM0432 alike)."""
        return 0 if self.ahb_divider == 1 else 8 + (1, 2, 3, 4, 6, 7, 8, 9).index(self.ahb_divider.bit_length() - 1)

    @property
    def ppre1_code(self) -> int:
        """RCC_CFGR.PPRE1 for ``apb1_divider`` (0: /1, 4: /2 ... 7: /16)."""
        return 0 if self.apb1_divider == 1 else 3 + self.apb1_divider.bit_length() - 1

    @property
    def ppre2_code(self) -> int:
        """RCC_CFGR.PPRE2 for ``apb2_divider``."""
        return 0 if self.apb2_divider == 1 else 3 + self.apb2_divider.bit_length() - 1

    def bus_hz(self, bus: str, core_hz: int) -> int:
        """The clock of APB bus ``bus`` ("apb1"/"apb2") when the core runs at ``core_hz``: at the
        reset clock every prescaler is 1 (both families' reset values)."""
        if core_hz != self.full_hz:
            return core_hz
        return core_hz // (self.apb1_divider if bus == "apb1" else self.apb2_divider)


class CacheLines(_Strict):
    """One cache of the flash accelerator: ``lines`` of ``line_bytes`` each, LRU-replaced."""

    lines: int = Field(gt=0, le=64, description="a power of two (the model counts reuse in powers of two)")
    line_bytes: int = Field(ge=4, le=64)

    @model_validator(mode="after")
    def _powers_of_two(self) -> CacheLines:
        if not _power_of_two(self.lines) or not _power_of_two(self.line_bytes):
            raise ValueError(f"lines ({self.lines}) and line_bytes ({self.line_bytes}) must be powers of two")
        return self


class FlashAccelerator(_Strict):
    """STM32's adaptive real-time memory accelerator (ART): a prefetch buffer for the next
    sequential read, an instruction cache and a data cache (RM0090 3.5.2, RM0432 3.3.x)."""

    kind: Literal["stm32-art"]
    prefetch: bool = True
    icache: CacheLines | None = None
    dcache: CacheLines | None = None


class FlashTiming(_Strict):
    """What reading the flash costs at the board's ``clock_hz``."""

    wait_states: int = Field(ge=0, le=15, description="LATENCY at clock_hz, from the reference manual's table")
    read_bytes: int = Field(default=16, ge=4, le=32, description="bytes one flash read returns (128 bits on STM32F4)")
    hz_per_wait_state: int | None = Field(
        default=None, gt=0, description="highest clock per wait state in the manual's table: checks wait_states")
    accelerator: FlashAccelerator | None = None

    @model_validator(mode="after")
    def _geometry(self) -> FlashTiming:
        if not _power_of_two(self.read_bytes):
            raise ValueError(f"read_bytes ({self.read_bytes}) must be a power of two")
        for name in ("icache", "dcache"):
            cache = getattr(self.accelerator, name, None) if self.accelerator else None
            if cache is not None and cache.line_bytes < self.read_bytes:
                raise ValueError(f"accelerator.{name}.line_bytes ({cache.line_bytes}) is smaller than one flash "
                                 f"read (read_bytes {self.read_bytes})")
        return self

    def minimum_wait_states(self, clock_hz: int) -> int | None:
        """Fewest wait states the manual allows at ``clock_hz`` (None without ``hz_per_wait_state``)."""
        if self.hz_per_wait_state is None:
            return None
        return max(0, -(-clock_hz // self.hz_per_wait_state) - 1)
