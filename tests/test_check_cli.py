"""edge-deploy check on real `edge-deploy build` output: each budget passes at the measured value
and fails just below it (exit 1 naming it); the firmware's accuracy on real test windows equals
the reference interpreter's on the same windows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from codegen_models import ticnn_graph

from edge_deploy.check.budgets import BudgetRow, Budgets, check_budgets, format_table
from edge_deploy.cli import main
from edge_deploy.errors import EdgeDeployError

WINDOWS = 10


@pytest.fixture(scope="module")
def build(tmp_path_factory, arm_gcc) -> Path:
    from edge_deploy.tflite import export_tflite

    root = tmp_path_factory.mktemp("check-cli")
    model = root / "ticnn_small.tflite"
    model.write_bytes(export_tflite(ticnn_graph()))
    out = root / "build"
    assert main(["build", str(model), "--board", "mps2-an386", "--out", str(out)]) == 0
    return out


def _report(build: Path) -> dict:
    return json.loads((build / "report.json").read_text())


def test_size_budgets_pass_at_the_limit_and_fail_above(build, capsys):
    report = _report(build)
    arena, flash, ram = report["arena_bytes"], report["flash_bytes"], report["ram_bytes"]
    assert main(["check", str(build), "--max-arena", str(arena), "--max-flash", str(flash), "--max-ram", str(ram)]) == 0
    out = capsys.readouterr().out
    assert "all 3 budgets met" in out and f"{arena:,} B" in out
    assert json.loads((build / "budgets.json").read_text())["passed"] is True

    assert main(["check", str(build), "--max-arena", str(arena - 1), "--max-flash", "4M"]) == 1
    captured = capsys.readouterr()
    assert "EXCEEDED" in captured.out and f"arena {arena:,} B > {arena - 1:,} B" in captured.err
    assert "flash" not in captured.err and "Traceback" not in captured.err
    saved = json.loads((build / "budgets.json").read_text())
    assert saved["passed"] is False and [b["ok"] for b in saved["budgets"]] == [False, True]


@pytest.mark.qemu
def test_cycle_and_latency_budgets_come_from_the_qemu_profile(build, qemu_arm, capsys):
    result = check_budgets(build, Budgets(max_cycles=10**9, max_latency_ms=1e6))
    profile = json.loads((build / "profile.json").read_text())
    cycles, latency = profile["cycles"], profile["latency_ms"]
    assert [(r.name, r.measured) for r in result.rows] == [("cycles", cycles), ("latency", latency)]
    assert profile["source"] == "qemu-insn-count+cortex-m4-model"
    assert main(["check", str(build), "--max-cycles", str(cycles)]) == 0
    assert main(["check", str(build), "--max-cycles", str(cycles - 1), "--max-latency-ms", str(latency)]) == 1
    err = capsys.readouterr().err
    assert f"cycles {cycles:,} cycles > {cycles - 1:,} cycles" in err and "latency" not in err


@pytest.mark.qemu
def test_firmware_accuracy_equals_the_reference_interpreters(build, qemu_arm, capsys):
    from edge_deploy.build.device_run import load_input_batch, reference_outputs
    from edge_deploy.check.accuracy import pick_windows
    from edge_deploy.data import load_windows

    result = check_budgets(build, Budgets(min_accuracy=0.0), max_windows=WINDOWS)
    (row,) = result.rows
    assert result.accuracy["n"] == WINDOWS and "qemu" in row.source

    x, y, _ = load_windows(None, "test", window=2048)
    picks = pick_windows(len(x), WINDOWS)
    assert len(set(y[picks])) == 10   # spread over every class
    expected = reference_outputs(build, load_input_batch(x[picks], _report(build))).reshape(WINDOWS, -1)
    assert result.accuracy["correct"] == int((expected.argmax(axis=1) == y[picks]).sum())

    measured = row.measured
    args = ["check", str(build), "--max-windows", str(WINDOWS)]
    assert main([*args, "--min-accuracy", f"{measured * 100:.4f}%"]) == 0
    assert main([*args, "--min-accuracy", str(measured + 0.01)]) == 1
    assert "accuracy" in capsys.readouterr().err


def test_user_errors(build, capsys):
    assert main(["check", str(build)]) == 1
    assert "no budget given" in capsys.readouterr().err
    assert main(["check", str(build), "--max-arena", "lots"]) == 2
    assert "is not a size" in capsys.readouterr().err
    assert main(["check", str(build), "--min-accuracy", "1.5"]) == 1
    assert "not a fraction" in capsys.readouterr().err
    with pytest.raises(EdgeDeployError, match="holds no build"):
        check_budgets(build.parent, Budgets(max_flash=1))


def test_sizes_accept_suffixes(build):
    result = check_budgets(build, Budgets(max_flash=64 * 1024))
    assert main(["check", str(build), "--max-flash", "64K"]) == (0 if result.rows[0].ok else 1)
    assert json.loads((build / "budgets.json").read_text())["budgets"][0]["limit"] == 65536


def test_table_names_every_outcome():
    rows = [BudgetRow("cycles", "cycles", 100, 120, "max", "profile"),
            BudgetRow("accuracy", "fraction", 0.9, 0.85, "min", "firmware"),
            BudgetRow("arena", "B", 4096, 4096, "max", "report.json")]
    table = format_table(rows).splitlines()
    assert table[0].split() == ["budget", "limit", "measured", "ok", "measured", "by"]
    assert "EXCEEDED" in table[2] and "120 cycles" in table[2]
    assert "BELOW" in table[3] and ">= 90.00 %" in table[3] and "85.00 %" in table[3]
    assert table[4].split()[6] == "ok"   # at the limit is within it
