"""One ``edge-deploy slim`` run: a checkpoint, a chain of methods, a smaller checkpoint and a report.

Methods run in the order given, each on the previous one's output (slimming then Scalpel, for
example); activation pruning, which calibrates on the final weights, must come last. Accuracy is
measured on the checkpoint's validation split (for decisions and the loss limit) and reported on
its test split, in percent.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from edge_deploy.data import load_windows
from edge_deploy.errors import EdgeDeployError
from edge_deploy.slim.activation import choose_winner_rates, pruned_members
from edge_deploy.slim.checkpoints import slimmed_checkpoint
from edge_deploy.slim.config import METHODS, SlimConfig
from edge_deploy.slim.cost import input_densities, model_cost, zero_skipping_macs
from edge_deploy.slim.finetune import accuracy
from edge_deploy.slim.scalpel import scalpel_prune
from edge_deploy.slim.slimming import slim_network
from edge_deploy.train.checkpoint import Checkpoint

Windows = tuple[np.ndarray, np.ndarray]


@dataclass
class SlimData:
    """The train, validation and test windows of a run, and the ``load_windows`` arguments."""

    train: Windows
    val: Windows
    test: Windows
    spec: dict[str, Any]


def load_slim_data(checkpoint: Checkpoint, data: str | None = None) -> SlimData:
    """Load the windows the checkpoint was trained on, or those of ``data`` (a folder, or
    "bundled" for the excerpt) cut the same way. Raises EdgeDeployError on bad data, when its
    classes differ from the model's, and when "bundled" is asked for a model trained on a data
    folder at the same load (the excerpt lies inside its training windows, so the accuracy budget
    and the reported accuracy would be measured on training samples)."""
    from edge_deploy.train.evaluate import refuse_excerpt_inside_training

    adapted = checkpoint.data.get("adapted_bn")
    if adapted:
        # Fine-tuning re-estimates BatchNorm statistics on the training load: the adaptation
        # would be lost without a word.
        raise EdgeDeployError(
            f"the checkpoint's BatchNorm statistics were adapted (AdaBN) to load(s) {adapted.get('load_hp')}; "
            "slimming fine-tunes on the training load and would undo that",
            hint="slim the model before adapting it, then adapt the slimmed one: "
            "edge-deploy evaluate SLIM/model.pt --load-hp N --adapt-bn --save-adapted ADAPTED.pt",
        )
    accepted = set(inspect.signature(load_windows).parameters) - {"data", "split"}
    spec = {k: v for k, v in checkpoint.data.items() if k in accepted}
    spec["window"] = int(checkpoint.input["length"])
    source = checkpoint.data.get("data") if data is None else (None if data == "bundled" else data)
    refuse_excerpt_inside_training(
        checkpoint.data, source, spec.get("load_hp", (0,)),
        hint=f"slim on the training folder (--data {checkpoint.data.get('data')}, the default): its validation and "
        "test splits, on which the accuracy loss is measured, are disjoint in time from training",
    )
    splits = {}
    for split in ("train", "val", "test"):
        x, y, names = load_windows(source, split, **spec)
        if list(names) != list(checkpoint.classes):
            raise EdgeDeployError(f"the data's classes {names} differ from the model's {checkpoint.classes}",
                                  hint="fine-tune on data with the classes the model was trained on")
        splits[split] = (x, y)
    return SlimData(train=splits["train"], val=splits["val"], test=splits["test"],
                    spec={"data": source, **spec})


def check_methods(methods: Sequence[str]) -> list[str]:
    """Return ``methods`` validated: known names, activation pruning only last, no repeats.
    Raises EdgeDeployError otherwise."""
    methods = list(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise EdgeDeployError(f"unknown slim method(s): {', '.join(unknown) or '(none given)'}",
                              hint=f"use --method with {', '.join(METHODS)}")
    if len(set(methods)) != len(methods):
        raise EdgeDeployError(f"slim method repeated in {methods}", hint="name each method once; use passes for more")
    if "activation" in methods[:-1]:
        raise EdgeDeployError("activation pruning must be the last method",
                              hint="it calibrates thresholds on the final weights: e.g. --method scalpel --method activation")
    return methods


def measure(members: Sequence[torch.nn.Module], data: SlimData, input_shape: tuple[int, ...],
            activation: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the cost and accuracy of ``members`` (with the activation plan applied, if any):
    params and MACs (nonzero/effective and dense), validation and test accuracy in percent."""
    example = torch.as_tensor(data.val[0][:1])
    run = pruned_members(members, activation, example) if activation else list(members)
    cost = model_cost(members[0], input_shape)
    densities = input_densities(members[0], torch.as_tensor(data.val[0][:256]), run[0])
    return {
        "params": cost.nonzero_params, "dense_params": cost.params,
        "macs": zero_skipping_macs(members[0], input_shape, densities) if activation else cost.effective_macs,
        "dense_macs": cost.macs,
        "input_density": {k: round(v, 4) for k, v in densities.items()},
        "val_accuracy": accuracy(run, *data.val), "test_accuracy": accuracy(run, *data.test),
    }


