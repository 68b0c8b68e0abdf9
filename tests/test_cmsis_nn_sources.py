"""What a generated project compiles and how: the C reading behind it (prototypes, defined and
used functions, closures), the per-rounding source groups with renamed shared files (compiled
and run on the host), a v6.0.0-like checkout that lacks functions (edge-deploy's kernels run
those layers, declared in a generated header), and ``--rounding litert`` on QEMU: the firmware
matches the interpreter's litert policy bit for bit, where the default build does not."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge_deploy.build.device_run import run_batch
from edge_deploy.build.firmware_build import build_graph, build_model
from edge_deploy.codegen.sources import kernel_sources
from edge_deploy.errors import EdgeDeployError
from edge_deploy.interp.interpreter import run
from edge_deploy.ir import QuantParams
from edge_deploy.kernels.library import KernelLibrary, own_library, release_key, upstream_library
from edge_deploy.ops import GraphBuilder
from edge_deploy.paths import resource_dir
from edge_deploy.toolchain.csource import defined_functions, parse_prototypes, parse_structs

FIXTURES = Path(__file__).resolve().parent / "data" / "tflite"


def test_prototypes_structs_and_definitions_are_read_as_a_compiler_would():
    header = """
    #ifndef X_H
    #define X_H
    #ifdef __cplusplus
    extern "C" {
    #endif
    typedef struct { int32_t n; /* batch */ int32_t c; } cmsis_nn_dims;
    /** Documented: arm_fake_s8(int a); in a comment is not a declaration. */
    arm_cmsis_nn_status arm_conv(const cmsis_nn_context *ctx,
                                 const cmsis_nn_dims *upscale_dims, // since v7
                                 int8_t *output_data);
    int32_t arm_conv_get_buffer_size(const cmsis_nn_dims *input_dims);
    static inline int32_t helper(int32_t x) { return x; }
    #ifdef __cplusplus
    }
    #endif
    #endif
    """
    protos = parse_prototypes(header)
    assert sorted(protos) == ["arm_conv", "arm_conv_get_buffer_size"]
    assert protos["arm_conv"].param_names == ("ctx", "upscale_dims", "output_data")
    assert protos["arm_conv"].c_text() == ("arm_cmsis_nn_status arm_conv(const cmsis_nn_context *ctx, "
                                           "const cmsis_nn_dims *upscale_dims, int8_t *output_data);")
    assert parse_structs(header) == {"cmsis_nn_dims": ("int32_t n", "int32_t c")}
    source = """
    static int32_t local(int32_t x) { return x; }
    #if defined(ARM_MATH_MVEI)
    arm_cmsis_nn_status arm_conv(const cmsis_nn_context *ctx) { return helper_mve(local(1)); }
    #else
    arm_cmsis_nn_status arm_conv(const cmsis_nn_context *ctx) { if (ctx) { return 0; } return 1; }
    #endif
    const int table[2] = {1, 2};
    int32_t arm_conv_get_buffer_size(const cmsis_nn_dims *d)
    {
        return d->c;
    }
    """
    assert defined_functions(source) == {"arm_conv", "arm_conv_get_buffer_size"}


def test_edge_deploys_own_library_declares_what_its_specs_call():
    own = own_library()
    assert not own.is_upstream
    for name in ("arm_convolve_s8", "arm_fully_connected_per_channel_s8", "arm_pad_s8"):
        assert own.declares(name) and own.defines(name), name
    assert not own.declares("arm_convolve_wrapper_s8")  # the partial calls arm_convolve_s8 directly
    assert not own.takes("arm_convolve_s8", "upscale_dims")
    assert own.sources(["arm_fully_connected_per_channel_s8", "arm_fully_connected_s8_get_buffer_size"]) == \
        ["arm_fully_connected_per_channel_s8.c", "arm_fully_connected_s8_get_buffer_size.c"]
    with pytest.raises(EdgeDeployError, match="not a CMSIS-NN checkout"):
        upstream_library(resource_dir("firmware"))


def _fake_library(root: Path) -> KernelLibrary:
    """A library of three files: two kernels share a helper whose result depends on the rounding
    switch, as upstream's arm_nn_requantize does."""
    (root / "Include").mkdir(parents=True)
    (root / "Include" / "arm_nnfunctions.h").write_text(
        "int kern_a(void);\nint kern_b(void);\nint helper(void);\n")
    (root / "Include" / "arm_nn_types.h").write_text("typedef struct { int w; int h; } cmsis_nn_tile;\n")
    src = root / "Source" / "Group"
    src.mkdir(parents=True)
    (src / "kern_a.c").write_text('#include "arm_nnfunctions.h"\nint kern_a(void) { return helper(); }\n')
    (src / "kern_b.c").write_text('#include "arm_nnfunctions.h"\nint kern_b(void) { return 10 + helper(); }\n')
    (src / "helper.c").write_text('#include "arm_nnfunctions.h"\nint helper(void)\n{\n'
                                  "#if defined(CMSIS_NN_USE_SINGLE_ROUNDING)\n    return 1;\n#else\n"
                                  "    return 0;\n#endif\n}\n")
    return upstream_library(root)


