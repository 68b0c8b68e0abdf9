"""Framing and the host client's recovery logic, over a real pty pair.

The peer on the other side of the pty is a Python test peer (``ScriptedPeer``) that speaks the
frame format; it stands in for the firmware only to cause faults the real firmware never makes
(stale replies, silence, fault reports at chosen moments). The real firmware is tested in
test_firmware_runtime.py.
"""

from __future__ import annotations

import os
import select
import struct
import threading
import time
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_deploy.errors import EdgeDeployError
from edge_deploy.link import DeviceClient, DeviceFault, FrameDecoder, LinkClosed, LinkError, Request, encode_frame
from edge_deploy.link import frame as fr


def test_frame_layout_matches_the_spec():
    data = encode_frame(fr.ECHO, 7, b"abc")
    assert data[:2] == b"\xa5\x5a"
    assert data[2:6] == bytes([fr.ECHO, 7, 3, 0])
    assert data[6] == fr.crc8(data[2:6])
    assert data[7:10] == b"abc"
    assert struct.unpack("<I", data[10:])[0] == zlib.crc32(data[2:6] + b"abc")


def test_crc8_known_value():
    # CRC-8 (poly 0x07, init 0) of "123456789" is 0xF4 (the CRC-8/SMBUS check value).
    assert fr.crc8(b"123456789") == 0xF4


def test_payload_over_the_maximum_is_refused():
    with pytest.raises(ValueError):
        encode_frame(fr.ECHO, 0, bytes(fr.MAX_PAYLOAD + 1))


@settings(max_examples=60, deadline=None)
@given(
    payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=5),
    garbage=st.binary(max_size=64),
    split=st.integers(min_value=1, max_value=50),
)
def test_decoder_finds_frames_after_garbage_in_any_chunking(payloads, garbage, split):
    stream = garbage + b"".join(encode_frame(fr.ECHO, i, p) for i, p in enumerate(payloads))
    decoder = FrameDecoder()
    frames = []
    for start in range(0, len(stream), split):
        frames += decoder.feed(stream[start : start + split])
    # Garbage may by chance hold a valid frame; the real ones are the last len(payloads).
    assert [f.payload for f in frames[-len(payloads):]] == payloads


def test_corrupt_frame_is_dropped_and_the_next_one_found():
    bad = bytearray(encode_frame(fr.ECHO, 1, b"hello world"))
    bad[9] ^= 0x40
    decoder = FrameDecoder()
    frames = decoder.feed(bytes(bad) + encode_frame(fr.ECHO, 2, b"ok"))
    assert [(f.seq, f.payload) for f in frames] == [(2, b"ok")]
    assert decoder.bad_frames >= 1


def test_truncated_frame_gives_way_to_the_frame_inside_it():
    # A header announcing 1000 bytes, cut short, then a complete frame: the decoder waits for
    # the long frame, and resync() (the line went quiet) finds the short one.
    truncated = encode_frame(fr.ECHO, 1, bytes(1000))[:20]
    decoder = FrameDecoder()
    assert decoder.feed(truncated + encode_frame(fr.ECHO, 2, b"inner")) == []
    frames = decoder.resync()
    assert [(f.seq, f.payload) for f in frames] == [(2, b"inner")]


def test_bad_header_crc_does_not_swallow_the_next_frame():
    fake_header = b"\xa5\x5a" + bytes([fr.ECHO, 0, 0xFF, 0x0F]) + b"\x00"  # length 4095, wrong CRC-8
    frames = FrameDecoder().feed(fake_header + encode_frame(fr.ECHO, 3, b"x"))
    assert [(f.seq, f.payload) for f in frames] == [(3, b"x")]


