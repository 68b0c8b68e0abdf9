"""Static memory planning: activations and kernel scratch at fixed offsets in one arena.

* :func:`plan_arena` (``edge_deploy.plan.arena``): steps in run order -> :class:`ArenaPlan`
  with offsets, ``arena_bytes`` and ``lower_bound_bytes``.
* :func:`check_plan`: asserts that no two live buffers overlap.
* :func:`write_plan_png` (``edge_deploy.plan.picture``): the plan as a picture.
"""

from edge_deploy.plan.arena import ArenaPlan, Buffer, PlanStep, check_plan, lower_bound, plan_arena

__all__ = ["ArenaPlan", "Buffer", "PlanStep", "check_plan", "lower_bound", "plan_arena", "write_plan_png"]


def write_plan_png(*args, **kwargs):
    """Draw an arena plan as a PNG; see :func:`edge_deploy.plan.picture.write_plan_png`."""
    from edge_deploy.plan.picture import write_plan_png as _write

    return _write(*args, **kwargs)
