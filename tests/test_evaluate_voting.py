"""Ensemble voting and the metrics' arithmetic, on real modules with known outputs."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from edge_deploy.train.evaluate import classification_metrics, predict_labels

torch.set_num_threads(1)


class FixedLogits(nn.Module):
    """A module whose logits for sample i are row i of a fixed table (input values ignored)."""

    def __init__(self, table: list[list[float]]) -> None:
        super().__init__()
        self.register_buffer("table", torch.tensor(table, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = x[:, 0, 0].long()
        return self.table[index]


def test_majority_vote_and_tie_break() -> None:
    x = torch.arange(3, dtype=torch.float32).reshape(3, 1, 1)
    a = FixedLogits([[5, 0, 0], [0, 5, 0], [1, 0, 0]])
    b = FixedLogits([[5, 0, 0], [0, 0, 5], [0, 0.0, 3]])
    c = FixedLogits([[0, 5, 0], [0, 0, 5], [0, 2, 0]])
    # sample 0: votes 0,0,1 -> 0; sample 1: votes 1,2,2 -> 2; sample 2: votes 0,2,1 tie -> highest mean prob.
    probs = torch.stack([m(x).softmax(-1) for m in (a, b, c)]).mean(0)
    predicted = predict_labels([a, b, c], x.numpy())
    assert predicted[:2].tolist() == [0, 2]
    assert predicted[2] == int(probs[2].argmax())
    assert predict_labels([c], x.numpy()).tolist() == [1, 2, 1]


def test_metrics_arithmetic() -> None:
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0, 2])
    metrics = classification_metrics(y_true, y_pred, ["a", "b", "c", "d"])
    assert metrics["accuracy"] == 4 / 6
    assert metrics["per_class"] == {"a": 0.5, "b": 2 / 3, "c": 1.0, "d": None}
    assert metrics["confusion"][1] == [1, 2, 0, 0] and metrics["n_windows"] == 6
