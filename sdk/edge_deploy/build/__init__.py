"""``edge-deploy build`` and ``edge-deploy run``: an int8 model to firmware, and firmware on inputs.

* :func:`edge_deploy.build.firmware_build.build_model` / ``build_graph``: plan, budget check,
  generated project, compile, ``report.json`` (see docs/build.md).
* :mod:`edge_deploy.build.device_run`: feed a batch to a build's firmware on QEMU, Renode or a
  board over the serial link, and compare with the reference interpreter.
* :mod:`edge_deploy.build.budget`: flash and RAM estimates before compiling.

Test harnesses (a model or single kernels on the host and on QEMU) live in
:mod:`edge_deploy.testing`.

Submodules are imported where used, so importing this package stays light.
"""
