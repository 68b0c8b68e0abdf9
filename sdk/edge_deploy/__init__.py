"""edge-deploy: from training data to measured int8 firmware on a Cortex-M4.

The data flows one way, one package per stage:
data -> train -> slim -> quantize -> ir -> plan -> codegen -> compile -> run / profile.
"""

__version__ = "0.1.0"

from edge_deploy.errors import EdgeDeployError

__all__ = ["EdgeDeployError", "__version__"]
