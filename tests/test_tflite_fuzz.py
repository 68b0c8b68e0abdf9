"""Mutated .tflite files (edge_deploy.testing.fuzz, fixed seed): each is refused with an
EdgeDeployError or goes through load, inspect, infer, plan and render; a sample is built with the
real toolchain. Thousands more: benchmarks/fuzz_tflite.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge_deploy.testing.fuzz import Mutant, exercise, fuzz, mutants
from edge_deploy.tflite import export_tflite

from test_tflite_roundtrip import every_op_graph

FIXTURES = Path(__file__).resolve().parent / "data" / "tflite"


def _seeds() -> dict[str, bytes]:
    seeds = {p.stem: p.read_bytes() for p in sorted(FIXTURES.glob("*.tflite"))}
    seeds["every_op"] = export_tflite(every_op_graph())
    return seeds


def _report(summary) -> str:
    return "\n\n".join(f"{f.label}\n{f.failure}" for f in summary.failures[:3])


def test_three_hundred_mutants_are_refused_or_go_through_every_stage():
    summary = fuzz(_seeds(), 300, seed=17)
    assert summary.mutants == 300
    assert not summary.failures, _report(summary)
    # Both ends are exercised: many mutants are refused at load, many go all the way.
    assert summary.stages.get("refused at load", 0) > 60 and summary.stages.get("rendered", 0) > 60, summary.stages


def test_the_mutants_are_the_same_for_the_same_seed():
    first = [(m.label, m.data) for m in mutants(_seeds(), 40, seed=5)]
    assert first == [(m.label, m.data) for m in mutants(_seeds(), 40, seed=5)]
    assert first != [(m.label, m.data) for m in mutants(_seeds(), 40, seed=6)]


def test_a_sample_of_accepted_mutants_compiles(tmp_path):
    summary = fuzz(_seeds(), 40, seed=23, compile_every=4, compile_dir=tmp_path)
    assert not summary.failures, _report(summary)
    assert summary.stages.get("compiled", 0) >= 1, summary.stages


def test_a_crash_is_reported_not_raised(monkeypatch):
    """The harness itself: an exception other than EdgeDeployError is a failure with its traceback.
    (A fake fault: the real crashes the fuzzer found are fixed, so one is injected into inspect.)"""
    import edge_deploy.cli.inspect_cmd as inspect_cmd

    def broken(graph):
        raise ZeroDivisionError("injected")

    monkeypatch.setattr(inspect_cmd, "layer_table", broken)
    outcome = exercise(Mutant("a valid model", _seeds()["conv2d"]))
    assert outcome.stage == "crashed" and "ZeroDivisionError: injected" in outcome.failure


@pytest.mark.parametrize("stem", ["my\nmodel", 'say "hi" \\ *\t??= %d'])
def test_a_model_file_name_that_c_cannot_spell_still_builds(tmp_path, stem):
    """The file name becomes the model's name in model.h: every string reaching C is escaped."""
    graph = every_op_graph()
    graph.name = "main"  # TensorFlow's default subgraph name: the file's name is used instead
    model = tmp_path / f"{stem}.tflite"
    export_tflite(graph, model)
    out = tmp_path / "build"
    result = subprocess.run([sys.executable, "-m", "edge_deploy", "build", str(model), "--board", "mps2-an386",
                             "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    # The C literal spells the name exactly: its bytes (with the newline) are in the firmware.
    assert stem.encode() + b"\0" in (out / "firmware.elf").read_bytes()
