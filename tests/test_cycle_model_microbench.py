"""The Cortex-M4 cycle model against hand-counted micro-benchmarks run on QEMU."""

from __future__ import annotations

import pytest

from edge_deploy.profile.cycle_model import CortexM4Timing, branch_outcomes, estimate_cycles
from edge_deploy.profile.decode import decode_code
from edge_deploy.profile.elf_symbols import read_elf_symbols
from edge_deploy.profile.microbench import BENCHMARKS, build_microbenchmark
from edge_deploy.profile.qemu_run import run_with_counts

pytestmark = pytest.mark.qemu

TIMINGS = {
    "default": CortexM4Timing(),
    "slow-flash": CortexM4Timing(branch_refill=3, divide_cycles=12, flash_wait_states=2, address_interlock=False),
    "fast": CortexM4Timing(branch_refill=1, divide_cycles=2),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, qemu_arm):
    out = tmp_path_factory.mktemp("microbench")
    results = {}
    for bench in BENCHMARKS:
        elf = build_microbenchmark(bench, out)
        symbols = read_elf_symbols(elf)
        run = run_with_counts(elf, markers=False)
        assert run.exit_code == 0, bench.name
        results[bench.name] = (bench, run, symbols.get("bench_loop").addr, symbols.get("bench_loop_end").addr)
    return results


@pytest.mark.parametrize("bench", [b.name for b in BENCHMARKS])
def test_loop_counts_match_the_hand_count(runs, bench):
    spec, run, lo, hi = runs[bench]
    loop = [n for a, n in sorted(run.counts.per_address.items()) if lo <= a < hi]
    expected = spec.hand_counts or (spec.iterations,) * len(loop)
    assert tuple(loop) == expected


@pytest.mark.parametrize("timing", list(TIMINGS))
@pytest.mark.parametrize("bench", [b.name for b in BENCHMARKS])
def test_model_matches_the_hand_count(runs, bench, timing):
    spec, run, lo, hi = runs[bench]
    counts = run.counts.per_address
    estimate = estimate_cycles(decode_code(run.counts.code), counts, TIMINGS[timing])
    loop_cycles = sum(c for a, c in estimate.cycles.items() if lo <= a < hi)
    assert loop_cycles == spec.hand_cycles(TIMINGS[timing])


def test_branch_outcomes_follow_the_flow(runs):
    spec, run, lo, hi = runs["if_else"]
    insns = decode_code(run.counts.code)
    taken = branch_outcomes(insns, run.counts.per_address)
    in_loop = {insns[a].text.split()[0].split(".")[0]: n for a, n in taken.items() if lo <= a < hi}
    half = spec.iterations // 2
    assert in_loop == {"beq": half, "b": half, "bne": spec.iterations - 1}


def test_more_refill_or_wait_states_cost_more(runs):
    _spec, run, _lo, _hi = runs["nested_loops"]
    insns, counts = decode_code(run.counts.code), run.counts.per_address
    totals = [estimate_cycles(insns, counts, CortexM4Timing(branch_refill=p)).total for p in (1, 2, 3)]
    assert totals[0] < totals[1] < totals[2]
    slow = estimate_cycles(insns, counts, CortexM4Timing(flash_wait_states=5)).total
    assert slow > totals[1]


def test_timing_rejects_values_outside_the_trm_ranges():
    with pytest.raises(ValueError):
        CortexM4Timing(branch_refill=4)
    with pytest.raises(ValueError):
        CortexM4Timing(divide_cycles=1)