@pytest.mark.skipif(shutil.which("cc") is None, reason="no host C compiler (cc)")
def test_a_helper_both_roundings_need_is_compiled_twice_under_two_names(tmp_path):
    library = _fake_library(tmp_path / "lib")
    sources = kernel_sources([("kern_a", library, "double", "return kern_a();"),
                              ("kern_b", library, "single", "return kern_b();")], library)
    double, single = sources.groups
    assert (double.rounding, double.sources, double.renames) == ("double", ["Group/helper.c", "Group/kern_a.c"], {})
    assert (single.rounding, single.sources) == ("single", ["Group/helper.c", "Group/kern_b.c"])
    assert single.renames == {"helper": "helper_single_rounding"}
    assert single.defines == ["-DCMSIS_NN_USE_SINGLE_ROUNDING", "-Dhelper=helper_single_rounding"]
    # Compile the groups as the Makefile does and link them into one program: no clash, and each
    # kernel sees its own rounding.
    objects = []
    for group in sources.groups:
        for rel in group.sources:
            obj = tmp_path / group.key / rel.replace("/", "_").replace(".c", ".o")
            obj.parent.mkdir(exist_ok=True)
            subprocess.run(["cc", "-c", "-I", str(library.root / "Include"), *group.defines,
                            str(library.root / "Source" / rel), "-o", str(obj)], check=True)
            objects.append(str(obj))
    main = tmp_path / "main.c"
    main.write_text('#include <stdio.h>\nint kern_a(void);\nint kern_b(void);\n'
                    'int main(void) { printf("%d %d\\n", kern_a(), kern_b()); return 0; }\n')
    subprocess.run(["cc", str(main), *objects, "-o", str(tmp_path / "prog")], check=True)
    assert subprocess.run([str(tmp_path / "prog")], capture_output=True, text=True, check=True).stdout == "0 11\n"
    # A layer that does not requantize (None) takes its kernel's rounding, else double.
    mixed = kernel_sources([("kern_a", library, None, ""), ("kern_b", library, None, ""),
                            ("kern_b", library, "single", "")], library)
    assert [(g.rounding, sorted(g.roots)) for g in mixed.groups] == [("double", ["kern_a"]), ("single", ["kern_b"])]
    with pytest.raises(EdgeDeployError, match="both roundings"):
        kernel_sources([("kern_a", library, "double", ""), ("kern_a", library, "single", "")], library)


def _v6_like_checkout(root: Path) -> Path:
    """A checkout laid out as upstream's, made of edge-deploy's own arm_* sources (upstream is
    not carried by any registry here) minus the two functions v6.0.0 lacks: arm_pad_s8 and
    arm_fully_connected_per_channel_s8 (sources and declarations)."""
    firmware = resource_dir("firmware")
    (root / "Include").mkdir(parents=True)
    header = (firmware / "include" / "arm_nnfunctions.h").read_text()
    for name in ("arm_pad_s8", "arm_fully_connected_per_channel_s8"):
        header, count = re.subn(rf"arm_cmsis_nn_status {name}\([^;]*\);", "", header)
        assert count == 1, name
    (root / "Include" / "arm_nnfunctions.h").write_text(header)
    for name in ("arm_nn_types.h",):
        shutil.copy(firmware / "include" / name, root / "Include" / name)
    for name in ("ed_nn_support.h", "ed_fully_connected.h", "ed_softmax_support.h"):
        shutil.copy(firmware / "kernels" / name, root / "Include" / name)
    (root / "Source" / "Functions").mkdir(parents=True)
    for source in sorted((firmware / "kernels").glob("arm_*.c")):
        if source.stem not in ("arm_pad_s8", "arm_fully_connected_per_channel_s8"):
            shutil.copy(source, root / "Source" / "Functions" / source.name)
    return root


