"""One ``edge-deploy slim`` run: a checkpoint, a chain of methods, a smaller checkpoint and a report.

Methods run in the order given, each on the previous one's output (slimming then Scalpel, for
example); a method that calibrates on the final weights (activation pruning) must come last.
Every run is held to the accuracy budget ``max_accuracy_loss`` (validation points against the
input checkpoint, default 0.5): a method whose knob is given runs once and fails when it breaks
the budget; a method whose knob is not given searches its grid -- every point in parallel on the
runner -- and keeps the one with the largest saving (fewest MACs, or fewest modelled cycles
when measured on a board) within the budget; when none fits, the run fails with every point's
figures. Nothing that breaks the budget is returned. Accuracy is reported on the test split
with its binomial confidence interval, and a test loss above the budget is a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from edge_deploy.errors import EdgeDeployError
from edge_deploy.slim.config import SlimConfigBase
from edge_deploy.slim.dataset import SlimData, load_slim_data
from edge_deploy.slim.points import FirmwareMeasure, PointJob
from edge_deploy.slim.registry import SlimMethod, check_methods
from edge_deploy.slim.runners import SerialRunner, describe
from edge_deploy.slim.steps import activation_plan, input_shape_of, int8_accuracy, measure
from edge_deploy.train.checkpoint import Checkpoint

__all__ = ["SlimData", "load_slim_data", "run_slim", "choose_point", "cost_of"]

Log = Callable[[str], None]


def cost_of(result: dict[str, Any]) -> int:
    """The cost a search minimises: modelled cycles when the point was built, else MACs."""
    return result["firmware"]["cycles"] if "firmware" in result else result["figures"]["macs"]


def choose_point(results: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the result with the lowest cost among those within the budget (the first, i.e.
    the gentlest, on a tie), or None when none is."""
    fitting = [r for r in results if "error" not in r and r["within_budget"]]
    return min(fitting, key=cost_of) if fitting else None


def _point_row(result: dict[str, Any]) -> dict[str, Any]:
    if "error" in result:
        return {"value": result["value"], "error": result["error"]}
    figures = result["figures"]
    row = {"value": result["value"], "val_accuracy": figures["val_accuracy"], "val_loss": result["val_loss"],
           "test_accuracy": figures["test_accuracy"], "macs": figures["macs"], "params": figures["params"],
           "within_budget": result["within_budget"]}
    if "firmware" in result:
        row.update(result["firmware"])
    return row


def _no_point_fits(method: SlimMethod, results: Sequence[dict[str, Any]], budget: float, base: float) -> EdgeDeployError:
    lines = [describe(r) for r in results]
    return EdgeDeployError(
        f"no {method.name} {method.knob} keeps the validation accuracy within {budget} points of "
        f"{base:.2f} %; nothing was written:\n" + "\n".join(lines),
        hint=f"raise --max-loss, fine-tune longer (--epochs), or give a gentler --{method.knob}",
    )


