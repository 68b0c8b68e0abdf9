"""DeviceClient: the runtime's requests over any pyserial URL or a connected socket.

A device path (``/dev/ttyACM0``), a pty, ``socket://127.0.0.1:PORT`` (an emulator's UART), or a
socket joined to QEMU's semihosting stdin/stdout (``edge_deploy.emulators``). Framing, pipelining,
resends and errors are the session's (:mod:`edge_deploy.link.session`); this module builds the
protocol's requests and decodes their replies.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence

from edge_deploy.errors import EdgeDeployError
from edge_deploy.link import frame as fr
from edge_deploy.link.messages import DeviceInfo, ModelInfo, Profile, RunResult, parse_batch_reply
from edge_deploy.link.session import DeviceFault, LinkSession, Request
from edge_deploy.link.stream import LinkClosed

DEFAULT_RUN_TIMEOUT_S = 60.0


class DeviceClient(LinkSession):
    """Host side of the protocol: the runtime's requests as methods. Use as a context manager.

    Options as for :class:`~edge_deploy.link.session.LinkSession` (``url``, ``timeout``,
    ``retries``, ``window``, ``sock``, ...). Raises EdgeDeployError if the port cannot be opened.
    """

    def __init__(self, url: str, **options) -> None:
        super().__init__(url, **options)
        self._model_info: ModelInfo | None = None

    # -- device and model ------------------------------------------------------------------

    def info(self) -> DeviceInfo:
        """Device info: board, clock, firmware and protocol versions, cycle counter source."""
        self._note_info(DeviceInfo.from_text(self.request(fr.INFO)))
        return self._info

    def _device_info(self) -> DeviceInfo:
        return self._info or self.info()

    def echo(self, payload: bytes) -> bytes:
        """Send ``payload`` and return what the device sent back. Payloads longer than the
        device's max_payload go in several ECHO requests (pipelined as the window allows)."""
        payload = bytes(payload)
        if len(payload) <= fr.MIN_DEVICE_PAYLOAD:   # every device takes it: no need to ask INFO
            return self.request(fr.ECHO, payload)
        limit = self._device_info().max_payload
        if len(payload) <= limit:
            return self.request(fr.ECHO, payload)
        parts = (Request(fr.ECHO, payload[i : i + limit]) for i in range(0, len(payload), limit))
        return b"".join(self.exchange(parts))

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
        chunk = self._chunk_bytes() - 4
        starts = range(0, len(data), chunk)
        parts = (Request(fr.LOAD_INPUT, struct.pack("<I", offset + s) + data[s : s + chunk]) for s in starts)
        for start, reply in zip(starts, self.exchange(parts)):
            (end,) = struct.unpack("<I", reply)
            expected = offset + start + len(data[start : start + chunk])
            if end != expected:
                raise EdgeDeployError(f"the device stored input up to byte {end}, expected {expected}")

    def _chunk_bytes(self) -> int:
        """Payload bytes per LOAD_INPUT / READ_OUTPUT frame: the device's max_payload, and at
        least MAX_PAYLOAD where it streams its tensors (it takes any length there; larger frames
        would not arrive within a request's timeout over a slow UART)."""
        info = self._device_info()
        return max(info.max_payload, fr.MAX_PAYLOAD) if info.stream else info.max_payload

    def run(self, *, timeout: float = DEFAULT_RUN_TIMEOUT_S) -> RunResult:
        """Run one inference on the loaded input; returns total and per-layer cycle counts."""
        return RunResult.from_payload(self.request(fr.RUN, timeout=timeout))

    def read_output(self, count: int | None = None, *, offset: int = 0) -> bytes:
        """Read ``count`` bytes of the output tensor (default: all of it)."""
        model = self._model()
        count = model.output_bytes - offset if count is None else count
        chunk = self._chunk_bytes()
        parts = (Request(fr.READ_OUTPUT, struct.pack("<II", offset + s, min(chunk, count - s)))
                 for s in range(0, count, chunk))
        return b"".join(self.exchange(parts))

    def run_inputs(self, inputs: Sequence[bytes], *, timeout: float = DEFAULT_RUN_TIMEOUT_S
                   ) -> Iterator[tuple[RunResult, bytes]]:
        """Run the model on each input (int8 bytes of one sample) and yield its cycle counts and
        output, in order. Firmware that serves RUN_BATCH (INFO ``run_batch=1``) gets RUN_BATCH
        requests, pipelined: one input each where the device streams its tensors (``stream=1``),
        else as many as its request buffer takes; older firmware one LOAD_INPUT/RUN/READ_OUTPUT
        round at a time. Raises EdgeDeployError on an input of the
        wrong size or a failed request."""
        model = self._model()
        for index, data in enumerate(inputs):
            if len(data) != model.input_bytes:
                raise EdgeDeployError(f"input {index} has {len(data)} bytes; the model takes {model.input_bytes}",
                                      hint="give int8 samples shaped like the model input")
        per_request = self._batch_size(model)
        if per_request == 0:
            for data in inputs:
                self.load_input(data)
                result = self.run(timeout=timeout)
                yield result, self.read_output()
            return
        groups = [inputs[i : i + per_request] for i in range(0, len(inputs), per_request)]
        requests = (Request(fr.RUN_BATCH, b"".join(group), timeout * len(group)) for group in groups)
        for reply in self.exchange(requests):
            yield from parse_batch_reply(reply, len(model.layer_names), model.output_bytes)

    def _batch_size(self, model: ModelInfo) -> int:
        """Inputs per RUN_BATCH request (0: the device has no RUN_BATCH, or one input or its
        result does not fit a frame). A device that streams its tensors takes one input per
        request; an older one holds the inputs in its request buffer and writes the results
        over them, so several go together only when a result is no longer than an input."""
        info = self._device_info()
        record = 4 + 4 * len(model.layer_names) + model.output_bytes
        if info.stream:
            return 1 if info.run_batch and 0 < model.input_bytes and max(model.input_bytes, record) <= fr.LENGTH_FIELD_MAX else 0
        if not info.run_batch or not 0 < model.input_bytes <= info.max_payload or record > info.max_payload:
            return 0
        if record > model.input_bytes:
            return 1
        return info.max_payload // model.input_bytes

    def read_profile(self) -> Profile:
        """Cycle counters accumulated over every RUN since reset: last, min, max, sum per layer."""
        return Profile.from_payload(self.request(fr.READ_PROFILE))

    def reset_state(self) -> None:
        """Put the model's state (variable tensors, kept from one inference to the next) back to
        its start-up value. Raises EdgeDeployError for firmware that cannot (older than the
        request)."""
        if not self.info().reset_state:
            raise EdgeDeployError(f"the firmware at {self.url} cannot reset its model's state (no RESET_STATE)",
                                  "flash a firmware built by this edge-deploy (edge-deploy build, then flash)")
        self.request(fr.RESET_STATE)

    def spin(self, iterations: int) -> int:
        """Have the device run a fixed loop of ``iterations``; return the cycles it counted."""
        start, end = struct.unpack("<II", self.request(fr.SPIN, struct.pack("<I", iterations), timeout=30.0))
        return (end - start) & 0xFFFFFFFF

    def exit(self, code: int = 0) -> None:
        """Ask the firmware to end the emulator with status ``code`` (semihosting). Only for
        emulators: on a bare board the semihosting call faults."""
        try:
            self.request(fr.EXIT, struct.pack("<I", code))
        except LinkClosed:
            # The emulator may end and close the link before its reply is read: that is the exit
            # asked for; the caller reads the status from the emulator process.
            pass


__all__ = ["DEFAULT_RUN_TIMEOUT_S", "DeviceClient", "DeviceFault", "Request"]
