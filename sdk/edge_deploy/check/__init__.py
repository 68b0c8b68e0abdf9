"""Measure a build on its target and hold it to budgets: the ``profile`` and ``check`` commands.

* :func:`profile_build` (``edge_deploy.check.build_profile``): ``DIR/profile.json``, ``.md``,
  ``.png`` from QEMU (exact instructions, modelled cycles) or from the firmware's own cycle
  counter on a board or in Renode; :func:`firmware_figures` builds a checkpoint and profiles it
  (how ``slim --measure-on`` measures a point).
* :func:`build_profile_firmware` (``edge_deploy.check.profile_firmware``): the build's model
  with a main that runs one inference and exits, for the QEMU profiler.
* :func:`check_budgets` (``edge_deploy.check.budgets``): sizes, cycles, latency and the int8
  firmware's accuracy against limits, one :class:`BudgetRow` each.
"""

from edge_deploy.check.budgets import BudgetRow, Budgets, CheckResult, check_budgets, format_table
from edge_deploy.check.build_profile import firmware_figures, profile_build, profile_input
from edge_deploy.check.profile_firmware import PROFILE_ELF, build_profile_firmware, run_layers

__all__ = [
    "PROFILE_ELF", "BudgetRow", "Budgets", "CheckResult", "build_profile_firmware", "check_budgets", "firmware_figures",
    "format_table",
    "profile_build", "profile_input", "run_layers",
]
