"""A kernel case that faults on QEMU ends in one error naming the case and where it faulted, not in
a timeout (the harness image has no serial link for the runtime's FAULT frame: it defines its own
ed_fault_emit, templates/kernel_cases.c.j2)."""

from __future__ import annotations

import numpy as np
import pytest
from elftools.elf.elffile import ELFFile

from edge_deploy.errors import EdgeDeployError
from edge_deploy.elf import read_elf_symbols
from edge_deploy.testing.cases import kernel_case
from edge_deploy.testing.harness import build_qemu, run_qemu

UDF_0 = b"\x00\xde"  # Thumb UDF #0: a permanently undefined instruction (UsageFault, escalated)


def _patch_function(elf, name: str, code: bytes) -> None:
    """Overwrites the first bytes of function `name` in the ELF file."""
    addr = read_elf_symbols(elf).get(name).addr & ~1
    with open(elf, "r+b") as f:
        for section in ELFFile(f).iter_sections():
            start = section["sh_addr"]
            if section["sh_type"] == "SHT_PROGBITS" and start <= addr < start + section["sh_size"]:
                offset = section["sh_offset"] + addr - start
                break
        else:
            raise AssertionError(f"{name} is in no loaded section")
        f.seek(offset)
        f.write(code)


def test_fault_in_a_case_names_the_case_and_function(qemu_arm, tmp_path):
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (1, 4, 4, 4), dtype=np.int8)
    params = dict(filter_hw=(2, 2), stride=(2, 2))
    cases = [kernel_case("pool-a", "arm_max_pool_s8", "max_pool2d", [x], params),
             kernel_case("pool-b", "arm_max_pool_s8", "max_pool2d", [x], params)]
    elf = build_qemu(cases, tmp_path)
    assert np.array_equal(run_qemu(elf, cases).outputs[1], cases[1].expected)  # the image runs as built
    _patch_function(elf, "case1", UDF_0)
    with pytest.raises(EdgeDeployError) as err:
        run_qemu(elf, cases, timeout_s=60)
    message = str(err.value)
    assert "case 1 (pool-b, arm_max_pool_s8) faulted on QEMU" in message
    assert "in case1" in message  # the faulting pc is resolved to the patched function
    assert "CFSR 0x00010000" in message  # UNDEFINSTR: the undefined instruction, as patched
