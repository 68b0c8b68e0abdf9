"""``edge-deploy build`` and ``edge-deploy run``: an int8 model to firmware, and firmware on inputs.

* :func:`edge_deploy.build.firmware_build.build_model` / ``build_graph``: plan, budget check,
  generated project, compile, ``report.json`` (see docs/build.md).
* :mod:`edge_deploy.build.device_run`: feed a batch to a build's firmware on QEMU, Renode or a
  board over the serial link, and compare with the reference interpreter.
* :mod:`edge_deploy.build.host_model`: the generated model compiled for the host (portable or
  emulated-SIMD kernels) under AddressSanitizer and UndefinedBehaviorSanitizer.
* :mod:`edge_deploy.build.hostlib` / ``kernel_firmware``: the kernels alone, on the host via
  ctypes and on QEMU, for the kernel tests.

Submodules are imported where used, so importing this package stays light.
"""
