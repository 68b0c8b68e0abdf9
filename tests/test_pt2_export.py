"""PyTorch models from the user's code: torch.export programs (.pt2) and --model package.module:factory,
lowered from their ATen graphs (edge_deploy.quantize.aten), quantized, built and run on QEMU."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from edge_deploy.errors import EdgeDeployError  # noqa: E402
from edge_deploy.interp.interpreter import run  # noqa: E402
from edge_deploy.quantize.aten import lower_exported  # noqa: E402
from edge_deploy.quantize.pipeline import to_ir_layout, to_torch_layout  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "byo_pytorch"
CLI = [sys.executable, "-m", "edge_deploy"]


class Mixed(nn.Module):
    """One of each 2-D lowering: BN folding, ReLU6 as hardtanh, depthwise and grouped convs, a
    squeeze-excite gate (mean, view, broadcasting mul), sub, cat, pools, a channels-first flatten
    of a 2 x 2 map before a linear layer, softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU6())
        self.dw = nn.Conv2d(8, 8, 3, 1, 1, groups=8)
        self.grouped = nn.Conv2d(8, 8, 3, 1, 1, groups=2)
        self.fc1, self.fc2 = nn.Linear(8, 4), nn.Linear(4, 8)
        self.head = nn.Linear(16 * 2 * 2, 5)

    def forward(self, x):
        y = self.stem(x)
        y = y + nn.functional.hardswish(self.dw(y))
        gate = torch.sigmoid(self.fc2(torch.relu(self.fc1(y.mean(dim=(2, 3))))))
        y = y * gate.view(1, 8, 1, 1) - torch.tanh(self.grouped(y))
        y = torch.cat([nn.functional.max_pool2d(y, 2), nn.functional.leaky_relu(nn.functional.avg_pool2d(y, 2), 0.1)], 1)
        y = nn.functional.max_pool2d(y, 2)
        return torch.softmax(self.head(torch.flatten(y, 1)), dim=1)


class Audio(nn.Module):
    """1-D: conv1d + batch norm + ReLU, max pool, a permute that becomes a view, global mean."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 6, 5, padding=2)
        self.bn = nn.BatchNorm1d(6)
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        y = nn.functional.max_pool1d(torch.relu(self.bn(self.conv(x))), 2)
        return self.out(y.unsqueeze(2).squeeze(2).mean(dim=2))


class HardGate(nn.Module):
    """A hard-sigmoid squeeze-excite gate and operands that are numbers (x * 0.5 + 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.f1, self.f2, self.out = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 4, 1), nn.Conv2d(4, 8, 1), nn.Linear(8, 3)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        gate = nn.functional.hardsigmoid(self.f2(torch.relu(self.f1(y.mean((2, 3), keepdim=True)))))
        return self.out(((y * gate) * 0.5 + 1.0).mean((2, 3)))


def _randomize_bn(model):
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5), m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.3, 0.3), m.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.parametrize("decomposed", [False, True], ids=["export", "core-aten"])
@pytest.mark.parametrize("cls, shape", [(Mixed, (1, 3, 16, 16)), (Audio, (1, 2, 32)), (HardGate, (1, 3, 8, 8))])
def test_exported_graph_lowers_to_the_same_function_without_transposes(cls, shape, decomposed):
    torch.manual_seed(0)
    model = _randomize_bn(cls())
    x = torch.randn(*shape)
    program = torch.export.export(model, (x,))
    if decomposed:  # the core ATen opset (convolution, addmm of a permuted weight, clamps, div ...)
        program = program.run_decompositions()
    graph = lower_exported(program)
    kinds = {op.kind for op in graph.ops}
    assert "transpose" not in kinds and "batch_norm" not in kinds
    if cls is Mixed and not decomposed:
        assert {"depthwise_conv2d", "concatenation", "mul", "sub", "mean", "softmax", "hard_swish"} <= kinds
        assert any(op.attrs.get("activation") == "relu6" for op in graph.ops)  # ReLU6 fused into the stem conv
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(run(graph, to_ir_layout(x.numpy())), expected, atol=2e-5)


def test_a_permute_that_reorders_memory_becomes_a_transpose():
    class Permuted(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.fc = nn.Conv2d(3, 4, 1), nn.Linear(4 * 3 * 5, 2)

        def forward(self, x):
            return self.fc(self.conv(x).permute(0, 1, 3, 2).reshape(1, -1))

    torch.manual_seed(0)
    model, x = Permuted().eval(), torch.randn(1, 3, 5, 3)
    graph = lower_exported(torch.export.export(model, (x,)))
    assert "transpose" in {op.kind for op in graph.ops}
    with torch.no_grad():
        np.testing.assert_allclose(run(graph, to_ir_layout(x.numpy())), model(x).numpy(), atol=2e-5)


class WithGelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return nn.functional.gelu(self.conv(x))  # GELU_LINE


def test_an_op_outside_the_list_is_one_error_naming_node_target_and_source_line(tmp_path):
    torch.export.save(torch.export.export(WithGelu().eval(), (torch.zeros(1, 3, 8, 8),)), tmp_path / "m.pt2")
    np.save(tmp_path / "x.npy", np.zeros((4, 3, 8, 8), np.float32))
    done = subprocess.run([*CLI, "quantize", str(tmp_path / "m.pt2"), "--calib", str(tmp_path / "x.npy"),
                           "--out", str(tmp_path / "m.tflite")], capture_output=True, text=True)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    line = next(n for n, text in enumerate(inspect.getsource(WithGelu).splitlines()) if "GELU_LINE" in text)
    source_line = inspect.getsourcelines(WithGelu)[1] + line
    assert "'gelu'" in errors[0] and "aten.gelu.default" in errors[0]
    assert f"test_pt2_export.py:{source_line}" in errors[0]
    assert "conv2d" in done.stderr and "softmax" in done.stderr  # the supported list
    assert not (tmp_path / "m.tflite").exists()


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLE), str(REPO / "sdk"), env.get("PYTHONPATH", "")])
    return env


