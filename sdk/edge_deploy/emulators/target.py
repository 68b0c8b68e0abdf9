"""A running emulated target: the emulator process and the pyserial URL of its console UART."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge_deploy.boards import Board
from edge_deploy.emulators.process import EmulatorProcess


@dataclass
class EmulatedTarget:
    """What a started emulator gives: ``url`` for :class:`edge_deploy.link.DeviceClient`."""

    emulator: str            # "qemu" or "renode"
    board: Board
    elf: Path
    port: int
    process: EmulatorProcess

    @property
    def url(self) -> str:
        """pyserial URL of the console UART: ``socket://127.0.0.1:PORT``."""
        return f"socket://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """Process id of the emulator."""
        return self.process.pid

    def running(self) -> bool:
        """True while the emulator has not exited."""
        return self.process.running()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the emulator to exit (e.g. after a semihosting exit); return its status.
        Raises subprocess.TimeoutExpired if it is still running after ``timeout`` seconds."""
        return self.process.wait(timeout)

    def output(self) -> str:
        """The tail of the emulator's own stderr/stdout (not the UART)."""
        return self.process.output()

    def stop(self) -> int | None:
        """Kill the emulator (idempotent); returns its exit status."""
        return self.process.stop()


__all__ = ["EmulatedTarget"]