def _step(checkpoint: Checkpoint, method: SlimMethod, config: SlimConfigBase, data: SlimData, base_val: float,
          runner, firmware: FirmwareMeasure | None, log: Log) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Run one method (once, or a search over its grid); return the chosen point's result and
    the search record (None without a search)."""
    budget = config.max_accuracy_loss
    value = method.knob_value(config.section(method.name))
    searching = value is None and bool(method.grid)
    if value is None and not method.grid:
        value = budget  # the knob is itself a budget: the method meets the run's
    values = list(method.grid) if searching else [value]
    jobs = [PointJob(checkpoint, method.name, v, config.model_dump(mode="json"), base_val, budget, firmware,
                     label=f"{method.name} {method.knob}={v:g}" if isinstance(v, float) else f"{method.name} {method.knob}={v}")
            for v in values]
    if searching:
        log(f"searching {method.name} {method.knob} over {', '.join(f'{v:g}' for v in values)} "
            f"for the largest saving within {budget} validation points ({runner.name})")
    results = (runner if searching else SerialRunner()).run(jobs, data, log if searching else (lambda _l: None))
    chosen = choose_point(results)
    if chosen is None:
        failed = [r for r in results if "error" in r]
        if not searching and failed:
            raise EdgeDeployError(f"{jobs[0].label} failed: {failed[0]['error']}", hint="see the message above")
        raise _no_point_fits(method, results, budget, base_val)
    search = None
    if searching:
        search = {"knob": method.knob, "chosen": chosen["value"], "runner": runner.name,
                  "objective": "cycles" if "firmware" in chosen else "macs",
                  "points": [_point_row(r) for r in results]}
        log(f"chose {chosen['label']}")
    return chosen, search


def run_slim(checkpoint: Checkpoint, methods: Sequence[str], config: SlimConfigBase, data: SlimData, *,
             int8: bool = False, runner=None, firmware: FirmwareMeasure | None = None,
             log: Log = lambda _line: None) -> tuple[Checkpoint, dict[str, Any]]:
    """Apply ``methods`` in order to ``checkpoint``; return the new checkpoint and the report
    (the content of ``slim.json``; with ``int8``, also the int8 test accuracy before and after).

    A method whose knob is None in ``config`` searches it on ``runner`` (default: in this
    process); with ``firmware`` (:class:`~edge_deploy.slim.points.FirmwareMeasure`) every
    searched point within the budget is built and profiled and the search minimises modelled
    cycles. Raises EdgeDeployError for bad methods or
    settings, or when no result keeps ``config.max_accuracy_loss`` validation points.
    """
    chain = check_methods(methods)
    names = [m.name for m in chain]
    if activation_plan(checkpoint) and any(not m.must_be_last for m in chain):
        raise EdgeDeployError("this checkpoint already carries an activation-pruning plan, which "
                              "changing its weights would make stale",
                              hint="slim the checkpoint from before activation pruning, and prune activations last")
    runner = runner or SerialRunner()
    input_shape = input_shape_of(checkpoint)
    before = measure(checkpoint.members, data, input_shape, activation_plan(checkpoint))
    base_val = before["val_accuracy"]
    current, steps, searches = checkpoint, [], {}
    for method in chain:
        chosen, search = _step(current, method, config, data, base_val, runner, firmware, log)
        current = chosen["checkpoint"]
        steps.append(chosen["step"])
        if search is not None:
            searches[method.name] = search
    after = chosen["figures"]
    budget = config.max_accuracy_loss
    test_loss = before["test_accuracy"] - after["test_accuracy"]
    warnings = []
    if test_loss > budget:
        warnings.append(f"the test accuracy dropped {test_loss:.2f} points ({before['test_accuracy']:.2f} % -> "
                        f"{after['test_accuracy']:.2f} %), more than the {budget}-point budget held on validation")
    resolution = 100.0 / max(1, len(data.val[1]))
    if resolution > budget / 4:
        warnings.append(f"the validation split holds {len(data.val[1])} windows (one window = {resolution:.2f} "
                        f"points): too few to resolve a {budget}-point budget; cut it finer (validation.stride)")
    report = {
        "methods": names,
        "data": data.spec["data"] or "bundled excerpt",
        "max_accuracy_loss": budget,
        "params_before": before["params"], "params_after": after["params"],
        "dense_params_before": before["dense_params"], "dense_params_after": after["dense_params"],
        "macs_before": before["macs"], "macs_after": after["macs"],
        "dense_macs_before": before["dense_macs"], "dense_macs_after": after["dense_macs"],
        "accuracy_before": before["test_accuracy"], "accuracy_after": after["test_accuracy"],
        "accuracy_ci_before": before["test_accuracy_ci"], "accuracy_ci_after": after["test_accuracy_ci"],
        "val_accuracy_before": before["val_accuracy"], "val_accuracy_after": after["val_accuracy"],
        "val_accuracy_ci_before": before["val_accuracy_ci"], "val_accuracy_ci_after": after["val_accuracy_ci"],
        "n_val_windows": len(data.val[1]), "n_test_windows": len(data.test[1]),
        "val_windows": {"stride": data.spec.get("val_stride"), "noisy_copies": data.spec.get("val_noisy_copies", 0)},
        "input_density_after": after["input_density"],
        "steps": steps,
        "search": searches,
        "warnings": warnings,
    }
    if "firmware" in chosen:
        report["firmware_after"] = chosen["firmware"]
    if int8:
        report["int8_accuracy_before"] = int8_accuracy(checkpoint, data)
        report["int8_accuracy_after"] = int8_accuracy(current, data)
    current.metrics["slim"] = {k: v for k, v in report.items() if k not in ("steps", "search")}
    return current, report
