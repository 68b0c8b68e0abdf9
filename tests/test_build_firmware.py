"""edge-deploy build: report figures against the model, determinism, budgets refused before
compiling, the generated project's own Makefile, and the --cmsis-nn folder layout."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from codegen_models import conv1d_graph, tiny_graph
from elftools.elf.elffile import ELFFile

from edge_deploy.boards import load_board
from edge_deploy.build.firmware_build import build_graph, build_model
from edge_deploy.codegen import plan_model
from edge_deploy.cli import main
from edge_deploy.errors import EdgeDeployError
from edge_deploy.ir import QuantParams
from edge_deploy.ops import GraphBuilder
from edge_deploy.paths import resource_dir
from edge_deploy.tflite import load_tflite
from edge_deploy.toolchain import elf_sizes

TFLITE_DIR = Path(__file__).resolve().parent / "data" / "tflite"


def _q(scale, zp=0):
    return QuantParams([np.float32(scale)], [zp])


def _symbols(elf_path: Path) -> set[str]:
    with open(elf_path, "rb") as handle:
        return {s.name for s in ELFFile(handle).get_section_by_name(".symtab").iter_symbols()}


def _section_bytes(elf_path: Path) -> dict[str, bytes]:
    with open(elf_path, "rb") as handle:
        elf = ELFFile(handle)
        return {s.name: s.data() for s in elf.iter_sections()
                if s.name in (".isr_vector", ".text", ".data", ".ARM.exidx")}


@pytest.fixture(scope="module")
def fixture_build(arm_gcc, tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "conv2d"
    return build_model(TFLITE_DIR / "conv2d.tflite", "mps2-an386", out)


def test_report_figures_match_the_model(fixture_build):
    report, out = fixture_build.report, fixture_build.out_dir
    graph = load_tflite(TFLITE_DIR / "conv2d.tflite")
    weights, macs = 0, 0
    for op in graph.ops:
        if op.kind in ("conv2d", "fully_connected"):
            w, y = graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
            bias = graph.tensor(op.inputs[2]).nbytes if len(op.inputs) > 2 and op.inputs[2] else 0
            weights += w.nbytes + bias
            macs += int(np.prod(y.shape)) * int(np.prod(w.shape[1:]))
    # The flash arrays as the kernels store them: the int8 weights and bias at least, plus each
    # kernel's packing and per-channel requantization (at most 32 B per output channel here), plus
    # the 256 int32 exponentials of a softmax on ed_softmax_s8.
    channels = sum(graph.tensor(op.outputs[0]).shape[-1] for op in graph.ops if op.kind in ("conv2d", "fully_connected"))
    tables = 1024 * sum(layer["kernel"] == "ed_softmax_s8" for layer in report["layers"])
    assert weights + tables <= report["weights_bytes"] <= weights + tables + 32 * channels and report["macs"] == macs
    assert report["board"] == "mps2-an386" and report["kernels"] == "simd"
    assert report["arena_bytes"] == report["arena_lower_bound_bytes"]
    # The layer the report names as setting the arena: its int8 input, output and scratch are
    # the lower bound (up to each buffer's word alignment), and no other layer holds more.
    def held(layer):
        return (sum(int(np.prod(s)) for s in layer["input_shapes"]) + int(np.prod(layer["output_shape"]))
                + layer["scratch_bytes"])
    coded = [layer for layer in report["layers"] if layer["c_function"]]
    peak = next(layer for layer in coded if layer["short_name"] == report["arena_peak_layer"])
    assert report["arena_lower_bound_bytes"] - 12 <= held(peak) <= report["arena_lower_bound_bytes"]
    assert held(peak) == max(held(layer) for layer in coded)
    sizes = elf_sizes(out / "firmware.elf", load_board("mps2-an386"))
    assert (report["flash_bytes"], report["ram_bytes"]) == (sizes.flash_bytes, sizes.ram_bytes)
    assert report["ram_bytes"] >= report["arena_bytes"] + report["stack_bytes"]
    assert [layer["name"] for layer in report["layers"]] == [op.name for op in graph.ops]
    linked = _symbols(out / "firmware.elf")
    for layer in report["layers"]:
        if layer["kernel"]:
            assert layer["kernel"] in linked and layer["c_function"] in linked
    assert report["layers"][0]["input_shapes"] == [[1, 16, 16, 3]]
    assert json.loads((out / "plan.json").read_text())["arena_bytes"] == report["arena_bytes"]
    assert (out / "plan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert load_tflite(out / "model.tflite").ops[0].name == graph.ops[0].name
    assert "conv2d_1" in (out / "firmware.map").read_text()


@pytest.mark.parametrize("make_graph", [tiny_graph, conv1d_graph], ids=["tiny", "conv1d-winograd"])
def test_two_builds_are_byte_identical(arm_gcc, tmp_path, make_graph):
    first = build_graph(make_graph(), "mps2-an386", tmp_path / "one", source="model")
    second = build_graph(make_graph(), "mps2-an386", tmp_path / "two", source="model")
    files = sorted(p.relative_to(first.out_dir) for p in first.out_dir.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second.out_dir) for p in second.out_dir.rglob("*") if p.is_file())
    assert Path("firmware.elf") in files and Path("src/model.c") in files
    for name in files:
        assert (first.out_dir / name).read_bytes() == (second.out_dir / name).read_bytes(), name
    if make_graph is conv1d_graph:  # the Winograd path with fused pools is the one compared
        assert {layer["kernel"] for layer in first.report["layers"]} >= {"ed_convolve_1d_winograd_maxpool2_s8"}


def _big_fc_graph(units: int, depth: int):
    rng = np.random.default_rng(0)
    b = GraphBuilder("big_fc", "int8")
    x = b.input("x", (1, depth), _q(0.1))
    y = b.fully_connected(x, "fc", rng.integers(-127, 128, (units, depth)), None, quant=_q(0.2),
                          w_quant=QuantParams([0.01], [0]))
    return b.finish([y])


def _big_activation_graph(length: int):
    b = GraphBuilder("big_act", "int8")
    x = b.input("x", (1, 1, length, 2), _q(0.1))
    y = b.max_pool2d(x, "pool", filter_hw=(1, 1), stride=(1, 1), quant=_q(0.1))
    return b.finish([y])


def test_a_model_too_big_is_refused_before_compiling(tmp_path, monkeypatch):
    # No compiler on PATH: a build that reached the compiler would fail with "not installed".
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(EdgeDeployError) as flash_error:
        build_graph(_big_fc_graph(600, 1024), "nucleo-f446re", tmp_path / "fc")
    message = str(flash_error.value)
    assert "does not fit board 'nucleo-f446re'" in message and "flash" in message
    # The weights as the fully connected kernel stores them: at least the 614,400 int8 values.
    weights = int(re.search(r"weights ([\d,]+) bytes", message).group(1).replace(",", ""))
    assert 614_400 <= weights < 620_000 and "524,288" in message and "slim" in message
    with pytest.raises(EdgeDeployError) as ram_error:
        build_graph(_big_activation_graph(40_000), "nucleo-f446re", tmp_path / "act")
    assert "RAM" in str(ram_error.value) and "arena 160,000 bytes" in str(ram_error.value)
    assert not (tmp_path / "fc").exists() and not (tmp_path / "act").exists()


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")
def test_a_model_over_the_code_estimate_but_within_the_flash_builds(tmp_path):
    """The flash estimate's code part is conservative: where only it is over the board (the
    weights, exact, fit), the linker decides. A firmware that fits builds; one that does not is
    refused after compiling with the estimate's numbers, and nothing is written."""
    def with_flash(board, size):
        flash = board.memory.flash.model_copy(update={"size": size})
        return board.model_copy(update={"memory": board.memory.model_copy(update={"flash": flash})})

    graph = conv1d_graph()
    board = load_board("mps2-an386")
    full = build_graph(graph, board, tmp_path / "full").report
    room = full["flash_bytes"] + 64
    assert full["weights_bytes"] < room < full["budget"]["flash_needed_bytes"]  # the estimate alone refuses
    built = build_graph(graph, with_flash(board, room), tmp_path / "room").report
    assert built["flash_bytes"] == full["flash_bytes"] and built["layers"] == full["layers"]
    with pytest.raises(EdgeDeployError, match="does not fit board") as error:  # the weights and no room for code
        build_graph(graph, with_flash(board, full["weights_bytes"] + 1024), tmp_path / "short")
    assert "flash: needs about" in str(error.value) and not (tmp_path / "short").exists()


