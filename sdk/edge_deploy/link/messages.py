"""Payloads of the protocol's replies, decoded (layouts in docs/protocol.md)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from edge_deploy.errors import EdgeDeployError


def parse_key_values(payload: bytes) -> dict[str, str]:
    """Parse ``key=value`` lines (the INFO and MODEL_INFO text)."""
    pairs = {}
    for line in payload.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            pairs[key.strip()] = value.strip()
    return pairs


def _int_field(pairs: dict[str, str], key: str, what: str) -> int:
    try:
        return int(pairs[key])
    except (KeyError, ValueError) as exc:
        raise EdgeDeployError(f"the device's {what} has no valid '{key}' (got {pairs.get(key)!r})") from exc


@dataclass(frozen=True)
class DeviceInfo:
    """What INFO (and the BOOT frame) says about the firmware and board."""

    protocol: int
    firmware: str
    board: str
    clock_hz: int
    cycle_source: str          # "dwt" or "systick"
    cycle_hz: int              # counter ticks per second of (virtual) time
    max_payload: int
    model: str | None
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def run_batch(self) -> bool:
        """True if the firmware serves RUN_BATCH (runtimes older than it do not say so)."""
        return self.fields.get("run_batch") == "1"

    @property
    def reset_state(self) -> bool:
        """True if the firmware serves RESET_STATE (runtimes older than it do not say so)."""
        return self.fields.get("reset_state") == "1"

    @property
    def stream(self) -> bool:
        """True if LOAD_INPUT and RUN_BATCH payloads stream into the input tensor and READ_OUTPUT
        and RUN_BATCH replies come from the output tensor (protocol 2): such requests may be as
        long as the tensor (up to the length field), whatever max_payload says, and a RUN_BATCH
        holds one input."""
        return self.fields.get("stream") == "1"

    @property
    def stack_peak(self) -> int | None:
        """The most stack the firmware has used since reset, in bytes (None for runtimes that do
        not measure it)."""
        value = self.fields.get("stack_peak")
        return int(value) if value is not None and value.isdigit() else None

    @property
    def stack_bytes(self) -> int | None:
        """The stack the firmware reserves, in bytes (None for runtimes that do not say)."""
        value = self.fields.get("stack_bytes")
        return int(value) if value is not None and value.isdigit() else None

    @property
    def link(self) -> str:
        """The link the firmware talks on: "uart" or "semihost" ("uart" for older runtimes)."""
        return self.fields.get("link", "uart")

    @classmethod
    def from_text(cls, payload: bytes) -> DeviceInfo:
        """Decode an INFO/BOOT payload. Raises EdgeDeployError if a field is missing."""
        pairs = parse_key_values(payload)
        model = pairs.get("model", "none")
        return cls(
            protocol=_int_field(pairs, "protocol", "info"),
            firmware=pairs.get("firmware", "?"),
            board=pairs.get("board", "?"),
            clock_hz=_int_field(pairs, "clock_hz", "info"),
            cycle_source=pairs.get("cycle_source", "?"),
            cycle_hz=_int_field(pairs, "cycle_hz", "info"),
            max_payload=_int_field(pairs, "max_payload", "info"),
            model=None if model == "none" else model,
            fields=pairs,
        )


@dataclass(frozen=True)
class ModelInfo:
    """What MODEL_INFO says about the linked model."""

    name: str
    input_bytes: int
    output_bytes: int
    layer_names: list[str]

    @classmethod
    def from_text(cls, payload: bytes) -> ModelInfo:
        """Decode a MODEL_INFO payload. Raises EdgeDeployError if a field is missing."""
        pairs = parse_key_values(payload)
        n_layers = _int_field(pairs, "n_layers", "model info")
        return cls(
            name=pairs.get("name", "?"),
            input_bytes=_int_field(pairs, "input_bytes", "model info"),
            output_bytes=_int_field(pairs, "output_bytes", "model info"),
            layer_names=[pairs.get(f"layer.{i}", f"layer{i}") for i in range(n_layers)],
        )


@dataclass(frozen=True)
class RunResult:
    """Cycle counts of one inference: the whole run and each layer."""

    total_cycles: int
    layer_cycles: list[int]

    @classmethod
    def from_payload(cls, payload: bytes) -> RunResult:
        """Decode a RUN reply: u32 total, u32 n_layers, n_layers x u32."""
        total, n_layers = struct.unpack_from("<II", payload)
        if len(payload) != 8 + 4 * n_layers:
            raise EdgeDeployError(f"RUN reply of {len(payload)} bytes does not hold {n_layers} layer counts")
        return cls(total, list(struct.unpack_from(f"<{n_layers}I", payload, 8)))


def parse_batch_reply(payload: bytes, n_layers: int, output_bytes: int) -> list[tuple[RunResult, bytes]]:
    """Decode a RUN_BATCH reply: per input, u32 total cycles, n_layers x u32 layer cycles and the
    output bytes. Returns (cycles, output) per input. Raises EdgeDeployError on a size that
    does not divide into records."""
    record = 4 + 4 * n_layers + output_bytes
    if not payload or len(payload) % record:
        raise EdgeDeployError(f"RUN_BATCH reply of {len(payload)} bytes is not whole records of {record} bytes")
    results = []
    for start in range(0, len(payload), record):
        total, *layers = struct.unpack_from(f"<{1 + n_layers}I", payload, start)
        results.append((RunResult(total, layers), payload[start + 4 + 4 * n_layers : start + record]))
    return results


@dataclass(frozen=True)
class CycleCounter:
    """Cycle statistics of one layer (or the whole run) over every RUN since reset."""

    last: int
    min: int
    max: int
    sum: int


@dataclass(frozen=True)
class Profile:
    """READ_PROFILE: how many runs, the whole-run counter and one counter per layer."""

    runs: int
    total: CycleCounter
    layers: list[CycleCounter]

    @classmethod
    def from_payload(cls, payload: bytes) -> Profile:
        """Decode a READ_PROFILE reply: u32 runs, u32 n_layers, (n_layers + 1) records of
        u32 last, u32 min, u32 max, u64 sum."""
        runs, n_layers = struct.unpack_from("<II", payload)
        if len(payload) != 8 + 20 * (n_layers + 1):
            raise EdgeDeployError(f"READ_PROFILE reply of {len(payload)} bytes does not hold {n_layers} layers")
        records = [CycleCounter(*struct.unpack_from("<IIIQ", payload, 8 + 20 * i)) for i in range(n_layers + 1)]
        return cls(runs, records[0], records[1:])


_FAULT_FIELDS = ("pc", "lr", "sp", "xpsr", "r0", "r1", "r2", "r3", "r12", "cfsr", "hfsr", "mmfar", "bfar",
                 "exc_return", "ipsr")


@dataclass(frozen=True)
class FaultReport:
    """Registers sent by the firmware's fault handler (FAULT frame)."""

    pc: int
    lr: int
    sp: int
    xpsr: int
    r0: int
    r1: int
    r2: int
    r3: int
    r12: int
    cfsr: int
    hfsr: int
    mmfar: int
    bfar: int
    exc_return: int
    ipsr: int

    @classmethod
    def from_payload(cls, payload: bytes) -> FaultReport:
        """Decode a FAULT payload: 15 x u32 in the order of the fields."""
        if len(payload) != 4 * len(_FAULT_FIELDS):
            raise EdgeDeployError(f"FAULT frame of {len(payload)} bytes, expected {4 * len(_FAULT_FIELDS)}")
        return cls(*struct.unpack(f"<{len(_FAULT_FIELDS)}I", payload))
