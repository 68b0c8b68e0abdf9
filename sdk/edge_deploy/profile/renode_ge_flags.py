"""Renode 1.15's wrong GE flags, and the firmware they would silently break.

The Armv7E-M parallel add/subtract instructions set the APSR.GE bits per lane: for SSUB8, GE[i]
is set when lane i of a - b is >= 0, and SEL then picks each byte from its first or second
operand by GE. This is how a bytewise max or clamp is written (the runtime's SIMD kernels do it,
firmware/kernels/ed_nn_support.h). Renode 1.15.3's CPU (tlib) sets GE to the lane's *overflow*
instead, for every signed form (SADD8, SSUB8, SADD16, SSUB16, SASX, SSAX) and the unsigned
subtractions (USUB8, USUB16, UASX, USAX); tlib fixed it upstream in commit 79469136 ("Set GE flag
if result is greater than 0", September 2024), after the 1.15.3 release. A SEL after one of these
then picks the wrong bytes, and a model's outputs are wrong, with no error.

tests/test_renode_profile.py runs the same program of DSP instruction forms on QEMU and on
Renode: exactly the SELs after these forms differ; the rest (SMLAD, SXTB16 with a rotation,
SXTAB16, SSAT/USAT, SMULL, SMLAL, QADD, and a SEL after UADD8/UADD16) agrees.

:func:`ge_flags_warning` says when a firmware has such a SEL and the Renode on PATH has the bug,
naming the functions and what to do instead. It warns rather than refuses: whether outputs are
hit depends on the data (the TICNN build matches the reference on Renode 1.15.3; the
TensorFlow-converted conv fixtures do not), and `run --check` shows which.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from edge_deploy.errors import EdgeDeployError

# Thumb-2 parallel add/subtract: first halfword 1111 1010 1 op1(3) Rn(4), second 1111 Rd 0 op2(3) Rm;
# op2 0 = signed (S), 4 = unsigned (U): the two forms that set GE. SEL shares op1 = 010 with
# ASX and has 1000 in bits 7:4 of its second halfword.
_ADDSUB_OPS = {0: "add8", 1: "add16", 2: "asx", 4: "sub8", 5: "sub16", 6: "sax"}
# Which GE-setting forms Renode 1.15 gets wrong (the unsigned additions, whose GE is the carry,
# happen to be right).
_WRONG_GE = {"s" + op for op in _ADDSUB_OPS.values()} | {"usub8", "usub16", "uasx", "usax"}
FIXED_IN = (1, 16)   # the first Renode release after tlib's fix


@dataclass(frozen=True)
class SelSite:
    """A SEL whose GE bits come from an instruction Renode 1.15 gets wrong."""

    function: str
    address: int
    ge_from: str     # the mnemonic that set GE, e.g. "ssub8"


def _ge_setter(first: int, second: int) -> str | None:
    if first >> 7 != 0b111110101 or second >> 12 != 0b1111:
        return None
    op1, op2 = (first >> 4) & 0b111, (second >> 4) & 0b1111
    if op2 not in (0, 4) or op1 not in _ADDSUB_OPS:
        return None
    return ("s" if op2 == 0 else "u") + _ADDSUB_OPS[op1]


def _is_sel(first: int, second: int) -> bool:
    return first >> 4 == 0xFAA and second >> 12 == 0xF and (second >> 4) & 0xF == 0b1000


def sel_sites(elf: str | os.PathLike) -> list[SelSite]:
    """Every SEL in the ELF's functions whose GE bits were last set (earlier in the same
    function, in address order) by a form Renode 1.15 gets wrong."""
    from edge_deploy.elf import read_elf_symbols
    from edge_deploy.profile.renode_counts import ElfCode, thumb_size

    code = ElfCode(elf)
    sites = []
    for func in read_elf_symbols(elf).functions:
        if not func.size:
            continue
        try:
            data = code.read(func.addr, func.size)
        except EdgeDeployError:
            continue
        last = None
        offset = 0
        while offset + 2 <= len(data):
            first = int.from_bytes(data[offset:offset + 2], "little")
            size = thumb_size(first)
            if size == 4 and offset + 4 <= len(data):
                second = int.from_bytes(data[offset + 2:offset + 4], "little")
                setter = _ge_setter(first, second)
                if setter is not None:
                    last = setter
                elif _is_sel(first, second) and last in _WRONG_GE:
                    sites.append(SelSite(func.name, func.addr + offset, last))
            offset += size
    return sites


@lru_cache(maxsize=4)
def renode_version(renode: str) -> tuple[int, ...] | None:
    """Renode's version from ``renode --version`` (e.g. (1, 15, 3)), or None if unreadable."""
    try:
        out = subprocess.run([renode, "--version"], capture_output=True, text=True, timeout=60,
                             stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(part) for part in match.groups()) if match else None


def ge_flags_warning(elf: str | os.PathLike, renode: str | None = None) -> str | None:
    """A warning when ``elf`` has a SEL that the Renode at ``renode`` (default: the one on PATH;
    versions before 1.16) executes with wrong GE flags, so that some of its outputs may be
    wrong without any error; None when it has none or Renode is fixed. Whether outputs are
    actually hit depends on the data (a model may still match the reference: check it)."""
    import shutil

    renode = renode or shutil.which("renode")
    version = renode_version(renode) if renode else None
    if version is not None and version[:2] >= FIXED_IN:
        return None
    sites = sel_sites(elf)
    if not sites:
        return None
    functions = ", ".join(sorted({site.function for site in sites}))
    shown = "Renode " + ".".join(map(str, version)) if version else "this Renode (version unknown)"
    return (f"{shown} sets the GE flags of {sites[0].ge_from.upper()} and similar instructions wrongly (fixed after "
            f"1.15), and this firmware selects bytes by them (SEL) in {functions}: outputs may differ from a real "
            "Cortex-M4. Check them (--check), rebuild with --kernels portable, or run on QEMU or Renode 1.16+ "
            "(docs/renode.md, 'Known Renode 1.15 bug')")