class ScriptedPeer(threading.Thread):
    """Test peer on the master side of a pty: answers frames according to ``behaviour``."""

    def __init__(self, master_fd: int, behaviour) -> None:
        super().__init__(daemon=True)
        self.fd = master_fd
        self.behaviour = behaviour
        self.received: list[fr.Frame] = []
        self.stop = threading.Event()

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def run(self) -> None:
        decoder = FrameDecoder()
        while not self.stop.is_set():
            # Poll with a timeout so that the fixture can stop this thread before it closes the
            # fd: a peer left blocked in read() on a closed fd would read from whatever file next
            # reuses that fd number (the next test's pty) and answer in that test's place.
            ready, _, _ = select.select([self.fd], [], [], 0.02)
            if not ready:
                continue
            try:
                data = os.read(self.fd, 4096)
            except OSError:
                return
            for frame in decoder.feed(data):
                self.received.append(frame)
                self.behaviour(self, frame, len(self.received))


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    path = os.ttyname(slave)
    peers: list[ScriptedPeer] = []
    yield master, path, peers
    for peer in peers:
        peer.stop.set()
        peer.join(timeout=5)
        assert not peer.is_alive(), "the test peer did not stop"
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass


def _connect(pty_pair, behaviour, **options):
    master, path, peers = pty_pair
    peer = ScriptedPeer(master, behaviour)
    peers.append(peer)
    peer.start()
    return peer, DeviceClient(path, **options)


def _reply(peer, frame, payload):
    peer.send(encode_frame(frame.type | fr.REPLY, frame.seq, payload))


_INFO = b"protocol=2\nfirmware=0.1.0\nboard=b\nclock_hz=1\ncycle_source=dwt\ncycle_hz=1\nmax_payload=4096\n"


def _echo(peer, frame, count):
    """Echo every request, and answer INFO (the client asks it before an ECHO longer than the
    256 bytes every device takes) with a 4 KiB request buffer."""
    _reply(peer, frame, _INFO if frame.type == fr.INFO else frame.payload)


def test_echo_over_a_pty(pty_pair):
    peer, client = _connect(pty_pair, _echo)
    with client:
        for size in (1, 100, 4096):
            payload = os.urandom(size)
            assert client.echo(payload) == payload


def test_stale_replies_and_noise_are_skipped(pty_pair):
    def behaviour(peer, frame, count):
        peer.send(b"\x00\xff\xa5garbage")                                      # noise
        peer.send(encode_frame(frame.type | fr.REPLY, (frame.seq - 1) & 0xFF, b"old"))  # stale
        _reply(peer, frame, b"new")

    peer, client = _connect(pty_pair, behaviour)
    with client:
        assert client.echo(b"new") == b"new"


def test_bad_crc_error_makes_the_client_resend(pty_pair):
    def behaviour(peer, frame, count):
        if count == 1:
            peer.send(encode_frame(fr.ERROR, frame.seq, bytes([fr.ERR_BAD_CRC]) + b"frame CRC mismatch"))
        else:
            _reply(peer, frame, frame.payload)

    peer, client = _connect(pty_pair, behaviour)
    with client:
        assert client.echo(b"again") == b"again"
        assert client.resends == 1
        assert [f.payload for f in peer.received] == [b"again", b"again"]


def test_silent_device_times_out_with_a_clear_error(pty_pair):
    peer, client = _connect(pty_pair, lambda p, f, n: None, timeout=0.3, retries=1)
    with client:
        start = time.monotonic()
        with pytest.raises(EdgeDeployError, match="no reply from the device"):
            client.echo(b"anyone?")
        assert time.monotonic() - start < 2.0
        assert len(peer.received) == 2   # first attempt and one retry


def test_error_reply_names_the_request_and_the_code(pty_pair):
    def behaviour(peer, frame, count):
        peer.send(encode_frame(fr.ERROR, frame.seq, bytes([fr.ERR_NO_MODEL]) + b"no model linked in"))

    peer, client = _connect(pty_pair, behaviour)
    with client, pytest.raises(EdgeDeployError, match="MODEL_INFO: NO_MODEL"):
        client.model_info()


def test_fault_report_raises_device_fault_with_the_pc(pty_pair):
    registers = list(range(0x1000, 0x1000 + 15))

    def behaviour(peer, frame, count):
        peer.send(encode_frame(fr.FAULT, 0, struct.pack("<15I", *registers)))

    peer, client = _connect(pty_pair, behaviour)
    with client, pytest.raises(DeviceFault) as info:
        client.echo(b"x")
    assert info.value.report.pc == 0x1000
    assert info.value.report.ipsr == 0x1000 + 14
    assert "pc=0x00001000" in info.value.message


