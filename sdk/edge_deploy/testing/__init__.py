"""Test and calibration harnesses, apart from the shipped pipeline stages:

* :mod:`edge_deploy.testing.cases` and :mod:`~edge_deploy.testing.harness`: one kernel call per
  case, rendered through the same templates as a generated model, run on QEMU (exact instructions,
  modelled cycles) or on the host (both kernel paths, sanitizers);
* :mod:`edge_deploy.testing.random_layers`: random (pruned) layers of every kernel;
* :mod:`edge_deploy.testing.calibrate`: measures every kernel and fits the cost model's
  coefficients (``edge_deploy/kernels/costs.json``);
* :mod:`edge_deploy.testing.host_model`: a whole generated model compiled for the host.

Nothing in the build, run or profile stages imports this package.
"""
