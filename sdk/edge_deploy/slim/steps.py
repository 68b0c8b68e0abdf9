"""One method applied to one checkpoint, and what a checkpoint costs and scores.

Shared by the single run, the search and the sweep (:mod:`edge_deploy.slim.pipeline`,
:mod:`edge_deploy.slim.points`), so a point computed in a worker process is the same as one
computed in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from edge_deploy.models.pruning import pruned_members
from edge_deploy.slim.checkpoints import slimmed_checkpoint
from edge_deploy.slim.confidence import accuracy_interval
from edge_deploy.slim.cost import input_densities, model_cost, zero_skipping_macs
from edge_deploy.slim.dataset import SlimData
from edge_deploy.slim.finetune import accuracy
from edge_deploy.slim.registry import get_method
from edge_deploy.train.checkpoint import Checkpoint


def activation_plan(checkpoint: Checkpoint) -> dict[str, Any] | None:
    """The activation-pruning plan a checkpoint carries, or None."""
    return checkpoint.arch.get("slim", {}).get("activation")


def measure(members: Sequence[torch.nn.Module], data: SlimData, input_shape: tuple[int, ...],
            activation: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the cost and accuracy of ``members`` (with the activation plan applied, if any):
    params and MACs (nonzero/effective and dense), validation and test accuracy in percent with
    their 95 % binomial (Wilson) intervals and window counts."""
    example = torch.as_tensor(data.val[0][:1])
    run = pruned_members(members, activation, example) if activation else list(members)
    cost = model_cost(members[0], input_shape)
    densities = input_densities(members[0], torch.as_tensor(data.val[0][:256]), run[0])
    val, test = accuracy(run, *data.val), accuracy(run, *data.test)
    return {
        "params": cost.nonzero_params, "dense_params": cost.params,
        "macs": zero_skipping_macs(members[0], input_shape, densities) if activation else cost.effective_macs,
        "dense_macs": cost.macs,
        "input_density": {k: round(v, 4) for k, v in densities.items()},
        "val_accuracy": val, "val_accuracy_ci": accuracy_interval(val, len(data.val[1])),
        "test_accuracy": test, "test_accuracy_ci": accuracy_interval(test, len(data.test[1])),
    }


def input_shape_of(checkpoint: Checkpoint) -> tuple[int, ...]:
    """The shape of one input sample of ``checkpoint``: (channels, length) or (channels, H, W)."""
    return checkpoint.input_shape


def apply_method(checkpoint: Checkpoint, method_name: str, section: Any, data: SlimData,
                 augmentation: dict[str, Any]) -> tuple[Checkpoint, dict[str, Any], dict[str, Any]]:
    """Run the method ``method_name`` with its config ``section`` on ``checkpoint``; return the
    new checkpoint (fine-tuned with ``augmentation``, :meth:`SlimConfigBase.augmentation`), the step record (settings, details, validation accuracy, params, MACs) and
    the new checkpoint's :func:`measure` figures."""
    method = get_method(method_name)
    outcome = method.run(checkpoint.members, data, section, augmentation)
    activation = outcome.activation or activation_plan(checkpoint)
    after = measure(outcome.members, data, input_shape_of(checkpoint), activation)
    record = {"method": method_name, **outcome.details}
    slimmed = slimmed_checkpoint(checkpoint, outcome.members, record, outcome.activation)
    step = {**record, "val_accuracy": after["val_accuracy"], "params": after["params"], "macs": after["macs"]}
    return slimmed, step, after


def int8_accuracy(checkpoint: Checkpoint, data: SlimData) -> float:
    """Return the test accuracy in percent of member 0 quantized to int8 (the quantize stage's
    post-training quantization, run on the reference interpreter). An activation-pruning plan
    goes into the int8 graph as each layer's ``act_threshold`` (``quantize_checkpoint``), so the
    figure includes it."""
    from edge_deploy.quantize.pipeline import compare_accuracy, quantize_checkpoint

    quantized = quantize_checkpoint(checkpoint)
    return 100.0 * compare_accuracy(checkpoint, quantized.graph, data=data.spec["data"], split="test")["int8_accuracy"]