def test_reply_truncated_by_the_device_is_recovered_by_resend(pty_pair):
    def behaviour(peer, frame, count):
        if count == 1:
            peer.send(encode_frame(frame.type | fr.REPLY, frame.seq, bytes(2000))[:50])  # cut short
        else:
            _reply(peer, frame, frame.payload)

    peer, client = _connect(pty_pair, behaviour, timeout=1.0)
    with client:
        assert client.echo(b"whole") == b"whole"
        assert len(peer.received) == 2


def test_opening_a_missing_port_is_a_user_error():
    with pytest.raises(EdgeDeployError, match="cannot open serial port"):
        DeviceClient("/dev/edge-deploy-no-such-tty")


# -- sequence numbers, stale errors, pipelining (issue 17) ---------------------------------------


def _error(peer, seq, code, text=b"x"):
    peer.send(encode_frame(fr.ERROR, seq, bytes([code]) + text))


def test_stale_error_frames_neither_resend_nor_cost_attempts(pty_pair):
    # Four error frames for other seqs (a lone 0xA5 on a noisy line makes the firmware send
    # TRUNCATED with seq 0) arrive before the reply: they used to use up four attempts in 0.05 s
    # and end in "no reply ... after 4 attempts of 5 s" while the device was answering.
    def behaviour(peer, frame, count):
        _error(peer, fr.NO_REQUEST_SEQ, fr.ERR_TRUNCATED, b"frame header cut short")
        _error(peer, (frame.seq - 1) & 0xFF or 0x80, fr.ERR_BAD_CRC)
        _error(peer, (frame.seq + 7) & 0xFF or 0x81, fr.ERR_TRUNCATED)
        _error(peer, (frame.seq + 9) & 0xFF or 0x82, fr.ERR_BAD_CRC)
        time.sleep(0.2)
        _reply(peer, frame, frame.payload)

    peer, client = _connect(pty_pair, behaviour, timeout=1.0, retries=3)
    with client:
        assert client.echo(b"late but alive") == b"late but alive"
        assert client.resends == 0 and client.stale_frames == 4
        assert len(peer.received) == 1


def test_damage_reports_for_our_seq_resend_without_costing_attempts(pty_pair):
    # More BAD_CRC replies than retries: each is answered at once by a resend, none is a timeout.
    def behaviour(peer, frame, count):
        if count <= 5:
            _error(peer, frame.seq, fr.ERR_BAD_CRC, b"frame CRC mismatch")
        else:
            _reply(peer, frame, frame.payload)

    peer, client = _connect(pty_pair, behaviour, timeout=2.0, retries=1)
    with client:
        start = time.monotonic()
        assert client.echo(b"sixth time") == b"sixth time"
        assert time.monotonic() - start < 1.5 and client.resends == 5


def test_a_line_that_damages_every_frame_is_reported_quickly(pty_pair):
    peer, client = _connect(pty_pair, lambda p, f, n: _error(p, f.seq, fr.ERR_BAD_CRC), timeout=5.0)
    with client:
        start = time.monotonic()
        with pytest.raises(EdgeDeployError, match="damaged 9 times in a row"):
            client.echo(b"never intact")
        assert time.monotonic() - start < 2.0


def test_no_request_uses_seq_0(pty_pair):
    peer, client = _connect(pty_pair, lambda p, f, n: _reply(p, f, b""))
    with client:
        for _ in range(300):   # more than one round of the 8-bit counter
            client.request(fr.INFO)
    assert len(peer.received) == 300 and all(frame.seq != 0 for frame in peer.received)


