"""Selftest: build the runtime firmware for a board, start it, and prove the serial link.

Checks, in order: the build; device info (board name, clock, firmware version); echo of random
payloads from 1 byte to max_payload (4 KiB); a deliberately corrupt frame that the device must
reject, then a clean request; garbage on the line before a good frame; the cycle counter (it
counts, and twice the work gives about twice the cycles); and, under an emulator, the firmware's
exit with status 0 (QEMU: semihosting ends QEMU; Renode ignores the semihosting exit, so a hook on
the exit routine reports it, edge_deploy.emulators.renode).

A check that fails for any reason (an assertion, a link error, a timeout, an emulator that died)
is reported as a failed check with its reason; the run goes on to the next check.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edge_deploy import __version__
from edge_deploy.boards import Board, load_board
from edge_deploy.emulators import default_emulator, start_emulator
from edge_deploy.errors import EdgeDeployError
from edge_deploy.link import DeviceClient
from edge_deploy.link import frame as fr
from edge_deploy.toolchain import FirmwareBuild, compile_runtime

ECHO_SIZES = (1, 2, 3, 7, 16, 63, 64, 255, 256, 1000, 1024, 2047, 3000, 4095, 4096)
SPIN_ITERATIONS = 200_000


@dataclass
class Check:
    """One selftest check and how it went."""

    name: str
    passed: bool
    detail: str
    seconds: float


@dataclass
class SelftestReport:
    """All checks of one selftest run; ``passed`` only if every check passed."""

    board: str
    target: str                      # "qemu", "renode" or the serial URL
    checks: list[Check] = field(default_factory=list)
    elf: str | None = None

    @property
    def passed(self) -> bool:
        """True if there was at least one check and all of them passed."""
        return bool(self.checks) and all(check.passed for check in self.checks)

    def to_json(self) -> dict:
        """The report as a JSON-ready dict."""
        return {"board": self.board, "target": self.target, "elf": self.elf, "passed": self.passed,
                "checks": [asdict(check) for check in self.checks]}

    def format(self) -> str:
        """A short human-readable report, one line per check."""
        lines = [f"selftest {self.board} on {self.target}"]
        for check in self.checks:
            lines.append(f"  {'PASS' if check.passed else 'FAIL'}  {check.name:<14} {check.detail} ({check.seconds:.2f} s)")
        lines.append("selftest " + ("passed" if self.passed else "FAILED"))
        return "\n".join(lines)


def _run_check(report: SelftestReport, name: str, body: Callable[[], str]) -> bool:
    start = time.monotonic()
    try:
        detail, passed = body(), True
    except (EdgeDeployError, AssertionError) as exc:
        detail, passed = str(exc).replace("\n", " | "), False
    except Exception as exc:  # noqa: BLE001 - any failure of a check is that check failing, with its reason
        detail, passed = f"{type(exc).__name__}: {exc}".replace("\n", " | "), False
    report.checks.append(Check(name, passed, detail, time.monotonic() - start))
    return passed


def _check_info(device: DeviceClient, board: Board) -> str:
    info = device.info()
    if info.board != board.name:
        raise AssertionError(f"device says board '{info.board}', expected '{board.name}'")
    if info.clock_hz != board.clock_hz:
        raise AssertionError(f"device says clock {info.clock_hz} Hz, board file says {board.clock_hz}")
    if info.firmware != __version__:
        raise AssertionError(f"firmware {info.firmware}, expected {__version__}")
    return (f"board {info.board}, {info.clock_hz / 1e6:g} MHz, firmware {info.firmware}, protocol {info.protocol}, "
            f"cycle counter {info.cycle_source}")


def _check_echo(device: DeviceClient, rng: random.Random) -> str:
    sizes = [size for size in ECHO_SIZES if size <= device.info().max_payload]
    for size in sizes:
        payload = rng.randbytes(size)
        answer = device.echo(payload)
        if answer != payload:
            raise AssertionError(f"echo of {size} bytes came back different ({len(answer)} bytes)")
    return f"{len(sizes)} random payloads, {sizes[0]} to {sizes[-1]} bytes, {sum(sizes)} bytes each way"


def _frame_with_seq(device: DeviceClient, seq: int, timeout: float) -> fr.Frame | None:
    # Skips late duplicates of earlier replies (after a resend) still on the line.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = device.receive_frame(timeout=deadline - time.monotonic())
        if answer is not None and answer.seq == seq:
            return answer
    return None


def _check_corrupt_frame(device: DeviceClient, rng: random.Random) -> str:
    good = bytearray(fr.encode_frame(fr.ECHO, 0x5C, rng.randbytes(64)))
    good[fr.HEADER_BYTES + 10] ^= 0x01   # one payload bit flipped: the CRC-32 no longer matches
    device.send_raw(bytes(good))
    answer = _frame_with_seq(device, 0x5C, timeout=5.0)
    if answer is None:
        raise AssertionError("the device did not answer the corrupt frame")
    if answer.type == fr.ECHO | fr.REPLY:
        raise AssertionError("the device accepted a frame with a bad CRC")
    if answer.type != fr.ERROR or answer.payload[:1] != bytes([fr.ERR_BAD_CRC]):
        raise AssertionError(f"expected a BAD_CRC error, got frame type {answer.type:#04x}")
    payload = rng.randbytes(100)
    if device.echo(payload) != payload:
        raise AssertionError("echo after the corrupt frame failed")
    return "bad CRC rejected with BAD_CRC, next request answered"


def _check_garbage(device: DeviceClient, rng: random.Random) -> str:
    # Garbage that includes sync bytes, then a good request in the same write.
    garbage = bytes(rng.randrange(256) for _ in range(200)) + b"\xa5\x5a\xa5"
    payload = rng.randbytes(32)
    device.send_raw(garbage + fr.encode_frame(fr.ECHO, 0x77, payload))
    answer = _frame_with_seq(device, 0x77, timeout=5.0)
    if answer is None or answer.type != fr.ECHO | fr.REPLY:
        raise AssertionError("no answer to the frame sent after garbage")
    if answer.payload != payload:
        raise AssertionError("echo after garbage came back different")
    return f"{len(garbage)} garbage bytes skipped, the frame after them answered"


def _check_cycles(device: DeviceClient, emulator: str | None) -> str:
    one = device.spin(SPIN_ITERATIONS)
    two = device.spin(2 * SPIN_ITERATIONS)
    if one <= 0:
        raise AssertionError(f"the cycle counter did not move over {SPIN_ITERATIONS} loop iterations")
    ratio = two / one
    if not 1.8 <= ratio <= 2.2:
        raise AssertionError(f"twice the work took {ratio:.2f}x the cycles ({one} then {two})")
    source = device.info().cycle_source
    if emulator == "renode":
        return (f"{source} in Renode's virtual time (not cycles): {one} ticks for {SPIN_ITERATIONS} iterations, "
                f"{two} for twice as many")
    return f"{source}: {one} cycles for {SPIN_ITERATIONS} iterations, {two} for twice as many"


@contextlib.contextmanager
def _connect(board: Board, build: FirmwareBuild, emulator: str | None, port: str | None,
             start_timeout: float | None) -> Iterator[tuple[DeviceClient, object]]:
    if port is not None:
        with DeviceClient(port) as device:
            yield device, None
        return
    with start_emulator(board, build.elf, emulator=emulator, start_timeout=start_timeout) as target:
        with DeviceClient(target.url) as device:
            yield device, target


def run_selftest(
    board: Board | str,
    *,
    emulator: str | None = None,
    port: str | None = None,
    out_dir: str | os.PathLike | None = None,
    seed: int = 0,
    start_timeout: float | None = None,
) -> SelftestReport:
    """Build the runtime firmware for ``board`` and prove the link on an emulator (``emulator``,
    default the board's) or on a board already running that firmware at serial URL ``port``.

    Returns the report (check ``report.passed``). The firmware goes to ``out_dir`` (default: a
    temporary folder). Raises EdgeDeployError when the set-up fails before any link check (the
    toolchain or emulator missing, the port not opening).
    """
    board = load_board(board)
    if emulator is not None and port is not None:
        raise EdgeDeployError("give either an emulator or a serial port, not both")
    if port is None:
        emulator = emulator or default_emulator(board)
    rng = random.Random(seed)
    report = SelftestReport(board=board.name, target=port or emulator or "?")
    with contextlib.ExitStack() as stack:
        if out_dir is None:
            out_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="edge-deploy-selftest-"))
        start = time.monotonic()
        build = compile_runtime(board, Path(out_dir) / board.name)
        report.elf = str(build.elf)
        report.checks.append(Check(
            "build", True,
            f"flash {build.flash_bytes} bytes ({100 * build.flash_fraction:.1f} %), RAM {build.ram_bytes} bytes "
            f"with the stack ({100 * build.ram_fraction:.1f} %)",
            time.monotonic() - start,
        ))
        device, target = stack.enter_context(_connect(board, build, emulator, port, start_timeout))
        if not _run_check(report, "device info", lambda: _check_info(device, board)):
            return report  # nothing else can work without a talking device
        _run_check(report, "echo", lambda: _check_echo(device, rng))
        _run_check(report, "corrupt frame", lambda: _check_corrupt_frame(device, rng))
        _run_check(report, "garbage", lambda: _check_garbage(device, rng))
        _run_check(report, "cycle counter", lambda: _check_cycles(device, emulator))
        if target is not None:
            _run_check(report, "exit", lambda: _check_exit(device, target))
    return report


EXIT_TIMEOUT_S = 10.0


def _check_exit(device: DeviceClient, target) -> str:
    device.exit(0)
    try:
        status = target.wait(timeout=EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the firmware did not end the run within {EXIT_TIMEOUT_S:g} s of the EXIT request") from exc
    if status != 0:
        raise AssertionError(f"the run ended with status {status}, expected 0")
    if target.emulator == "renode":
        return "status 0 at the firmware's exit routine (a Renode hook on ed_semihost_exit; Renode ignores SYS_EXIT)"
    return "semihosting exit ended the emulator with status 0"
