"""Profiling: exact instruction counts from QEMU, a Cortex-M4 cycle model, per-layer reports."""
