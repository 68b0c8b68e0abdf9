"""The Cortex-M4 cycle model against hand-counted micro-benchmarks run on QEMU.

Every expected count is written from the manuals beside the assembly
(``edge_deploy.profile.microbench``), never from the model's rules.
"""

from __future__ import annotations

import pytest

from edge_deploy.boards import load_board
from edge_deploy.profile.accesses import Accesses
from edge_deploy.profile.cycle_model import CortexM4Timing, branch_outcomes, estimate_cycles
from edge_deploy.profile.decode import decode_code
from edge_deploy.elf import read_elf_symbols
from edge_deploy.profile.memory_map import memory_layout
from edge_deploy.profile.microbench import build_microbenchmark
from edge_deploy.profile.microbench_cases import ART_F4, BENCHMARKS, CORE_BENCHMARKS, FLASH_BENCHMARKS, FLASH_TIMINGS
from edge_deploy.profile.qemu_run import run_with_counts

pytestmark = pytest.mark.qemu

TIMINGS = {
    "default": CortexM4Timing(),
    "slow": CortexM4Timing(branch_refill=3, divide_cycles=12, address_interlock=False, load_to_address_extra=1),
    "fast": CortexM4Timing(branch_refill=1, divide_cycles=2),
}
FLASH_CASES = [(b.name, name) for b in FLASH_BENCHMARKS for name in b.flash_cycles]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, qemu_arm):
    out = tmp_path_factory.mktemp("microbench")
    # Flash benchmarks are counted with the F4 ART's line sizes (16-byte reads and lines), which
    # every flash timing of the benchmarks shares.
    layout = memory_layout(load_board("mps2-an386"), ART_F4)
    flash_names = {b.name for b in FLASH_BENCHMARKS}
    results = {}
    for bench in BENCHMARKS:
        elf = build_microbenchmark(bench, out)
        symbols = read_elf_symbols(elf)
        run = run_with_counts(elf, markers=False, layout=layout if bench.name in flash_names else None)
        assert run.exit_code == 0, bench.name
        ranges = [(symbols.get(a).addr, symbols.get(b).addr)
                  for a, b in (("bench_loop", "bench_loop_end"), ("bench_after", "bench_after_end"))]
        results[bench.name] = (bench, run, ranges)
    return results


def _inside(addr: int, ranges) -> bool:
    return any(lo <= addr < hi for lo, hi in ranges)


def _range_cycles(run, ranges, timing) -> int:
    seg = run.counts.segments[0]
    estimate = estimate_cycles(decode_code(run.counts.code), seg.counts, timing, seg.memory)
    return sum(c for a, c in estimate.cycles.items() if _inside(a, ranges))


@pytest.mark.parametrize("bench", [b.name for b in BENCHMARKS])
def test_loop_counts_match_the_hand_count(runs, bench):
    spec, run, ranges = runs[bench]
    lo, hi = ranges[0]
    loop = [n for a, n in sorted(run.counts.per_address.items()) if lo <= a < hi]
    expected = spec.hand_counts or (spec.iterations,) * len(loop)
    assert tuple(loop) == expected


@pytest.mark.parametrize("timing", list(TIMINGS))
@pytest.mark.parametrize("bench", [b.name for b in CORE_BENCHMARKS])
def test_model_matches_the_hand_count(runs, bench, timing):
    spec, run, ranges = runs[bench]
    assert _range_cycles(run, ranges, TIMINGS[timing]) == spec.hand_cycles(TIMINGS[timing])


@pytest.mark.parametrize(("bench", "flash"), FLASH_CASES)
def test_flash_model_matches_the_hand_count(runs, bench, flash):
    spec, run, ranges = runs[bench]
    timing = CortexM4Timing(flash=FLASH_TIMINGS[flash])
    assert _range_cycles(run, ranges, timing) == spec.flash_cycles[flash]


@pytest.mark.parametrize("bench", [b.name for b in FLASH_BENCHMARKS])
def test_flash_benchmarks_at_zero_wait_states_are_the_core_count(runs, bench):
    spec, run, ranges = runs[bench]
    assert _range_cycles(run, ranges, CortexM4Timing()) == spec.hand_cycles(CortexM4Timing())


def test_misaligned_and_region_counts_are_exact(runs):
    spec, run, (loop, _after) = runs["misaligned"]
    n = spec.iterations
    accesses = run.counts.memory.accesses
    insns = decode_code(run.counts.code)
    by_text = {insns[a].text: accesses[a] for a in accesses if loop[0] <= a < loop[1]}
    assert by_text["ldr r0, [r5]"] == {"ram": Accesses(loads=n, load_bytes=4 * n, misaligned_word2=n)}
    assert by_text["ldr r1, [r3]"] == {"ram": Accesses(loads=n, load_bytes=4 * n, misaligned_word1=n)}
    assert by_text["ldrh r2, [r3]"] == {"ram": Accesses(loads=n, load_bytes=2 * n, misaligned_half=n)}


def test_flash_loads_are_counted_in_the_flash_region(runs):
    spec, run, (loop, _after) = runs["flash_load_sequential"]
    memory = run.counts.memory
    load = next(a for a in memory.accesses if loop[0] <= a < loop[1])
    assert memory.accesses[load] == {"flash": Accesses(loads=spec.iterations, load_bytes=4 * spec.iterations)}
    # 25 of the 100 loads open a new 16-byte line (first touches), the others reuse the last one.
    assert memory.data_reuse[load].buckets[0] == 75 and memory.data_reuse[load].buckets[-1] == 25


def test_branch_outcomes_follow_the_flow(runs):
    spec, run, (loop, _after) = runs["if_else"]
    insns = decode_code(run.counts.code)
    taken = branch_outcomes(insns, run.counts.per_address)
    in_loop = {insns[a].text.split()[0].split(".")[0]: n for a, n in taken.items() if loop[0] <= a < loop[1]}
    half = spec.iterations // 2
    assert in_loop == {"beq": half, "b": half, "bne": spec.iterations - 1}


def test_more_refill_or_wait_states_cost_more(runs):
    _spec, run, _ranges = runs["flash_code_4_lines"]
    insns, seg = decode_code(run.counts.code), run.counts.segments[0]
    totals = [estimate_cycles(insns, seg.counts, CortexM4Timing(branch_refill=p), seg.memory).total for p in (1, 2, 3)]
    assert totals[0] < totals[1] < totals[2]
    slow = estimate_cycles(insns, seg.counts, CortexM4Timing(flash=ART_F4), seg.memory)
    assert slow.total > totals[1] and slow.parts["fetch"] > 0


def test_flash_timing_without_line_reuse_is_refused(runs):
    _spec, run, _ranges = runs["alu"]
    seg = run.counts.segments[0]
    with pytest.raises(ValueError, match="line reuse"):
        estimate_cycles(decode_code(run.counts.code), seg.counts, CortexM4Timing(flash=ART_F4), seg.memory)


def test_timing_rejects_values_outside_the_trm_ranges():
    with pytest.raises(ValueError):
        CortexM4Timing(branch_refill=4)
    with pytest.raises(ValueError):
        CortexM4Timing(divide_cycles=1)
