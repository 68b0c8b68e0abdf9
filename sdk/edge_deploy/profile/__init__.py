"""Profiling: exact instruction counts from QEMU, a Cortex-M4 cycle model, per-layer reports.

The calls other stages make:

* :func:`profile_elf` (``edge_deploy.profile.profiler``): run a firmware ELF that marks its
  layers with ``ed_profile_mark`` (firmware/runtime/ed_profile.h) under QEMU with the count
  plugin; returns a :class:`Profile` with exact instructions and estimated cycles per layer.
* :func:`write_profile` (``edge_deploy.profile.report``): write ``profile.json``, ``profile.md``
  and ``profile.png``.
* :func:`run_with_counts` (``edge_deploy.profile.qemu_run``): the raw per-address counts.
* :func:`estimate_cycles` and :class:`CortexM4Timing` (``edge_deploy.profile.cycle_model``).
"""

from edge_deploy.profile.cycle_model import CortexM4Timing, estimate_cycles
from edge_deploy.profile.profiler import LayerInfo, LayerProfile, Profile, profile_elf
from edge_deploy.profile.qemu_run import run_with_counts
from edge_deploy.profile.report import write_profile

__all__ = [
    "CortexM4Timing", "LayerInfo", "LayerProfile", "Profile", "estimate_cycles", "profile_elf",
    "run_with_counts", "write_profile",
]