def test_module_factory_with_weights_quantizes_and_reports_agreement(tmp_path):
    sys.path.insert(0, str(EXAMPLE))
    try:
        from mobilenet_v2 import tiny
    finally:
        sys.path.remove(str(EXAMPLE))
    torch.manual_seed(3)
    model = tiny()
    torch.save(model.state_dict(), tmp_path / "w.pt")
    x = np.random.default_rng(0).standard_normal((24, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "m.tflite"
    done = subprocess.run([*CLI, "quantize", "--model", "mobilenet_v2:tiny", "--weights", str(tmp_path / "w.pt"),
                           "--input-shape", "1,3,32,32", "--calib", str(tmp_path / "x.npy"), "--out", str(out),
                           "--report"], capture_output=True, text=True, env=_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(Path(str(out) + ".report.json").read_text())
    assert report["comparison"]["samples"] == 24 and report["comparison"]["agreement"] >= 0.9
    # The weights were loaded: the .tflite's float-equivalent logits follow them, not tiny()'s fresh init.
    from edge_deploy.quantize.pipeline import int8_predictions
    from edge_deploy.tflite import import_tflite

    graph = import_tflite(out.read_bytes())
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(x)).argmax(1).numpy()
    assert np.mean(int8_predictions(graph, x) == expected) >= 0.9


@pytest.mark.parametrize("which", ["mobilenet_v2", "hard_gate", "padded_pools", "decoder"])
def test_pt2_builds_and_runs_on_qemu_bit_exact(tmp_path, qemu_arm, which):
    if which == "mobilenet_v2":  # the must-show model, narrow and at 32 x 32
        sys.path.insert(0, str(EXAMPLE))
        try:
            from mobilenet_v2 import tiny
        finally:
            sys.path.remove(str(EXAMPLE))
        torch.manual_seed(0)
        model, shape = tiny().eval(), (3, 32, 32)
    else:
        torch.manual_seed(0)
        model = {"hard_gate": HardGate, "padded_pools": PaddedPools, "decoder": Decoder}[which]().eval()
        shape = (3, 4, 4) if which == "decoder" else (3, 8, 8)
    torch.export.save(torch.export.export(model, (torch.zeros(1, *shape),)), tmp_path / "m.pt2")
    rng = np.random.default_rng(0)
    np.save(tmp_path / "calib.npy", rng.standard_normal((32, *shape)).astype(np.float32))
    np.save(tmp_path / "x.npy", rng.standard_normal((4, *shape)).astype(np.float32))
    build = tmp_path / "build"
    done = subprocess.run([*CLI, "build", str(tmp_path / "m.pt2"), "--calib", str(tmp_path / "calib.npy"),
                           "--board", "mps2-an386", "--out", str(build)], capture_output=True, text=True, env=_env())
    assert done.returncode == 0, done.stderr
    assert not any(line.split()[1] == "transpose" for line in done.stdout.splitlines()[4:] if len(line.split()) > 1)
    done = subprocess.run([*CLI, "run", str(build), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy"),
                           "--check"], capture_output=True, text=True, env=_env())
    assert done.returncode == 0, done.stderr
    check = json.loads((build / "check.json").read_text())
    assert check["n"] == 4 and check["mismatches"] == 0


def test_build_with_module_factory_builds_the_model_quantize_makes(tmp_path):
    """``build --model PACKAGE.MODULE:FACTORY --weights --input-shape`` exports the user's module and
    builds the same int8 model ``quantize`` makes from the same options (so the weights were loaded),
    and a missing --input-shape is one error line that leaves no build folder."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        from mobilenet_v2 import tiny
    finally:
        sys.path.remove(str(EXAMPLE))
    torch.manual_seed(5)
    torch.save(tiny().state_dict(), tmp_path / "w.pt")
    np.save(tmp_path / "calib.npy", np.random.default_rng(1).standard_normal((16, 3, 32, 32)).astype(np.float32))
    options = ["--model", "mobilenet_v2:tiny", "--weights", str(tmp_path / "w.pt"), "--input-shape", "1,3,32,32",
               "--calib", str(tmp_path / "calib.npy")]
    done = subprocess.run([*CLI, "quantize", *options, "--out", str(tmp_path / "q.tflite")],
                          capture_output=True, text=True, env=_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    build = tmp_path / "build"
    done = subprocess.run([*CLI, "build", *options, "--board", "mps2-an386", "--out", str(build)],
                          capture_output=True, text=True, env=_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (build / "model.tflite").read_bytes() == (tmp_path / "q.tflite").read_bytes()
    assert json.loads((build / "report.json").read_text())["macs"] > 0
    missing = subprocess.run([*CLI, "build", "--model", "mobilenet_v2:tiny", "--board", "mps2-an386",
                              "--out", str(tmp_path / "none")], capture_output=True, text=True, env=_env(), cwd=tmp_path)
    assert missing.returncode != 0 and missing.stderr.startswith("error: --model needs --input-shape")
    assert "Traceback" not in missing.stderr and not (tmp_path / "none").exists()


class PaddedPools(nn.Module):
    """Every way a PyTorch pool pads: max pool as TFLite's SAME (3x3, stride 1, padding 1) and not
    (3x3, stride 2, padding 1 on an even size: a PAD of -inf), average pool counting the padding
    (a PAD of zeros) and not (SAME)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 6, 3, padding=1), nn.Linear(6 * 4 * 4 * 2, 3)

    def forward(self, x):
        y = self.conv(x)  # no ReLU: negative values, so a pad of zeros would win a max
        a = nn.functional.max_pool2d(nn.functional.max_pool2d(y, 3, 1, 1), 3, 2, 1)
        b = nn.functional.avg_pool2d(nn.functional.avg_pool2d(y, 3, 1, 1, count_include_pad=False), 3, 2, 1)
        return self.fc(torch.cat([a, b], 1).flatten(1))


@pytest.mark.parametrize("decomposed", [False, True], ids=["export", "core-aten"])
def test_padded_pools_lower_to_the_same_function(decomposed):
    torch.manual_seed(1)
    model, x = PaddedPools().eval(), torch.randn(1, 3, 8, 8)
    program = torch.export.export(model, (x,))
    if decomposed:
        program = program.run_decompositions()
    graph = lower_exported(program)
    pads = [op for op in graph.ops if op.kind == "pad"]
    assert sorted(str(op.attrs["pad_value"]) for op in pads) == ["-inf", "0.0"]
    assert sum(op.attrs.get("padding") == "same" for op in graph.ops if op.kind.endswith("pool2d")) == 2
    with torch.no_grad():
        np.testing.assert_allclose(run(graph, to_ir_layout(x.numpy())), model(x).numpy(), atol=2e-5)


def test_a_pool_padding_tflite_cannot_express_is_one_error():
    class Odd(nn.Module):
        def forward(self, x):
            return nn.functional.avg_pool2d(x, 3, 2, 1, count_include_pad=False)

    with pytest.raises(EdgeDeployError, match="count_include_pad=False differs from TFLite's SAME"):
        lower_exported(torch.export.export(Odd(), (torch.zeros(1, 2, 8, 8),)))


class Decoder(nn.Module):
    """Transposed convolutions as decoders write them: k4 s2 p1 (TFLite's SAME), k3 s2 p1 with
    output_padding 1 (TFLite's SAME crops the other side: a full scatter, then a SLICE, then the
    ReLU as its own op), k2 s2 (VALID), k3 s2 p1 (SAME)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.ConvTranspose2d(3, 4, 4, 2, 1)
        self.b = nn.ConvTranspose2d(4, 4, 3, 2, 1, output_padding=1)
        self.c = nn.ConvTranspose2d(4, 3, 2, 2)
        self.d = nn.ConvTranspose2d(3, 2, 3, 2, 1)

    def forward(self, x):
        return self.d(self.c(torch.relu(self.b(self.a(x)))))      # 4 -> 8 -> 16 -> 32 -> 63


class Decoder1d(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.ConvTranspose1d(2, 3, 3, 2, 1, bias=False), nn.ConvTranspose1d(3, 2, 4, 2, 1)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))                       # 8 -> 15 -> 30


@pytest.mark.parametrize("decomposed", [False, True], ids=["export", "core-aten"])
@pytest.mark.parametrize("cls, shape, modes", [(Decoder, (1, 3, 4, 4), ["same", "valid", "valid", "same"]),
                                               (Decoder1d, (1, 2, 8), ["same", "same"])])
def test_transposed_convolutions_lower_to_the_same_function(cls, shape, modes, decomposed):
    torch.manual_seed(2)
    model, x = cls().eval(), torch.randn(*shape)
    program = torch.export.export(model, (x,))
    if decomposed:  # aten.convolution with transposed=True
        program = program.run_decompositions()
    graph = lower_exported(program)
    assert [op.attrs["padding"] for op in graph.ops if op.kind == "transpose_conv"] == modes
    assert ("slice" in {op.kind for op in graph.ops}) == (cls is Decoder)
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(to_torch_layout(run(graph, to_ir_layout(x.numpy())), expected.ndim - 1), expected, atol=2e-5)
