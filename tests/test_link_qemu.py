"""The runtime's links under real QEMU: the semihosting link (stdin/stdout on a socket pair),
RUN_BATCH, pipelined requests, inputs streamed into the tensor (damaged, cut short, out of range),
error replies and their seqs, a firmware that never boots, an emulator that exits or is killed in
the middle of a request, and the semihosting probe on a QEMU without semihosting. Everything here
is the real firmware over real sockets; only the damage to a frame the client sends is injected
(a socket does not corrupt bytes), by flipping one bit of it on its way out."""

from __future__ import annotations

import os
import random
import signal
import struct
import subprocess
import sys
import time

import pytest
from firmware_builds import session_firmware

from edge_deploy.emulators import start_emulator, start_qemu
from edge_deploy.emulators.process import EmulatorProcess
from edge_deploy.emulators.qemu import qemu_command
from edge_deploy.errors import EdgeDeployError
from edge_deploy.link import DeviceClient, Request, encode_frame
from edge_deploy.link import frame as fr

pytestmark = pytest.mark.qemu


@pytest.fixture(scope="module")
def small_device(tmp_path_factory, qemu_arm):
    """The add-one model with 1,000-byte inputs and 16-byte outputs and a generated model's
    256-byte request buffer, on mps2-an386 in QEMU over the semihosting link, four requests in
    flight."""
    build = session_firmware(tmp_path_factory, "mps2-an386", "add_one_small")
    with start_qemu("mps2-an386", build.elf, link="semihost") as target, target.connect() as device:
        yield device


def _add_one(data: bytes, count: int) -> bytes:
    return bytes((b + 1) & 0xFF for b in data[:count])


def test_the_semihosting_link_boots_and_echoes_whole_buffers(small_device):
    assert small_device.boot_info is not None and small_device.boot_info.link == "semihost"
    info = small_device.info()
    assert (info.link, info.run_batch, info.stream, info.max_payload) == ("semihost", True, True, 256)
    payload = random.Random(1).randbytes(3 * 256 + 5)   # four ECHO frames, pipelined
    assert small_device.echo(payload) == payload


def test_run_batch_answers_every_input_in_order(small_device):
    rng = random.Random(2)
    inputs = [rng.randbytes(1000) for _ in range(11)]   # eleven RUN_BATCH requests, four in flight
    before = small_device.read_profile().runs
    results = list(small_device.run_inputs(inputs))
    assert [output for _, output in results] == [_add_one(x, 16) for x in inputs]
    assert all(len(r.layer_cycles) == 2 and r.total_cycles >= sum(r.layer_cycles) > 0 for r, _ in results)
    assert small_device.read_profile().runs == before + 11


def test_a_larger_request_buffer_means_larger_frames(tmp_path_factory, qemu_arm):
    # ED_MAX_PAYLOAD is a build define: the device reports it and the host fills its ECHO frames.
    build = session_firmware(tmp_path_factory, "mps2-an386", "add_one_small_16k")
    with start_qemu("mps2-an386", build.elf, link="semihost") as target, target.connect() as device:
        assert device.boot_info.max_payload == 16384
        payload = random.Random(3).randbytes(16384)
        assert device.echo(payload) == payload                # one frame
        inputs = [random.Random(i).randbytes(1000) for i in range(20)]
        assert [out for _, out in device.run_inputs(inputs)] == [_add_one(x, 16) for x in inputs]
        assert device.resends == 0


def test_run_batch_takes_exactly_one_whole_input(small_device):
    # Shorter: read (into no tensor), checked, refused. Longer: refused at its header, before a
    # byte of it is stored. The link carries on.
    with pytest.raises(EdgeDeployError, match="RUN_BATCH: BAD_REQUEST"):
        small_device.request(fr.RUN_BATCH, bytes(500))
    with pytest.raises(EdgeDeployError, match="RUN_BATCH: BAD_REQUEST"):
        small_device.request(fr.RUN_BATCH, b"")
    with pytest.raises(EdgeDeployError, match="RUN_BATCH: TOO_LONG"):
        small_device.request(fr.RUN_BATCH, bytes(2000))
    assert small_device.echo(b"still here") == b"still here"