def int8_accuracy(checkpoint: Checkpoint, data: SlimData) -> float:
    """Return the test accuracy in percent of member 0 quantized to int8 (the quantize stage's
    post-training quantization, run on the reference interpreter). An activation-pruning plan
    goes into the int8 graph as each layer's ``act_threshold`` (``quantize_checkpoint``), so the
    figure includes it."""
    from edge_deploy.quantize.pipeline import compare_accuracy, quantize_checkpoint

    quantized = quantize_checkpoint(checkpoint)
    return 100.0 * compare_accuracy(checkpoint, quantized.graph, data=data.spec["data"], split="test")["int8_accuracy"]


def _run_method(method: str, members: Sequence[torch.nn.Module], config: SlimConfig, data: SlimData,
                noise: list[float] | None) -> tuple[list[torch.nn.Module], dict[str, Any], dict[str, Any] | None]:
    """Run one method; return the new members, the details to record, and the activation plan."""
    if method == "slimming":
        result = slim_network(members, data.train, data.val, config.slimming.settings(noise))
        settings = {**config.slimming.model_dump(), "noise_snr_db": noise}
        return result.members, {"settings": settings, "passes": result.passes}, None
    if method == "scalpel":
        result = scalpel_prune(members, data.train, data.val, config.scalpel.settings(noise))
        settings = {**config.scalpel.model_dump(), "noise_snr_db": noise}
        return result.members, {"settings": settings, "layers": result.layers}, None
    section = config.activation
    pick = np.random.default_rng(0).permutation(len(data.train[0]))[: section.calibration_windows]
    plan = choose_winner_rates(members, data.train[0][pick], data.val, section.budget, section.mode, section.rates)
    return list(members), {"settings": section.model_dump(), "plan": plan.to_dict()}, plan.to_dict()


def run_slim(checkpoint: Checkpoint, methods: Sequence[str], config: SlimConfig,
             data: SlimData, *, int8: bool = False) -> tuple[Checkpoint, dict[str, Any]]:
    """Apply ``methods`` in order to ``checkpoint``; return the new checkpoint and the report
    (the content of ``slim.json``; with ``int8``, also the int8 test accuracy before and after).
    Raises EdgeDeployError for bad methods or settings, or when the result loses more than
    ``config.max_accuracy_loss`` validation points."""
    methods = check_methods(methods)
    if checkpoint.arch.get("slim", {}).get("activation") and set(methods) - {"activation"}:
        raise EdgeDeployError("this checkpoint already carries an activation-pruning plan, which "
                              "changing its weights would make stale",
                              hint="slim the checkpoint from before activation pruning, and prune activations last")
    input_shape = (int(checkpoint.input["channels"]), int(checkpoint.input["length"]))
    before = measure(checkpoint.members, data, input_shape, checkpoint.arch.get("slim", {}).get("activation"))
    current, steps, activation = checkpoint, [], None
    noise = config.noise_snr_db(checkpoint.config)
    for method in methods:
        members, details, plan = _run_method(method, current.members, config, data, noise)
        activation = plan or activation
        after = measure(members, data, input_shape, activation)
        step = {"method": method, **details, "val_accuracy": after["val_accuracy"],
                "params": after["params"], "macs": after["macs"]}
        steps.append(step)
        current = slimmed_checkpoint(current, members, {"method": method, **details}, activation)
    after = measure(current.members, data, input_shape, activation or current.arch.get("slim", {}).get("activation"))
    report = {
        "methods": methods,
        "data": data.spec["data"] or "bundled excerpt",
        "params_before": before["params"], "params_after": after["params"],
        "dense_params_before": before["dense_params"], "dense_params_after": after["dense_params"],
        "macs_before": before["macs"], "macs_after": after["macs"],
        "dense_macs_before": before["dense_macs"], "dense_macs_after": after["dense_macs"],
        "accuracy_before": before["test_accuracy"], "accuracy_after": after["test_accuracy"],
        "val_accuracy_before": before["val_accuracy"], "val_accuracy_after": after["val_accuracy"],
        "input_density_after": after["input_density"],
        "steps": steps,
    }
    loss = before["val_accuracy"] - after["val_accuracy"]
    if config.max_accuracy_loss is not None and loss > config.max_accuracy_loss:
        raise EdgeDeployError(
            f"slimming with {' then '.join(methods)} loses {loss:.2f} validation accuracy points "
            f"({before['val_accuracy']:.2f} % -> {after['val_accuracy']:.2f} %), more than the "
            f"allowed {config.max_accuracy_loss}",
            hint="prune less (a lower ratio or sparsity), fine-tune longer, or raise max_accuracy_loss",
        )
    if int8:
        report["int8_accuracy_before"] = int8_accuracy(checkpoint, data)
        report["int8_accuracy_after"] = int8_accuracy(current, data)
    current.metrics["slim"] = {k: v for k, v in report.items() if k != "steps"}
    return current, report