def test_a_checkout_without_a_function_runs_that_layer_on_edge_deploys_kernel(qemu_arm, tmp_path):
    checkout = _v6_like_checkout(tmp_path / "CMSIS-NN")
    result = build_model(FIXTURES / "pad_conv1d.tflite", "mps2-an386", tmp_path / "out", cmsis_nn=checkout)
    report = result.report
    layers = {layer["op"]: layer for layer in report["layers"] if layer["kernel"]}
    assert layers["pad"]["kernel"] == "arm_pad_s8"
    assert "does not declare arm_pad_s8 (upstream has it since v7.0.0)" in layers["pad"]["kernel_choice"]["reason"]
    fallback = report["cmsis_nn"]["fallback_layers"]
    assert layers["pad"]["c_function"] in fallback and layers["fully_connected"]["c_function"] in fallback
    assert layers["conv2d"]["c_function"] not in fallback
    assert release_key(report["cmsis_nn"]["api_level"]) < release_key("7.0.0")  # it lacks v7.0.0 functions
    groups = report["kernel_sources"]
    assert "arm_pad_s8.c" in groups["kernels"]["sources"] and "Functions/arm_convolve_s8.c" in groups["cmsis_nn"]["sources"]
    assert "Functions/arm_pad_s8.c" not in groups["cmsis_nn"]["sources"]
    header = (result.src_dir / "ed_cmsis_nn_fallback.h").read_text()
    # The fully connected layer runs edge-deploy's cheapest kernel for it; an arm_* one is declared here.
    fc_kernel = layers["fully_connected"]["kernel"]
    assert "arm_cmsis_nn_status arm_pad_s8(" in header
    assert f"{fc_kernel}(" in header or not fc_kernel.startswith("arm_")
    assert '#include "ed_cmsis_nn_fallback.h"' in (result.src_dir / "model.c").read_text()
    batch = np.random.default_rng(3).integers(-128, 128, (6, 1, 200, 1), dtype=np.int8)
    graph = result.model.graph
    assert np.array_equal(run_batch(tmp_path / "out", batch).outputs, run(graph, batch))
    # The project rebuilds on its own, listing only what it compiles.
    makefile = (result.src_dir / "Makefile").read_text()
    assert "$(CMSIS_NN)/Source/Functions/arm_softmax_s8.c" in makefile
    assert "arm_elementwise_mul_s8.c" not in makefile


def _fc_graph(seed: int = 0):
    """Input (1, 48) -> per-channel fully connected (40 units): enough outputs that single and
    double rounding disagree on some of them."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder("fc_rounding", "int8")
    x = b.input("input", (1, 48), QuantParams([np.float32(0.05)], [3]))
    scales = np.float32(2.0 ** rng.uniform(-9, -6, 40))
    y = b.fully_connected(x, "dense", rng.integers(-127, 128, (40, 48)), rng.integers(-2000, 2000, 40),
                          quant=QuantParams([np.float32(0.07)], [-5]), w_quant=QuantParams(scales, np.zeros(40), 0),
                          b_quant=QuantParams(np.float32(0.05) * scales, np.zeros(40), 0))
    return b.finish([y])


def test_rounding_litert_builds_firmware_bit_exact_with_the_interpreters_policy(qemu_arm, tmp_path):
    graph = _fc_graph()
    batch = np.random.default_rng(1).integers(-128, 128, (16, 48), dtype=np.int8)
    double, litert = run(graph, batch, rounding="double"), run(graph, batch, rounding="litert")
    assert not np.array_equal(double, litert)  # the model tells the two apart
    default = build_graph(graph, "mps2-an386", tmp_path / "default")
    single = build_graph(graph, "mps2-an386", tmp_path / "litert", rounding="litert")
    assert default.report["rounding"] == "cmsis-nn" and single.report["rounding"] == "litert"
    assert [layer["rounding"] for layer in single.report["layers"]] == ["single"]
    assert "KERNELS_SINGLE_ROUNDING_SOURCES" in (single.src_dir / "Makefile").read_text()
    assert "single rounding" in (single.src_dir / "model.c").read_text()
    assert np.array_equal(run_batch(tmp_path / "default", batch).outputs, double)
    np.save(tmp_path / "x.npy", batch)
    subprocess.run(["edge-deploy", "run", str(tmp_path / "litert"), "--inputs", str(tmp_path / "x.npy"),
                    "--out", str(tmp_path / "y.npy"), "--check"], check=True, capture_output=True)
    assert np.array_equal(np.load(tmp_path / "y.npy"), litert)
    check = json.loads((tmp_path / "litert" / "check.json").read_text())
    assert (check["rounding"], check["mismatches"]) == ("litert", 0)
    with pytest.raises(EdgeDeployError, match="unknown --rounding"):
        build_graph(graph, "mps2-an386", tmp_path / "bad", rounding="single")
