"""The byte streams a :class:`~edge_deploy.link.DeviceClient` talks over.

:class:`SerialStream` is any pyserial URL: a device path (``/dev/ttyACM0``), a pty, or
``socket://127.0.0.1:PORT`` (an emulator's UART). :class:`SocketStream` is a connected socket,
such as the one a QEMU runner joins to the emulator's semihosting stdin/stdout
(``edge_deploy.emulators.qemu``). Both read with a short wait and raise :class:`LinkClosed` when
the other end is gone, so the client never sees a pyserial or socket exception.
"""

from __future__ import annotations

import select
import socket
import time

import serial

try:
    import termios

    # pyserial lets termios.error (not an OSError) through from tcdrain on a tty whose far end is gone.
    _PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError, termios.error)
except ImportError:  # not a POSIX system
    _PORT_ERRORS = (serial.SerialException, OSError)

from edge_deploy.errors import EdgeDeployError

# How long a read waits for the first byte: short, so the client keeps its own timers.
POLL_S = 0.05


class LinkError(EdgeDeployError):
    """The link itself failed (closed, silent, no boot), as opposed to the device refusing a
    request. An emulator runner replaces it with the emulator's own story when the emulator has
    exited (:meth:`edge_deploy.emulators.EmulatedTarget.connect`)."""


class LinkClosed(LinkError):
    """The other end of the link went away (the board was unplugged, the emulator exited)."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(
            f"the link to {name} closed: {detail}",
            hint="the board was reset or unplugged, or the emulator exited; check it and try again",
        )


class SerialStream:
    """A pyserial port opened from a URL. Raises EdgeDeployError if it cannot be opened."""

    def __init__(self, url: str, *, baudrate: int = 115200, connect_timeout: float = 5.0) -> None:
        self.name = url
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=POLL_S, write_timeout=10)
                return
            except (serial.SerialException, OSError, ValueError) as exc:
                # An emulator may still be opening its socket: retry until the deadline.
                if time.monotonic() >= deadline or not url.startswith("socket://"):
                    raise EdgeDeployError(
                        f"cannot open serial port {url}: {exc}",
                        hint="check the device is connected (or the emulator is running) and the URL is right",
                    ) from exc
                time.sleep(0.05)

    def read(self) -> bytes:
        """The bytes that arrive within POLL_S seconds (as soon as some do); b"" if none."""
        try:
            data = self._port.read(max(1, self._port.in_waiting))
            if data and self._port.in_waiting:
                data += self._port.read(self._port.in_waiting)
            return data
        except _PORT_ERRORS as exc:
            raise LinkClosed(self.name, f"read failed ({exc})") from exc

    def write(self, data: bytes) -> None:
        """Send ``data`` (all of it)."""
        try:
            self._port.write(data)
            self._port.flush()
        except _PORT_ERRORS as exc:
            raise LinkClosed(self.name, f"write failed ({exc})") from exc

    def close(self) -> None:
        """Close the port."""
        self._port.close()


class SocketStream:
    """A connected stream socket. ``owned``: close the socket with the stream (else its owner
    closes it, e.g. an emulator runner that may hand it to a second client)."""

    def __init__(self, sock: socket.socket, name: str, *, owned: bool = True) -> None:
        self.name = name
        self._sock = sock
        self._owned = owned

    def read(self) -> bytes:
        """The bytes that arrive within POLL_S seconds (as soon as some do); b"" if none."""
        try:
            ready, _, _ = select.select([self._sock], [], [], POLL_S)
            if not ready:
                return b""
            data = self._sock.recv(1 << 16)
        except OSError as exc:
            raise LinkClosed(self.name, f"read failed ({exc})") from exc
        if not data:
            raise LinkClosed(self.name, "the other end closed the connection")
        return data

    def write(self, data: bytes) -> None:
        """Send ``data`` (all of it)."""
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise LinkClosed(self.name, f"write failed ({exc})") from exc

    def close(self) -> None:
        """Close the socket if this stream owns it."""
        if self._owned:
            self._sock.close()


__all__ = ["LinkClosed", "LinkError", "SerialStream", "SocketStream"]
