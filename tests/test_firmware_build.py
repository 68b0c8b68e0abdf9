"""The toolchain: real arm-none-eabi-gcc builds of the runtime, their sizes and determinism."""

from __future__ import annotations

import subprocess

import pytest
from elftools.elf.elffile import ELFFile
from firmware_builds import FIXTURES, session_firmware

from edge_deploy.boards import load_board
from edge_deploy.errors import EdgeDeployError
from edge_deploy.toolchain import (
    compile_firmware,
    compile_runtime,
    render_linker_script,
    runtime_include_dirs,
    runtime_sources,
)


def test_linker_script_follows_the_board_memory_map():
    script = render_linker_script(load_board("netduinoplus2"))
    assert "FLASH (rx)  : ORIGIN = 0x08000000, LENGTH = 1048576" in script
    assert "RAM   (rwx) : ORIGIN = 0x20000000, LENGTH = 131072" in script
    assert "_stack_size = 8192;" in script


def test_runtime_sources_pick_the_board_uart_driver():
    names = {path.name for path in runtime_sources("mps2-an386")}
    assert "uart_cmsdk.c" in names and "uart_stm32_usart.c" not in names
    assert "server.c" in names and "startup.c" in names
    assert {p.name for p in runtime_sources("nrf52840-dk")} & {"uart_nrf_uarte.c"}
    assert (runtime_include_dirs()[0] / "ed_model.h").is_file()


@pytest.mark.parametrize("board", ["mps2-an386", "netduinoplus2", "stm32f4-discovery", "nucleo-f446re", "nrf52840-dk"])
def test_runtime_builds_for_every_board(tmp_path_factory, arm_gcc, board):
    build = session_firmware(tmp_path_factory, board)
    with open(build.elf, "rb") as handle:
        elf = ELFFile(handle)
        assert elf["e_machine"] == "EM_ARM"
        vectors = elf.get_section_by_name(".isr_vector")
        # The vector table sits at the start of flash, where the core fetches SP and PC.
        assert vectors["sh_addr"] == build.board.memory.flash.origin
        attributes = {s.name for s in elf.iter_sections()}
        assert ".stack" in attributes
    assert build.sections[".stack"] >= build.board.stack_bytes
    assert 0 < build.flash_bytes < build.board.memory.flash.size
    assert build.ram_bytes >= build.sections[".bss"] + build.sections[".stack"]


def test_sizes_agree_with_arm_none_eabi_size(tmp_path_factory, arm_gcc):
    build = session_firmware(tmp_path_factory, "mps2-an386")
    output = subprocess.run(["arm-none-eabi-size", "-A", str(build.elf)], capture_output=True, text=True,
                            check=True).stdout
    sizes = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    for name, size in build.sections.items():
        assert sizes[name] == size
    text_like = sum(sizes.get(name, 0) for name in (".isr_vector", ".text", ".ARM.exidx", ".data", ".init_array"))
    assert build.flash_bytes == text_like


def test_hard_float_where_the_board_has_an_fpu(tmp_path_factory, arm_gcc):
    build = session_firmware(tmp_path_factory, "mps2-an386")
    attributes = subprocess.run(["arm-none-eabi-readelf", "-A", str(build.elf)], capture_output=True, text=True,
                                check=True).stdout
    assert "Tag_ABI_VFP_args: VFP registers" in attributes
    assert "Tag_CPU_arch: v7E-M" in attributes


def test_builds_are_byte_identical_in_different_folders(tmp_path, arm_gcc):
    first = compile_runtime("mps2-an386", tmp_path / "a" / "deep" / "one")
    second = compile_runtime("mps2-an386", tmp_path / "b")
    assert first.elf.read_bytes() == second.elf.read_bytes()
    assert first.map_file.read_text() == second.map_file.read_text()
    assert str(tmp_path) not in first.map_file.read_text()


def test_a_program_too_big_for_the_board_is_a_clear_error(tmp_path, arm_gcc):
    source = tmp_path / "big.c"
    # 200 KiB of zero-initialised RAM on a 128 KiB board.
    source.write_text("#include <stdint.h>\nvolatile uint8_t big[200 * 1024];\n"
                      "uint8_t touch(void) { return big[12345]; }\n")
    with pytest.raises(EdgeDeployError, match="does not fit in board 'netduinoplus2'"):
        compile_runtime("netduinoplus2", tmp_path / "out", extra_sources=[source],
                        extra_ldflags=["-Wl,--undefined=touch"])


def test_a_compile_error_names_the_file(tmp_path, arm_gcc):
    source = tmp_path / "broken.c"
    source.write_text("int broken(void) { return undeclared_thing; }\n")
    with pytest.raises(EdgeDeployError, match="compiling broken.c failed") as info:
        compile_firmware("mps2-an386", [source], tmp_path / "out", include_dirs=runtime_include_dirs())
    assert "undeclared_thing" in info.value.message


def test_defines_reach_the_compiler(tmp_path, arm_gcc):
    source = tmp_path / "defined.c"
    source.write_text('#include "ed_model.h"\n#if TEST_VALUE != 42\n#error TEST_VALUE not passed\n#endif\n'
                      "int unused_marker;\n")
    build = compile_runtime("mps2-an386", tmp_path / "out", extra_sources=[source], defines={"TEST_VALUE": 42})
    assert build.elf.is_file()
    assert (FIXTURES / "test_model_add_one.c").is_file()
