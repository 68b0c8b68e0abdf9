"""edge-deploy profile on real `edge-deploy build` output: QEMU with the count plugin (exact
instructions, modelled cycles), a board's own counter over --port (here: the build's firmware
on QEMU, whose SysTick ticks once per 40 instructions), and the errors a user can cause."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from codegen_models import ticnn_graph, tiny_graph

from edge_deploy.cli import main

pytestmark = pytest.mark.qemu
RENODE_MISSING = shutil.which("renode") is None


def _build(root: Path, graph, board: str) -> Path:
    from edge_deploy.tflite import export_tflite

    model = root / f"{graph.name}.tflite"
    model.write_bytes(export_tflite(graph))
    out = root / f"{graph.name}-{board}"
    assert main(["build", str(model), "--board", board, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def builds(tmp_path_factory, qemu_arm):
    root = tmp_path_factory.mktemp("profile-cli")
    tiny = tiny_graph(0)
    return {
        "ticnn": _build(root, ticnn_graph(), "mps2-an386"),
        "tiny": _build(root, tiny, "mps2-an386"),
        "tiny-nucleo": _build(root, tiny, "nucleo-f446re"),
    }


def _report(build: Path) -> dict:
    return json.loads((build / "report.json").read_text())


def _run_layers(report: dict) -> list[dict]:
    return sorted((layer for layer in report["layers"] if layer["mark"] >= 0), key=lambda layer: layer["mark"])


def _profile(build: Path, *args: str) -> dict:
    assert main(["profile", str(build), *args]) == 0
    return json.loads((build / "profile.json").read_text())


def test_qemu_profile_has_every_field_and_adds_up(builds):
    build = builds["ticnn"]
    data = _profile(build)
    report = _report(build)
    assert data["source"] == "qemu-insn-count+cortex-m4-model"
    layers = _run_layers(report)
    assert [(l["name"], l["op"], l["macs"]) for l in data["layers"]] == [
        (l["short_name"], l["op"], l["macs"]) for l in layers]
    assert data["instructions"] == sum(l["instructions"] for l in data["layers"]) > 0
    assert data["cycles"] == sum(l["cycles"] for l in data["layers"]) > data["instructions"] // 2
    assert data["macs"] == report["macs"]
    assert data["mac_per_cycle"] == round(data["macs"] / data["cycles"], 4)
    assert data["latency_ms"] == round(data["cycles"] / 25e6 * 1e3, 4)   # mps2-an386 runs at 25 MHz
    for layer in data["layers"]:
        assert layer["instructions"] > 0 and layer["cycles"] >= layer["instructions"] // 2
    md = (build / "profile.md").read_text()
    assert all(f"| {l['name']} |" in md for l in data["layers"])
    assert (build / "profile.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (build / "firmware_profile.elf").is_file()


def test_profile_is_identical_run_to_run(builds):
    build = builds["tiny"]
    _profile(build)
    first = {name: (build / name).read_bytes() for name in ("profile.json", "profile.md", "profile.png")}
    _profile(build)
    assert {name: (build / name).read_bytes() for name in first} == first


def test_port_profile_agrees_with_the_plugin_counts(builds):
    """The build's firmware on QEMU, profiled through --port like a board: without a DWT its
    SysTick ticks once per 40 instructions (25 MHz, -icount shift=0), so ticks x 40 must match the
    plugin's exact per-layer counts of the profiling firmware (same code, same input), and the
    profile calls them ticks, never cycles."""
    from edge_deploy.emulators import start_emulator

    build = builds["ticnn"]
    exact = {l["name"]: l["instructions"] for l in _profile(build)["layers"]}
    with start_emulator("mps2-an386", build / "firmware.elf", emulator="qemu") as target:
        data = _profile(build, "--port", target.url, "--runs", "3")
    assert data["source"] == "systick" and data["unit"] == "ticks" and data["inferences"] == 3
    assert data["instructions"] is None and data["cycles"] is None and data["latency_ms"] is None
    assert "instruction counts" in data["instructions_note"] and "not cycles" in data["source_note"]
    for layer in data["layers"]:
        assert layer["instructions"] is None and layer["cycles"] is None and layer["mac_per_cycle"] is None
        assert layer["ticks"] <= layer["ticks_max"] <= layer["ticks"] + 1
        # One tick of resolution either side, plus the timing call around the layer.
        assert abs(layer["ticks"] * 40 - exact[layer["name"]]) <= 2 * 40 + 40, layer
    assert data["ticks"] == sum(l["ticks"] for l in data["layers"]) <= data["run"]["ticks"]
    md = (build / "profile.md").read_text()
    assert "| ticks | max ticks |" in md and "cycles only" not in md
    # Ticks are not cycles: the build's prices are recorded, not set beside them.
    assert data["kernel_prices"]["comparable"] is False and "systick ticks, not cycles" in data["kernel_prices"]["note"]
    assert all("modelled_cycles" not in layer for layer in data["layers"])
    assert "build's price" not in md and "systick ticks, not cycles" in md


def test_a_device_profile_in_cycles_sets_the_builds_prices_beside_them(builds):
    """A board's DWT cycles beside the build's prices. No board with DWT is attached here, so the
    measurement is a stand-in (named as such): the TICNN build's report gives the prices, the
    stand-in's cycles are the QEMU profile's; the table gains the price column and the total."""
    from edge_deploy.check.build_profile import build_prices
    from edge_deploy.check.device_profile import device_profile_markdown
    from edge_deploy.check.profile_firmware import run_layers

    build = builds["ticnn"]
    qemu = _profile(build)
    report = _report(build)
    layers = [{"index": l["index"], "name": l["name"], "op": l["op"], "macs": l["macs"], "cycles": l["cycles"],
               "cycles_max": l["cycles"], "mac_per_cycle": l["mac_per_cycle"], "latency_ms": l["latency_ms"]}
              for l in qemu["layers"]]
    stand_in = {"unit": "cycles", "board": "mps2-an386", "clock_hz": 25_000_000, "source": "dwt",
                "source_note": "stand-in for a DWT measurement", "inferences": 1, "instructions_note": "none",
                "macs": qemu["macs"], "cycles": qemu["cycles"], "mac_per_cycle": qemu["mac_per_cycle"],
                "latency_ms": qemu["latency_ms"], "run": {"cycles": qemu["cycles"]}, "layers": layers}
    stand_in["kernel_prices"] = build_prices(report, run_layers(report), None).attach(layers, qemu["cycles"])
    assert stand_in["kernel_prices"] == qemu["kernel_prices"]
    assert [l["model_error"] for l in layers] == [l["model_error"] for l in qemu["layers"]]
    md = device_profile_markdown(stand_in)
    assert "| cycles | max cycles | MAC/cycle | latency ms | build's price (error) |" in md
    assert f"{qemu['kernel_prices']['modelled_cycles']:,} ({qemu['kernel_prices']['model_error']:+.1%}) |" in md


def test_board_without_qemu_is_profiled_as_the_same_core(builds):
    """A hardware-only board's build is profiled compiled for mps2-an386: same instructions and
    accesses per layer as the mps2-an386 build of the same model where both run the same kernel
    (the F446RE's build prices its kernels at its flash, and may choose another); the board's
    flash timing (5 wait states behind the ART) costs cycles on top; latency at the board's own
    180 MHz."""
    mps2 = _profile(builds["tiny"])
    nucleo = _profile(builds["tiny-nucleo"])
    assert nucleo["board"] == "nucleo-f446re" == nucleo["timing_board"] and nucleo["machine"] == "mps2-an386"
    kernels = [[layer["kernel"] for layer in json.loads((builds[name] / "report.json").read_text())["layers"]
                if layer["mark"] >= 0] for name in ("tiny", "tiny-nucleo")]
    same = [i for i, (a, b) in enumerate(zip(*kernels)) if a == b]
    assert len(kernels[0]) == len(nucleo["layers"]) == len(mps2["layers"]) and len(same) >= len(kernels[0]) - 1
    assert [nucleo["layers"][i]["instructions"] for i in same] == [mps2["layers"][i]["instructions"] for i in same]
    assert [nucleo["layers"][i]["memory"] for i in same] == [mps2["layers"][i]["memory"] for i in same]
    assert mps2["stalls"]["fetch"] == mps2["stalls"]["data"] == 0 < nucleo["stalls"]["fetch"]
    assert all(n["cycles"] >= m["cycles"] for n, m in zip(nucleo["layers"], mps2["layers"]))
    assert nucleo["latency_ms"] == round(nucleo["cycles"] / 180e6 * 1e3, 4)


def test_the_profile_sets_the_builds_prices_beside_the_measured_cycles(builds):
    """Each layer's modelled cycles (the price its kernel was chosen by, report.json) beside the
    measured ones, where the build priced at the timing the profile applies: TICNN on mps2-an386 at
    0 wait states, the tiny model's F446RE build at its flash (a flash price, above the 0-wait-state
    one); the model within 10 % of the measurement over the whole run. Profiled at another timing
    (--timing mps2-an386 for the F446RE build) the prices are not set beside the cycles, and the
    report says why."""
    for name in ("ticnn", "tiny-nucleo"):
        data = _profile(builds[name])
        prices = [(layer.get("kernel_choice") or {}).get("modelled_cycles") for layer in _run_layers(_report(builds[name]))]
        assert data["kernel_prices"]["comparable"] is True
        assert [layer["modelled_cycles"] for layer in data["layers"]] == prices
        assert data["kernel_prices"]["modelled_cycles"] == sum(p or 0 for p in prices)
        assert abs(data["kernel_prices"]["model_error"]) < 0.1
        assert "build's price (error)" in (builds[name] / "profile.md").read_text()
    nucleo = _report(builds["tiny-nucleo"])
    assert nucleo["cost_model"]["priced_at"].startswith("the board's flash (5 wait states, 16-byte reads")
    assert all(a["cycles"] > a["cycles_zero_wait"] for layer in nucleo["layers"] if layer["kernel_choice"]
               for a in layer["kernel_choice"]["alternatives"] if "cycles" in a)
    other = _profile(builds["tiny-nucleo"], "--timing", "mps2-an386")
    assert other["kernel_prices"]["comparable"] is False
    assert all("modelled_cycles" not in layer for layer in other["layers"])
    md = (builds["tiny-nucleo"] / "profile.md").read_text()
    assert "build's price" not in md and "priced its kernels at another timing" in md


def test_timing_board_applies_its_flash_and_clock(builds):
    """--timing BOARD: the same run, BOARD's memory timing and clock; the report says which core
    ran and which timing was applied."""
    build = builds["ticnn"]
    plain = _profile(build)
    timed = _profile(build, "--timing", "nucleo-l4r5zi")
    assert timed["timing_board"] == "nucleo-l4r5zi" and timed["board"] == "mps2-an386"
    assert timed["core"] == "QEMU mps2-an386 (Cortex-M4F)" and "5 wait states" in timed["timing"]
    assert timed["cycle_model"]["flash"]["wait_states"] == 5 and timed["clock_hz"] == 120_000_000
    assert timed["instructions"] == plain["instructions"] and timed["memory"] == plain["memory"]
    assert timed["cycles"] >= plain["cycles"] and timed["stalls"]["fetch"] + timed["stalls"]["data"] > 0
    assert timed["cycles"] - plain["cycles"] == timed["stalls"]["fetch"] + timed["stalls"]["data"]
    for data in (plain, timed):
        assert data["cycles_p1"] < data["cycles"] < data["cycles_p3"]
        assert sum(l["cycles_p1"] for l in data["layers"]) == data["cycles_p1"]
    flash = timed["memory"]["flash"]
    assert flash["load_bytes"] == sum(l["memory"]["flash"]["load_bytes"] for l in timed["layers"]) > 0
    md = (build / "profile.md").read_text()
    assert "nucleo-l4r5zi timing (120 MHz)" in md and "Core: QEMU mps2-an386" in md


def _elf_symbol_bytes(elf: Path, name: str) -> bytes:
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as handle:
        image = ELFFile(handle)
        symbol = image.get_section_by_name(".symtab").get_symbol_by_name(name)[0]
        address, size = symbol["st_value"], symbol["st_size"]
        for segment in image.iter_segments():
            start = segment["p_vaddr"]
            if segment["p_type"] == "PT_LOAD" and start <= address < start + segment["p_filesz"]:
                return segment.data()[address - start:address - start + size]
    raise AssertionError(f"{name} is not in a loaded segment")


def test_inputs_sample_is_what_the_profiling_firmware_runs(builds, tmp_path):
    build = builds["tiny"]
    shape = _report(build)["input"]["shape"][1:]
    batch = np.random.default_rng(7).integers(-128, 128, (2, *shape)).astype(np.int8)
    np.save(tmp_path / "x.npy", batch)
    data = _profile(build, "--inputs", str(tmp_path / "x.npy"))
    assert data["instructions"] > 0
    assert _elf_symbol_bytes(build / "firmware_profile.elf", "profile_input") == batch[0].tobytes()
    np.save(tmp_path / "bad.npy", np.zeros((2, 5), dtype=np.int8))
    assert main(["profile", str(build), "--inputs", str(tmp_path / "bad.npy")]) == 1


def test_timing_errors_exit_cleanly(builds, capsys):
    assert main(["profile", str(builds["tiny"]), "--timing", "no-such-board"]) == 1
    assert "unknown board 'no-such-board'" in capsys.readouterr().err
    assert main(["profile", str(builds["tiny"]), "--timing", "nucleo-l4r5zi", "--port", "socket://127.0.0.1:1"]) == 1
    assert "--timing applies" in capsys.readouterr().err


def test_user_errors_exit_cleanly(builds, tmp_path, capsys):
    build = builds["tiny"]
    assert main(["profile", str(build), "--emulator", "qemu", "--port", "socket://127.0.0.1:1"]) == 1
    assert "either --emulator or --port" in capsys.readouterr().err
    assert main(["profile", str(tmp_path)]) == 1
    assert "holds no build" in capsys.readouterr().err


def test_port_with_another_model_is_refused(builds, capsys):
    from edge_deploy.emulators import start_emulator

    with start_emulator("mps2-an386", builds["ticnn"] / "firmware.elf", emulator="qemu") as target:
        assert main(["profile", str(builds["tiny"]), "--port", target.url]) == 1
    err = capsys.readouterr().err
    assert "runs model" in err and "edge-deploy flash" in err and "Traceback" not in err


@pytest.mark.skipif(not RENODE_MISSING, reason="renode is installed: the missing-renode error cannot happen")
def test_renode_missing_is_a_clear_error(builds, capsys):
    assert main(["profile", str(builds["tiny"]), "--emulator", "renode"]) == 1
    assert "renode is not installed" in capsys.readouterr().err