def test_cli_refuses_a_model_too_big_with_exit_1(tmp_path, capsys):
    from edge_deploy.tflite import export_tflite

    model = tmp_path / "big.tflite"
    model.write_bytes(export_tflite(_big_fc_graph(600, 1024)))
    assert main(["build", str(model), "--board", "nucleo-f446re", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: model 'big_fc' does not fit board 'nucleo-f446re'") and "hint:" in err
    assert "Traceback" not in err


def test_a_folder_that_is_not_a_build_is_not_replaced(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(EdgeDeployError, match="not empty"):
        build_graph(tiny_graph(), "mps2-an386", out)
    assert (out / "notes.txt").read_text() == "keep me"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_generated_project_builds_with_its_own_makefile(fixture_build, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(fixture_build.src_dir, src)
    subprocess.run(["make", "-j2"], cwd=src, check=True, capture_output=True)
    # Same sources, same flags: the code and data the board loads are identical.
    assert _section_bytes(src / "firmware.elf") == _section_bytes(fixture_build.elf)
    subprocess.run(["make", "clean"], cwd=src, check=True, capture_output=True)
    subprocess.run(["make", "-j2", "KERNELS=portable"], cwd=src, check=True, capture_output=True)
    assert _section_bytes(src / "firmware.elf")[".text"] != _section_bytes(fixture_build.elf)[".text"]
    bad = subprocess.run(["make", "KERNELS=fast"], cwd=src, capture_output=True, text=True)
    assert bad.returncode != 0 and "KERNELS must be simd or portable" in bad.stderr


# The private headers edge-deploy's arm_* sources include (upstream has its own, e.g.
# arm_nnsupportfunctions.h); none of them declares an ed_* kernel.
_ARM_SOURCE_HEADERS = ("arm_nn_types.h", "arm_nnfunctions.h", "ed_nn_support.h", "ed_fully_connected.h",
                       "ed_softmax_support.h")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_makefile_refuses_cmsis_nn_for_a_winograd_build(arm_gcc, tmp_path):
    """A default build of a 1-D conv graph calls edge-deploy's Winograd kernel, which upstream
    CMSIS-NN lacks, and its calls follow edge-deploy's API: `make` builds it, `make CMSIS_NN=PATH`
    stops before compiling and says how to get a project for the checkout."""
    result = build_graph(conv1d_graph(), "mps2-an386", tmp_path / "out")
    assert "ed_convolve_1d_winograd_maxpool2_s8" in {layer["kernel"] for layer in result.report["layers"]}
    src = tmp_path / "src"
    shutil.copytree(result.src_dir, src)
    subprocess.run(["make", "-j2"], cwd=src, check=True, capture_output=True)
    assert _section_bytes(src / "firmware.elf") == _section_bytes(result.elf)
    subprocess.run(["make", "clean"], cwd=src, check=True, capture_output=True)
    cmsis = _cmsis_nn_layout(tmp_path / "CMSIS-NN")
    bad = subprocess.run(["make", f"CMSIS_NN={cmsis}"], cwd=src, capture_output=True, text=True)
    assert bad.returncode != 0 and "ed_winograd.h" not in bad.stderr, bad.stderr
    assert "edge-deploy's Winograd/sparse kernels" in bad.stderr
    assert "ed_convolve_1d_winograd_maxpool2_s8" in bad.stderr
    assert "edge-deploy build MODEL --cmsis-nn PATH" in bad.stderr
    assert not (src / "build").exists() and not (src / "firmware.elf").exists()  # nothing compiled


def _cmsis_nn_layout(root: Path) -> Path:
    """A folder laid out like an upstream CMSIS-NN checkout (Include/, Source/<group>/*.c).
    Upstream is not available here (no registry carries it), so it holds edge-deploy's own
    arm_*_s8 sources and the headers they need, and nothing of the ed_* kernels (Winograd,
    sparse, skip-zero) that upstream does not have: this checks the --cmsis-nn plumbing and that
    the generated code calls only the CMSIS-NN API, not upstream's arithmetic."""
    firmware = resource_dir("firmware")
    (root / "Include").mkdir(parents=True)
    for name in _ARM_SOURCE_HEADERS:
        header = firmware / "include" / name
        shutil.copy(header if header.is_file() else firmware / "kernels" / name, root / "Include" / name)
    for source in sorted((firmware / "kernels").glob("arm_*.c")):
        group = "ConvolutionFunctions" if "conv" in source.name else "OtherFunctions"
        (root / "Source" / group).mkdir(parents=True, exist_ok=True)
        shutil.copy(source, root / "Source" / group / source.name)
    return root


def test_cmsis_nn_folder_replaces_the_bundled_kernels(arm_gcc, tmp_path):
    cmsis = _cmsis_nn_layout(tmp_path / "CMSIS-NN")
    assert not list(cmsis.rglob("ed_winograd*")) and not list(cmsis.rglob("ed_sparse*"))
    result = build_graph(tiny_graph(), "mps2-an386", tmp_path / "out", cmsis_nn=cmsis)
    assert result.report["kernels"] == "cmsis-nn"
    assert not (result.src_dir / "kernels").exists()
    assert f"CMSIS_NN ?= {cmsis.resolve()}" in (result.src_dir / "Makefile").read_text()
    assert {"arm_convolve_s8", "arm_softmax_s8"} <= _symbols(result.elf)
    with pytest.raises(EdgeDeployError, match="not a CMSIS-NN checkout"):
        build_graph(tiny_graph(), "mps2-an386", tmp_path / "bad", cmsis_nn=tmp_path)


def test_cmsis_nn_build_of_a_winograd_model_calls_only_arm_kernels(arm_gcc, tmp_path):
    """conv1d_graph takes the Winograd kernel by default; with --cmsis-nn every layer calls an
    arm_*_s8 function and the firmware links against a folder that has no ed_* kernel."""
    graph = conv1d_graph()
    assert "ed_convolve_1d_winograd_maxpool2_s8" in {layer.kernel for layer in plan_model(graph, winograd="auto").layers}
    cmsis = _cmsis_nn_layout(tmp_path / "CMSIS-NN")
    result = build_graph(graph, "mps2-an386", tmp_path / "out", cmsis_nn=cmsis)
    assert result.report["winograd"] == "off" and result.report["sparse"] == "off"
    layers = [layer for layer in result.report["layers"] if layer["op"] != "reshape"]
    assert [layer["op"] for layer in layers].count("max_pool2d") == 3  # no pool fused away
    linked = _symbols(result.elf)
    for layer in layers:
        assert re.fullmatch(r"arm_\w+_s8", layer["kernel"]), layer
        assert layer["kernel"] in linked and layer["c_function"] in linked
    assert not [name for name in linked if name.startswith("ed_convolve") or name.startswith("ed_fully_connected")]
    src = tmp_path / "src"
    shutil.copytree(result.src_dir, src)
    subprocess.run(["make", "-j2"], cwd=src, check=True, capture_output=True)  # CMSIS_NN ?= the folder
    assert _section_bytes(src / "firmware.elf") == _section_bytes(result.elf)


def test_builds_are_byte_identical_whatever_home_cache_or_folder(arm_gcc, tmp_path, repo_root):
    """The same model and options give the same files, byte for byte, from another working
    directory and with HOME and XDG_CACHE_HOME pointing at empty folders: nothing per user or
    per machine (no cost cache, no absolute path in the debug info or the map) reaches them."""
    model = repo_root / "tests" / "data" / "tflite" / "pad_conv1d.tflite"
    outs = []
    for name in ("one", "two"):
        home, cwd = tmp_path / name / "home", tmp_path / name / "deep" / "cwd"
        (home / "cache").mkdir(parents=True)
        cwd.mkdir(parents=True)
        env = dict(os.environ, HOME=str(home), XDG_CACHE_HOME=str(home / "cache"))
        out = tmp_path / name / "build"
        subprocess.run(["edge-deploy", "build", str(model), "--board", "mps2-an386", "--out", str(out)],
                       cwd=cwd, env=env, check=True, capture_output=True, timeout=300)
        outs.append(out)
    files = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*") if p.is_file())
    assert {"firmware.elf", "firmware.map", "report.json"} <= {str(f) for f in files}
    assert files == sorted(p.relative_to(outs[1]) for p in outs[1].rglob("*") if p.is_file())
    different = [str(f) for f in files if (outs[0] / f).read_bytes() != (outs[1] / f).read_bytes()]
    assert not different, f"differ between the two builds: {different}"
