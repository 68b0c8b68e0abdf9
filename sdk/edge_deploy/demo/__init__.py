"""``edge-deploy demo``: train, slim, quantize, build, check on the target and profile, in one go.

* :func:`run_demo` (``edge_deploy.demo.run``): the whole job into one folder, ``summary.json``
  included; returns a :class:`DemoResult`.
* :func:`default_pipeline_path` / :func:`demo_pipeline` (``edge_deploy.demo.pipeline``): the
  bundled ``examples/pipeline_ticnn.yaml`` and a pipeline made self-contained, ``--epochs`` applied.
* :func:`format_summary` (``edge_deploy.demo.summary``): the text the command prints.

Submodules import PyTorch only inside the functions that need it.
"""

from edge_deploy.demo.pipeline import default_pipeline_path, demo_pipeline
from edge_deploy.demo.run import DemoResult, run_demo
from edge_deploy.demo.summary import format_summary

__all__ = ["DemoResult", "default_pipeline_path", "demo_pipeline", "format_summary", "run_demo"]
