"""Build small bare-metal ELFs for QEMU mps2-an386 that exit through semihosting.

The profiler's own checks (micro-benchmarks, marker demos) need firmware that runs straight to
an exit without the serial runtime: a vector table, a reset handler that enables the FPU, calls
``main`` and passes its return value to semihosting ``SYS_EXIT_EXTENDED``. Code sits in the
4 MiB SSRAM at 0x0 and data in RAM at 0x20000000; QEMU loads every section where it is linked,
so nothing is copied at start-up.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from edge_deploy.errors import EdgeDeployError

CPU_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard")

LINKER_SCRIPT = """\
MEMORY {
    FLASH (rx) : ORIGIN = 0x00000000, LENGTH = 4M
    RAM (rwx)  : ORIGIN = 0x20000000, LENGTH = 4M
}
SECTIONS {
    .text : { KEEP(*(.vectors)) *(.text*) *(.rodata*) } > FLASH
    .data : { *(.data*) } > RAM
    .bss (NOLOAD) : { *(.bss*) *(COMMON) } > RAM
    __stack_top = ORIGIN(RAM) + LENGTH(RAM);
}
"""

STARTUP_C = """\
/* Minimal start-up for QEMU mps2-an386: run main(), exit through semihosting with its status. */
#include <stdint.h>

extern int main(void);
extern uint32_t __stack_top;
void ed_reset(void);

__attribute__((section(".vectors"), used))
static const void *const ed_vectors[2] = {&__stack_top, (const void *)ed_reset};

__attribute__((noreturn))
static void ed_semihosting_exit(int status)
{
    /* SYS_EXIT_EXTENDED (0x20) takes {reason, status}; 0x20026 = ADP_Stopped_ApplicationExit. */
    static volatile uint32_t block[2];
    block[0] = 0x20026u;
    block[1] = (uint32_t)status;
    register uint32_t op __asm__("r0") = 0x20u;
    register volatile uint32_t *arg __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : : "r"(op), "r"(arg) : "memory");
    for (;;) {
    }
}

__attribute__((noreturn))
void ed_reset(void)
{
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;   /* CPACR: enable the FPU */
    __asm__ volatile("dsb\\n\\tisb");
    ed_semihosting_exit(main());
}
"""


def arm_gcc() -> str:
    """Return the arm-none-eabi-gcc path; raises EdgeDeployError when it is not installed."""
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        raise EdgeDeployError("arm-none-eabi-gcc is not installed",
                              hint="apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
    return gcc


def build_elf(
    sources: Sequence[str | Path],
    out_elf: str | Path,
    *,
    include_dirs: Sequence[str | Path] = (),
    opt: str = "-O2",
    with_startup: bool = True,
) -> Path:
    """Compile and link ``sources`` (C or assembly) into ``out_elf`` for mps2-an386.

    ``with_startup`` adds the start-up above (the sources then provide ``main``); assembly that
    brings its own vector table passes False. Returns the ELF path. Raises EdgeDeployError when
    the toolchain is missing or the build fails (with the compiler's message).
    """
    out = Path(out_elf)
    out.parent.mkdir(parents=True, exist_ok=True)
    lds = out.with_suffix(".ld")
    lds.write_text(LINKER_SCRIPT)
    files = [str(s) for s in sources]
    if with_startup:
        startup = out.with_name(out.stem + "_startup.c")
        startup.write_text(STARTUP_C)
        files.append(str(startup))
    cmd = [arm_gcc(), *CPU_FLAGS, opt, "-g", "-ffreestanding", "-nostdlib", "-Wall",
           *(f"-I{d}" for d in include_dirs), "-T", str(lds), *files, "-o", str(out), "-lgcc"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise EdgeDeployError(f"building {out.name} failed:\n{proc.stderr.strip()}",
                              hint="fix the firmware source named in the compiler message")
    return out
