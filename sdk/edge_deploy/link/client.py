"""DeviceClient: requests to the edge-deploy runtime over any pyserial URL.

A device path (``/dev/ttyACM0``), a pty, or ``socket://127.0.0.1:PORT`` (an emulator's UART).
Every request is retried when the device reports that the frame arrived damaged, or when no
reply comes; a fault report from the device raises :class:`DeviceFault` with its PC.
"""

from __future__ import annotations

import os
import random
import struct
import time

import serial

from edge_deploy.errors import EdgeDeployError
from edge_deploy.link import frame as fr
from edge_deploy.link.messages import (
    DeviceInfo,
    FaultReport,
    ModelInfo,
    Profile,
    RunResult,
)

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_RUN_TIMEOUT_S = 60.0
# How long the line must stay quiet before a half-received frame is given up as truncated.
_QUIET_S = 0.3


class DeviceFault(EdgeDeployError):
    """The firmware hit a fault (HardFault or an unexpected exception); ``report`` has the PC."""

    def __init__(self, report: FaultReport) -> None:
        super().__init__(
            f"the device faulted at pc={report.pc:#010x} (lr={report.lr:#010x}, cfsr={report.cfsr:#010x}, "
            f"hfsr={report.hfsr:#010x})",
            hint="look the pc up in the firmware (arm-none-eabi-addr2line -e firmware.elf <pc>)",
        )
        self.report = report


