"""Decode executed Thumb-2 (ARMv7E-M) instructions with capstone and sort them into kinds.

The kinds are what the cycle model prices (see docs/cycle-model.md): single loads and stores,
their double and multiple forms, branches, multiplies and DSP MACs, divides, FPU operations.
Contiguous instructions are decoded in one pass so capstone tracks IT blocks and marks the
instructions they make conditional.
"""

from __future__ import annotations

from dataclasses import dataclass

# Instruction kinds.
ALU, MUL, MAC, MUL_LONG, DSP, SIMD, DIV = "alu", "mul", "mac", "mul_long", "dsp", "simd", "div"
LOAD, STORE, LOAD_DOUBLE, STORE_DOUBLE = "load", "store", "load_double", "store_double"
STORE_EXCLUSIVE = "store_exclusive"   # STREX: timed like an LDR (TRM 3.3.2)
LOAD_MULTIPLE, STORE_MULTIPLE = "load_multiple", "store_multiple"
BRANCH, TABLE_BRANCH, IT, SYSTEM = "branch", "table_branch", "it", "system"
FPU, FPU_MAC, FPU_DIV, FPU_LOAD, FPU_STORE = "fpu", "fpu_mac", "fpu_div", "fpu_load", "fpu_store"
FPU_LOAD_MULTIPLE, FPU_STORE_MULTIPLE, UNKNOWN = "fpu_load_multiple", "fpu_store_multiple", "unknown"

_SINGLE_LOADS = {"ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrt", "ldrbt", "ldrht", "ldrsbt", "ldrsht",
                 "ldrex", "ldrexb", "ldrexh"}
_SINGLE_STORES = {"str", "strb", "strh", "strt", "strbt", "strht"}
_EXCLUSIVE_STORES = {"strex", "strexb", "strexh"}
_LOAD_MULTIPLE = {"ldm", "ldmia", "ldmdb", "ldmfd", "ldmea", "pop"}
_STORE_MULTIPLE = {"stm", "stmia", "stmdb", "stmfd", "stmea", "push"}
_BRANCHES = {"b", "bl", "bx", "blx", "cbz", "cbnz"}
_MULS = {"mul", "muls"}
_MACS = {"mla", "mls"}
_LONG = {"smull", "umull", "smlal", "umlal", "umaal", "smlalbb", "smlalbt", "smlaltb", "smlaltt",
         "smlald", "smlaldx", "smlsld", "smlsldx"}
_DSP_PREFIXES = ("smla", "smlaw", "smlsd", "smua", "smus", "smul", "smmul", "smmla", "smmls", "usad")
_SIMD = {"sxtb16", "uxtb16", "sxtab16", "uxtab16", "sadd16", "ssub16", "uadd16", "usub16", "qadd16",
         "qsub16", "sadd8", "ssub8", "uadd8", "usub8", "qadd8", "qsub8", "shadd16", "shsub16", "ssat",
         "usat", "ssat16", "usat16", "qadd", "qsub", "qdadd", "qdsub", "sel", "pkhbt", "pkhtb", "sasx",
         "ssax", "qasx", "qsax"}
_SYSTEM = {"mrs", "msr", "cps", "cpsid", "cpsie", "dmb", "dsb", "isb", "svc", "bkpt", "wfi", "wfe",
           "sev", "yield", "udf", "hint", "nop"}
_FPU_MACS = {"vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms"}