def test_a_load_past_the_tensor_is_dropped_whole_and_refused(small_device):
    # 500 bytes at offset 900 of a 1,000-byte input: longer than the 256-byte request buffer, so
    # the device reads them through the buffer's free end and drops them, then says OUT_OF_RANGE.
    small_device.load_input(bytes(range(200)) * 5)
    with pytest.raises(EdgeDeployError, match="LOAD_INPUT: OUT_OF_RANGE"):
        small_device.request(fr.LOAD_INPUT, struct.pack("<I", 900) + bytes(500))
    small_device.run()
    assert small_device.read_output() == _add_one(bytes(range(200)) * 5, 16)


class _DamageOnce:
    """Flips one bit in the payload of the ``nth`` frame of type ``frame_type`` the client
    writes, on its way to the socket: the device gets that frame damaged once, its resend intact."""

    def __init__(self, device, frame_type: int, nth: int) -> None:
        self.write, self.frame_type, self.left = device._stream.write, frame_type, nth

    def __call__(self, data: bytes) -> None:
        if data[2] == self.frame_type:
            self.left -= 1
            if self.left == 0:
                data = bytearray(data)
                data[fr.HEADER_BYTES + 7] ^= 0x08
                data = bytes(data)
        self.write(data)


def test_a_damaged_streamed_input_is_resent_and_every_output_is_right(small_device, monkeypatch):
    # The third RUN_BATCH of a pipelined run arrives with a flipped bit: its bytes are already in
    # the input tensor when the CRC fails, so the device answers BAD_CRC without running, the next
    # request (already on its way) overwrites the garbage, and the resent one runs intact.
    monkeypatch.setattr(small_device._stream, "write", _DamageOnce(small_device, fr.RUN_BATCH, 3))
    inputs = [random.Random(40 + i).randbytes(1000) for i in range(8)]
    resends, runs = small_device.resends, small_device.read_profile().runs
    outputs = [output for _, output in small_device.run_inputs(inputs)]
    assert outputs == [_add_one(x, 16) for x in inputs]
    assert small_device.resends == resends + 1
    assert small_device.read_profile().runs == runs + 8          # the damaged one never ran


def test_a_damaged_load_leaves_garbage_that_a_good_load_replaces(small_device, monkeypatch):
    data = bytes(range(250)) * 4
    monkeypatch.setattr(small_device._stream, "write", _DamageOnce(small_device, fr.LOAD_INPUT, 1))
    resends = small_device.resends
    small_device.load_input(data)      # damaged once (BAD_CRC), resent by the client
    assert small_device.resends == resends + 1
    small_device.run()
    assert small_device.read_output() == _add_one(data, 16)


@pytest.mark.parametrize("cut", [fr.HEADER_BYTES + 2, fr.HEADER_BYTES + 4 + 300, fr.HEADER_BYTES + 4 + 1000 + 2])
def test_a_load_cut_short_anywhere_is_answered_truncated(small_device, cut):
    # Inside the offset (the buffered head), inside the streamed data, inside the CRC-32.
    frame = encode_frame(fr.LOAD_INPUT, 0x31, struct.pack("<I", 0) + bytes(1000), max_payload=fr.LENGTH_FIELD_MAX)
    small_device.send_raw(frame[:cut])
    answer = small_device.receive_frame(timeout=15.0)
    while answer is not None and answer.seq != 0x31:
        answer = small_device.receive_frame(timeout=15.0)
    assert answer is not None and (answer.type, answer.payload[0]) == (fr.ERROR, fr.ERR_TRUNCATED)
    data = random.Random(cut).randbytes(1000)
    assert [out for _, out in small_device.run_inputs([data])] == [_add_one(data, 16)]


