"""The board schema: every fact about a board that the toolchain, runtime and runners need.

A board is data (``boards/<name>.yaml``), validated by these pydantic models. Sizes may be written
as integers or with a K/M suffix (``128K``, ``1M``); addresses as integers (YAML reads ``0x...``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from edge_deploy.boards.clocking import ClockSetup, FlashTiming

UART_KINDS = ("cmsdk-uart", "stm32-usart", "stm32-lpuart", "nrf-uarte")
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([KkMm]?)(?:i?B)?\s*$")


def _parse_size(value: object) -> object:
    """Accept 4096, "4096", "128K", "1M"; leave anything else for pydantic to reject."""
    if isinstance(value, str):
        match = _SIZE_RE.match(value)
        if not match:
            raise ValueError(f"'{value}' is not a size (write bytes, or a number with K or M)")
        number, unit = int(match.group(1)), match.group(2).upper()
        return number * {"": 1, "K": 1024, "M": 1024 * 1024}[unit]
    return value


def _parse_address(value: object) -> object:
    """Accept integers and hexadecimal strings ("0x40004000")."""
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError as exc:
            raise ValueError(f"'{value}' is not an address (write e.g. 0x40004000)") from exc
    return value


Size = Annotated[int, BeforeValidator(_parse_size), Field(gt=0, le=0xFFFFFFFF)]
Address = Annotated[int, BeforeValidator(_parse_address), Field(ge=0, le=0xFFFFFFFF)]
def _check_hertz(value: int) -> int:
    if not 0 < value <= 0xFFFFFFFF:
        raise ValueError(f"{value} is out of range: above 0 and at most 4,294,967,295 (the firmware keeps "
                         "clock and baud rates in 32 bits)")
    return value


# A rate (clock Hz, baud): the firmware keeps them (ED_CLOCK_HZ, ED_UART_BAUD) in 32 bits.
Hertz = Annotated[int, AfterValidator(_check_hertz)]
# No UART here samples a bit fewer than 8 times (CMSDK: 16, STM32 USART: 16 or 8, nRF UARTE: 16),
# so a baud rate above an eighth of the UART's clock cannot be set.
MIN_OVERSAMPLING = 8


class _Strict(BaseModel):
    # extra="forbid": a misspelt field is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class MemoryRegion(_Strict):
    """One contiguous memory region: ``origin`` and ``size`` in bytes."""

    origin: Address
    size: Size

    @property
    def end(self) -> int:
        """First address past the region."""
        return self.origin + self.size

    def contains(self, address: int) -> bool:
        """True if ``address`` lies inside the region."""
        return self.origin <= address < self.end


class Memory(_Strict):
    """The board's memory map as the firmware uses it: code in ``flash``, data in ``ram``."""

    flash: MemoryRegion
    ram: MemoryRegion

    @model_validator(mode="after")
    def _no_overlap(self) -> Memory:
        if self.flash.origin < self.ram.end and self.ram.origin < self.flash.end:
            raise ValueError("the flash and ram regions overlap")
        for region in (self.flash, self.ram):
            if region.end > 0x1_0000_0000:
                raise ValueError(f"region at {region.origin:#x} runs past the 4 GiB address space")
        return self


class RegisterWrite(_Strict):
    """A read-modify-write done at start-up before the UART is used (clock gates, pin muxing):
    ``*address = (*address & ~clear) | set``."""

    address: Address
    set: Address = 0
    clear: Address = 0


class Console(_Strict):
    """The UART the protocol runs over."""

    kind: Literal["cmsdk-uart", "stm32-usart", "stm32-lpuart", "nrf-uarte"]
    base: Address
    baud: Hertz = 115200
    clock_hz: Hertz | None = Field(default=None, description="UART input clock; default: the core clock")
    bus: Literal["apb1", "apb2"] | None = Field(
        default=None, description="with a clock: block, the APB bus whose clock feeds the UART")
    init: tuple[RegisterWrite, ...] = ()
    tx_pin: int | None = Field(default=None, ge=0, description="nrf-uarte: TXD pin number")
    rx_pin: int | None = Field(default=None, ge=0, description="nrf-uarte: RXD pin number")

    @model_validator(mode="after")
    def _pins_for_nrf(self) -> Console:
        if self.kind == "nrf-uarte" and (self.tx_pin is None or self.rx_pin is None):
            raise ValueError("an nrf-uarte console needs tx_pin and rx_pin")
        return self


