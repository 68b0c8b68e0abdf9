"""The real runtime firmware under real QEMU, over a real socket: protocol round trips, model
requests with the add-one test model, recovery from garbage and truncated frames, fault reports."""

from __future__ import annotations

import os
import random
import struct
import time

import pytest
from elftools.elf.elffile import ELFFile
from firmware_builds import session_firmware

from edge_deploy.errors import EdgeDeployError
from edge_deploy.emulators import start_qemu
from edge_deploy.link import DeviceClient, DeviceFault, encode_frame
from edge_deploy.link import frame as fr
from edge_deploy.selftest import run_selftest

pytestmark = pytest.mark.qemu


def _frame_with_seq(device, seq, timeout):
    """The next frame with sequence number ``seq``, skipping late duplicates of older replies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = device.receive_frame(timeout=deadline - time.monotonic())
        if frame is not None and frame.seq == seq:
            return frame
    return None


@pytest.fixture(scope="module")
def add_one_device(tmp_path_factory, qemu_arm):
    """The runtime with the add-one test model, running on mps2-an386 in QEMU."""
    build = session_firmware(tmp_path_factory, "mps2-an386", "add_one")
    with start_qemu("mps2-an386", build.elf) as target, DeviceClient(target.url) as device:
        yield device


@pytest.fixture(scope="module")
def bare_device(tmp_path_factory, qemu_arm):
    """The runtime without a model, on netduinoplus2 (STM32 USART) in QEMU."""
    build = session_firmware(tmp_path_factory, "netduinoplus2")
    with start_qemu("netduinoplus2", build.elf) as target, DeviceClient(target.url) as device:
        yield device


def test_selftest_passes_on_netduinoplus2(tmp_path, qemu_arm):
    report = run_selftest("netduinoplus2", emulator="qemu", out_dir=tmp_path)
    assert report.passed, report.format()
    assert [c.name for c in report.checks][:3] == ["build", "device info", "echo"]


def test_device_info_reports_board_and_cycle_source(bare_device):
    info = bare_device.info()
    assert (info.board, info.clock_hz, info.protocol, info.model) == ("netduinoplus2", 168_000_000, 2, None)
    # QEMU does not model the DWT: the runtime must have noticed and fallen back to SysTick.
    assert info.cycle_source == "systick"
    assert info.max_payload == fr.MAX_PAYLOAD


@pytest.mark.parametrize("size", [0, 1, 2, 5, 31, 32, 33, 127, 128, 129, 511, 1024, 2049, 4095, 4096])
def test_echo_round_trips(add_one_device, size):
    payload = random.Random(size).randbytes(size)
    assert add_one_device.echo(payload) == payload


def test_echo_over_the_stm32_usart(bare_device):
    payload = os.urandom(3000)
    assert bare_device.echo(payload) == payload


def test_model_requests_without_a_model_are_refused(bare_device):
    with pytest.raises(EdgeDeployError, match="NO_MODEL"):
        bare_device.model_info()
    with pytest.raises(EdgeDeployError, match="NO_MODEL"):
        bare_device.request(fr.RUN)
    assert bare_device.read_profile().runs == 0


def test_model_info_of_the_test_model(add_one_device):
    model = add_one_device.model_info()
    assert (model.name, model.input_bytes, model.output_bytes) == ("test-add-one", 10000, 10000)
    assert model.layer_names == ["add_one", "copy"]


def test_load_run_read_end_to_end(add_one_device):
    rng = random.Random(7)
    data = bytes(rng.randrange(256) for _ in range(10000))   # > max_payload: sent in 3 chunks
    add_one_device.load_input(data)
    before = add_one_device.read_profile().runs
    result = add_one_device.run()
    output = add_one_device.read_output()
    assert output == bytes((b + 1) & 0xFF for b in data)      # int8 wrap-around, as in C
    assert len(result.layer_cycles) == 2 and all(c > 0 for c in result.layer_cycles)
    assert result.total_cycles >= sum(result.layer_cycles)
    profile = add_one_device.read_profile()
    assert profile.runs == before + 1
    assert profile.total.last == result.total_cycles
    assert [layer.last for layer in profile.layers] == result.layer_cycles


def test_run_is_deterministic_under_icount(add_one_device):
    add_one_device.load_input(bytes(10000))
    first = add_one_device.run()
    second = add_one_device.run()
    # SysTick under -icount shift=0 is a function of the instructions executed; allow one tick
    # of phase between runs.
    for a, b in zip(first.layer_cycles, second.layer_cycles):
        assert abs(a - b) <= 1


def test_partial_reads_and_loads(add_one_device):
    add_one_device.load_input(b"\x10\x20\x30", offset=5000)
    add_one_device.run()
    assert add_one_device.read_output(3, offset=5000) == b"\x11\x21\x31"


def test_out_of_range_requests_are_refused(add_one_device):
    with pytest.raises(EdgeDeployError, match="does not fit the model input"):
        add_one_device.load_input(bytes(10001))
    with pytest.raises(EdgeDeployError, match="OUT_OF_RANGE"):
        add_one_device.request(fr.LOAD_INPUT, struct.pack("<I", 9999) + b"ab")
    with pytest.raises(EdgeDeployError, match="OUT_OF_RANGE"):
        add_one_device.request(fr.READ_OUTPUT, struct.pack("<II", 9000, 2000))
    with pytest.raises(EdgeDeployError, match="UNKNOWN_TYPE"):
        add_one_device.request(0x3C)
    assert add_one_device.echo(b"still fine") == b"still fine"


def test_garbage_before_a_frame_is_skipped(add_one_device):
    rng = random.Random(3)
    for _ in range(5):
        garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))) + b"\xa5"
        add_one_device.send_raw(garbage)
        payload = rng.randbytes(rng.randrange(1, 200))
        assert add_one_device.echo(payload) == payload


def test_corrupt_frame_is_rejected_with_bad_crc(add_one_device):
    frame = bytearray(encode_frame(fr.ECHO, 0x42, b"0123456789"))
    frame[-1] ^= 0xFF
    add_one_device.send_raw(bytes(frame))
    answer = _frame_with_seq(add_one_device, 0x42, timeout=5.0)
    assert answer is not None and answer.type == fr.ERROR
    assert answer.payload[0] == fr.ERR_BAD_CRC and answer.seq == 0x42
    assert add_one_device.echo(b"after") == b"after"


def test_truncated_frame_times_out_on_the_device_and_the_link_recovers(add_one_device):
    add_one_device.send_raw(encode_frame(fr.ECHO, 0x21, bytes(500))[:100])
    answer = _frame_with_seq(add_one_device, 0x21, timeout=10.0)
    assert answer is not None and answer.type == fr.ERROR and answer.payload[0] == fr.ERR_TRUNCATED
    assert add_one_device.echo(b"recovered") == b"recovered"


def test_request_sent_into_a_truncated_frame_is_found_by_the_device(add_one_device):
    # The device takes the request as the rest of the truncated frame; when the line goes quiet
    # it reports the cut frame (TRUNCATED with that frame's seq, which the client ignores: no
    # request of its own has it) and looks again at the bytes it swallowed, where it finds the
    # request and answers it: no resend, no wait for the client's timeout.
    add_one_device.send_raw(encode_frame(fr.ECHO, 0x22, bytes(300))[:40])
    resends, stale = add_one_device.resends, add_one_device.stale_frames
    start = time.monotonic()
    assert add_one_device.echo(b"inside") == b"inside"
    assert time.monotonic() - start < add_one_device.timeout
    assert add_one_device.resends == resends and add_one_device.stale_frames == stale + 1


def test_spin_cycles_scale_with_work(add_one_device):
    one, two = add_one_device.spin(50_000), add_one_device.spin(100_000)
    assert one > 0 and 1.9 <= two / one <= 2.1


def test_fault_reports_the_faulting_pc(tmp_path_factory, qemu_arm):
    build = session_firmware(tmp_path_factory, "mps2-an386", "fault")
    with open(build.elf, "rb") as handle:
        symbols = ELFFile(handle).get_section_by_name(".symtab")
        fault_pc = symbols.get_symbol_by_name("test_fault_pc")[0]["st_value"] & ~1
    with start_qemu("mps2-an386", build.elf) as target, DeviceClient(target.url) as device:
        with pytest.raises(DeviceFault) as info:
            device.run()
        report = info.value.report
        assert report.pc == fault_pc
        assert report.ipsr == 3                       # HardFault (the UsageFault escalated)
        assert report.cfsr & (1 << 16)                # UFSR.UNDEFINSTR
        assert f"pc={fault_pc:#010x}" in info.value.message


def test_semihosting_exit_status_reaches_the_host(tmp_path_factory, qemu_arm):
    build = session_firmware(tmp_path_factory, "mps2-an386")
    with start_qemu("mps2-an386", build.elf) as target, DeviceClient(target.url) as device:
        device.exit(7)
        assert target.wait(timeout=5) == 7