def test_a_request_swallowed_by_a_cut_short_stream_is_resent_after_the_timeout(small_device):
    # The bytes of a streamed payload go to the tensor and are not searched again after damage:
    # an ECHO (25 bytes) sent right behind a RUN_BATCH that lacks its last 21 is taken as the rest
    # of its input and its CRC-32, the cut frame is answered BAD_CRC (stale for the client), and
    # the ECHO is sent again when its timeout expires (docs/protocol.md, "Resynchronisation").
    frame = encode_frame(fr.RUN_BATCH, 0x32, bytes(1000), max_payload=fr.LENGTH_FIELD_MAX)
    timeout, small_device.timeout = small_device.timeout, 2.0
    try:
        small_device.send_raw(frame[:-21])
        resends = small_device.resends
        assert small_device.echo(b"behind the cut") == b"behind the cut"
        assert small_device.resends == resends + 1
    finally:
        small_device.timeout = timeout


def test_pipelined_requests_survive_a_damaged_frame_before_them(small_device):
    # A frame with a flipped payload bit just ahead of six pipelined requests: the device answers
    # BAD_CRC with that frame's seq (stale for the client) and serves the requests behind it.
    damaged = bytearray(encode_frame(fr.ECHO, 0x42, bytes(200)))
    damaged[fr.HEADER_BYTES + 50] ^= 0x10
    small_device.send_raw(bytes(damaged))
    good = [Request(fr.ECHO, bytes([i]) * 250) for i in range(6)]
    assert list(small_device.exchange(good, window=4)) == [r.payload for r in good]


def test_a_lone_sync_byte_is_answered_truncated_with_seq_0_and_ignored(small_device):
    # The first sync byte alone, then silence: the device takes it for the start of a header and,
    # when the line stays quiet, reports TRUNCATED with seq 0 (it never read a seq). No request
    # has seq 0, so the client skips it without resending anything.
    small_device.send_raw(b"\xa5")
    frame = small_device.receive_frame(timeout=15.0)
    assert frame is not None and (frame.type, frame.seq) == (fr.ERROR, 0)
    assert frame.payload[0] == fr.ERR_TRUNCATED and b"header cut short" in frame.payload
    resends = small_device.resends
    assert small_device.echo(b"after the noise") == b"after the noise"
    assert small_device.resends == resends


def _spin_elf(tmp_path):
    """A valid mps2-an386 program that runs for ever and never speaks: not the runtime."""
    from edge_deploy.profile.baremetal import build_elf

    source = tmp_path / "spin.c"
    source.write_text("int main(void) { for (;;) { } }\n")
    return build_elf([source], tmp_path / "spin.elf")


def test_a_firmware_that_never_boots_is_named_quickly(tmp_path, qemu_arm):
    start = time.monotonic()
    with start_qemu("mps2-an386", _spin_elf(tmp_path), link="semihost") as target:
        with pytest.raises(EdgeDeployError) as info, target.connect(boot_timeout=3.0) as device:
            device.model_info()
    assert "did not start: no BOOT frame within 3 s" in info.value.message
    assert "rebuild" in info.value.hint
    assert time.monotonic() - start < 3.0 + 5.0   # was four request timeouts of 5 s


def test_a_cut_short_elf_is_named_by_the_emulator_exit(tmp_path_factory, tmp_path, qemu_arm):
    # Cut inside its code, the ELF no longer loads as an ELF; QEMU runs the bytes as they are and
    # stops on a lockup. The error says so, from QEMU's own log.
    whole = session_firmware(tmp_path_factory, "mps2-an386", "add_one").elf.read_bytes()
    elf = tmp_path / "firmware.elf"
    elf.write_bytes(whole[:6000])
    with start_qemu("mps2-an386", elf, link="semihost") as target:
        with pytest.raises(EdgeDeployError) as info, target.connect(boot_timeout=10.0) as device:
            device.model_info()
    message = info.value.message
    assert "qemu (mps2-an386)" in message and ("exited" in message or "killed" in message)
    assert "Lockup" in message