class Emulation(_Strict):
    """How to emulate the board; a missing field means that emulator cannot run it."""

    qemu_machine: str | None = None
    renode_platform: str | None = None
    renode_uart: str | None = Field(default=None, description="Renode peripheral of the console, e.g. sysbus.usart2")

    @model_validator(mode="after")
    def _renode_pair(self) -> Emulation:
        if (self.renode_platform is None) != (self.renode_uart is None):
            raise ValueError("renode_platform and renode_uart go together")
        return self


class Flashing(_Strict):
    """How to flash the real board."""

    pyocd_target: str | None = None
    openocd_config: str | None = None


class Board(_Strict):
    """A target board, loaded from ``boards/<name>.yaml`` by :func:`edge_deploy.boards.load_board`."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    description: str = ""
    cpu: Literal["cortex-m4"]
    fpu: Literal["fpv4-sp-d16"] | None = None
    clock_hz: Hertz = Field(description="core clock the firmware runs at")
    max_clock_hz: Hertz | None = Field(default=None, description="fastest the core can be clocked")
    memory: Memory
    stack_bytes: Size = 8192
    console: Console
    emulation: Emulation = Emulation()
    flashing: Flashing = Flashing()
    clock: ClockSetup | None = Field(default=None, description="the PLL setup the runtime applies at reset")
    flash: FlashTiming | None = Field(default=None, description="flash wait states and accelerator at clock_hz")
    source: Path | None = Field(default=None, exclude=True, description="file the board was loaded from")

    @model_validator(mode="after")
    def _stack_fits(self) -> Board:
        if self.stack_bytes >= self.memory.ram.size:
            raise ValueError(f"stack_bytes ({self.stack_bytes}) does not fit in ram ({self.memory.ram.size} bytes)")
        return self

    @model_validator(mode="after")
    def _baud_within_uart_clock(self) -> Board:
        limit = self.uart_clock_hz // MIN_OVERSAMPLING
        if self.console.baud > limit:
            raise ValueError(f"console.baud {self.console.baud} is above what a UART clocked at "
                             f"{self.uart_clock_hz} Hz can send (at most clock / {MIN_OVERSAMPLING} = {limit})")
        return self

    @model_validator(mode="after")
    def _clock_consistent(self) -> Board:
        clock = self.clock
        if clock is None:
            if self.console.bus is not None:
                raise ValueError("console.bus needs a clock: block (it derives the UART clock from the clock tree)")
            return self
        if self.clock_hz not in (clock.full_hz, clock.reset_hz):
            raise ValueError(f"clock_hz ({self.clock_hz}) is neither the PLL's output ({clock.full_hz}) nor the "
                             f"reset clock ({clock.reset_hz}) of the clock: block")
        if self.console.bus is None or self.console.clock_hz is not None:
            raise ValueError("with a clock: block, set console.bus (apb1/apb2) and leave out console.clock_hz")
        return self

    @model_validator(mode="after")
    def _enough_wait_states(self) -> Board:
        needed = self.flash.minimum_wait_states(self.clock_hz) if self.flash else None
        if needed is not None and self.flash.wait_states < needed:
            raise ValueError(f"flash.wait_states ({self.flash.wait_states}) is too few at clock_hz {self.clock_hz}: "
                             f"the flash needs {needed} (hz_per_wait_state {self.flash.hz_per_wait_state})")
        return self

    @property
    def full_clock(self) -> bool:
        """True when the runtime starts the PLL (``clock_hz`` is the PLL output, not the reset clock)."""
        return self.clock is not None and self.clock_hz == self.clock.full_hz != self.clock.reset_hz

    @property
    def has_fpu(self) -> bool:
        """True if the core has a single-precision FPU (firmware is built hard-float)."""
        return self.fpu is not None

    @property
    def uart_clock_hz(self) -> int:
        """The clock feeding the console UART at ``clock_hz`` (for its baud-rate divisor)."""
        if self.clock is not None and self.console.bus is not None:
            return self.clock.bus_hz(self.console.bus, self.clock_hz)
        return self.console.clock_hz or self.clock_hz

    @property
    def emulators(self) -> tuple[str, ...]:
        """Names of the emulators that can run this board, e.g. ``("qemu",)``."""
        found = []
        if self.emulation.qemu_machine:
            found.append("qemu")
        if self.emulation.renode_platform:
            found.append("renode")
        return tuple(found)

    @property
    def flashers(self) -> tuple[str, ...]:
        """Names of the tools that can flash the real board, e.g. ``("pyocd", "openocd")``."""
        found = []
        if self.flashing.pyocd_target:
            found.append("pyocd")
        if self.flashing.openocd_config:
            found.append("openocd")
        return tuple(found)