@dataclass(frozen=True)
class Insn:
    """One decoded instruction and the facts the cycle model needs about it."""

    addr: int
    size: int
    text: str                    # "ldr r2, [r1, #4]" as capstone prints it
    name: str                    # base mnemonic without condition or width ("ldr")
    kind: str                    # one of the kinds above
    conditional: bool            # may not execute / may not branch (Bcc, CBZ, inside an IT block)
    writes_pc: bool              # changes the flow: branch, call, return, load or ALU into PC
    target: int | None           # destination of a direct branch or call
    is_call: bool
    n_regs: int                  # registers moved by LDM/STM/PUSH/POP/VLDM/VSTM (words for FPU)
    dest_regs: frozenset[str]    # registers written (without pc, flags)
    addr_regs: frozenset[str]    # base and index registers of a memory operand
    register_offset: bool        # memory operand uses an index register
    pc_relative: bool            # literal load from the code (LDR Rx, [PC, #imm])
    wide: bool                   # 64-bit FPU load/store (a D register)
    core_transfer: int = 0       # VMOV: core registers moved to/from the FPU (0 for FPU-only moves)
    fpu: bool = False            # executes in the FPU (a V* instruction)
    writeback: bool = False      # updates its base register (LDR Rt, [Rn], #4 / [Rn, #4]!)

    @property
    def end(self) -> int:
        """Address of the next sequential instruction."""
        return self.addr + self.size


def _kind(name: str) -> str:  # noqa: C901 - a flat table reads best as one function
    if name in _SINGLE_LOADS:
        return LOAD
    if name in _SINGLE_STORES:
        return STORE
    if name in _EXCLUSIVE_STORES:
        return STORE_EXCLUSIVE
    if name == "ldrd":
        return LOAD_DOUBLE
    if name == "strd":
        return STORE_DOUBLE
    if name in _LOAD_MULTIPLE:
        return LOAD_MULTIPLE
    if name in _STORE_MULTIPLE:
        return STORE_MULTIPLE
    if name in _BRANCHES:
        return BRANCH
    if name in ("tbb", "tbh"):
        return TABLE_BRANCH
    if name == "it":
        return IT
    if name in _MULS:
        return MUL
    if name in _MACS:
        return MAC
    if name in _LONG:
        return MUL_LONG
    if name.startswith(_DSP_PREFIXES):
        return DSP
    if name in _SIMD:
        return SIMD
    if name in ("sdiv", "udiv"):
        return DIV
    if name in _SYSTEM:
        return SYSTEM
    if name.startswith("v"):
        if name in _FPU_MACS:
            return FPU_MAC
        if name in ("vdiv", "vsqrt"):
            return FPU_DIV
        if name == "vldr":
            return FPU_LOAD
        if name == "vstr":
            return FPU_STORE
        if name.startswith("vldm") or name == "vpop":
            return FPU_LOAD_MULTIPLE
        if name.startswith("vstm") or name == "vpush":
            return FPU_STORE_MULTIPLE
        return FPU
    return ALU


_CORE_REGISTERS = frozenset({*(f"r{i}" for i in range(13)), "sb", "sl", "fp", "ip", "sp", "lr", "pc"})


