"""Firmware built once per test session and shared by the firmware, emulator and selftest tests.

``session_firmware(tmp_path_factory, board, variant)`` compiles the runtime for ``board`` with
the fixture model ``variant`` ("none", "add_one", "add_one_small" (1,000 bytes in, 16 out, with
the 256-byte request buffer of a generated model's firmware; "add_one_small_16k" with a 16 KiB
one), "fault", "exit") on first use and returns the cached FirmwareBuild afterwards.
"""

from __future__ import annotations

from pathlib import Path

from edge_deploy.toolchain import FirmwareBuild, compile_runtime

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "firmware"
VARIANTS = {
    "none": [],
    "add_one": [FIXTURES / "test_model_add_one.c"],
    "add_one_small": [FIXTURES / "test_model_add_one.c"],
    "add_one_small_16k": [FIXTURES / "test_model_add_one.c"],
    "fault": [FIXTURES / "test_model_fault.c"],
    "exit": [FIXTURES / "test_model_exit.c"],
}
DEFINES = {
    # The request buffer a generated model's firmware has (ed_runtime_config.h): control requests
    # only, the inputs stream into the tensor.
    "add_one_small": {"TEST_TENSOR_BYTES": "1000u", "TEST_OUTPUT_BYTES": "16u", "ED_MAX_PAYLOAD": "256u"},
    # The same with a 16 KiB request buffer: larger ECHO frames.
    "add_one_small_16k": {"TEST_TENSOR_BYTES": "1000u", "TEST_OUTPUT_BYTES": "16u", "ED_MAX_PAYLOAD": "16384u"},
}
_cache: dict[tuple[str, str], FirmwareBuild] = {}


def session_firmware(tmp_path_factory, board: str, variant: str = "none") -> FirmwareBuild:
    """The runtime firmware for ``board`` with the fixture model ``variant``, built once."""
    key = (board, variant)
    if key not in _cache:
        out = tmp_path_factory.mktemp(f"fw-{board}-{variant}")
        _cache[key] = compile_runtime(board, out, extra_sources=VARIANTS[variant], defines=DEFINES.get(variant))
    return _cache[key]