def test_pipelined_replies_are_matched_by_seq_in_any_order(pty_pair):
    # The peer holds four requests and answers them last first, the second one with BAD_CRC the
    # first time: the client still yields the replies in request order, the second resent once.
    held = []

    def behaviour(peer, frame, count):
        if count > 4:
            _reply(peer, frame, frame.payload)
            return
        held.append(frame)
        if len(held) == 4:
            for waiting in reversed(held):
                if waiting.payload == b"1":
                    _error(peer, waiting.seq, fr.ERR_BAD_CRC)
                else:
                    _reply(peer, waiting, waiting.payload)

    peer, client = _connect(pty_pair, behaviour, window=4)
    with client:
        requests = [Request(fr.ECHO, str(i).encode()) for i in range(4)]
        assert list(client.exchange(requests)) == [b"0", b"1", b"2", b"3"]
        assert client.resends == 1 and len(peer.received) == 5


def test_echo_longer_than_one_frame_is_split(pty_pair):
    peer, client = _connect(pty_pair, _echo, window=2)
    with client:
        payload = os.urandom(3 * fr.MAX_PAYLOAD + 100)
        assert client.echo(payload) == payload          # was ValueError past 4,096 bytes
    assert [len(f.payload) for f in peer.received] == [0] + [fr.MAX_PAYLOAD] * 3 + [100]   # INFO first


def test_a_closed_port_is_a_link_error_naming_the_port(pty_pair):
    master, path, peers = pty_pair

    def behaviour(peer, frame, count):
        peer.stop.set()
        os.close(peer.fd)   # the far end goes away in the middle of the request

    peer, client = _connect(pty_pair, behaviour, timeout=0.5)
    with client, pytest.raises(LinkClosed, match=f"the link to {path} closed"):
        client.echo(b"anyone?")


def test_wait_boot_finds_the_boot_frame_or_says_the_firmware_did_not_start(pty_pair):
    master, path, peers = pty_pair
    info = b"protocol=1\nfirmware=0.1.0\nboard=b\nclock_hz=1\ncycle_source=dwt\ncycle_hz=1\nmax_payload=8192\n"
    with DeviceClient(path) as client:
        os.write(master, b"\x00garbage\xa5" + encode_frame(fr.BOOT, 0, info))
        assert client.wait_boot(2.0).max_payload == 8192
    with DeviceClient(path) as client:
        start = time.monotonic()
        with pytest.raises(LinkError, match="did not start: no BOOT frame within 0.3 s"):
            client.wait_boot(0.3)
        assert time.monotonic() - start < 1.0


_PROTOCOL_1_INFO = (b"protocol=1\nfirmware=0.1.0\nboard=b\nclock_hz=1\ncycle_source=dwt\ncycle_hz=1\n"
                    b"max_payload=4096\nrun_batch=1\nmodel=m\n")


def _protocol_1_device(peer, frame, count):
    """Stands in for firmware of protocol 1 (before streamed tensors; a real one would need the
    old runtime built): 1,000-byte inputs, 16-byte outputs (each byte + 1), one layer, several
    whole inputs per RUN_BATCH, refused past its 4 KiB request buffer."""
    if frame.type == fr.INFO:
        _reply(peer, frame, _PROTOCOL_1_INFO)
    elif frame.type == fr.MODEL_INFO:
        _reply(peer, frame, b"name=m\ninput_bytes=1000\noutput_bytes=16\nn_layers=1\nlayer.0=l0\n")
    elif frame.type == fr.RUN_BATCH and len(frame.payload) <= 4096 and len(frame.payload) % 1000 == 0:
        inputs = [frame.payload[i : i + 1000] for i in range(0, len(frame.payload), 1000)]
        _reply(peer, frame, b"".join(struct.pack("<II", 7, 7) + bytes((b + 1) & 0xFF for b in x[:16]) for x in inputs))
    else:
        peer.send(encode_frame(fr.ERROR, frame.seq, bytes([fr.ERR_BAD_REQUEST]) + b"unexpected"))


def test_a_protocol_1_device_still_gets_several_inputs_per_run_batch(pty_pair):
    peer, client = _connect(pty_pair, _protocol_1_device, window=2)
    inputs = [bytes([i]) * 1000 for i in range(9)]
    with client:
        outputs = [out for _, out in client.run_inputs(inputs)]
        assert not client._device_info().stream
    assert outputs == [bytes([i + 1]) * 16 for i in range(9)]
    assert [len(f.payload) for f in peer.received if f.type == fr.RUN_BATCH] == [4000, 4000, 1000]
