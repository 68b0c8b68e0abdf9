"""A running emulated target: the emulator process and the link to its firmware."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from edge_deploy.boards import Board
from edge_deploy.emulators.process import EmulatorProcess
from edge_deploy.errors import EdgeDeployError

# The links a target may offer: the console UART on a loopback TCP port, or QEMU's semihosting
# stdin/stdout joined to a socket (docs/protocol.md, "Links").
LINKS = ("uart", "semihost")
# Requests a client keeps in flight to an emulator: its input is buffered (a socket), so nothing
# sent ahead is lost while the firmware computes.
EMULATOR_WINDOW = 4
_LOG_LINES = 15


@dataclass
class EmulatedTarget:
    """What a started emulator gives: :meth:`connect` for a :class:`edge_deploy.link.DeviceClient`
    on the firmware's link, ``url`` for the UART link."""

    emulator: str            # "qemu" or "renode"
    board: Board
    elf: Path
    port: int | None         # the UART's loopback TCP port (uart link)
    process: EmulatorProcess
    link: str = "uart"
    host_socket: socket.socket | None = None   # our end of the semihosting link

    @property
    def url(self) -> str:
        """pyserial URL of the console UART (``socket://127.0.0.1:PORT``); for a semihosting
        link, a name for messages (open it with :meth:`connect`)."""
        if self.port is None:
            return f"{self.emulator} {self.board.name} (semihosting link, pid {self.pid})"
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
        if self.host_socket is not None:
            self.host_socket.close()
        return self.process.stop()

    @contextlib.contextmanager
    def connect(self, *, window: int = EMULATOR_WINDOW, boot_timeout: float | None = None,
                **options) -> Iterator[object]:
        """A :class:`edge_deploy.link.DeviceClient` on the firmware's link, ``window`` requests
        in flight. On the semihosting link, where no byte is lost before the client listens, it
        first waits for the firmware's BOOT frame (``boot_timeout`` s), so firmware that never
        starts is named at once. Other options go to DeviceClient. A link failure (closed,
        silent, no BOOT) while the emulator has exited is raised as the emulator's exit, with
        its status and the tail of its log (:meth:`explain`)."""
        from edge_deploy.link import DeviceClient, LinkError
        from edge_deploy.link.session import DEFAULT_BOOT_TIMEOUT_S

        try:
            sock = {"sock": self.host_socket} if self.host_socket is not None else {}
            with DeviceClient(self.url, window=window, **sock, **options) as device:
                if self.host_socket is not None:
                    device.wait_boot(DEFAULT_BOOT_TIMEOUT_S if boot_timeout is None else boot_timeout)
                yield device
        except LinkError as exc:
            raise self.explain(exc) from exc

    def explain(self, error: EdgeDeployError) -> EdgeDeployError:
        """``error``, a failure of the link, told from the emulator's side: if the emulator has
        exited (within a second), an error with its exit status and the tail of its log (the
        link's own symptom, a reset connection or a silence, says nothing more); otherwise
        ``error`` itself."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(1.0)
        code = self.process.returncode
        if code is None:
            return error
        if code < 0:
            status = f"was killed by {signal.Signals(-code).name}"
        else:
            status = f"exited with status {code}"
        lines = self.output().splitlines()
        if len(lines) > _LOG_LINES:
            lines = [lines[0], "..."] + lines[-_LOG_LINES:]
        log = "\n".join(lines) or "(the emulator printed nothing)"
        return EdgeDeployError(
            f"{self.emulator} ({self.board.name}) {status} while the host was talking to the firmware; "
            f"its log ends:\n{log}",
            hint=f"the firmware ended the emulator (a semihosting exit) or it or the emulator crashed: the log "
            f"says which; check {self.elf.name} was built for {self.board.name} (edge-deploy selftest checks "
            "the runtime)",
        )


__all__ = ["EMULATOR_WINDOW", "LINKS", "EmulatedTarget"]
