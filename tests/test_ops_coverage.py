"""docs/ops.md's coverage table is what the op and kernel registries say (regenerate it with
`python -m edge_deploy.kernels.coverage --write`), and it covers every op."""

from __future__ import annotations

from edge_deploy.kernels.coverage import BEGIN, END, coverage_markdown, coverage_rows
from edge_deploy.ops import op_kinds
from edge_deploy.tflite.reader import supported_operators


def test_docs_table_is_the_generated_one(repo_root):
    text = (repo_root / "docs" / "ops.md").read_text()
    table = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert table == coverage_markdown().strip(), "run: python -m edge_deploy.kernels.coverage --write"


def test_every_operator_and_op_has_a_row_with_a_kernel_or_a_view():
    rows = coverage_rows()
    assert [r.operator for r in rows] == supported_operators()
    assert {r.kind for r in rows} == set(op_kinds())
    assert all(r.view or r.kernels for r in rows)
    by_name = {r.operator: r for r in rows}
    assert by_name["TRANSPOSE"].upstream == ("arm_transpose_s8 (7.0.0)",)
    assert by_name["SPLIT"].kind == by_name["UNPACK"].kind == "slice"
    assert "ed_lut_s8" in by_name["HARD_SWISH"].kernels