def test_an_emulator_that_exits_mid_request_is_named_with_its_status(tmp_path_factory, qemu_arm):
    # The fixture model's run() ends QEMU through semihosting with status 3.
    build = session_firmware(tmp_path_factory, "mps2-an386", "exit")
    with start_qemu("mps2-an386", build.elf, link="semihost") as target:
        with pytest.raises(EdgeDeployError) as info, target.connect() as device:
            list(device.run_inputs([bytes(16)]))
    message = info.value.message
    assert "qemu (mps2-an386) exited with status 3" in message and "its log ends" in message
    assert "Connection reset" not in message and "path" not in (info.value.hint or "")


def test_run_says_the_emulator_exited_not_that_a_read_failed(tmp_path_factory, tmp_path, qemu_arm, capsys):
    import json
    import shutil

    import numpy as np

    from edge_deploy.cli import main

    build = tmp_path / "build"
    build.mkdir()
    shutil.copy(session_firmware(tmp_path_factory, "mps2-an386", "exit").elf, build / "firmware.elf")
    tensor = {"shape": [1, 16], "scale": 1.0, "zero_point": 0}
    (build / "report.json").write_text(json.dumps({"board": "mps2-an386", "model": "test-exit", "kernels": "simd",
                                                   "input": tensor, "output": tensor}))
    np.save(tmp_path / "x.npy", np.zeros((3, 16), np.int8))
    status = main(["run", str(build), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy")])
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("error: qemu (mps2-an386) exited with status 3")
    assert "read failed" not in err and "writable" not in err and "Traceback" not in err
    assert not (tmp_path / "y.npy").exists()


def test_an_emulator_killed_mid_request_is_named_on_the_uart_link_too(tmp_path_factory, qemu_arm):
    build = session_firmware(tmp_path_factory, "mps2-an386", "add_one")
    with start_emulator("mps2-an386", build.elf, emulator="qemu", link="uart") as target:
        with pytest.raises(EdgeDeployError) as info, target.connect(timeout=2.0) as device:
            device.info()
            os.kill(target.pid, signal.SIGKILL)
            device.spin(10_000_000)
    assert "qemu (mps2-an386) was killed by SIGKILL" in info.value.message


def test_without_a_semihosting_host_the_probe_faults_quietly_and_the_uart_serves(tmp_path_factory, qemu_arm):
    # QEMU started without -semihosting-config: the runtime's BKPT probe raises a real HardFault,
    # which the fault handler must skip (not report) so the firmware boots on its UART.
    from edge_deploy.boards import load_board
    from edge_deploy.emulators.process import free_loopback_port, port_accepts

    build = session_firmware(tmp_path_factory, "mps2-an386", "none")
    port = free_loopback_port()
    command = qemu_command(load_board("mps2-an386"), build.elf, port)
    at = command.index("-semihosting-config")
    del command[at : at + 2]
    process = EmulatorProcess(command)
    try:
        deadline = time.monotonic() + 10
        while not port_accepts(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        with DeviceClient(f"socket://127.0.0.1:{port}", timeout=3.0) as device:
            info = device.info()
            assert (info.link, info.board) == ("uart", "mps2-an386")
            assert device.echo(b"no host, no fault") == b"no host, no fault"
    finally:
        process.stop()


def test_profile_qemu_dies_with_its_parent(tmp_path, qemu_arm):
    # run_with_counts starts QEMU through the emulator runner: when the Python process that
    # started it is killed outright, the kernel kills QEMU too (it used to be left running).
    elf = _spin_elf(tmp_path)
    script = ("from edge_deploy.profile.qemu_run import run_with_counts; "
              f"run_with_counts({str(elf)!r}, markers=False, timeout_s=60)")
    # Its own temporary folder: the killed parent cannot remove QEMU's log folder.
    parent = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        qemu = _wait_for_qemu(str(elf))
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while _alive(qemu) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(qemu), "QEMU outlived the process that started it"
    finally:
        parent.kill()


def _wait_for_qemu(elf: str, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if cmdline and cmdline[0].endswith(b"qemu-system-arm") and elf.encode() in cmdline:
                return int(pid)
        time.sleep(0.05)
    raise AssertionError("QEMU did not start")


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"
