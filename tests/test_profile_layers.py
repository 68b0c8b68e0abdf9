"""Per-layer attribution through ed_profile_mark on a hand-written two-layer firmware."""

from __future__ import annotations

import json

import pytest

from edge_deploy.errors import EdgeDeployError
from edge_deploy.profile.baremetal import build_elf
from edge_deploy.elf import read_elf_symbols
from edge_deploy.profile.profiler import LayerInfo, profile_elf
from edge_deploy.profile.qemu_run import run_with_counts
from edge_deploy.profile.report import write_profile

pytestmark = pytest.mark.qemu

# Two "layers" share one kernel, as generated layers share CMSIS-NN kernels: the split has to
# come from the marks, not from function symbols.
TWO_LAYERS_C = r"""
#include <stdint.h>
#include "ed_profile.h"

static int8_t a[64], b[64];
static int32_t out[16];

__attribute__((noinline)) int32_t dot_s8(const int8_t *x, const int8_t *w, int n)
{
    int32_t acc = 0;
    for (int i = 0; i < n; i++) {
        acc += x[i] * w[i];
    }
    return acc;
}

static void infer(void)
{
    ed_profile_mark(0);                       /* layer 0: 8 dot products of 64 */
    for (int o = 0; o < 8; o++) out[o] = dot_s8(a, b, 64);
    ed_profile_mark(1);                       /* layer 1: 4 dot products of 32 */
    for (int o = 0; o < 4; o++) out[8 + o] = dot_s8(a, b + o, 32);
    ed_profile_mark(ED_PROFILE_MARK_END);
}

int main(void)
{
    for (int i = 0; i < 64; i++) { a[i] = (int8_t)(i - 32); b[i] = (int8_t)(3 * i); }
    for (int r = 0; r < INFERENCES; r++) infer();
    return out[0] == 0;
}
"""

LAYERS = [LayerInfo("conv", "conv2d", 8 * 64), LayerInfo("dense", "fully_connected", 4 * 32)]


def _build(tmp_path, repo_root, inferences=1, name="two_layers"):
    src = tmp_path / f"{name}.c"
    src.write_text(TWO_LAYERS_C.replace("INFERENCES", str(inferences)))
    return build_elf([src], tmp_path / f"{name}.elf", include_dirs=[repo_root / "firmware" / "runtime"], opt="-O1")


@pytest.fixture(scope="module")
def firmware(tmp_path_factory, repo_root, qemu_arm):
    return _build(tmp_path_factory.mktemp("layers"), repo_root)


def test_marks_split_the_counts_per_layer(firmware):
    run = run_with_counts(firmware)
    assert run.exit_code == 0
    assert run.counts.marks_seen() == [0, 1, 255]
    dot = read_elf_symbols(firmware).get("dot_s8")
    per_mark = run.counts.per_mark()
    for mark, calls, n in ((0, 8, 64), (1, 4, 32)):
        in_dot = {a: c for a, c in per_mark[mark].items() if dot.addr <= a < dot.end}
        assert in_dot[dot.addr] == calls           # the shared kernel's entry: one per call
        assert max(in_dot.values()) == calls * n   # its loop body: once per MAC
    assert sum(seg.total for seg in run.counts.segments) == run.counts.total


def test_profile_layers_add_up_and_repeat(firmware):
    first = profile_elf(firmware, LAYERS)
    assert [layer.name for layer in first.layers] == ["conv", "dense"]
    assert first.instructions == sum(layer.instructions for layer in first.layers)
    assert first.cycles == sum(layer.cycles for layer in first.layers)
    assert first.instructions < first.run_instructions and first.cycles < first.run_cycles
    assert sum(t.instructions for t in first.functions.values()) == first.run_instructions
    assert first.layers[0].instructions > 4 * first.layers[1].instructions * 0.9
    assert profile_elf(firmware, LAYERS) == first


def test_repeated_inferences_are_reported_per_inference(tmp_path, repo_root, qemu_arm):
    elf = _build(tmp_path, repo_root, inferences=3, name="three")
    run = run_with_counts(elf)
    assert run.counts.marks_seen() == [0, 1, 255] * 3
    profile = profile_elf(elf, LAYERS)
    assert profile.inferences == 3
    for layer in profile.layers:
        segments = [seg.total for seg in run.counts.segments if seg.mark == layer.index]
        assert segments == [layer.instructions] * 3


def test_writers_produce_the_documented_fields(firmware, tmp_path):
    profile = profile_elf(firmware, LAYERS)
    data = write_profile(profile, tmp_path, board="mps2-an386", clock_hz=25_000_000)
    on_disk = json.loads((tmp_path / "profile.json").read_text())
    assert on_disk == data
    for key in ("source", "instructions", "cycles", "mac_per_cycle", "layers", "latency_ms"):
        assert key in on_disk
    assert on_disk["mac_per_cycle"] == round(640 / profile.cycles, 4)
    assert on_disk["latency_ms"] == round(profile.cycles / 25e6 * 1e3, 4)
    for layer, row in zip(profile.layers, on_disk["layers"]):
        assert {k: row[k] for k in ("name", "op", "macs", "instructions", "cycles")} == {
            "name": layer.name, "op": layer.op, "macs": layer.macs,
            "instructions": layer.instructions, "cycles": layer.cycles}
    table = (tmp_path / "profile.md").read_text()
    assert f"| 0 | conv | conv2d | 512 | {profile.layers[0].instructions:,} |" in table
    png = (tmp_path / "profile.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    write_profile(profile, tmp_path, board="mps2-an386", clock_hz=25_000_000)
    assert (tmp_path / "profile.png").read_bytes() == png


def test_profile_without_marks_or_with_wrong_layers_fails_clearly(tmp_path, firmware, qemu_arm):
    plain = tmp_path / "plain.c"
    plain.write_text("int main(void) { return 0; }\n")
    elf = build_elf([plain], tmp_path / "plain.elf")
    with pytest.raises(EdgeDeployError, match="no profiling marks"):
        profile_elf(elf)
    with pytest.raises(EdgeDeployError, match="marked 2 layers"):
        profile_elf(firmware, LAYERS[:1])
