"""Models: TICNN, the image and audio zoo, and the registry that rebuilds any registered model
from a name and parameters.

    model = build_model("ticnn", channels=[16, 32, 64, 64, 64], fc_units=100)
    model = build_model("antnet", in_channels=1, input_size=[32, 32], n_classes=10)

| name | model | default input |
|---|---|---|
| ``ticnn`` | TICNN, 1-D CNN on vibration windows (Zhang et al. 2018) | (1, 2048) |
| ``antnet`` | ANTNet, inverted residuals with channel attention (Xiong et al. 2019) | (1, 32, 32) |
| ``dscnn`` | DS-CNN, keyword spotting (MLPerf Tiny KWS reference) | (1, 49, 10) |
| ``mobilenet_v1`` | MobileNetV1 0.25, visual wake words (MLPerf Tiny VWW reference) | (3, 96, 96) |

Register another architecture with ``@register_model("name")`` on its class. A registered class
may answer ``input_params(shape)`` (constructor parameters for an input shape; the trainer sets
them from the data) and ``width_params(params)`` (parameters that rebuild its widths after
channel pruning; slimming needs it). Keep to layers the int8 lowering takes (docs/models.md).
"""

from edge_deploy.models.antnet import ANTNet
from edge_deploy.models.dscnn import DSCNN
from edge_deploy.models.mobilenet_v1 import MobileNetV1
from edge_deploy.models.registry import build_model, input_params, list_models, register_model
from edge_deploy.models.stats import count_macs, count_parameters
from edge_deploy.models.ticnn import TICNN, ChangingRateDropout

__all__ = ["ANTNet", "DSCNN", "MobileNetV1", "TICNN", "ChangingRateDropout", "build_model", "count_macs",
           "count_parameters", "input_params", "list_models", "register_model"]