def _make_insn(cs_insn) -> Insn:
    from capstone import CS_GRP_CALL, arm

    name = cs_insn.insn_name() or cs_insn.mnemonic.split(".")[0]
    # capstone names some FPU instructions after their VFP encodings (vmov.f32 #imm is fconsts,
    # vmrs APSR is fmstat): the mnemonic says whether the FPU runs it.
    fpu = cs_insn.mnemonic.startswith("v")
    if fpu and not name.startswith("v"):
        name = cs_insn.mnemonic.split(".")[0]
    kind = _kind(name)
    read, written = cs_insn.regs_access()
    written_names = {cs_insn.reg_name(r) for r in written}
    addr_regs: set[str] = set()
    register_offset = pc_relative = False
    target = None
    n_regs = 0
    for op in cs_insn.operands:
        if op.type == arm.ARM_OP_MEM:
            if op.mem.base:
                addr_regs.add(cs_insn.reg_name(op.mem.base))
            if op.mem.index:
                addr_regs.add(cs_insn.reg_name(op.mem.index))
                register_offset = True
            pc_relative = op.mem.base == arm.ARM_REG_PC and not op.mem.index
        elif op.type == arm.ARM_OP_IMM and kind == BRANCH:
            target = op.imm & 0xFFFFFFFF
        elif op.type == arm.ARM_OP_REG:
            n_regs += 1
    if kind in (LOAD_MULTIPLE, STORE_MULTIPLE, FPU_LOAD_MULTIPLE, FPU_STORE_MULTIPLE):
        # Operands are the base (ldm/stm/vldm/vstm) and the list; push/pop have only the list.
        if name not in ("push", "pop", "vpush", "vpop"):
            n_regs -= 1
            addr_regs.add(cs_insn.reg_name(cs_insn.operands[0].reg))
        if kind in (FPU_LOAD_MULTIPLE, FPU_STORE_MULTIPLE) and cs_insn.op_str.count("d"):
            n_regs *= 2  # D registers move two words each
    else:
        n_regs = 0
    wide = kind in (FPU_LOAD, FPU_STORE) and " d" in " " + cs_insn.op_str.split(",")[0]
    core_transfer = 0
    if name == "vmov":
        core_transfer = sum(1 for op in cs_insn.operands
                            if op.type == arm.ARM_OP_REG and cs_insn.reg_name(op.reg) in _CORE_REGISTERS)
    conditional = (cs_insn.cc not in (arm.ARM_CC_AL, arm.ARM_CC_INVALID) and kind != IT) or name in ("cbz", "cbnz")
    return Insn(
        addr=cs_insn.address,
        size=cs_insn.size,
        text=f"{cs_insn.mnemonic} {cs_insn.op_str}".strip(),
        name=name,
        kind=kind,
        conditional=conditional,
        writes_pc="pc" in written_names or kind in (BRANCH, TABLE_BRANCH),
        target=target,
        is_call=CS_GRP_CALL in cs_insn.groups,
        n_regs=n_regs,
        dest_regs=frozenset(written_names - {"pc", "cpsr", "itstate", "apsr", "fpscr"}),
        addr_regs=frozenset(addr_regs),
        register_offset=register_offset,
        pc_relative=pc_relative,
        wide=bool(wide),
        core_transfer=core_transfer,
        fpu=fpu,
        writeback=bool(cs_insn.writeback) and kind in (LOAD, STORE, FPU_LOAD, FPU_STORE),
    )


def _disassembler():
    import capstone

    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    md.detail = True
    return md


def decode_code(code: dict[int, bytes]) -> dict[int, Insn]:
    """Decode instructions given as {address: bytes} (as the QEMU plugin records them).

    Runs of adjacent instructions are decoded together, so IT blocks are understood. Bytes that
    capstone cannot decode become kind ``unknown`` (priced as one cycle). Returns {address: Insn}.
    """
    md = _disassembler()
    out: dict[int, Insn] = {}
    addrs = sorted(code)
    i = 0
    while i < len(addrs):
        # Gather one run of back-to-back instructions.
        j = i
        blob = bytearray(code[addrs[i]])
        while j + 1 < len(addrs) and addrs[j] + len(code[addrs[j]]) == addrs[j + 1]:
            j += 1
            blob += code[addrs[j]]
        start = addrs[i]
        offset = 0
        while offset < len(blob):
            decoded = False
            for cs_insn in md.disasm(bytes(blob[offset:]), start + offset):
                decoded = True
                if cs_insn.address in code:
                    out[cs_insn.address] = _make_insn(cs_insn)
                offset = cs_insn.address + cs_insn.size - start
            if not decoded:
                # capstone stops at bytes it cannot decode: skip that one instruction, go on.
                here = start + offset
                offset += len(code[here]) if here in code else 2
        for addr in addrs[i : j + 1]:
            if addr not in out:
                out[addr] = Insn(addr, len(code[addr]), "(undecoded)", "?", UNKNOWN, False, False, None,
                                 False, 0, frozenset(), frozenset(), False, False, False)
        i = j + 1
    return out
