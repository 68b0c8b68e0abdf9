"""Models: TICNN and the registry that rebuilds any registered model from a name and parameters.

    model = build_model("ticnn", channels=[16, 32, 64, 64, 64], fc_units=100)

Register another architecture with ``@register_model("name")`` on its class; keep to layers
the int8 code generator lowers (Conv1d, BatchNorm1d, ReLU, MaxPool1d, Flatten, Linear, dropout).
"""

from edge_deploy.models.registry import build_model, list_models, register_model
from edge_deploy.models.stats import count_macs, count_parameters
from edge_deploy.models.ticnn import TICNN, ChangingRateDropout

__all__ = ["TICNN", "ChangingRateDropout", "build_model", "count_macs", "count_parameters", "list_models", "register_model"]
