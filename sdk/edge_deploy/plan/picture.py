"""A picture of an arena plan: each buffer a box over the steps it is alive (x) and the bytes
it occupies (y), so wasted space and the busiest step are visible at a glance."""

from __future__ import annotations

import os
from pathlib import Path

from edge_deploy.fsutil import atomic_output_file
from edge_deploy.plan.arena import ArenaPlan


def write_plan_png(plan: ArenaPlan, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Draw ``plan`` to a PNG at ``path`` (written atomically); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    n_steps = max(len(plan.steps), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * n_steps + 2), 4.5), dpi=110)
    colors = plt.get_cmap("tab20")
    for i, b in enumerate(plan.buffers):
        scratch = b.scratch_of is not None
        ax.add_patch(Rectangle((b.first - 0.45, b.offset), b.last - b.first + 0.9, b.size,
                               facecolor="lightgrey" if scratch else colors(i % 20), edgecolor="black",
                               linewidth=0.6, hatch="//" if scratch else None, alpha=0.9))
        label = "scratch" if scratch else b.tensors[0] + (f" +{len(b.tensors) - 1}" if len(b.tensors) > 1 else "")
        if b.size >= 0.04 * max(plan.arena_bytes, 1):
            ax.text(b.first - 0.4, b.offset + b.size / 2, label, fontsize=7, va="center", clip_on=True)
    ax.axhline(plan.lower_bound_bytes, color="red", linestyle="--", linewidth=1,
               label=f"lower bound {plan.lower_bound_bytes} B")
    ax.axhline(plan.arena_bytes, color="black", linewidth=1, label=f"arena {plan.arena_bytes} B")
    ax.set_xlim(-0.6, n_steps - 0.4)
    ax.set_ylim(0, max(plan.arena_bytes, plan.lower_bound_bytes, 1) * 1.08)
    ax.set_xticks(range(n_steps))
    ax.set_xticklabels([s.name for s in plan.steps], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("arena offset (bytes)")
    ax.set_title(title or f"arena plan ({plan.strategy})", fontsize=10)
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    with atomic_output_file(path) as tmp:
        # Fixed metadata so the same plan gives the same bytes.
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)
    return Path(path)
