"""``edge-deploy inspect model.tflite``: layers, shapes, MACs and parameter bytes."""

from __future__ import annotations

import click


def layer_table(graph) -> list[dict]:
    """One row per op: name, kind, output shape, MACs and parameter bytes."""
    from edge_deploy.ops import get_op

    rows = []
    for op in graph.ops:
        out = graph.tensor(op.outputs[0])
        params = sum(graph.tensor(n).nbytes for n in op.inputs if n and graph.tensor(n).is_constant)
        macs = get_op(op).macs(graph, op)
        rows.append({"name": op.name, "kind": op.kind, "shape": tuple(out.shape), "macs": macs, "param_bytes": params})
    return rows


@click.command("inspect")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def command(model, as_json):
    """Show an int8 .tflite model's layers, shapes, MACs and parameter bytes."""
    import json

    from edge_deploy.tflite import load_tflite

    graph = load_tflite(model)
    rows = layer_table(graph)
    if as_json:
        click.echo(json.dumps({"model": graph.name, "layers": [dict(r, shape=list(r["shape"])) for r in rows]}, indent=2))
        return
    x = graph.tensor(graph.inputs[0])
    quant = f"scale {x.scale:.5g}, zero point {x.zero_point}" if x.dtype != "float32" else "quantized by the model"
    click.echo(f"model {graph.name}: input {x.shape} {x.dtype} ({quant})")
    click.echo(f"{'layer':<28} {'kind':<18} {'output':<18} {'MACs':>10} {'params B':>9}")
    for r in rows:
        click.echo(f"{r['name'][:28]:<28} {r['kind']:<18} {str(r['shape']):<18} {r['macs']:>10,} {r['param_bytes']:>9,}")
    click.echo(f"total: {len(rows)} layers, {sum(r['macs'] for r in rows):,} MACs, "
               f"{sum(r['param_bytes'] for r in rows):,} parameter bytes")
    states = graph.variables()
    if states:
        click.echo(f"state: {len(states)} variable tensor(s), {sum(graph.tensor(n).nbytes for n in states):,} bytes "
                   f"kept from one inference to the next ({', '.join(states)})")