class DeviceClient:
    """Host side of the protocol. Use as a context manager, or call :meth:`close`.

    ``url`` is any pyserial URL. ``timeout`` bounds each attempt of a request; ``retries`` is how
    many times a request is sent again after a damaged frame or a silent device.
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
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.boot_info: DeviceInfo | None = None
        self.resends = 0
        self._decoder = fr.FrameDecoder()
        self._seq = random.Random(os.getpid()).randrange(256)
        self._info: DeviceInfo | None = None
        self._model_info: ModelInfo | None = None
        self._pending: list[fr.Frame] = []
        self._port = self._open(url, baudrate, connect_timeout)

    @staticmethod
    def _open(url: str, baudrate: int, connect_timeout: float) -> serial.SerialBase:
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                return serial.serial_for_url(url, baudrate=baudrate, timeout=0.05, write_timeout=10)
            except (serial.SerialException, OSError, ValueError) as exc:
                # An emulator may still be opening its socket: retry until the deadline.
                if time.monotonic() >= deadline or not url.startswith("socket://"):
                    raise EdgeDeployError(
                        f"cannot open serial port {url}: {exc}",
                        hint="check the device is connected (or the emulator is running) and the URL is right",
                    ) from exc
                time.sleep(0.05)

    def __enter__(self) -> DeviceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the serial port."""
        self._port.close()

    # -- raw frames ------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (tests use it to inject garbage and broken frames)."""
        self._port.write(data)
        self._port.flush()

    def receive_frame(self, timeout: float) -> fr.Frame | None:
        """The next frame the device sends within ``timeout`` seconds, whatever its type, or None.
        For tests and diagnostics: normal use goes through :meth:`request`."""
        deadline = time.monotonic() + timeout
        last_data = time.monotonic()
        while time.monotonic() < deadline:
            if self._pending:
                return self._pending.pop(0)
            frames = self._read_frames(time.monotonic() - last_data)
            if frames:
                last_data = time.monotonic()
                self._pending.extend(frames)
        return self._pending.pop(0) if self._pending else None

    def _read_frames(self, wait: float) -> list[fr.Frame]:
        data = self._port.read(max(1, self._port.in_waiting))
        if data:
            return self._decoder.feed(data)
        if wait >= _QUIET_S and self._decoder.pending_bytes():
            return self._decoder.resync()
        return []

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def request(self, frame_type: int, payload: bytes = b"", *, timeout: float | None = None) -> bytes:
        """Send one request and return its reply payload.

        Resends after a BAD_CRC/TRUNCATED error, a reboot, or ``timeout`` seconds of silence, up
        to ``retries`` times. Raises DeviceFault on a fault report, EdgeDeployError on an error
        reply or when the device stays silent.
        """
        timeout = self.timeout if timeout is None else timeout
        seq = self._next_seq()
        encoded = fr.encode_frame(frame_type, seq, payload)
        name = _REQUEST_NAMES.get(frame_type, f"type {frame_type:#04x}")
        for attempt in range(self.retries + 1):
            if attempt:
                self.resends += 1
            self.send_raw(encoded)
            outcome = self._await_reply(frame_type, seq, timeout)
            if outcome is not None:
                return outcome
        raise EdgeDeployError(
            f"no reply from the device at {self.url} to {name} after {self.retries + 1} attempts "
            f"of {timeout:g} s",
            hint="check the firmware is running the edge-deploy runtime, the port and the baud rate",
        )

    def _await_reply(self, frame_type: int, seq: int, timeout: float) -> bytes | None:
        """The reply payload, or None when the request must be sent again."""
        deadline = time.monotonic() + timeout
        last_data = time.monotonic()
        while time.monotonic() < deadline:
            frames, self._pending = self._pending + self._read_frames(time.monotonic() - last_data), []
            if frames:
                last_data = time.monotonic()
            while frames:
                frame = frames.pop(0)
                if frame.type == frame_type | fr.REPLY and frame.seq == seq:
                    self._pending = frames
                    return frame.payload
                if frame.type == fr.FAULT:
                    raise DeviceFault(FaultReport.from_payload(frame.payload))
                if frame.type == fr.BOOT:
                    # The device (re)started: whatever it was doing with our request is lost.
                    self.boot_info = DeviceInfo.from_text(frame.payload)
                    self._pending = frames
                    return None
                if frame.type == fr.ERROR and frame.payload:
                    code, message = frame.payload[0], frame.payload[1:].decode("utf-8", "replace")
                    if code in fr.RESEND_ERRORS:
                        self._pending = frames
                        return None
                    if frame.seq == seq:
                        raise EdgeDeployError(
                            f"the device rejected {_REQUEST_NAMES.get(frame_type, frame_type)}: "
                            f"{fr.ERROR_NAMES.get(code, code)}: {message}",
                            hint=_ERROR_HINTS.get(code),
                        )
                # Anything else is a stale reply to an earlier attempt: skip it.
        return None

    # -- requests --------------------------------------------------------------------------

    def info(self) -> DeviceInfo:
        """Device info: board, clock, firmware and protocol versions, cycle counter source."""
        self._info = DeviceInfo.from_text(self.request(fr.INFO))
        return self._info

    def _device_info(self) -> DeviceInfo:
        return self._info or self.info()

    def echo(self, payload: bytes) -> bytes:
        """Send ``payload`` (up to max_payload bytes) and return what the device sent back."""
        return self.request(fr.ECHO, bytes(payload))

    def model_info(self) -> ModelInfo:
        """The linked model's name, tensor sizes and layer names. Raises EdgeDeployError when the
        firmware has no model."""
        self._model_info = ModelInfo.from_text(self.request(fr.MODEL_INFO))
        return self._model_info

    def _model(self) -> ModelInfo:
        return self._model_info or self.model_info()

    def load_input(self, data: bytes | bytearray | memoryview, *, offset: int = 0) -> None:
        """Write one input tensor (int8 bytes, e.g. ``array.astype(np.int8).tobytes()``) into the
        model's input, in chunks that fit a frame. Raises EdgeDeployError if it does not fit."""
        data = bytes(data)
        model = self._model()
        if offset + len(data) > model.input_bytes:
            raise EdgeDeployError(
                f"input of {len(data)} bytes at offset {offset} does not fit the model input "
                f"({model.input_bytes} bytes)",
                hint="give one int8 sample shaped like the model input",
            )
        chunk = self._device_info().max_payload - 4
        for start in range(0, len(data), chunk):
            part = data[start : start + chunk]
            reply = self.request(fr.LOAD_INPUT, struct.pack("<I", offset + start) + part)
            (end,) = struct.unpack("<I", reply)
            if end != offset + start + len(part):
                raise EdgeDeployError(f"the device stored input up to byte {end}, expected {offset + start + len(part)}")

    def run(self, *, timeout: float = DEFAULT_RUN_TIMEOUT_S) -> RunResult:
        """Run one inference on the loaded input; returns total and per-layer cycle counts."""
        return RunResult.from_payload(self.request(fr.RUN, timeout=timeout))

    def read_output(self, count: int | None = None, *, offset: int = 0) -> bytes:
        """Read ``count`` bytes of the output tensor (default: all of it)."""
        model = self._model()
        count = model.output_bytes - offset if count is None else count
        chunk = self._device_info().max_payload
        out = bytearray()
        while len(out) < count:
            size = min(chunk, count - len(out))
            out += self.request(fr.READ_OUTPUT, struct.pack("<II", offset + len(out), size))
        return bytes(out)

    def read_profile(self) -> Profile:
        """Cycle counters accumulated over every RUN since reset: last, min, max, sum per layer."""
        return Profile.from_payload(self.request(fr.READ_PROFILE))

    def spin(self, iterations: int) -> int:
        """Have the device run a fixed loop of ``iterations``; return the cycles it counted."""
        start, end = struct.unpack("<II", self.request(fr.SPIN, struct.pack("<I", iterations), timeout=30.0))
        return (end - start) & 0xFFFFFFFF

    def exit(self, code: int = 0) -> None:
        """Ask the firmware to end the emulator with status ``code`` (semihosting). Only for
        emulators: on a bare board the semihosting call faults."""
        try:
            self.request(fr.EXIT, struct.pack("<I", code))
        except serial.SerialException:
            # The emulator may end and close the link before its reply is read: that is the exit
            # asked for; the caller reads the status from the emulator process.
            pass


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
}
_ERROR_HINTS = {
    fr.ERR_NO_MODEL: "build the firmware with a model (edge-deploy build) before running it",
    fr.ERR_OUT_OF_RANGE: "stay within the model's input/output sizes (see model_info)",
    fr.ERR_TOO_LONG: "keep payloads within the device's max_payload",
}

