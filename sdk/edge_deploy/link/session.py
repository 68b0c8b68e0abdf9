"""A link session: frames to and from the edge-deploy runtime, requests matched to replies.

:class:`LinkSession` owns the byte stream (:mod:`edge_deploy.link.stream`), the frame decoder and
the sequence numbers. Requests may be pipelined (``window`` of them in flight, replies matched by
sequence number). A request is sent again when the device reports that *its* frame arrived damaged
(an error with its seq), when the device restarts, or when no reply comes within the timeout; only
the timeouts count as attempts. A fault report from the device raises :class:`DeviceFault`.
:class:`edge_deploy.link.DeviceClient` builds the protocol's requests on it.
"""

from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from edge_deploy.errors import EdgeDeployError
from edge_deploy.link import frame as fr
from edge_deploy.link.messages import DeviceInfo, FaultReport
from edge_deploy.link.stream import LinkError, SerialStream, SocketStream

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_BOOT_TIMEOUT_S = 5.0
# How long the line must stay quiet before a half-received frame is given up as truncated.
_QUIET_S = 0.3
# Resends after damage reports (BAD_CRC/TRUNCATED with the request's seq, or a reboot) before a
# request is given up: a line that damages every frame is reported, not retried for ever.
MAX_DAMAGE_RESENDS = 8
# Requests in flight at most: far below the 255 sequence numbers, so a late duplicate reply
# cannot be taken for the answer to a newer request.
MAX_WINDOW = 16


class DeviceFault(EdgeDeployError):
    """The firmware hit a fault (HardFault or an unexpected exception); ``report`` has the PC."""

    def __init__(self, report: FaultReport) -> None:
        super().__init__(
            f"the device faulted at pc={report.pc:#010x} (lr={report.lr:#010x}, cfsr={report.cfsr:#010x}, "
            f"hfsr={report.hfsr:#010x})",
            hint="look the pc up in the firmware (arm-none-eabi-addr2line -e firmware.elf <pc>)",
        )
        self.report = report


@dataclass(frozen=True)
class Request:
    """One request: its type, payload and how long to wait for its reply."""

    type: int
    payload: bytes = b""
    timeout: float | None = None


@dataclass
class _InFlight:
    index: int
    request: Request
    seq: int
    encoded: bytes
    timeouts: int = 0
    damaged: int = 0


