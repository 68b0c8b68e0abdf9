"""PNG plots beside the metrics: training curves and the confusion matrix (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edge_deploy.fsutil import atomic_output_file


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on build machines
    import matplotlib.pyplot as plt

    return plt


def plot_training_curves(history: Sequence[Sequence[dict]], path: str | Path) -> Path:
    """Draw loss and accuracy per epoch (train and validation, one line per member); write PNG."""
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for index, member in enumerate(history):
        epochs = [h["epoch"] for h in member]
        tag = f"m{index + 1} " if len(history) > 1 else ""
        ax_loss.plot(epochs, [h["train_loss"] for h in member], label=f"{tag}train")
        ax_loss.plot(epochs, [h["val_loss"] for h in member], "--", label=f"{tag}val")
        ax_acc.plot(epochs, [h["train_accuracy"] for h in member], label=f"{tag}train")
        ax_acc.plot(epochs, [h["val_accuracy"] for h in member], "--", label=f"{tag}val")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss", yscale="log")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_output_file(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return Path(path)


def plot_confusion(confusion: Sequence[Sequence[int]], class_names: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Draw the confusion matrix (rows true, columns predicted) with counts; write PNG."""
    plt = _pyplot()
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * n, 0.8 + 0.6 * n))
    ax.imshow(confusion, cmap="Blues")
    peak = max((max(row) for row in confusion), default=0)
    for i in range(n):
        for j in range(n):
            value = confusion[i][j]
            if value:
                ax.text(j, i, str(value), ha="center", va="center", fontsize=7, color="white" if value > peak / 2 else "black")
    ax.set_xticks(range(n), class_names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n), class_names, fontsize=7)
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion (test, no noise)")
    fig.tight_layout()
    with atomic_output_file(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return Path(path)