class LinkSession:
    """Frames and requests over one link. Use as a context manager, or call :meth:`close`.

    ``url`` is any pyserial URL, or with ``sock`` the name of a connected socket to talk over
    instead. ``timeout`` bounds each attempt of a request; ``retries`` is how many times a
    request is sent again after a silent timeout. ``window`` is how many requests may be in
    flight at once: keep 1 for a board whose UART is polled (bytes arriving while it computes or
    transmits are lost); emulators buffer their input, so more may be sent ahead there.
    Raises EdgeDeployError if the port cannot be opened.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        retries: int = 3,
        baudrate: int = 115200,
        connect_timeout: float = 5.0,
        window: int = 1,
        sock: socket.socket | None = None,
    ) -> None:
        if not 1 <= window <= MAX_WINDOW:
            raise EdgeDeployError(f"window must be 1 to {MAX_WINDOW} requests in flight, not {window}")
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.window = window
        self.boot_info: DeviceInfo | None = None
        self.resends = 0
        self.stale_frames = 0
        self._decoder = fr.FrameDecoder()
        self._seq = random.Random(os.getpid()).randrange(1, 256)
        self._info: DeviceInfo | None = None
        self._pending: list[fr.Frame] = []
        self._last_data = time.monotonic()
        if sock is not None:
            self._stream: SerialStream | SocketStream = SocketStream(sock, url, owned=False)
        else:
            self._stream = SerialStream(url, baudrate=baudrate, connect_timeout=connect_timeout)

    def __enter__(self) -> LinkSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the port."""
        self._stream.close()

    # -- raw frames ------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (tests use it to inject garbage and broken frames)."""
        self._stream.write(data)

    def receive_frame(self, timeout: float) -> fr.Frame | None:
        """The next frame the device sends within ``timeout`` seconds, whatever its type, or None.
        For tests and diagnostics: normal use goes through :meth:`request`."""
        deadline = time.monotonic() + timeout
        while not self._pending and time.monotonic() < deadline:
            self._pending.extend(self._read_frames())
        return self._pending.pop(0) if self._pending else None

    def wait_boot(self, timeout: float = DEFAULT_BOOT_TIMEOUT_S) -> DeviceInfo:
        """Wait for the BOOT frame the firmware sends at reset; return its device info. Only
        where no byte can be lost before the host listens (an emulator's semihosting link).
        Raises LinkError if none comes within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        held: list[fr.Frame] = []
        try:
            while time.monotonic() < deadline:
                frames, self._pending = self._pending + self._read_frames(), []
                for position, frame in enumerate(frames):
                    if frame.type == fr.BOOT:
                        self._note_boot(frame)
                        held += frames[position + 1:]
                        return self.boot_info
                    held.append(frame)
        finally:
            self._pending = held + self._pending
        raise LinkError(
            f"the firmware at {self.url} did not start: no BOOT frame within {timeout:g} s",
            hint="firmware.elf may be cut short or built for another board: rebuild it (edge-deploy build)",
        )

    def _read_frames(self) -> list[fr.Frame]:
        data = self._stream.read()
        if data:
            self._last_data = time.monotonic()
            return self._decoder.feed(data)
        if time.monotonic() - self._last_data >= _QUIET_S and self._decoder.pending_bytes():
            return self._decoder.resync()
        return []

    def _note_boot(self, frame: fr.Frame) -> None:
        self.boot_info = DeviceInfo.from_text(frame.payload)
        self._note_info(self.boot_info)

    def _note_info(self, info: DeviceInfo) -> None:
        """Take the device's limits: replies up to its max_payload, or with streamed tensors (and
        text replies that are not buffered) anything the length field holds."""
        self._info = info
        self._decoder.max_payload = fr.LENGTH_FIELD_MAX if info.stream else max(fr.MAX_PAYLOAD, info.max_payload)

    def payload_limit(self, frame_type: int) -> int:
        """The longest payload the device takes in a request of ``frame_type``: its max_payload,
        the length field's limit for a streamed request, MAX_PAYLOAD before INFO is known."""
        if self._info is None:
            return fr.MAX_PAYLOAD
        if self._info.stream and frame_type in fr.STREAMED_REQUESTS:
            return fr.LENGTH_FIELD_MAX
        return self._info.max_payload

    def _next_seq(self, busy: Iterable[int]) -> int:
        busy = set(busy)
        while True:
            self._seq = self._seq % 255 + 1   # 1..255: seq 0 answers no request
            if self._seq not in busy:
                return self._seq

    # -- requests --------------------------------------------------------------------------

    def request(self, frame_type: int, payload: bytes = b"", *, timeout: float | None = None) -> bytes:
        """Send one request and return its reply payload.

        Resends after an error reporting this request's frame damaged, a reboot, or ``timeout``
        seconds of silence (up to ``retries`` times). Raises DeviceFault on a fault report,
        EdgeDeployError on an error reply, LinkError when the device stays silent or the link
        closes.
        """
        return next(self.exchange([Request(frame_type, payload, timeout)], window=1))

    def exchange(self, requests: Iterable[Request], *, window: int | None = None) -> Iterator[bytes]:
        """Send ``requests`` with up to ``window`` (default: the client's) in flight and yield
        their reply payloads in request order. Errors as for :meth:`request`."""
        window = self.window if window is None else window
        source = iter(requests)
        in_flight: dict[int, _InFlight] = {}
        done: dict[int, bytes] = {}
        sent = next_out = 0
        exhausted = False
        progress = time.monotonic()
        while True:
            while not exhausted and len(in_flight) < window:
                request = next(source, None)
                if request is None:
                    exhausted = True
                    break
                seq = self._next_seq(in_flight)
                entry = _InFlight(sent, request, seq, self._encode(request, seq))
                in_flight[seq] = entry
                sent += 1
                if len(in_flight) == 1:
                    progress = time.monotonic()
                self._stream.write(entry.encoded)
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            if exhausted and not in_flight:
                return
            frames, self._pending = self._pending + self._read_frames(), []
            for frame in frames:
                if self._take(frame, in_flight, done):
                    progress = time.monotonic()
            if in_flight:
                oldest = min(in_flight.values(), key=lambda entry: entry.index)
                timeout = self._timeout_of(oldest.request)
                if time.monotonic() - progress > timeout:
                    self._after_timeout(oldest, in_flight, timeout)
                    progress = time.monotonic()

    def _encode(self, request: Request, seq: int) -> bytes:
        return fr.encode_frame(request.type, seq, request.payload, max_payload=self.payload_limit(request.type))

    def _timeout_of(self, request: Request) -> float:
        return self.timeout if request.timeout is None else request.timeout

    def _resend(self, entry: _InFlight) -> None:
        self.resends += 1
        self._stream.write(entry.encoded)

    def _take(self, frame: fr.Frame, in_flight: dict[int, _InFlight], done: dict[int, bytes]) -> bool:
        """Handle one frame during an exchange; True if it answered (or restarted) a request."""
        entry = in_flight.get(frame.seq) if frame.seq != fr.NO_REQUEST_SEQ else None
        if frame.type == fr.FAULT:
            raise DeviceFault(FaultReport.from_payload(frame.payload))
        if frame.type == fr.BOOT:
            # The device (re)started: whatever it was doing with our requests is lost.
            self._note_boot(frame)
            for waiting in sorted(in_flight.values(), key=lambda e: e.index):
                self._count_damage(waiting, "the device restarted")
                self._resend(waiting)
            return bool(in_flight)
        if entry is None:
            # A reply or error for no request in flight: a late duplicate of an earlier attempt,
            # or a TRUNCATED with seq 0 for a header cut short (noise on the line).
            self.stale_frames += 1
            return False
        if frame.type == entry.request.type | fr.REPLY:
            done[entry.index] = frame.payload
            del in_flight[frame.seq]
            return True
        if frame.type == fr.ERROR and frame.payload:
            code, message = frame.payload[0], frame.payload[1:].decode("utf-8", "replace")
            if code in fr.RESEND_ERRORS:
                self._count_damage(entry, fr.ERROR_NAMES[code])
                self._resend(entry)
                return True
            raise EdgeDeployError(
                f"the device rejected {_name(entry.request.type)}: {fr.ERROR_NAMES.get(code, code)}: {message}",
                hint=_ERROR_HINTS.get(code),
            )
        self.stale_frames += 1
        return False

    def _count_damage(self, entry: _InFlight, why: str) -> None:
        entry.damaged += 1
        if entry.damaged > MAX_DAMAGE_RESENDS:
            raise LinkError(
                f"the device at {self.url} received {_name(entry.request.type)} damaged "
                f"{entry.damaged} times in a row (last: {why})",
                hint="the line corrupts frames: check the cable, lower the baud rate or shorten the wires",
            )

    def _after_timeout(self, oldest: _InFlight, in_flight: dict[int, _InFlight], timeout: float) -> None:
        oldest.timeouts += 1
        if oldest.timeouts > self.retries:
            raise LinkError(
                f"no reply from the device at {self.url} to {_name(oldest.request.type)} after "
                f"{self.retries + 1} attempts of {timeout:g} s",
                hint="check the firmware is running the edge-deploy runtime, the port and the baud rate",
            )
        # The silence may have swallowed every request in flight: send them all again (each is
        # idempotent; a late duplicate reply is skipped as stale).
        for entry in sorted(in_flight.values(), key=lambda e: e.index):
            self._resend(entry)


def _name(frame_type: int) -> str:
    return _REQUEST_NAMES.get(frame_type, f"type {frame_type:#04x}")


_REQUEST_NAMES = {
    fr.INFO: "INFO",
    fr.ECHO: "ECHO",
    fr.MODEL_INFO: "MODEL_INFO",
    fr.LOAD_INPUT: "LOAD_INPUT",
    fr.RUN: "RUN",
    fr.READ_OUTPUT: "READ_OUTPUT",
    fr.READ_PROFILE: "READ_PROFILE",
    fr.EXIT: "EXIT",
    fr.SPIN: "SPIN",
    fr.RUN_BATCH: "RUN_BATCH",
    fr.RESET_STATE: "RESET_STATE",
}
_ERROR_HINTS = {
    fr.ERR_NO_MODEL: "build the firmware with a model (edge-deploy build) before running it",
    fr.ERR_OUT_OF_RANGE: "stay within the model's input/output sizes (see model_info)",
    fr.ERR_TOO_LONG: "keep payloads within the device's max_payload",
}
